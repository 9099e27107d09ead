"""Direct feature attribution: heads plus bias give the pre-activation, the summary matches naive counts, the ReLU
caveat is measured, and DFA finds the heads of features planted in a fake hook_z (a shuffled attribution must not)."""

import pytest
import torch

import sae_kit as sk
from sae_kit.lm import attribution as at


def random_sae(d=12, d_sae=10, **kw):
    sae = sk.SAE(sk.SAEConfig(d=d, d_sae=d_sae, l1_coeff=[0.1, 0.2], seed=4, **kw))
    with torch.no_grad():
        sae.b_enc.copy_(torch.randn(sae.b_enc.shape, generator=torch.Generator().manual_seed(1)) * 0.3)
        if sae.b_dec is not None:
            sae.b_dec.copy_(torch.randn(sae.b_dec.shape, generator=torch.Generator().manual_seed(2)))
    return sae


@pytest.mark.parametrize("kw", [{}, {"decoder_bias": True, "centre_input": True}])
def test_heads_plus_bias_equal_the_preactivation(kw):
    sae = random_sae(**kw)
    x = torch.randn(50, 12, generator=torch.Generator().manual_seed(0))
    dfa, bias = at.direct_feature_attribution(sae, x, n_heads=3, inst=1)
    assert dfa.shape == (50, 10, 3)
    pre = sae.preactivations(x)[1]  # [tok, d_sae]
    torch.testing.assert_close(dfa.sum(-1) + bias, pre, atol=1e-5, rtol=1e-5)
    sub, b_sub = at.direct_feature_attribution(sae, x, 3, 1, features=torch.tensor([7, 2]))
    torch.testing.assert_close(sub, dfa[:, [7, 2]])
    torch.testing.assert_close(b_sub, bias[[7, 2]])
    head1 = x[:, 4:8] - (sae.b_dec[1, 4:8] if kw else 0)  # head 1 = columns 4…7 (head-major)
    torch.testing.assert_close(dfa[:, :, 1], head1 @ sae.W_enc[1, :, 4:8].T.detach())


def test_flatten_heads_is_the_models_own_concatenation():
    model = sk.TinyLM(sk.LMConfig(vocab_size=40, d_model=8, n_layers=2, n_heads=2, d_mlp=16, n_ctx=12))
    x = torch.randint(0, 40, (3, 12), generator=torch.Generator().manual_seed(0))
    z = sk.collect_activations(model, x, "blocks.1.attn.hook_z")["blocks.1.attn.hook_z"]  # [batch, pos, head, d_head]
    assert z.shape == (3, 12, 2, 4)
    flat = at.flatten_heads(z)
    torch.testing.assert_close(flat[13, 4:], z[1, 1, 1])
    with pytest.raises(ValueError, match="hook_z"):
        at.flatten_heads(flat)


def test_summary_matches_naive_counts_and_measures_the_relu_gap():
    sae = random_sae()
    x = torch.randn(300, 12, generator=torch.Generator().manual_seed(3))
    s = at.dfa_summary(sae, x, n_heads=3, inst=0, batch_size=64)
    dfa, bias = at.direct_feature_attribution(sae, x, 3, 0)
    on = sae.encode(x)[0] > 0
    torch.testing.assert_close(s.abs_dfa, (dfa.abs() * on[..., None]).sum(0))
    assert torch.equal(s.fires, on.sum(0))
    pos = dfa.sum(-1) > 0
    assert s.sign_gap == pytest.approx(float((on != pos).float().mean()))
    assert s.off_given_positive == pytest.approx(float((pos & ~on).sum() / pos.sum()))
    assert s.off_given_positive > 0 and s.on_given_nonpositive > 0  # a random bias flips some in both directions
    share = s.top_share[s.fires > 0]
    assert ((share >= 1 / 3 - 1e-6) & (share <= 1 + 1e-6)).all()
    with torch.no_grad():
        sae.b_enc.zero_()  # no bias: an L1 latent fires exactly where the heads' sum is positive
    assert at.dfa_summary(sae, x, 3).sign_gap == 0.0
    with pytest.raises(ValueError, match="n_heads=5"):
        at.dfa_summary(sae, x, 5)
    assert at.decoder_head_norms(sae, 3).pow(2).sum(-1).allclose(torch.ones(10))  # unit decoder rows


def test_dfa_recovers_planted_heads_and_a_shuffled_attribution_fails():
    planted = at.planted_heads(n_heads=4, d_head=4, n_feat=8, n_tok=8000, p_fire=0.05, seed=0)
    assert ((planted.features.reshape(8, 4, 4).norm(dim=-1) > 0).sum(-1) == 1).all()  # each feature in one head
    x = at.flatten_heads(planted.z[None])
    res = sk.train_sae(x, sk.SAEConfig(d=16, d_sae=16, l1_coeff=0.05, seed=0),
                       sk.TrainConfig(steps=800, batch_size=256, progress=False, device="cpu", matmul_dtype="float32"))
    s = at.dfa_summary(res.sae, x, n_heads=4)
    dictionary = res.sae.dictionary[0]
    assert float(sk.mmcs(planted.features, dictionary)) > 0.95  # the SAE found the planted features
    recovery = at.head_recovery(s.top_head, dictionary, planted)
    assert at.recovers_heads(recovery) and recovery == 1.0
    g = torch.Generator().manual_seed(0)
    shuffled = torch.stack([row[torch.randperm(4, generator=g)] for row in s.abs_dfa])  # heads permuted per latent
    bad = at.head_recovery(shuffled.argmax(-1), dictionary, planted)
    assert not at.recovers_heads(bad)
    with pytest.raises(ValueError, match="threshold"):
        at.recovers_heads(0.5, threshold=1.5)

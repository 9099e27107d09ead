"""Core LM metrics against a manual forward pass with the activation replaced, the edge cases (perfect reconstruction
scores 1, the zero reconstruction 0), hook_z flattening, and the TransformerLens path on a stand-in object."""

import types

import pytest
import torch
import torch.nn.functional as F

import sae_kit as sk
from sae_kit.lm import metrics as lmm

HOOK = "blocks.0.mlp.hook_post"


def tiny_lm():
    """An untrained tiny LM whose block-0 MLP matters (its output scaled up), so ablating it moves the loss clearly."""
    model = sk.TinyLM(sk.LMConfig(vocab_size=40, d_model=8, n_layers=2, n_heads=2, d_mlp=16, n_ctx=12, seed=1)).eval()
    with torch.no_grad():
        model.blocks[0].mlp.W_in.weight.mul_(20)
        model.blocks[0].mlp.W_out.weight.mul_(300)
        model.unembed.weight.mul_(20)
    return model


def tokens(n=6, seed=0):
    return torch.randint(0, 40, (n, 12), generator=torch.Generator().manual_seed(seed))


def identity_sae(d):
    """Codes ReLU(x) and ReLU(−x) on 2d latents, decoded back to x exactly."""
    sae = sk.SAE(sk.SAEConfig(d=d, d_sae=2 * d, l1_coeff=0.0))
    eye = torch.cat([torch.eye(d), -torch.eye(d)])
    with torch.no_grad():
        sae.W_enc.copy_(eye[None])
        sae.W_dec.copy_(eye[None])
        sae.b_enc.zero_()
    return sae


def manual_logits(model, x, layer_hook_value=None):
    """Forward pass written out block by block; `layer_hook_value(a)` replaces block 0's MLP hidden activation."""
    no_hook = lambda name, a: a  # noqa: E731
    h = model.embed(x) + model.pos_embed(torch.arange(x.shape[1]))
    for i, block in enumerate(model.blocks):
        h = h + block.attn(block.ln1(h), no_hook, "")
        post = block.mlp.act(block.mlp.W_in(block.ln2(h)))
        if i == 0 and layer_hook_value is not None:
            post = layer_hook_value(post)
        h = h + block.mlp.W_out(post)
    return model.unembed(model.ln_final(h))


def naive_ce(logits, x):
    return float(F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1)))


def naive_kl(clean, other):
    p, q = torch.log_softmax(clean, -1), torch.log_softmax(other, -1)
    return float((p.exp() * (p - q)).sum(-1).mean())


def test_core_metrics_match_a_manual_forward_pass():
    model, x = tiny_lm(), tokens()
    sae = sk.SAE(sk.SAEConfig(d=16, d_sae=32, l1_coeff=[0.1, 0.3], seed=2))
    with torch.no_grad():
        sae.b_enc.fill_(-0.05)
    res = lmm.core_metrics(model, sae, x, HOOK, inst=1, batch_size=4)
    with torch.no_grad():
        acts = model.run_with_cache(x, [HOOK])[HOOK].reshape(-1, 16)  # [tok, d]
        x_bar = acts.mean(0)
        x_hat = sae(acts).x_hat[1]
        codes = sae(acts).codes[1]
        splice = lambda a: sae(a.reshape(-1, 16)).x_hat[1].reshape(a.shape)  # noqa: E731
        clean, spl = manual_logits(model, x), manual_logits(model, x, splice)
        zero = manual_logits(model, x, torch.zeros_like)
        mean = manual_logits(model, x, lambda a: x_bar.expand_as(a))
    h = {k: naive_ce(v, x) for k, v in dict(clean=clean, sae=spl, zero=zero, mean=mean).items()}
    assert res.ce_clean == pytest.approx(h["clean"], rel=1e-5) and res.ce_sae == pytest.approx(h["sae"], rel=1e-5)
    assert res.ce_recovered_zero == pytest.approx((h["zero"] - h["sae"]) / (h["zero"] - h["clean"]), rel=1e-4)
    assert res.ce_recovered_mean == pytest.approx((h["mean"] - h["sae"]) / (h["mean"] - h["clean"]), rel=1e-4)
    kl_sae, kl_zero = naive_kl(clean, spl), naive_kl(clean, zero)
    assert res.kl_sae == pytest.approx(kl_sae, rel=1e-4, abs=1e-7)
    assert res.kl_score == pytest.approx((kl_zero - kl_sae) / kl_zero, rel=1e-4)
    rss = (acts - x_hat).pow(2).sum(-1)
    tss = (acts - x_bar).pow(2).sum(-1)
    assert res.fve == pytest.approx(1 - float(rss.sum() / tss.sum()), rel=1e-4)
    assert res.fve_per_token == pytest.approx(float((1 - rss / tss).mean()), rel=1e-4)
    assert res.fve == pytest.approx(float(sk.fraction_variance_explained(acts, x_hat)), rel=1e-4)
    assert res.cossim == pytest.approx(float(F.cosine_similarity(acts, x_hat, dim=-1).mean()), rel=1e-4)
    assert res.l0 == pytest.approx(float((codes > 0).sum(-1).float().mean()), rel=1e-6)
    torch.testing.assert_close(res.density, (codes > 0).float().mean(0))
    assert res.frac_alive == pytest.approx(float((codes > 0).any(0).float().mean()))
    assert res.n_tokens == x.numel() and len(res.to_dict()["density"]) == 32


def test_perfect_reconstruction_scores_one_and_zero_reconstruction_scores_zero():
    model, x = tiny_lm(), tokens()
    perfect = lmm.core_metrics(model, identity_sae(16), x, HOOK)
    assert perfect.ce_recovered_zero == pytest.approx(1.0, abs=1e-5)
    assert perfect.ce_recovered_mean == pytest.approx(1.0, abs=1e-5)
    assert perfect.kl_score == pytest.approx(1.0, abs=1e-5) and perfect.fve == pytest.approx(1.0, abs=1e-6)
    assert perfect.cossim == pytest.approx(1.0, abs=1e-6) and perfect.l2_ratio == pytest.approx(1.0, abs=1e-6)
    dead = sk.SAE(sk.SAEConfig(d=16, d_sae=8, l1_coeff=0.1))
    with torch.no_grad():
        dead.b_enc.fill_(-1e6)  # nothing fires: x̂ = 0, exactly the zero ablation
    zero = lmm.core_metrics(model, dead, x, HOOK)
    assert zero.ce_recovered_zero == pytest.approx(0.0, abs=1e-6) and zero.kl_score == pytest.approx(0.0, abs=1e-6)
    assert zero.l0 == 0 and zero.frac_alive == 0.0
    assert lmm.log10_density(zero.density).eq(-7).all()
    assert lmm.recovers_loss(perfect) and lmm.recovers_loss(perfect, 0.99, baseline="mean")
    assert not lmm.recovers_loss(zero) and not lmm.recovers_loss(zero, baseline="mean")
    with pytest.raises(ValueError, match="baseline"):
        lmm.recovers_loss(zero, baseline="resample")


def test_recovered_score_is_undefined_without_a_gap_and_bad_input_is_named():
    assert lmm.recovered_score(3.0, 2.0, 1.0) == 0.5
    assert lmm.recovered_score(1.0, 1.0, 1.0) != lmm.recovered_score(1.0, 1.0, 1.0)  # NaN
    model, x, sae = tiny_lm(), tokens(2), identity_sae(16)
    with pytest.raises(ValueError, match="hook_name"):
        lmm.core_metrics(model, sae, x, "blocks.7.mlp.hook_post")
    with pytest.raises(ValueError, match="inst"):
        lmm.core_metrics(model, sae, x, HOOK, inst=1)
    with pytest.raises(ValueError, match="SAEConfig.d=16"):
        lmm.core_metrics(model, sae, x, "blocks.0.hook_resid_post")
    with pytest.raises(ValueError, match="at least 2 positions"):
        lmm.core_metrics(model, sae, x[:, :1], HOOK)
    with pytest.raises(ValueError, match="TinyLM or a TransformerLens"):
        lmm.core_metrics(object(), sae, x, HOOK)


def test_attention_z_is_flattened_over_heads():
    """At attn.hook_z [batch, pos, head, d_head] the SAE reads head·d_head values; the identity SAE recovers 1."""
    model, x = tiny_lm(), tokens(3)
    res = lmm.core_metrics(model, identity_sae(8), x, "blocks.1.attn.hook_z")
    assert res.ce_recovered_zero == pytest.approx(1.0, abs=1e-5) and res.fve == pytest.approx(1.0, abs=1e-6)


class FakeHookedTransformer:
    """A stand-in for TransformerLens' HookedTransformer: cfg, hook_dict, __call__ → logits, run_with_cache and
    run_with_hooks(fwd_hooks=[(name, fn(act, hook))])."""

    def __init__(self, inner: sk.TinyLM) -> None:
        c = inner.cfg
        self.cfg = types.SimpleNamespace(d_vocab=c.vocab_size, d_model=c.d_model, n_layers=c.n_layers,
                                         n_heads=c.n_heads, d_mlp=c.d_mlp, n_ctx=c.n_ctx)
        self.hook_dict = {n: None for n in inner.hook_names}
        self.inner = inner

    def __call__(self, tokens):
        return self.inner(tokens)[0]

    def run_with_cache(self, tokens, names_filter):
        return self.inner(tokens, cache=[n for n in self.hook_dict if names_filter(n)])

    def run_with_hooks(self, tokens, fwd_hooks):
        return self.inner(tokens, hooks={name: (lambda a, fn=fn: fn(a, None)) for name, fn in fwd_hooks})[0]


def test_the_transformer_lens_path_gives_the_tiny_lm_numbers():
    model, x = tiny_lm(), tokens()
    sae = sk.SAE(sk.SAEConfig(d=16, d_sae=32, l1_coeff=0.1, seed=5))
    direct = lmm.core_metrics(model, sae, x, HOOK)
    fake = FakeHookedTransformer(model)
    for wrapped in (fake, sk.TransformerLensAdapter(fake)):
        via = lmm.core_metrics(wrapped, sae, x, HOOK)
        for k in ("ce_clean", "ce_sae", "ce_recovered_zero", "ce_recovered_mean", "kl_score", "fve", "l0"):
            assert getattr(via, k) == pytest.approx(getattr(direct, k), rel=1e-6), k


def test_an_sae_trained_on_scaled_activations_is_spliced_at_the_models_scale():
    """scale s: x̂ = s · SAE(x / s). An SAE on x / s with its biases divided by s gives the same codes up to 1/s and the
    same metrics as the original SAE on x (TopK and ReLU are positively homogeneous)."""
    model, x, s = tiny_lm(), tokens(), 7.0
    sae = sk.SAE(sk.SAEConfig(d=16, d_sae=32, l1_coeff=0.1, decoder_bias=True, centre_input=True, seed=3))
    with torch.no_grad():
        sae.b_enc.fill_(-0.05)
        sae.b_dec.normal_(generator=torch.Generator().manual_seed(0))
    small = sk.SAE(sk.SAEConfig(d=16, d_sae=32, l1_coeff=0.1, decoder_bias=True, centre_input=True, seed=3))
    with torch.no_grad():
        small.load_state_dict(sae.state_dict())
        small.b_enc.div_(s)
        small.b_dec.div_(s)
    raw, scaled = lmm.core_metrics(model, sae, x, HOOK), lmm.core_metrics(model, small, x, HOOK, scale=s)
    for k in ("fve", "cossim", "ce_sae", "kl_sae", "l0", "frac_alive"):
        assert getattr(scaled, k) == pytest.approx(getattr(raw, k), rel=1e-4, abs=1e-6), k
    assert abs(lmm.core_metrics(model, small, x, HOOK).fve - raw.fve) > 0.1  # without the scale it is another SAE
    with pytest.raises(ValueError, match="scale"):
        lmm.core_metrics(model, sae, x, HOOK, scale=0.0)


def test_scoring_and_attention_metrics_through_the_transformer_lens_path():
    """Notebook 08 through a HookedTransformer stand-in: activations collected via `TransformerLensAdapter` give the
    same detection scores and the same hook_z core metrics as the TinyLM itself."""
    model, x = tiny_lm(), tokens(20)
    fake = sk.TransformerLensAdapter(FakeHookedTransformer(model))
    direct = sk.flatten_positions(sk.collect_activations(model, x, [HOOK])[HOOK])  # [tok, 16]
    via = sk.flatten_positions(sk.collect_activations(fake, x, [HOOK])[HOOK])
    torch.testing.assert_close(via, direct)
    sae = sk.SAE(sk.SAEConfig(d=16, d_sae=32, l1_coeff=0.1, seed=5))
    labels = torch.stack([x.flatten() % 2 == 0, x.flatten() < 10], 1)  # [tok, label]
    cfg = sk.ScoringConfig(min_examples=3, n_activating=10, n_non_activating=10, negatives="neighbours", n_neighbours=3)
    scores = [sk.score_latents(sae.encode(a)[0].detach(), labels, ["even", "small"], cfg) for a in (direct, via)]
    assert scores[0].scored.any()
    torch.testing.assert_close(scores[0].f1, scores[1].f1, equal_nan=True)
    z_hook = "blocks.0.attn.hook_z"
    attn_sae = sk.SAE(sk.SAEConfig(d=8, d_sae=16, l1_coeff=0.1, seed=6))  # hook_z: 2 heads × 4 = 8 values per token
    a, b = lmm.core_metrics(model, attn_sae, x, z_hook), lmm.core_metrics(fake, attn_sae, x, z_hook)
    assert a.ce_sae == pytest.approx(b.ce_sae, rel=1e-6) and a.fve == pytest.approx(b.fve, rel=1e-6)

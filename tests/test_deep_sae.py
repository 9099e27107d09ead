"""Deep SAEs: with no hidden layers they are the kit's SAE, the output has the kit's shape, training lowers the loss and
is seeded, and bad configs are named."""

import pytest
import torch

import sae_kit as sk
from sae_kit.sae import deep_sae as ds


@pytest.mark.parametrize("arch", ["topk", "l1"])
def test_without_hidden_layers_it_is_the_kits_sae(arch):
    k = 3 if arch == "topk" else None
    deep = ds.DeepSAE(ds.DeepSAEConfig(d=6, d_sae=12, architecture=arch, k=k, l1_coeff=0.2, seed=1))
    sae = sk.SAE(sk.SAEConfig(d=6, d_sae=12, architecture=arch, k=k, l1_coeff=0.2, decoder_bias=True))
    with torch.no_grad():
        sae.W_enc.copy_(deep.encoder[0].weight[None])
        sae.b_enc.copy_(deep.encoder[0].bias[None])
        sae.W_dec.copy_(deep.decoder[0].weight.T[None])
        sae.b_dec.copy_(deep.decoder[0].bias[None])
    x = torch.randn(40, 6, generator=torch.Generator().manual_seed(0))
    a, b = deep(x), sae(x)
    for name in ("x_hat", "codes", "mse", "l1", "l0", "loss"):
        torch.testing.assert_close(getattr(a, name), getattr(b, name), atol=1e-5, rtol=1e-5, msg=name)
    torch.testing.assert_close(deep.dictionary, sae.dictionary[0])
    assert deep.dictionary.norm(dim=-1).allclose(torch.ones(12))


def test_deep_sae_output_shape_training_and_seed():
    data = sk.ToyData(sk.ToyDataConfig(n_features=16, d=8, avg_active=2.0, decay=0.95, device="cpu", seed=0))
    cfg = ds.DeepSAEConfig(d=8, d_sae=24, encoder_hidden=(6,), decoder_hidden=(6,), k=3, seed=0)
    out = ds.DeepSAE(cfg)(torch.randn(5, 8))
    assert out.x_hat.shape == (1, 5, 8) and out.codes.shape == (1, 5, 24) and out.loss.shape == (1,)
    assert ((out.codes[0] > 0).sum(-1) <= 3).all()
    tc = sk.TrainConfig(steps=150, batch_size=128, lr=3e-3, lr_warmup_steps=0, log_every=50, eval_every=75, n_eval=512,
                        progress=False, device="cpu")
    res = ds.train_deep_sae(data, cfg, tc)
    h = res.history
    assert h["step"] == [50, 100, 150] and h["eval_step"] == [75, 150]
    assert h["mse"][-1] < h["mse"][0] and h["fve"][-1] > 0 and 0 <= h["dead_fraction"][-1] <= 1
    again = ds.train_deep_sae(data, cfg, tc)
    assert again.history == h  # same seeds, same numbers
    with pytest.raises(ValueError, match="no linear dictionary"):
        _ = res.model.dictionary


def test_bad_configs_are_named():
    with pytest.raises(ValueError, match="needs k"):
        ds.DeepSAEConfig(d=4, d_sae=8)
    with pytest.raises(ValueError, match=r"encoder_hidden\[1\]"):
        ds.DeepSAEConfig(d=4, d_sae=8, k=2, encoder_hidden=(3, 0))
    with pytest.raises(ValueError, match="activation"):
        ds.DeepSAEConfig(d=4, d_sae=8, k=2, activation="tanh")
    with pytest.raises(ValueError, match="l1_coeff"):
        ds.DeepSAEConfig(d=4, d_sae=8, architecture="l1", l1_coeff=-1.0)
    with pytest.raises(ValueError, match="d=4"):
        ds.DeepSAE(ds.DeepSAEConfig(d=4, d_sae=8, k=2))(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="data dimension"):
        ds.train_deep_sae(torch.zeros(10, 5), ds.DeepSAEConfig(d=4, d_sae=8, k=2),
                          sk.TrainConfig(steps=1, progress=False, device="cpu"))

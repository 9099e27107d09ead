"""The SAE against a naive per-instance reference."""

import pytest
import torch

import sae_kit as sk


def naive_forward(sae: sk.SAE, x: torch.Tensor, i: int):
    """Instance i written out with one sample at a time and plain loops over latents."""
    W_enc, b_enc, W_dec = sae.W_enc[i].detach(), sae.b_enc[i].detach(), sae.W_dec[i].detach()
    b_dec = sae.b_dec[i].detach() if sae.b_dec is not None else torch.zeros(x.shape[-1])
    xs = x if x.dim() == 2 else x[i]
    codes, recon = [], []
    for row in xs:
        inp = row - b_dec if sae.cfg.centre_input else row
        c = torch.stack([torch.relu(W_enc[j] @ inp + b_enc[j]) for j in range(W_enc.shape[0])])
        codes.append(c)
        recon.append(sum(c[j] * W_dec[j] for j in range(W_dec.shape[0])) + b_dec)
    codes, recon = torch.stack(codes), torch.stack(recon)
    mse = ((recon - xs) ** 2).mean()
    l1 = codes.abs().sum(1).mean() / (sae.cfg.d_sae if sae.cfg.l1_convention == "mean" else 1)
    return codes, recon, mse, l1


@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("kw", [dict(), dict(decoder_bias=True, centre_input=True), dict(l1_convention="sum"),
                                dict(encoder_init="transpose", decoder_init="random")])
def test_forward_matches_naive_reference(kw, shared):
    cfg = sk.SAEConfig(d=6, d_sae=10, l1_coeff=[0.1, 0.5, 2.0], seed=3, **kw)
    sae = sk.SAE(cfg)
    if sae.b_dec is not None:
        with torch.no_grad():
            sae.b_dec.normal_(generator=torch.Generator().manual_seed(1))
    x = torch.randn((7, 6) if shared else (3, 7, 6), generator=torch.Generator().manual_seed(0))
    out = sae(x)
    assert out.codes.shape == (3, 7, 10) and out.x_hat.shape == (3, 7, 6)
    for i in range(3):
        codes, recon, mse, l1 = naive_forward(sae, x, i)
        assert torch.allclose(out.codes[i], codes, atol=1e-5)
        assert torch.allclose(out.x_hat[i], recon, atol=1e-5)
        assert out.mse[i].item() == pytest.approx(mse.item(), rel=1e-5)
        assert out.l1[i].item() == pytest.approx(l1.item(), rel=1e-5)
        assert out.loss[i].item() == pytest.approx(mse.item() + cfg.l1_coeffs[i] * l1.item(), rel=1e-5)
        assert out.l0[i].item() == pytest.approx((codes > 0).sum(1).float().mean().item())


def test_l1_conventions_differ_by_d_sae():
    x = torch.randn(5, 8, generator=torch.Generator().manual_seed(0))
    mean = sk.SAE(sk.SAEConfig(d=8, d_sae=24, l1_convention="mean"))(x).l1
    total = sk.SAE(sk.SAEConfig(d=8, d_sae=24, l1_convention="sum"))(x).l1
    assert torch.allclose(total, 24 * mean)


def test_init_decoder_unit_rows_orthogonal_and_transpose():
    sae = sk.SAE(sk.SAEConfig(d=8, d_sae=6, n_inst=2, encoder_init="transpose", encoder_scale=0.5))
    W = sae.dictionary
    assert W.shape == (2, 6, 8)
    assert W.norm(dim=-1).allclose(torch.ones(2, 6), atol=1e-6)
    # fewer rows than dimensions: orthogonal init gives orthonormal rows
    assert (W[0] @ W[0].T).allclose(torch.eye(6), atol=1e-5)
    assert torch.allclose(sae.W_enc, 0.5 * W)
    assert not torch.equal(W[0], W[1])


def test_normalize_decoder():
    sae = sk.SAE(sk.SAEConfig(d=4, d_sae=3))
    with torch.no_grad():
        sae.W_dec.mul_(3.0)
        sae.W_dec[0, 1] = 0.0
    sae.normalize_decoder_()
    norms = sae.dictionary.norm(dim=-1)
    assert norms[0, 0].item() == pytest.approx(1.0) and norms[0, 1].item() == 0.0


def test_same_seed_same_init():
    a, b = sk.SAE(sk.SAEConfig(d=8, d_sae=16, seed=4)), sk.SAE(sk.SAEConfig(d=8, d_sae=16, seed=4))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


@pytest.mark.parametrize(
    "kw, field",
    [
        (dict(d=0), "d"),
        (dict(d_sae=-1), "d_sae"),
        (dict(l1_coeff=-0.1), "l1_coeff"),
        (dict(l1_coeff=[0.1, float("nan")]), r"l1_coeff\[1\]"),
        (dict(l1_coeff=[]), "l1_coeff"),
        (dict(l1_coeff=[0.1, 0.2], n_inst=3), "n_inst"),
        (dict(l1_convention="median"), "l1_convention"),
        (dict(decoder_init="zeros"), "decoder_init"),
        (dict(encoder_init="xavier"), "encoder_init"),
        (dict(centre_input=True), "centre_input"),
    ],
)
def test_bad_config_names_the_field(kw, field):
    with pytest.raises(ValueError, match=field):
        sk.SAEConfig(**{**dict(d=4, d_sae=8), **kw})


def test_wrong_input_dimension():
    sae = sk.SAE(sk.SAEConfig(d=4, d_sae=8, n_inst=2))
    with pytest.raises(ValueError, match="d=4"):
        sae(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="inst=2"):
        sae(torch.zeros(3, 3, 4))


def test_init_is_independent_of_toy_data_with_the_same_seed():
    # a toy dataset and an SAE both seeded 0 must not share random draws: the dictionary would start on the features
    data = sk.ToyData(sk.ToyDataConfig(n_features=64, d=32, avg_active=2.0, seed=0, device="cpu"))
    for init in ("orthogonal", "random"):
        sae = sk.SAE(sk.SAEConfig(d=32, d_sae=64, n_inst=2, decoder_init=init, seed=0))
        start = sk.mmcs(data.features, sae.dictionary)
        assert (start < 0.6).all(), (init, start)  # random directions in 32-d: ≈ 0.45; a shared stream gives ≈ 1


@pytest.mark.parametrize("shared", [True, False])
def test_bfloat16_products_match_float32(shared):
    """forward(matmul_dtype=bfloat16) rounds only the products: pre-activations, reconstruction and gradients agree
    with float32 to bfloat16's precision, and the outputs and gradients are float32."""
    g = torch.Generator().manual_seed(0)
    cfg = sk.SAEConfig(d=32, d_sae=64, l1_coeff=[0.1, 0.3], decoder_bias=True, centre_input=True)
    sae = sk.SAE(cfg)
    x = torch.randn(128, 32, generator=g) if shared else torch.randn(2, 128, 32, generator=g)
    outs, grads = {}, {}
    for dt in (None, torch.bfloat16):
        sae.zero_grad()
        out = sae(x, matmul_dtype=dt)
        out.loss.sum().backward()
        outs[dt], grads[dt] = out, {n: p.grad.clone() for n, p in sae.named_parameters()}
    lo, hi = outs[torch.bfloat16], outs[None]
    assert lo.x_hat.dtype == lo.codes.dtype == torch.float32
    scale = hi.x_hat.abs().max()
    assert (lo.x_hat - hi.x_hat).abs().max() < 2e-2 * scale and (lo.x_hat - hi.x_hat).abs().max() > 0
    assert torch.allclose(lo.loss, hi.loss, rtol=2e-2)
    for n, g32 in grads[None].items():
        g16 = grads[torch.bfloat16][n]
        assert g16.dtype == torch.float32
        assert (g16 - g32).norm() < 3e-2 * g32.norm(), n

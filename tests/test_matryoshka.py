"""The Matryoshka SAE: its loss against a naive loop, the registry, training with `train_sae`, the kit's SAE folder
round trip, SAELens export, and bad input."""

import json

import pytest
import torch

import sae_kit as sk
from sae_kit.sae.saelens import CFG_FILE


def mat_cfg(**kw) -> sk.SAEConfig:
    return sk.SAEConfig(**{"d": 6, "d_sae": 12, "architecture": "matryoshka", "prefixes": [2, 5, 12],
                           "l1_coeff": [0.01, 0.1], "decoder_bias": True, "seed": 2, **kw})


def randomise(sae: sk.SAE) -> sk.SAE:
    g = torch.Generator().manual_seed(4)
    with torch.no_grad():
        for p in sae.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    return sae


def test_loss_is_the_mean_of_each_prefix_s_own_mse_plus_the_penalty():
    sae = randomise(sk.SAE(mat_cfg()))
    x = torch.randn(9, 6, generator=torch.Generator().manual_seed(0))
    out = sae(x)
    for i, alpha in enumerate((0.01, 0.1)):
        c = torch.relu(x @ sae.W_enc[i].T + sae.b_enc[i])  # [batch, d_sae], no input centring by default
        terms = []
        for m in (2, 5, 12):
            x_hat = c[:, :m] @ sae.W_dec[i, :m] + sae.b_dec[i]
            terms.append(((x - x_hat) ** 2).mean())
        l1 = c.sum(-1).mean() / 12  # the mean convention
        assert out.loss[i].item() == pytest.approx((sum(terms) / 3 + alpha * l1).item(), rel=1e-5)
        assert out.mse[i].item() == pytest.approx(terms[-1].item(), rel=1e-5)  # mse: the whole dictionary's


def test_one_prefix_is_a_plain_l1_sae():
    x = torch.randn(7, 6, generator=torch.Generator().manual_seed(1))
    mat = sk.SAE(mat_cfg(prefixes=[12]))
    l1 = sk.SAE(sk.SAEConfig(**{**mat.cfg.to_dict(), "architecture": "l1", "prefixes": None}))
    a, b = mat(x), l1(x)
    assert torch.allclose(a.loss, b.loss, atol=1e-6) and torch.equal(a.codes, b.codes)


def test_topk_codes_when_k_is_given():
    sae = sk.SAE(mat_cfg(k=[2, 3], l1_coeff=None))
    assert sae.cfg.l1_coeffs == [0.0, 0.0]
    codes = sae.encode(torch.randn(20, 6, generator=torch.Generator().manual_seed(2)))
    assert (codes[0] > 0).sum(-1).max() <= 2 and (codes[1] > 0).sum(-1).max() <= 3


def test_registry_builds_the_class():
    cfg = mat_cfg()
    for sae in (sk.SAE(cfg), sk.make_sae(cfg), sk.MatryoshkaSAE(cfg)):
        assert type(sae) is sk.MatryoshkaSAE and sae.architecture == "matryoshka"
    assert sk.sae.base.REGISTRY["matryoshka"] is sk.MatryoshkaSAE
    with pytest.raises(ValueError, match="needs architecture='matryoshka'"):
        sk.MatryoshkaSAE(sk.SAEConfig(d=6, d_sae=12))


@pytest.mark.parametrize("kw, match", [
    (dict(prefixes=None), "prefixes must be strictly ascending"),
    (dict(prefixes=[5, 2, 12]), "prefixes must be strictly ascending"),
    (dict(prefixes=[2, 5]), "ending at d_sae"),
    (dict(prefixes=[0, 12]), "prefixes must be"),
    (dict(prefixes=[2.0, 12]), "prefixes must be"),
    (dict(architecture="l1"), "prefixes is only for architecture='matryoshka'"),
    (dict(k=13, l1_coeff=None), "k must be ≤ d_sae"),
    (dict(aux_k=2), "aux_k > 0 needs"),
])
def test_bad_input_is_refused_naming_the_parameter(kw, match):
    with pytest.raises(ValueError, match=match):
        mat_cfg(**kw)


def test_trains_with_train_sae_and_round_trips_through_the_kit_folder(tmp_path):
    data = sk.HierarchyData(sk.HierarchyConfig())
    cfg = sk.SAEConfig(d=20, d_sae=20, architecture="matryoshka", prefixes=[3, 20], l1_coeff=[0.1, 0.3], l1_convention="sum",
                       decoder_bias=True)
    train = sk.TrainConfig(steps=60, batch_size=64, lr=1e-2, l1_warmup_steps=0, progress=False, device="cpu", seed=0, eval_every=60,
                           mmcs_every=60)  # α from the start: the loss then falls from the first logged step
    res = sk.train_sae(data, cfg, train)
    again = sk.train_sae(data, cfg, train)
    assert torch.equal(res.sae.W_dec, again.sae.W_dec)  # same seed, same numbers
    assert res.history["loss"][-1][0] < res.history["loss"][0][0]  # it learns
    folder = res.sae.save(tmp_path / "mat")
    saved = json.loads((folder / "cfg.json").read_text())
    assert saved["architecture"] == "matryoshka" and saved["prefixes"] == [3, 20]
    back = sk.load_sae(folder)
    assert type(back) is sk.MatryoshkaSAE and back.cfg.to_dict() == cfg.to_dict()
    x = data.sample(32, torch.Generator().manual_seed(5))[0]
    a, b = res.sae(x), back.eval()(x)
    assert torch.equal(a.codes, b.codes) and torch.equal(a.loss, b.loss)


@pytest.mark.parametrize("extra, arch", [(dict(), "standard"), (dict(k=[3, 3], l1_coeff=None), "topk")])
def test_saelens_export_writes_the_inference_sae(tmp_path, extra, arch):
    sae = randomise(sk.SAE(mat_cfg(**extra)))
    folder = sk.save_saelens(sae, tmp_path / "s", inst=1)
    cfg = json.loads((folder / CFG_FILE).read_text())
    assert cfg["architecture"] == arch and cfg["metadata"]["sae_kit_prefixes"] == [2, 5, 12]
    back = sk.load_saelens(folder)  # a plain SAE with the same codes and reconstruction (the nesting only trains)
    assert back.cfg.architecture == ("topk" if extra else "l1")
    x = torch.randn(10, 6, generator=torch.Generator().manual_seed(3))
    a, b = sae(x), back(x)
    assert torch.equal(a.codes[1], b.codes[0]) and torch.allclose(a.x_hat[1], b.x_hat[0], atol=1e-6)

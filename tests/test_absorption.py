"""Hierarchical toy features, the absorption measure, the Matryoshka loss and the toy SAE that shows absorption."""

import math

import pytest
import torch

import sae_kit as sk
from sae_kit.analysis.absorption import (
    ToySAEConfig,
    absorption_scores,
    check_prefixes,
    matryoshka_loss,
    train_toy_sae,
)
from sae_kit.claims.next_toy import absorption_claim
from sae_kit.toy.hierarchy import HierarchyConfig, HierarchyData


@pytest.mark.parametrize("kw, field", [
    (dict(n_children=4, child_p=0.3), "n_children"),
    (dict(parent_p=0.0), "parent_p"),
    (dict(d=10), "d"),
    (dict(n_parents=0), "n_parents"),
    (dict(n_independent=-1), "n_independent"),
])
def test_config_rejects_bad_input(kw, field):
    with pytest.raises(ValueError, match=field):
        HierarchyConfig(**kw)


def test_default_tree_is_nabeshimas_and_its_statistics_hold():
    data = HierarchyData()
    assert isinstance(data, sk.DataSource) and data.n_features == 20 and data.d == 20
    assert torch.allclose(data.features @ data.features.T, torch.eye(20), atol=1e-5)  # orthonormal
    assert data.children == [[3, 4, 5], [6, 7, 8], [9, 10, 11]] and data.independent == list(range(12, 20))
    x, c = data.sample(100_000, torch.Generator().manual_seed(0))
    assert torch.allclose(x, c @ data.features)
    f = c.mean(0)
    assert torch.allclose(f[:3], torch.full((3,), 0.15), atol=0.005)
    assert torch.allclose(f[3:12], torch.full((9,), 0.15 * 0.2), atol=0.003)
    assert torch.allclose(f[12:], torch.full((8,), 0.05), atol=0.003)
    kids = c[:, 3:12].reshape(-1, 3, 3)
    assert (kids.sum(-1) <= 1).all()  # mutually exclusive
    assert ((kids.sum(-1) > 0) <= (c[:, :3] > 0)).all()  # never without the parent
    assert abs(float(kids.sum(-1)[c[:, :3] > 0].mean()) - 0.6) < 0.01  # P(some child | parent) = 3 · 0.2


def test_matryoshka_loss_matches_a_naive_loop():
    g = torch.Generator().manual_seed(0)
    codes, dec = torch.rand(2, 5, 6, generator=g), torch.randn(2, 6, 3, generator=g)
    x, b = torch.randn(5, 3, generator=g), torch.randn(2, 3, generator=g)
    prefixes = [1, 4, 6]
    got = matryoshka_loss(codes, dec, x, prefixes, b)
    for i in range(2):
        naive = 0.0
        for m in prefixes:
            recon = sum(codes[i, :, j, None] * dec[i, j] for j in range(m)) + b[i]
            naive += float(((x - recon) ** 2).mean()) / len(prefixes)
        assert math.isclose(float(got[i]), naive, rel_tol=1e-5)
    plain = matryoshka_loss(codes, dec, x, [6])
    assert torch.allclose(plain, (torch.bmm(codes, dec) - x).pow(2).mean(dim=(1, 2)))


@pytest.mark.parametrize("prefixes", [[], [3, 2, 6], [0, 6], [2, 5], [2, 2, 6]])
def test_prefixes_are_checked(prefixes):
    with pytest.raises(ValueError, match="prefixes"):
        check_prefixes(prefixes, 6)


def _ideal(data: HierarchyData, absorbed: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A hand-built 20-latent SAE on the tree: one latent per feature; `absorbed` folds each parent into its children's
    latents (decoder f_P + f_C, normalised) and switches the parent latent off whenever a child is on."""
    f = data.features
    dec, enc = f.clone(), f.clone()
    if absorbed:
        for p, kids in enumerate(data.children):
            for k in kids:
                dec[k] = (f[p] + f[k]) / math.sqrt(2)
                enc[p] = enc[p] - f[k]
    return dec, enc, f


def test_absorption_measure_on_hand_made_saes():
    data = HierarchyData()
    x, c = data.sample(4096, torch.Generator().manual_seed(1))
    # the true code: every latent fires with its feature
    dec, enc, _ = _ideal(data, absorbed=False)
    clean = absorption_scores(data, c.clone(), c, dec, enc)
    assert float(clean.absorption[0]) == 0.0 and float(clean.mean_share[0]) < 1e-5
    assert torch.all(clean.recall_parent_only == 1)
    # the absorbed code: parent latent off whenever one of its children fires
    dec, enc, _ = _ideal(data, absorbed=True)
    codes = c.clone()
    for p, kids in enumerate(data.children):
        codes[:, p] = codes[:, p] * (c[:, kids].sum(-1) == 0)
    bad = absorption_scores(data, codes, c, dec, enc)
    assert float(bad.absorption[0]) == 1.0 and torch.all(bad.recall_parent_only == 1)
    assert torch.allclose(bad.share, torch.full_like(bad.share, 1 / math.sqrt(2)), atol=1e-5)
    assert (bad.encoder_child_cos < 0).all()
    with pytest.raises(ValueError, match="coefficients"):
        absorption_scores(data, codes, c[:, :5], dec, enc)


def test_absorption_claim_passes_and_fails():
    assert absorption_claim(0.75, 0.0)["replicated"]
    assert not absorption_claim(0.2, 0.0)["replicated"]  # no absorption to remove
    assert not absorption_claim(0.75, 0.6)["replicated"]  # remedy does not remove it
    with pytest.raises(ValueError, match="flat"):
        absorption_claim(1.5, 0.0)


def test_toy_sae_config_checks_and_determinism():
    with pytest.raises(ValueError, match="prefixes"):
        ToySAEConfig(prefixes=[3, 19])
    with pytest.raises(ValueError, match="l1_coeff"):
        ToySAEConfig(l1_coeff=-1.0)
    data = HierarchyData()
    cfg = ToySAEConfig(l1_coeff=[0.01, 0.03], steps=20)
    a, b = train_toy_sae(data, cfg), train_toy_sae(data, cfg)
    assert torch.equal(a.sae.W_dec, b.sae.W_dec) and a.sae.W_dec.shape == (2, 20, 20)
    tied = train_toy_sae(data, ToySAEConfig(steps=5, tied=True)).sae
    assert tied.W_enc is None and tied.encoder is tied.W_dec
    with pytest.raises(ValueError, match="d="):
        train_toy_sae(data, ToySAEConfig(d=10, d_sae=10, steps=1))


def test_flat_sae_absorbs_and_matryoshka_and_tying_do_not():
    """Nabeshima's tree, 1,000 steps at α = 0.01: the flat L1 SAE's parent latents skip child-active samples; with
    prefixes (3, 6, 12, 20) the first three latents must reconstruct the parents alone and keep firing with the
    children; a tied SAE's parent latent reads its own decoder direction and cannot learn to ignore the children."""
    data = HierarchyData()
    x, c = data.sample(8192, torch.Generator().manual_seed(123))
    scores = {}
    for name, kw in (("flat", {}), ("matryoshka", dict(prefixes=[3, 6, 12, 20])), ("tied", dict(tied=True))):
        sae = train_toy_sae(data, ToySAEConfig(l1_coeff=0.01, steps=1000, **kw)).sae
        with torch.no_grad():
            scores[name] = absorption_scores(data, sae.encode(x), c, sae.W_dec, sae.encoder)
    flat, mat, tied = (float(scores[k].absorption[0]) for k in ("flat", "matryoshka", "tied"))
    assert absorption_claim(flat, mat)["replicated"], (flat, mat)
    assert absorption_claim(flat, tied, name="tied weights")["replicated"], (flat, tied)
    assert float(scores["flat"].recall_parent_only.mean()) > 0.9  # the parent latent is a parent latent
    assert float(scores["flat"].mean_share[0]) > 0.5  # child latents carry the parent direction

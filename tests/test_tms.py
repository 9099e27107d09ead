"""Toy models of superposition: config checks, batched training, seed selection, geometry metrics, the n=2 phase maths."""

import math

import numpy as np
import pytest
import torch

import sae_kit as sk
from sae_kit.toy import geometry, phase
from sae_kit.toy.tms import TMSData, sample_tms_batch, tms_loss


def small_tms(**kw) -> sk.TMSConfig:
    base = dict(n_features=5, d_hidden=2, n_instances=2, feature_probability=[1.0, 0.03], importance=0.9, n_seeds=2,
                steps=300, lr=1e-2, n_eval=2048)
    return sk.TMSConfig(**{**base, **kw})


@pytest.mark.parametrize("kw, field", [
    (dict(feature_probability=1.5), "feature_probability"),
    (dict(feature_probability=0.0), "feature_probability"),
    (dict(n_instances=3, feature_probability=[0.1, 0.2]), "feature_probability"),
    (dict(importance=-0.5), "importance"),
    (dict(n_instances=2, importance=[0.9, 0.8, 0.7]), "importance"),
    (dict(importance=[[1.0, 1.0]]), "importance"),
    (dict(n_seeds=0), "n_seeds"),
    (dict(lr_decay="step"), "lr_decay"),
    (dict(d_hidden=0), "d_hidden"),
])
def test_config_rejects_bad_input(kw, field):
    with pytest.raises(ValueError, match=field):
        sk.TMSConfig(**kw)


def test_check_superposition():
    sk.check_superposition(5, 2)
    with pytest.raises(ValueError, match="d_hidden"):
        sk.check_superposition(4, 4)


def test_importances_per_instance():
    cfg = sk.TMSConfig(n_features=3, n_instances=2, importance=[1.0, 0.5])
    assert torch.allclose(cfg.importances(), torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.5, 0.25]]))
    explicit = sk.TMSConfig(n_features=2, d_hidden=1, n_instances=2, importance=[[1.0, 3.0], [1.0, 0.1]])
    assert explicit.importances()[0, 1] == 3.0


def test_sample_density_and_range():
    g = torch.Generator().manual_seed(0)
    x = sample_tms_batch(torch.tensor([0.1, 0.5]), 4, (20_000,), g)  # [inst, batch, feat]
    assert x.shape == (2, 20_000, 4) and x.min() >= 0 and x.max() < 1
    assert abs((x[0] > 0).float().mean() - 0.1) < 0.01 and abs((x[1] > 0).float().mean() - 0.5) < 0.01


def test_train_shapes_seed_choice_and_determinism():
    cfg = small_tms()
    a, b = sk.train_tms(cfg), sk.train_tms(cfg)
    assert a.W.shape == (2, 2, 5) and a.b.shape == (2, 5) and a.loss.shape == (2,) and a.seed_losses.shape == (2, 2)
    assert torch.equal(a.W, b.W)
    assert torch.allclose(a.loss, a.seed_losses.min(dim=1).values)


def test_training_finds_published_geometry():
    """Dense data: the two most important features get orthogonal dimensions; sparse: a pentagon (D = 2/5 for all)."""
    r = sk.train_tms(small_tms(steps=600, n_seeds=3, importance=[0.7, 0.9]))
    norms = geometry.feature_norms(r.W)
    assert (norms[0, :2] > 0.85).all() and (norms[0, 2:] < 0.5).all(), norms[0]
    assert abs(float(geometry.feature_cosines(r.W[0])[0, 1])) < 0.2
    assert torch.allclose(geometry.feature_dimensionality(r.W[1]), torch.full((5,), 0.4), atol=0.05)


def test_defaults_reproduce_the_published_n5_geometry():
    """TMSConfig's defaults (lr, steps, schedule, batch, one seed), only the setting given: Elhage et al.'s n = 5,
    m = 2, I_i = 0.9^i gives two orthogonal features on dense data and a pentagon on sparse data."""
    r = sk.train_tms(sk.TMSConfig(n_instances=2, feature_probability=[1.0, 0.03], importance=0.9))
    norms = geometry.feature_norms(r.W)
    assert (norms[0, :2] > 0.9).all() and (norms[0, 2:] < 0.2).all(), norms[0]
    assert abs(float(geometry.feature_cosines(r.W[0])[0, 1])) < 0.1
    assert torch.allclose(geometry.feature_dimensionality(r.W[1]), torch.full((5,), 0.4), atol=0.03)


@pytest.mark.parametrize("kw, field", [
    (dict(lr=float("nan")), "lr"),
    (dict(weight_decay=float("inf")), "weight_decay"),
    (dict(n_features=10**9), "n_features"),  # a [inst, batch, feat] input batch of 4 TB
    (dict(n_instances=10**6, batch_size=10**4), "n_instances"),
])
def test_config_refuses_nan_and_sizes_beyond_the_memory_limit(kw, field):
    with pytest.raises(ValueError, match=field):
        sk.TMSConfig(**kw)


def test_linear_model_keeps_top_m():
    r = sk.train_tms(small_tms(linear=True, n_instances=1, feature_probability=0.03, importance=0.7, steps=600))
    norms = geometry.feature_norms(r.W[0])
    assert (norms[:2] > 0.85).all() and (norms[2:] < 0.2).all()


def naive_dimensionality(W):
    n = W.shape[1]
    out = []
    for i in range(n):
        wi = W[:, i]
        ni = float(wi.norm())
        if ni == 0:
            out.append(0.0)
            continue
        den = sum(float((wi / ni) @ W[:, j]) ** 2 for j in range(n))
        out.append(ni**2 / den)
    return torch.tensor(out)


def test_dimensionality_against_naive_loop_and_published_values():
    W = torch.randn(3, 7, generator=torch.Generator().manual_seed(0))
    W[:, 4] = 0
    assert torch.allclose(geometry.feature_dimensionality(W), naive_dimensionality(W), atol=1e-5)
    assert geometry.feature_dimensionality(W)[4] == 0
    batched = geometry.feature_dimensionality(torch.stack([W, 2 * W]))
    assert batched.shape == (2, 7) and torch.allclose(batched[0], batched[1], atol=1e-5)
    published = [
        (geometry.regular_polygon(2), 1 / 2),  # antipodal pair
        (geometry.regular_polygon(5), 2 / 5),  # pentagon
        (geometry.regular_simplex(3), 2 / 3),  # triangle
        (geometry.regular_simplex(4), 3 / 4),  # tetrahedron
        (torch.eye(3), 1.0),  # dedicated dimensions
    ]
    for W, value in published:
        assert torch.allclose(geometry.feature_dimensionality(W), torch.full((W.shape[1],), value), atol=1e-5), value


def test_dimensions_per_feature_superposition_and_interference():
    pent = geometry.regular_polygon(5)
    assert math.isclose(float(geometry.dimensions_per_feature(pent)), 2 / 5, rel_tol=1e-5)
    assert torch.allclose(geometry.superposition(torch.eye(3)), torch.zeros(3))
    pair = geometry.regular_polygon(2)
    assert torch.allclose(geometry.superposition(pair), torch.ones(2), atol=1e-6)
    W = torch.cat([pair, torch.zeros(2, 1)], dim=1)  # an antipodal pair and a dropped feature
    s = geometry.interference_stats(W)
    assert s["n_represented"] == 2 and s["antipodal_pairs"] == 1 and s["antipodal_fraction"] == 1.0
    assert s["max_interference"] == 0.0
    s5 = geometry.interference_stats(pent)
    assert s5["antipodal_fraction"] == 0.0 and math.isclose(s5["max_interference"], math.cos(math.pi / 5), rel_tol=1e-5)  # |cos 144°|
    with pytest.raises(ValueError, match="W"):
        geometry.interference_stats(torch.zeros(2, 2, 2))


def test_phase_losses_match_monte_carlo():
    g = torch.Generator().manual_seed(0)
    for p, r in [(0.1, 0.7), (0.5, 2.0), (1.0, 0.3)]:
        x = sample_tms_batch(torch.tensor([p]), 2, (1_000_000,), g)
        imp = torch.tensor([[1.0, r]])
        keep1, keep2, anti = phase.phase_losses(p, r)
        beta, _ = phase.best_antipodal_bias(p)
        cases = [
            (torch.tensor([[[1.0, 0.0]]]), torch.tensor([[0.0, p / 2]]), keep1),
            (torch.tensor([[[0.0, 1.0]]]), torch.tensor([[p / 2, 0.0]]), keep2),
            (torch.tensor([[[1.0, -1.0]]]), torch.tensor([[beta, beta]]), anti),
        ]
        for W, b, expected in cases:
            mc = float(tms_loss(W, b, x, imp))
            assert math.isclose(mc, expected, rel_tol=0.03), (p, r, mc, expected)  # ≈ 3 standard errors at p = 0.1


def test_phase_boundary_shape():
    assert phase.antipodal_importance_range(1.0) is None  # dense: never share
    lo, hi = phase.antipodal_importance_range(0.1)
    assert lo < 1 < hi and math.isclose(lo * hi, 1.0, rel_tol=1e-9)
    best = phase.best_phase([1.0, 0.01], [0.2, 5.0])
    assert best.tolist() == [[0, 1], [2, 2]]
    W = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]], [[1.0, -1.0]], [[0.1, 0.1]]])
    assert phase.classify_n2m1(W).tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="density"):
        phase.dropped_variance(0.0)


def test_tms_data_source():
    r = sk.train_tms(small_tms(n_instances=1, feature_probability=1.0, steps=400))
    data = TMSData(r, norm_threshold=0.5)
    assert isinstance(data, sk.DataSource) and data.d == 2
    assert len(data.kept) + len(data.dropped) == 5 and len(data.kept) >= 2
    assert torch.allclose(data.features.norm(dim=1), torch.ones(len(data.kept)), atol=1e-5)
    h, c = data.sample(512, torch.Generator().manual_seed(0))
    assert h.shape == (512, 2) and c.shape == (512, len(data.kept))
    dropped = r.W[0][:, data.dropped]
    approx = c @ data.features
    assert float((h - approx).abs().max()) <= float(dropped.norm(dim=0).sum()) + 1e-5
    with pytest.raises(ValueError, match="instance"):
        TMSData(r, instance=3)


def test_random_directions_unit():
    v = geometry.random_directions(10, 4, seed=1)
    assert v.shape == (4, 10) and np.allclose(v.norm(dim=0).numpy(), 1.0, atol=1e-6)

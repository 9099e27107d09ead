"""The feature-count estimator's rule on hand-made evidence, recovery helpers, record_mcs, and notebook 04's plots."""

import math

import plotly.graph_objects as go
import pytest
import torch
from conftest import small_data_cfg, small_train_cfg

import sae_kit as sk


def fake_grid(d2d, dead_fraction, sizes=(8, 16, 32, 64, 128)):
    """A GridResult with one α whose evidence is given (everything else filler)."""
    n = len(sizes)
    col = lambda v: torch.tensor(v, dtype=torch.float32)[:, None]  # noqa: E731
    dead = col(dead_fraction) * torch.tensor(sizes, dtype=torch.float32)[:, None]
    return sk.GridResult(d_sae_values=list(sizes), alphas=[0.3], mmcs=None, dead=dead, dead_fraction=col(dead_fraction),
                         l0=col([1.0] * n), mse=col([1e-3] * n), l1=col([0.1] * n), fve=col([0.9] * n),
                         dictionary_mmcs=col(d2d), mcs=None, runs=[], seconds=0.0)


def test_estimator_reads_where_dictionary_mmcs_stops_rising():
    est = sk.estimate_n_features(fake_grid([0.55, 0.7, 0.96, 0.97], [0, 0, 0, 0.2, 0.5]))
    assert est.rule == "dictionary_mmcs" and est.estimate == 32 and est.d2d_size == 32
    assert est.dead_onset_size == 32 and est.alive == [8, 16, 32, 51, 64]
    assert "stops rising at d_sae=32" in est.explanation
    # plateau tolerance: 0.955 is within 0.02 of the top 0.97, so the curve has stopped rising there
    assert sk.estimate_n_features(fake_grid([0.55, 0.955, 0.96, 0.97], [0] * 5)).estimate == 16


def test_estimator_falls_back_to_dead_onset():
    flat = [0.9, 0.88, 0.87, 0.86]
    est = sk.estimate_n_features(fake_grid(flat, [0, 0, 0.01, 0.3, 0.5]))
    assert est.rule == "dead_onset" and est.estimate == 32 and est.d2d_size is None
    assert sk.estimate_n_features(fake_grid(flat, [0] * 5)).estimate == 128  # no dead latents: a lower bound
    assert sk.estimate_n_features(fake_grid(flat, [0.2] * 5)).estimate == 8  # dead everywhere: an upper bound
    assert sk.estimate_n_features(fake_grid(flat, [0.2] * 5)).dead_onset_size is None


def test_estimate_interval_follows_the_rule_with_open_ends_for_bounds():
    rising = sk.estimate_n_features(fake_grid([0.55, 0.7, 0.96, 0.97], [0, 0, 0, 0.2, 0.5]))
    # the plateau starts at the pair (32, 64): D_32 holds the features, D_16 did not → 16 < G ≤ 32
    assert rising.interval == (16, 32) and rising.to_dict()["interval"] == [16, 32] and rising.bound == "exact"
    assert rising.contains(32) and rising.contains(17) and not rising.contains(16) and not rising.contains(64)
    assert "16 < G ≤ 32" in rising.explanation
    flat = [0.9, 0.88, 0.87, 0.86]
    onset = sk.estimate_n_features(fake_grid(flat, [0, 0, 0.01, 0.3, 0.5]))  # no dead at 32, dead at 64 → 32 ≤ G < 64
    assert onset.interval == (32, 64) and onset.bound == "exact" and onset.contains(32) and not onset.contains(64)
    lower = sk.estimate_n_features(fake_grid(flat, [0] * 5))
    assert lower.interval == (128, None) and lower.bound == "lower" and lower.contains(10**6)
    upper = sk.estimate_n_features(fake_grid(flat, [0.2] * 5))
    assert upper.interval == (None, 8) and upper.bound == "upper" and not upper.contains(8)


def test_estimate_still_rising_at_the_largest_pair_is_a_lower_bound():
    est = sk.estimate_n_features(fake_grid([0.5, 0.6, 0.7, 0.9], [0] * 5))
    assert est.rule == "dictionary_mmcs" and est.bound == "lower" and est.interval == (32, None)
    assert est.estimate == 64 and "lower bound" in est.explanation and "still rising" in est.explanation
    assert est.to_dict()["bound"] == "lower" and not est.contains(32) and est.contains(1000)


def test_estimator_bad_input():
    g = fake_grid([0.5, 0.6, 0.9, 0.9], [0] * 5)
    with pytest.raises(ValueError, match="alpha"):
        sk.estimate_n_features(g, alpha=1.0)
    with pytest.raises(ValueError, match="rise"):
        sk.estimate_n_features(g, rise=2.0)
    with pytest.raises(ValueError, match="sae_sets"):
        sk.estimate_n_features([])


def test_estimator_on_training_results_equals_grid():
    data = sk.ToyData(small_data_cfg(device="cpu"))
    cfg = small_train_cfg(steps=20)
    grid = sk.train_grid(data, [8, 16, 32], [0.1, 0.3], cfg, sk.SAEConfig(d=16, d_sae=8))
    from_grid = sk.estimate_n_features(grid, alpha=0.3)
    from_runs = sk.estimate_n_features(grid.runs, alpha=0.3)
    assert from_grid.dictionary_mmcs == pytest.approx(from_runs.dictionary_mmcs, abs=1e-6)
    assert from_grid.estimate == from_runs.estimate and from_grid.alpha == 0.3


def test_record_mcs_and_first_found():
    data = sk.ToyData(small_data_cfg(device="cpu"))
    res = sk.train_sae(data, sk.SAEConfig(d=16, d_sae=32, l1_coeff=[0.1, 0.3]), small_train_cfg(record_mcs=True))
    h = res.mcs_history
    assert h["step"] == res.mmcs_history["step"] and len(h["mcs"][0]) == 2 and len(h["mcs"][0][0]) == 32
    # the per-feature values average to the recorded MMCS
    assert sum(h["mcs"][-1][1]) / 32 == pytest.approx(res.mmcs_history["mmcs"][-1][1], abs=1e-5)
    assert sk.train_sae(data, sk.SAEConfig(d=16, d_sae=32), small_train_cfg()).mcs_history == {}
    fake = {"samples": [10, 20, 30], "mcs": [[[0.1, 0.95, 0.2]], [[0.5, 0.96, 0.2]], [[0.91, 0.2, 0.3]]]}
    assert sk.first_found(fake, threshold=0.9) == [30, 10, None]
    with pytest.raises(ValueError, match="record_mcs"):
        sk.first_found({}, 0.9)


def test_record_mcs_survives_resume(tmp_path):
    data = sk.ToyData(small_data_cfg(device="cpu"))
    sae_cfg = sk.SAEConfig(d=16, d_sae=32)
    full = sk.train_sae(data, sae_cfg, small_train_cfg(record_mcs=True))
    sk.train_sae(data, sae_cfg, small_train_cfg(record_mcs=True, steps=20, checkpoint_dir=str(tmp_path)))  # noqa: F841
    # a different step count is another configuration; resuming the same one reloads the history
    again = sk.train_sae(data, sae_cfg, small_train_cfg(record_mcs=True, steps=20, checkpoint_dir=str(tmp_path)))
    assert again.mcs_history["step"] == [10, 20]
    assert len(full.mcs_history["step"]) == 4


def test_rank_correlation():
    assert sk.rank_correlation([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert sk.rank_correlation([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="length"):
        sk.rank_correlation([1, 2], [1, 2])


def _shared_naive(truth, dictionary, found, close):
    unfound = shared = 0
    for f in truth:
        cos = [float(f @ w / w.norm()) for w in dictionary]
        if max(cos) < found:
            unfound += 1
            shared += sum(c >= close for c in cos) >= 2
    return unfound, shared


def test_shared_features_tells_a_duplicate_pair_from_a_missing_feature():
    e = torch.eye(6)
    truth = e[:3]  # f0, f1, f2
    a = 0.89
    b = math.sqrt(1 - a * a)
    dup = torch.stack([e[0], a * e[1] + b * e[3], a * e[1] + b * e[4], 0.5 * e[2] + 0.866 * e[5]])  # f1 shared, f2 missing
    out = sk.shared_features(truth, dup)
    assert out["unfound"].item() == 2 and out["shared"].item() == 1
    assert out["n_close"].tolist() == [1, 2, 0]
    assert (out["unfound"].item(), out["shared"].item()) == _shared_naive(truth, dup, 0.9, 0.8)
    single = dup[[0, 1, 3]]  # the same near-miss of f1 with one latent only: unfound, not shared
    out = sk.shared_features(truth, single)
    assert (out["unfound"].item(), out["shared"].item()) == (2, 0) == _shared_naive(truth, single, 0.9, 0.8)
    rows = torch.stack([dup, dup[[0, 1, 0, 3]]])  # [inst, d_sae, d]
    assert sk.shared_features(truth, rows)["shared"].tolist() == [1, 0]
    torch.manual_seed(0)
    rand_truth, rand_dict = torch.randn(20, 8), torch.randn(40, 8)
    out = sk.shared_features(rand_truth, rand_dict, found_mcs=0.8, close=0.6)
    assert (out["unfound"].item(), out["shared"].item()) == _shared_naive(rand_truth / rand_truth.norm(dim=1, keepdim=True),
                                                                         rand_dict, 0.8, 0.6)
    with pytest.raises(ValueError, match="close"):
        sk.shared_features(truth, dup, close=1.5)


def test_plane_data_is_rotation_invariant_in_its_plane():
    data = sk.PlaneData(small_data_cfg(device="cpu"))
    assert abs(float(data.plane[0] @ data.plane[1])) < 1e-6
    c = data.sample_coefficients(20_000, torch.Generator().manual_seed(0))
    on = c[:, 0] != 0
    assert torch.equal(on, c[:, 1] != 0)  # the pair fires together
    assert (c[:, 0] < 0).any() and (c[:, 1] < 0).any()
    pair = c[on][:, :2]
    cov = pair.T @ pair / pair.shape[0]  # isotropic: E[c0²] = E[c1²] = 1/6, E[c0 c1] = 0
    assert cov.diagonal().tolist() == pytest.approx([1 / 6, 1 / 6], abs=0.01) and abs(float(cov[0, 1])) < 0.01
    assert float(on.float().mean()) == pytest.approx(float(data.probabilities[0]), abs=0.01)


def test_nonnegative_plane_data_fills_a_quadrant():
    data = sk.PlaneData(small_data_cfg(device="cpu"), nonnegative=True)
    c = data.sample_coefficients(20_000, torch.Generator().manual_seed(0))
    on = c[:, 0] != 0
    pair = c[on][:, :2]
    assert (pair >= 0).all() and torch.equal(on, c[:, 1] != 0)
    angles = torch.rad2deg(torch.atan2(pair[:, 1], pair[:, 0]))
    assert float(angles.min()) < 2 and float(angles.max()) > 88  # the whole quadrant, edges f0 and f1
    with pytest.raises(ValueError, match="nonnegative"):
        sk.PlaneData(small_data_cfg(device="cpu"), nonnegative=1)


def test_plane_recovery_measures_the_plane_not_the_basis():
    data = sk.PlaneData(small_data_cfg(device="cpu"))
    p = data.plane
    t = math.radians(30)
    rotated = torch.stack([math.cos(t) * p[0] + math.sin(t) * p[1], -math.sin(t) * p[0] + math.cos(t) * p[1]])
    dictionary = torch.cat([rotated, data.features[2:]])
    rec = sk.plane_recovery(p, dictionary)
    assert max(rec["principal_angles_deg"]) < 0.1
    assert rec["mcs"] == pytest.approx([math.cos(t)] * 2, abs=1e-4)
    assert sorted(round(a) for a in rec["angles_deg"]) == [30, 120]
    assert sk.plane_recovery(p, data.features[2:], min_in_plane=0.99)["principal_angles_deg"] == []
    with pytest.raises(ValueError, match="plane"):
        sk.plane_recovery(p[:1], dictionary)


def test_notebook_04_plots_return_figures():
    data = sk.ToyData(small_data_cfg(device="cpu"))
    grid = sk.train_grid(data, [8, 32], [0.1, 0.3], small_train_cfg(steps=20, record_mcs=True), sk.SAEConfig(d=16, d_sae=8))
    fig = sk.plots.plot_mcs_histogram_grid(grid)
    assert isinstance(fig, go.Figure)
    assert [t.type for t in fig.data] == ["heatmap"] + ["histogram"] * 4
    probs = data.probabilities.tolist()
    fig = sk.plots.plot_recovery_vs_frequency(probs, {"plain": grid.mcs[1][0].tolist(), "other": grid.mcs[1][1].tolist()})
    assert len(fig.data) == 2
    found = sk.first_found(grid.runs[1].mcs_history, 0.5)
    fig = sk.plots.plot_recovery_over_training(grid.runs[1].mcs_history, found)
    assert [t.type for t in fig.data] == ["heatmap", "scatter"]
    pdata = sk.PlaneData(small_data_cfg(device="cpu"))
    rec = sk.plane_recovery(pdata.plane, pdata.features)
    fig = sk.plots.plot_identifiability([[0.1, 0.2], [0.3, -0.1]], [rec, rec], ["a", "b"])
    assert len(fig.data) == 1 + 2 + 2
    est = sk.estimate_n_features(grid)
    fig = sk.plots.plot_feature_count_evidence({"G = 32": est})
    assert len(fig.data) == 4 + 1


def test_estimator_default_alpha_is_the_largest_without_dead_latents_at_the_smallest_size():
    g = fake_grid([0.5, 0.9, 0.95, 0.95], [0, 0, 0, 0.1, 0.3])
    sizes = torch.tensor(g.d_sae_values, dtype=torch.float32)[:, None]
    dead_frac = torch.tensor([[0.0, 0.0, 0.5], [0, 0, 0.5], [0, 0, 0.6], [0, 0.1, 0.7], [0, 0.3, 0.8]])
    g.alphas, g.dead_fraction, g.dead = [0.1, 0.3, 1.0], dead_frac, dead_frac * sizes
    for name in ("mse", "l1", "l0", "fve"):
        setattr(g, name, getattr(g, name).expand(5, 3))
    g.dictionary_mmcs = g.dictionary_mmcs.expand(4, 3)
    est = sk.estimate_n_features(g)
    assert est.alpha == 0.3  # α = 1 kills latents already in the smallest dictionary
    assert sk.estimate_n_features(g, alpha=0.1).alpha == 0.1

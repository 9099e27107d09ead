"""Plot builders and widget callbacks of the toy-model notebooks: each returns a Figure with the expected traces."""

import pytest
import torch

import sae_kit as sk
from sae_kit import plots
from sae_kit.toy import geometry, phase


def test_tms_plot_builders():
    Ws = [geometry.regular_polygon(5), torch.eye(2, 5)]
    assert len(plots.plot_feature_directions(Ws, ["a", "b"]).data) == 2 * (1 + 5)  # per panel: the unit circle, 5 features
    assert len(plots.plot_wtw(Ws, ["a", "b"]).data) == 2
    norms = [geometry.feature_norms(W).tolist() for W in Ws]
    sup = [geometry.superposition(W).tolist() for W in Ws]
    assert len(plots.plot_norms_superposition(norms, sup, ["a", "b"]).data) == 2
    assert len(plots.plot_dimensionality_heatmap([1.0, 0.1], [[1, 0.5], [0.4, 0.4]]).data) == 1
    assert len(plots.plot_represented_vs_density([1.0, 0.1], [5, 8], [0, 6], 5).data) == 3
    b = phase.phase_boundary([0.1, 1.0])
    assert b["low"][1] is None and b["low"][0] < 1 < b["high"][0]
    fig = plots.plot_phase_diagram([0.1, 1.0], [0.5, 2.0], [[2, 2], [0, 1]], b, list(phase.PHASES) + ["other"])
    assert [t.type for t in fig.data] == ["heatmap", "scatter", "scatter"]
    assert len(plots.plot_dimensionality_vs_sparsity([1, 2], [1.0, 0.5], [[1, 1], [0.5, 0.5]]).data) == 2
    assert len(plots.plot_interference_histograms([1, 2], {"random": [[0.1], [0.2]], "tms": [[1.0], [0.0]]}).data) == 4
    assert len(plots.plot_ratio_metrics([1, 2], {"a": [1, 0.5]}, "y", "t").data) == 1


def test_ratio_sweep_config_checks():
    with pytest.raises(ValueError, match="ratios"):
        sk.RatioSweepConfig(ratios=[])
    with pytest.raises(ValueError, match="avg_active"):
        sk.RatioSweepConfig(ratios=[0.25], d=8, avg_active=3.0)


@pytest.mark.parametrize("kw, field", [
    (dict(avg_active=float("nan")), "avg_active"),
    (dict(tms_lr=float("nan")), "tms_lr"),
    (dict(tms_lr=float("inf")), "tms_lr"),
    (dict(alphas=[0.1, float("nan")]), r"alphas\[1\]"),
    (dict(ratios=[1, float("inf")]), r"ratios\[1\]"),
    (dict(sae_ratio=float("nan")), "sae_ratio"),
    (dict(ratios=[1, 10**12]), "ratios"),  # 10¹² features: refused before the allocator is asked for terabytes
    (dict(d=10**7), "d"),
])
def test_ratio_sweep_config_refuses_nan_and_oversized(kw, field):
    with pytest.raises(ValueError, match=field):
        sk.RatioSweepConfig(**kw)


def test_ratio_sweep_scales_alpha_with_the_dictionary():
    cfg = sk.RatioSweepConfig(d=8, alphas=[0.1, 1.0])
    assert cfg.l1_coeffs(8) == [0.1, 1.0] and cfg.l1_coeffs(256) == pytest.approx([3.2, 32.0])


def test_placement_stats():
    s = sk.toy.ratios.placement_stats(geometry.regular_polygon(2).T)
    assert s["antipodal_fraction"] == 1.0 and abs(s["mean_dimensionality"] - 0.5) < 1e-5

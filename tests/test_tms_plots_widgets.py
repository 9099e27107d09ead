"""Plot builders and widget callbacks of the toy-model notebooks: each returns a Figure with the expected traces."""

import plotly.graph_objects as go
import pytest
import torch

import sae_kit as sk
from sae_kit import geometry, phase, plots, widgets


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


def test_geometry_figure_update_callback():
    fig = widgets.geometry_figure(geometry.regular_polygon(5))
    assert isinstance(fig, go.Figure) and len(fig.data) == widgets.MAX_FEATURES + 2
    assert list(fig.data[0].x) == [0, 1.0]
    W = torch.eye(3, 4)
    widgets.update_geometry_figure(fig, W, "new")
    assert list(fig.data[widgets.MAX_FEATURES + 1].y) == [1.0, 1.0, 1.0, 0.0]  # bar lengths = norms
    assert list(fig.data[4].x) == [0, 0]  # unused feature traces are emptied
    assert fig.layout.title.text == "new"
    with pytest.raises(ValueError, match="features"):
        widgets.update_geometry_figure(fig, torch.zeros(2, widgets.MAX_FEATURES + 1))


def test_explore_tms_compute_and_headless():
    W = widgets.explore_tms(sparsity=0.0, importance_decay=0.5, n_features=4, d_hidden=2, steps=600)
    assert W.shape == (2, 4) and (geometry.feature_norms(W)[:2] > 0.8).all() and (geometry.feature_norms(W)[2:] < 0.5).all()
    with pytest.raises(ValueError, match="d_hidden"):
        widgets.explore_tms(0.5, 0.9, 3, 3)
    with pytest.raises(ValueError, match="sparsity"):
        widgets.explore_tms(1.0, 0.9, 5, 2)
    assert sk.is_headless() and widgets.tms_explorer() is None  # no widget is built headless


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
    s = sk.ratios.placement_stats(geometry.regular_polygon(2).T)
    assert s["antipodal_fraction"] == 1.0 and abs(s["mean_dimensionality"] - 0.5) < 1e-5

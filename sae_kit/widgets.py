"""Interactive explorers for the toy models of superposition (notebook 01). Built only in a live kernel.

The widgets only wire a compute function (`explore_tms`: train a small toy model) to a figure-update function
(`update_geometry_figure`); both are plain functions with tests. In headless runs (`sk.is_headless()`) no widget is
built: `tms_explorer` returns None, since widget traffic can stall papermill.
"""

from __future__ import annotations

from contextlib import nullcontext

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from sae_kit._util import is_headless
from sae_kit.geometry import feature_dimensionality, feature_norms, superposition
from sae_kit.tms import TMSConfig, check_superposition, train_tms

__all__ = ["explore_tms", "geometry_figure", "update_geometry_figure", "tms_explorer", "MAX_FEATURES"]

MAX_FEATURES = 12
"""Largest n the explorer offers (the figure keeps one trace per feature)."""


def explore_tms(sparsity: float, importance_decay: float, n_features: int, d_hidden: int, steps: int = 1000,
                n_seeds: int = 2, seed: int = 0) -> torch.Tensor:
    """Train one small toy model (best of `n_seeds`) and return its W [d_hidden, feat] (about a second)."""
    if not 0 <= sparsity < 1:
        raise ValueError(f"sparsity must lie in [0, 1), got {sparsity!r}")
    check_superposition(n_features, d_hidden)
    if n_features > MAX_FEATURES:
        raise ValueError(f"n_features must be ≤ {MAX_FEATURES} in the explorer, got {n_features}")
    cfg = TMSConfig(n_features=n_features, d_hidden=d_hidden, feature_probability=1 - sparsity, importance=importance_decay,
                    n_seeds=n_seeds, steps=steps, lr=1e-2, n_eval=2048, seed=seed)
    return train_tms(cfg).W[0]


def geometry_figure(W: torch.Tensor, title: str = "") -> go.Figure:
    """Three panels for one model: feature directions (first two hidden dimensions), WᵀW, and ‖W_i‖ bars coloured by
    superposition. Always MAX_FEATURES direction traces (unused ones empty) so the update can restyle in place."""
    fig = make_subplots(rows=1, cols=3, subplot_titles=["W_i (hidden dims 1–2)", "WᵀW", "‖W_i‖ (colour: superposition)"],
                        horizontal_spacing=0.08)
    for i in range(MAX_FEATURES):
        fig.add_trace(go.Scatter(x=[0, 0], y=[0, 0], mode="lines+markers", marker=dict(size=[0, 8]), line=dict(width=3),
                                 name=f"feature {i}", showlegend=False), row=1, col=1)
    fig.add_trace(go.Heatmap(z=[[0.0]], zmin=-1, zmax=1, colorscale="RdBu", reversescale=True, showscale=False), row=1, col=2)
    fig.add_trace(go.Bar(x=[0], y=[0.0], marker=dict(color=[0.0], cmin=0, cmax=1, colorscale="Viridis"), name="norm"),
                  row=1, col=3)
    fig.update_xaxes(range=[-1.4, 1.4], row=1, col=1)
    fig.update_yaxes(range=[-1.4, 1.4], scaleanchor="x", row=1, col=1)
    fig.update_yaxes(autorange="reversed", row=1, col=2)
    fig.update_yaxes(range=[0, 1.3], row=1, col=3)
    fig.update_layout(height=340, width=960, showlegend=False, title=title)
    update_geometry_figure(fig, W, title)
    return fig


def update_geometry_figure(fig: go.Figure, W: torch.Tensor, title: str = "") -> go.Figure:
    """Write a model W [d_hidden, feat] into a figure made by `geometry_figure` (a go.Figure or go.FigureWidget)."""
    from plotly.colors import sample_colorscale

    W = W.detach().cpu().float()
    n = W.shape[1]
    if n > MAX_FEATURES:
        raise ValueError(f"W has {n} features; the figure holds at most {MAX_FEATURES}")
    colours = sample_colorscale("Viridis", [0.85 * i / max(1, n - 1) for i in range(n)])
    y_row = W[1] if W.shape[0] > 1 else torch.zeros(n)
    dims = feature_dimensionality(W)
    with fig.batch_update() if isinstance(fig, go.FigureWidget) else nullcontext():
        for i in range(MAX_FEATURES):
            tr = fig.data[i]
            if i < n:
                tr.x, tr.y = [0, float(W[0, i])], [0, float(y_row[i])]
                tr.line.color = colours[i]
                tr.name = f"feature {i}: D = {float(dims[i]):.2f}"
            else:
                tr.x, tr.y = [0, 0], [0, 0]
        fig.data[MAX_FEATURES].z = (W.T @ W).tolist()
        bars = fig.data[MAX_FEATURES + 1]
        bars.x = list(range(n))
        bars.y = feature_norms(W).tolist()
        bars.marker.color = superposition(W).clamp(0, 1).tolist()
        fig.layout.title = title
    return fig


def tms_explorer(sparsity: float = 0.9, importance_decay: float = 0.9, n_features: int = 5, d_hidden: int = 2,
                 steps: int = 1000):
    """Sliders for sparsity, importance decay, n and m that retrain a small toy model and redraw its geometry.

    Returns an ipywidgets VBox (display it), or None in headless runs.
    """
    if is_headless():
        return None
    import ipywidgets as widgets

    fig = go.FigureWidget(geometry_figure(explore_tms(sparsity, importance_decay, n_features, d_hidden, steps)))
    style = dict(continuous_update=False, style={"description_width": "initial"})
    s = widgets.FloatSlider(value=sparsity, min=0.0, max=0.99, step=0.01, description="sparsity S", **style)
    dec = widgets.FloatSlider(value=importance_decay, min=0.5, max=1.0, step=0.05, description="importance decay", **style)
    n = widgets.IntSlider(value=n_features, min=2, max=MAX_FEATURES, description="features n", **style)
    m = widgets.IntSlider(value=d_hidden, min=1, max=MAX_FEATURES - 1, description="dimensions m", **style)
    status = widgets.Label()

    def on_change(_change=None) -> None:
        if m.value >= n.value:
            status.value = "superposition needs m < n"
            return
        status.value = "training…"
        W = explore_tms(s.value, dec.value, n.value, m.value, steps)
        update_geometry_figure(fig, W, f"S = {s.value:.2f}, I_i = {dec.value:.2f}^i, n = {n.value}, m = {m.value}")
        status.value = ""

    for w in (s, dec, n, m):
        w.observe(on_change, names="value")
    return widgets.VBox([widgets.HBox([s, dec]), widgets.HBox([n, m, status]), fig])

"""Figures of the notebooks' explorers: each takes a snapshot (`sae_kit.explorers.explore`) or results and returns a Figure.

They never compute beyond arranging what they are given; the widgets (`sae_kit.explorers.widgets`) redraw them in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sae_kit.explorers.explore import RatioSnapshot, SAEToySnapshot

__all__ = ["plot_tms_geometry", "plot_ratio_snapshot", "plot_sae_toy_snapshot", "plot_grid_cell", "replace_figure"]

_BLUE, _ORANGE, _GREY = "#1f77b4", "#ff7f0e", "#7f7f7f"


def _direction_traces(vectors, colour: str, name: str, three_d: bool, width: float = 3, dash: str = "solid") -> list:
    """One line trace from the origin to each row of `vectors` [n, 2 or 3] (None-separated, so one trace per set)."""
    xs, ys, zs = [], [], []
    for v in vectors.tolist():
        xs += [0, v[0], None]
        ys += [0, v[1], None]
        zs += [0, v[2] if three_d else 0, None]
    line = dict(color=colour, width=width, dash=dash)
    if three_d:
        return [go.Scatter3d(x=xs, y=ys, z=zs, mode="lines", line=dict(color=colour, width=width), name=name)]
    return [go.Scatter(x=xs, y=ys, mode="lines", line=line, name=name)]


def _unit_circle() -> go.Scatter:
    import math

    t = [2 * math.pi * i / 96 for i in range(97)]
    return go.Scatter(x=[math.cos(a) for a in t], y=[math.sin(a) for a in t], mode="lines", hoverinfo="skip",
                      line=dict(color="#cccccc", width=1), name="unit circle", showlegend=False)


def plot_tms_geometry(W, dimensionality: Sequence[float], superposition: Sequence[float], title: str = "") -> go.Figure:
    """One toy model W [d_hidden, feat] in three panels: each feature's direction W_i (a 3-D view when d_hidden = 3,
    else the first two hidden dimensions, with the unit circle for scale; legend: D_i), WᵀW, and ‖W_i‖ coloured by
    superposition Σ_{j≠i} (Ŵ_i · W_j)². `dimensionality` and `superposition`: [feat], from `sae_kit.toy.geometry`."""
    from plotly.colors import sample_colorscale

    W = W.detach().cpu().float()
    m, n = W.shape
    three_d = m == 3
    fig = make_subplots(rows=1, cols=3, specs=[[{"type": "scene" if three_d else "xy"}, {"type": "xy"}, {"type": "xy"}]],
                        subplot_titles=["W_i" + ("" if m <= 3 else " (hidden dims 1–2)"), "WᵀW",
                                        "‖W_i‖ (colour: superposition)"], horizontal_spacing=0.08)
    if not three_d:
        fig.add_trace(_unit_circle(), row=1, col=1)
    colours = sample_colorscale("Viridis", [0.85 * i / max(1, n - 1) for i in range(n)])
    for i in range(n):
        v = W[:, i].tolist() + [0.0] * max(0, 2 - m)
        name = f"feature {i}: D = {float(dimensionality[i]):.2f}"
        if three_d:
            fig.add_trace(go.Scatter3d(x=[0, v[0]], y=[0, v[1]], z=[0, v[2]], mode="lines+markers", name=name,
                                       line=dict(color=colours[i], width=5), marker=dict(size=[0, 4], color=colours[i])),
                          row=1, col=1)
        else:
            fig.add_trace(go.Scatter(x=[0, v[0]], y=[0, v[1]], mode="lines+markers", name=name,
                                     line=dict(color=colours[i], width=3), marker=dict(size=[0, 8])), row=1, col=1)
    fig.add_trace(go.Heatmap(z=(W.T @ W).tolist(), zmin=-1, zmax=1, colorscale="RdBu", reversescale=True,
                             showscale=False, name="WᵀW"), row=1, col=2)
    fig.add_trace(go.Bar(x=list(range(n)), y=W.norm(dim=0).tolist(), name="‖W_i‖",
                         marker=dict(color=[min(1.0, max(0.0, float(s))) for s in superposition], cmin=0, cmax=1,
                                     colorscale="Viridis")), row=1, col=3)
    if three_d:
        axis = dict(range=[-1.3, 1.3], showticklabels=False, title="")
        fig.update_scenes(xaxis=axis, yaxis=axis, zaxis=axis, aspectmode="cube")
    else:
        fig.update_xaxes(range=[-1.4, 1.4], row=1, col=1)
        fig.update_yaxes(range=[-1.4, 1.4], scaleanchor="x", row=1, col=1)
    fig.update_yaxes(autorange="reversed", row=1, col=2)
    fig.update_xaxes(title_text="feature i", row=1, col=3)
    fig.update_yaxes(range=[0, 1.3], row=1, col=3)
    fig.update_layout(height=380, showlegend=False, title=title, title_font_size=14, margin=dict(t=90, b=40))
    return fig


def plot_ratio_snapshot(snap: RatioSnapshot) -> go.Figure:
    """Three panels: the geometry (directions when d ≤ 3, else the |cos| matrix), each feature's interference
    Σ_j cos² against random directions' (n − 1)/d, and the quick SAE's per-feature MCS beside a random dictionary's."""
    d, n_gt = snap.d, snap.directions.shape[0]
    geo_type = "scene" if d == 3 else "xy"
    geo_title = "feature directions" if d <= 3 else "|cos| between features"
    fig = make_subplots(rows=1, cols=3, specs=[[{"type": geo_type}, {"type": "xy"}, {"type": "xy"}]],
                        subplot_titles=[geo_title, "interference on each feature", "recovery by a quick SAE"],
                        horizontal_spacing=0.09, column_widths=[0.34, 0.33, 0.33])
    if d == 2:
        fig.add_trace(_unit_circle(), row=1, col=1)
    if d <= 3:
        for tr in _direction_traces(snap.directions, _BLUE, "features", three_d=d == 3):
            fig.add_trace(tr, row=1, col=1)
    else:
        fig.add_trace(go.Heatmap(z=snap.cos.abs().tolist(), zmin=0, zmax=1, colorscale="Viridis", showscale=False,
                                 name="|cos|"), row=1, col=1)
        fig.update_yaxes(autorange="reversed", row=1, col=1)
    order = snap.interference.argsort(descending=True)
    fig.add_trace(go.Bar(y=snap.interference[order].tolist(), marker_color=_BLUE, name="Σ_j cos²(f_i, f_j)"), row=1, col=2)
    fig.add_trace(go.Scatter(x=[-0.5, n_gt - 0.5], y=[snap.random_interference] * 2, mode="lines",
                             line=dict(color=_GREY, dash="dash"), name="random directions: (n − 1)/d"), row=1, col=2)
    bins = dict(start=0, end=1.0001, size=0.05)
    fig.add_trace(go.Histogram(x=snap.chance_mcs.tolist(), xbins=bins, marker_color=_GREY, opacity=0.5,
                               name="random dictionary"), row=1, col=3)
    fig.add_trace(go.Histogram(x=snap.mcs.tolist(), xbins=bins, marker_color=_ORANGE, opacity=0.75,
                               name=f"SAE (α = {snap.alpha:.2g})"), row=1, col=3)
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(title_text="features, most interfered first", showticklabels=False, row=1, col=2)
    fig.update_yaxes(title_text="Σ_j cos²", rangemode="tozero", row=1, col=2)
    fig.update_xaxes(title_text="per-feature MCS", range=[0, 1.02], row=1, col=3)
    fig.update_yaxes(title_text="features", row=1, col=3)
    _style_geometry(fig, d)
    fig.update_layout(
        title=(f"n = {snap.n_features} features in d = {d} (n/d = {snap.ratio:g}), {_PLACEMENT_NAMES[snap.placement]}: "
               f"antipodal fraction {snap.antipodal_fraction:.2f} · MMCS {snap.mmcs:.2f} (random dictionary "
               f"{snap.chance_mmcs:.2f})"),
        title_font_size=14, height=400, margin=dict(t=80, l=50, r=20, b=50),
        legend=dict(orientation="h", y=-0.2, x=0.35),
    )
    return fig


_PLACEMENT_NAMES = {"random": "random directions", "tms": "placed by a toy model"}


def _style_geometry(fig: go.Figure, d: int) -> None:
    if d == 2:
        fig.update_xaxes(range=[-1.2, 1.2], showticklabels=False, zeroline=False, row=1, col=1)
        fig.update_yaxes(range=[-1.2, 1.2], scaleanchor="x", showticklabels=False, zeroline=False, row=1, col=1)
    elif d == 3:
        axis = dict(range=[-1.1, 1.1], showticklabels=False, title="")
        fig.update_scenes(xaxis=axis, yaxis=axis, zaxis=axis, aspectmode="cube")
    else:
        fig.update_xaxes(showticklabels=False, row=1, col=1)
        fig.update_yaxes(showticklabels=False, row=1, col=1)


def plot_sae_toy_snapshot(snap: SAEToySnapshot) -> go.Figure:
    """The true feature directions (thick, blue) and the SAE's decoder directions (orange; dead latents grey, dotted)
    in the data's 2 or 3 dimensions, with MMCS, dead latents and L0 in the title."""
    d = snap.features.shape[1]
    three_d = d == 3
    fig = go.Figure()
    if not three_d:
        fig.add_trace(_unit_circle())
    for tr in _direction_traces(snap.features, _BLUE, "true features", three_d, width=6):
        fig.add_trace(tr)
    alive, dead = snap.dictionary[snap.alive], snap.dictionary[~snap.alive]
    for tr in _direction_traces(alive, _ORANGE, "SAE decoder directions (alive)", three_d, width=2):
        fig.add_trace(tr)
    for tr in _direction_traces(dead, _GREY, "dead latents", three_d, width=2, dash="dot"):
        fig.add_trace(tr)
    if three_d:
        axis = dict(range=[-1.1, 1.1], showticklabels=False, title="")
        fig.update_scenes(xaxis=axis, yaxis=axis, zaxis=axis, aspectmode="cube")
    else:
        fig.update_xaxes(range=[-1.2, 1.2], showticklabels=False, zeroline=False)
        fig.update_yaxes(range=[-1.2, 1.2], scaleanchor="x", showticklabels=False, zeroline=False)
    fig.update_layout(
        title=(f"α = {snap.alpha:g}, d_sae = {snap.d_sae}: MMCS of the alive latents {snap.mmcs:.2f} (random dictionary "
               f"{snap.chance_mmcs:.2f}) · dead {snap.dead} of {snap.d_sae} · L0 {snap.l0:.2f}"),
        title_font_size=14, height=460, width=560, margin=dict(t=60, l=20, r=20, b=20),
        legend=dict(orientation="h", y=-0.02),
    )
    return fig


def plot_grid_cell(mcs: Sequence[float], probability: Sequence[float], d_sae: int, alpha: float,
                   threshold: float = 0.9) -> go.Figure:
    """One cell of an α × size grid: the per-feature MCS histogram, and each feature's MCS against how often it fires
    (found: MCS ≥ `threshold`)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=["per-feature MCS", "MCS against firing probability"],
                        horizontal_spacing=0.12)
    fig.add_trace(go.Histogram(x=list(mcs), xbins=dict(start=0, end=1.0001, size=0.05), marker_color=_ORANGE,
                               name="features"), row=1, col=1)
    found = [m >= threshold for m in mcs]
    fig.add_trace(go.Scatter(x=list(probability), y=list(mcs), mode="markers", name="feature",
                             marker=dict(color=[_BLUE if f else _ORANGE for f in found], size=6)), row=1, col=2)
    fig.add_trace(go.Scatter(x=[min(probability), max(probability)], y=[threshold] * 2, mode="lines",
                             line=dict(color=_GREY, dash="dash"), name=f"found (MCS ≥ {threshold:g})"), row=1, col=2)
    fig.update_xaxes(title_text="MCS", range=[0, 1.02], row=1, col=1)
    fig.update_yaxes(title_text="features", row=1, col=1)
    fig.update_xaxes(title_text="firing probability", type="log", row=1, col=2)
    fig.update_yaxes(title_text="MCS", range=[0, 1.02], row=1, col=2)
    n_found = sum(found)
    fig.update_layout(title=f"d_sae = {d_sae}, α = {alpha:g}: {n_found} of {len(found)} features found, "
                            f"MMCS {sum(mcs) / len(mcs):.2f}", title_font_size=14, height=380, showlegend=False)
    return fig


def replace_figure(target: go.Figure, new: go.Figure) -> go.Figure:
    """Put `new`'s traces and layout into `target` (a go.Figure or a go.FigureWidget shown in a notebook)."""
    with target.batch_update() if isinstance(target, go.FigureWidget) else nullcontext():
        target.data = ()
        target.add_traces(list(new.data))
        target.layout = new.layout
    return target


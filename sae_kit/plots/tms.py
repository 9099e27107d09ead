"""Figures of toy models of superposition and of the ratio of features to dimensions (notebooks 01–02)."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sae_kit.plots._common import _colour, _vline

__all__ = [
    "plot_feature_directions", "plot_wtw", "plot_norms_superposition", "plot_dimensionality_heatmap",
    "plot_represented_vs_density", "plot_phase_diagram", "plot_dimensionality_vs_sparsity",
    "plot_interference_histograms", "plot_ratio_metrics",
]


def _importance_colours(n: int) -> list[str]:
    from plotly.colors import sample_colorscale

    return sample_colorscale("Viridis", [0.85 * i / max(1, n - 1) for i in range(n)])


def _tms_title(title: str, n: int | None, m: int | None, importance: float | None) -> str:
    """The title with the toy model's setting on a second, smaller line: n features in m dimensions, I_i = importance^i."""
    parts = ([f"n = {n} features"] if n is not None else []) + ([f"m = {m} dimensions"] if m is not None else [])
    parts += [f"importance I_i = {importance:g}ⁱ"] if importance is not None else []
    return f"{title}<br><sup>{', '.join(parts)}</sup>" if parts else title


def plot_feature_directions(Ws: Sequence, titles: Sequence[str], title: str = "Feature directions W_i in the hidden plane",
                            n: int | None = None, m: int | None = None, importance: float | None = None) -> go.Figure:
    """One panel per model: each feature's column W_i [d, feat] (d ≥ 1) drawn as a line from the origin (first two hidden
    dimensions), coloured by feature index (dark: most important), inside the dotted unit circle ‖W_i‖ = 1 (ticks at
    ±1). n, m, importance: the setting (features, hidden dimensions, I_i = importance^i), written in the title."""
    import math

    fig = make_subplots(rows=1, cols=len(Ws), subplot_titles=list(titles), horizontal_spacing=0.03)
    circle = [2 * math.pi * t / 72 for t in range(73)]
    for col, W in enumerate(Ws, start=1):
        W = W.detach().cpu()
        colours = _importance_colours(W.shape[1])
        fig.add_trace(go.Scatter(x=[math.cos(t) for t in circle], y=[math.sin(t) for t in circle], mode="lines",
                                 line=dict(color="lightgrey", dash="dot", width=1), name="‖W_i‖ = 1", hoverinfo="skip",
                                 legendgroup="unit", showlegend=col == 1), row=1, col=col)
        for i in range(W.shape[1]):
            x, y = float(W[0, i]), float(W[1, i]) if W.shape[0] > 1 else 0.0
            fig.add_trace(go.Scatter(x=[0, x], y=[0, y], mode="lines+markers", line=dict(color=colours[i], width=3),
                                     marker=dict(size=[0, 8]), name=f"feature {i}", legendgroup=f"f{i}", showlegend=col == 1),
                          row=1, col=col)
        fig.update_xaxes(range=[-1.4, 1.4], tickvals=[-1, 0, 1], showticklabels=col == 1, zeroline=False, row=1, col=col)
        fig.update_yaxes(range=[-1.4, 1.4], tickvals=[-1, 0, 1], showticklabels=col == 1, zeroline=False,
                         scaleanchor=f"x{col if col > 1 else ''}", row=1, col=col)
    fig.update_layout(title=_tms_title(title, n, m, importance), height=300, width=max(500, 230 * len(Ws)))
    return fig


def plot_wtw(Ws: Sequence, titles: Sequence[str], title: str = "WᵀW: how each feature's output reads the others",
             n: int | None = None, m: int | None = None, importance: float | None = None) -> go.Figure:
    """Heatmaps of WᵀW [feat, feat] per model (diagonal ≈ 1: represented; off-diagonal: interference), colour range ±1.
    n, m, importance: the setting, written in the title (as in plot_feature_directions)."""
    fig = make_subplots(rows=1, cols=len(Ws), subplot_titles=list(titles), horizontal_spacing=0.02)
    for col, W in enumerate(Ws, start=1):
        W = W.detach().cpu()
        fig.add_trace(go.Heatmap(z=(W.T @ W).tolist(), zmin=-1, zmax=1, colorscale="RdBu", reversescale=True,
                                 showscale=col == len(Ws), name=titles[col - 1]), row=1, col=col)
        fig.update_yaxes(autorange="reversed", showticklabels=False, row=1, col=col)
        fig.update_xaxes(showticklabels=False, row=1, col=col)
    fig.update_layout(title=_tms_title(title, n, m, importance), height=260, width=max(500, 200 * len(Ws)))
    return fig


def plot_norms_superposition(norms: Sequence, sup: Sequence, titles: Sequence[str],
                             title: str = "‖W_i‖ per feature, coloured by superposition Σ_{j≠i}(Ŵ_i·W_j)²",
                             n: int | None = None, m: int | None = None, importance: float | None = None) -> go.Figure:
    """Elhage et al.'s bar charts: one panel per model, a bar per feature (length ‖W_i‖), colour = its superposition
    (dark: a dedicated dimension; yellow: shares its direction with others). n, m, importance: the setting, in the title."""
    fig = make_subplots(rows=len(norms), cols=1, subplot_titles=list(titles), vertical_spacing=0.04, shared_xaxes=True)
    for row, (nrm, s) in enumerate(zip(norms, sup), start=1):
        nrm, s = [float(v) for v in nrm], [float(v) for v in s]
        fig.add_trace(go.Bar(x=list(range(len(nrm))), y=nrm, marker=dict(color=s, cmin=0, cmax=1, colorscale="Viridis",
                             showscale=row == 1, colorbar=dict(title="superposition", len=0.5)), name=titles[row - 1]),
                      row=row, col=1)
        fig.update_yaxes(range=[0, 1.3], row=row, col=1)
    fig.update_xaxes(title_text="feature index (importance decreasing →)", row=len(norms), col=1)
    fig.update_layout(title=_tms_title(title, n, m, importance), height=120 + 110 * len(norms), showlegend=False, bargap=0.15)
    return fig


def plot_dimensionality_heatmap(densities: Sequence[float], D, title: str = "Feature dimensionality D_i across density") -> go.Figure:
    """D_i per density (rows) and feature (columns): 1 a dedicated dimension, ½ an antipodal pair, 0 dropped."""
    fig = go.Figure(go.Heatmap(z=[[float(v) for v in row] for row in D], y=[f"{p:.3g}" for p in densities],
                               x=list(range(len(D[0]))), zmin=0, zmax=1, colorscale="Viridis",
                               text=[[f"{float(v):.2f}" for v in row] for row in D], texttemplate="%{text}",
                               textfont=dict(size=8), colorbar=dict(title="D_i")))
    fig.update_layout(title=title, xaxis_title="feature index (importance decreasing →)", yaxis_title="feature probability p",
                      yaxis_type="category", height=140 + 30 * len(densities))
    return fig


def plot_represented_vs_density(densities: Sequence[float], n_represented: Sequence[int], n_antipodal: Sequence[int],
                                d_hidden: int, title: str = "Features represented as the data gets sparser") -> go.Figure:
    """Count of represented features (‖W_i‖ ≥ ½) and of those in antipodal pairs against 1/p, with the m = d_hidden line."""
    x = [1 / p for p in densities]
    fig = go.Figure([
        go.Scatter(x=x, y=list(n_represented), mode="lines+markers", name="represented (‖W_i‖ ≥ ½)"),
        go.Scatter(x=x, y=list(n_antipodal), mode="lines+markers", name="in an antipodal pair"),
        go.Scatter(x=[x[0], x[-1]], y=[d_hidden, d_hidden], mode="lines", name=f"m = {d_hidden} dimensions",
                   line=dict(dash="dash", color="grey")),
    ])
    fig.update_layout(title=title, xaxis_title="1 / p = 1 / (1 − S)", xaxis_type="log", yaxis_title="features")
    return fig


def plot_phase_diagram(densities: Sequence[float], relative_importances: Sequence[float], trained, boundary: dict,
                       labels: Sequence[str], title: str = "n = 2, m = 1: what the trained model does") -> go.Figure:
    """Trained solution per (relative importance, density) cell as a categorical heatmap, with the analytic boundary
    curves (boundary = {"density": [...], "low": [...], "high": [...]}: where the antipodal pair starts to win)."""
    colours = ["#4c78a8", "#f58518", "#54a24b", "#bbbbbb"]
    n = len(labels)
    scale = [s for k in range(n) for s in ([k / n, colours[k]], [(k + 1) / n, colours[k]])]
    z = [[int(v) for v in row] for row in trained]
    fig = go.Figure(go.Heatmap(z=z, x=[float(r) for r in relative_importances], y=[float(p) for p in densities],
                               zmin=-0.5, zmax=n - 0.5, colorscale=scale, name="trained",
                               colorbar=dict(tickvals=list(range(n)), ticktext=list(labels), title="trained")))
    for key, name in (("low", "analytic boundary"), ("high", None)):
        fig.add_trace(go.Scatter(x=boundary[key], y=boundary["density"], mode="lines", line=dict(color="black", width=3),
                                 name=name or "analytic boundary", showlegend=name is not None))
    fig.update_layout(title=title, xaxis_title="relative importance of feature 2 (I₂ / I₁)", xaxis_type="log",
                      yaxis_title="feature density p = 1 − S", yaxis_type="log", height=480, width=640,
                      legend=dict(orientation="h", x=0, y=1.0, yanchor="bottom"))  # above the plot: clear of the colour bar
    return fig


def plot_dimensionality_vs_sparsity(inv_density: Sequence[float], d_star: Sequence[float], D_points: Sequence[Sequence[float]],
                                    fractions: Sequence[float] = (1, 3 / 4, 2 / 3, 1 / 2, 2 / 5),
                                    title: str = "Dimensions per feature against sparsity: the sticky fractions") -> go.Figure:
    """D* = m/‖W‖_F² (line) and every represented feature's D_i (dots) against 1/(1−S), with the published fractions."""
    xs = [x for x, pts in zip(inv_density, D_points) for _ in pts]
    ys = [float(v) for pts in D_points for v in pts]
    fig = go.Figure([
        go.Scatter(x=xs, y=ys, mode="markers", name="D_i (represented features)", marker=dict(size=5, opacity=0.4)),
        go.Scatter(x=list(inv_density), y=[float(v) for v in d_star], mode="lines+markers", name="D* = m / ‖W‖_F²",
                   line=dict(color="black")),
    ])
    for f in fractions:
        fig.add_hline(y=f, line=dict(dash="dot", color="grey", width=1), annotation_text=f"{f:.3g}",
                      annotation_position="right")
    fig.update_layout(title=title, xaxis_title="1 / (1 − S)", xaxis_type="log", yaxis_title="dimensionality",
                      yaxis_range=[0, 1.1])
    return fig


def plot_interference_histograms(ratios: Sequence[float], abs_cos: dict, title: str = "|cos| between feature directions") -> go.Figure:
    """One panel per placement (abs_cos = {name: [list of |cos| per ratio]}): overlaid histograms, one per ratio."""
    names = list(abs_cos)
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=names, shared_yaxes=True)
    for col, name in enumerate(names, start=1):
        for k, (r, vals) in enumerate(zip(ratios, abs_cos[name])):
            fig.add_trace(go.Histogram(x=[float(v) for v in vals], xbins=dict(start=0, end=1.0001, size=0.05),
                                       histnorm="probability", name=f"n/d = {r:g}", legendgroup=str(r), showlegend=col == 1,
                                       marker=dict(color=_colour(k, len(ratios))), opacity=0.6), row=1, col=col)
        fig.update_xaxes(title_text="|cos(f_i, f_j)|", row=1, col=col)
    fig.update_layout(title=title, barmode="overlay", height=380, yaxis_title="fraction of pairs")
    return fig


def plot_ratio_metrics(ratios: Sequence[float], series: dict, y_title: str, title: str, favourable: float = 2.0,
                       d: int | None = None) -> go.Figure:
    """Lines against the ratio of features to dimensions (log x), series = {name: [value per ratio]}, the report's
    favourable ratio marked.

    A name "placement: what" groups its series: one colour per placement, one line style and marker per "what"; a
    "what" of "chance" (MMCS of a random dictionary) is drawn dotted, without markers, in its placement's colour.
    `d`: the dimension the ratios were swept at, written in the title."""
    parts = [(name.partition(": ")[0], name.partition(": ")[2].strip()) for name in series]
    placements = list(dict.fromkeys(p for p, _ in parts))
    whats = list(dict.fromkeys(w for _, w in parts if w != "chance"))
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
    dashes, symbols = ["solid", "dash", "dashdot", "longdash"], ["circle", "square", "diamond", "triangle-up"]
    fig = go.Figure()
    for (name, vals), (placement, what) in zip(series.items(), parts):
        colour = palette[placements.index(placement) % len(palette)]
        chance, i = what == "chance", whats.index(what) if what in whats else 0
        fig.add_trace(go.Scatter(x=list(ratios), y=[float(v) for v in vals], mode="lines" if chance else "lines+markers",
                                 name=name, line=dict(color=colour, dash="dot" if chance else dashes[i % 4]),
                                 marker=dict(symbol=symbols[i % 4], size=7)))
    _vline(fig, favourable, f"report's ratio {favourable:g}", log_x=True)
    fig.update_xaxes(tickvals=list(ratios), ticktext=[f"{r:g}" for r in ratios])
    fig.update_layout(title=title if d is None else f"{title} (d = {d} dimensions)", xaxis_title="features / dimensions (n / d)",
                      xaxis_type="log", yaxis_title=y_title)
    return fig

"""Plot builders: each takes results and returns a plotly Figure. They never compute, train or show."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sae_kit.sweep import GridResult
from sae_kit.train import TrainResult

__all__ = [
    "plot_feature_frequencies", "plot_training", "plot_grid_heatmaps", "plot_mcs_histogram", "alpha_label",
    "plot_feature_directions", "plot_wtw", "plot_norms_superposition", "plot_dimensionality_heatmap",
    "plot_represented_vs_density", "plot_phase_diagram", "plot_dimensionality_vs_sparsity",
    "plot_interference_histograms", "plot_ratio_metrics",
]


def alpha_label(a: float) -> str:
    """Compact label for an L1 coefficient (0.0316 → '0.032')."""
    return f"{a:.2g}"


def plot_feature_frequencies(
    expected: Sequence[float], observed: Sequence[float], title: str = "How often each feature fires"
) -> go.Figure:
    """Activation probability per feature index: the generator's p_i against the frequency in a sample."""
    idx = list(range(len(expected)))
    fig = go.Figure([
        go.Scatter(x=idx, y=list(observed), mode="markers", name="observed frequency", marker=dict(size=4)),
        go.Scatter(x=idx, y=list(expected), mode="lines", name="p_i = m·λ^i / Σλ^j"),
    ])
    fig.update_layout(title=title, xaxis_title="feature index i", yaxis_title="P(feature active)", yaxis_type="log")
    return fig


def plot_training(result: TrainResult, labels: Sequence[str] | None = None, title: str = "Training") -> go.Figure:
    """MMCS (ground truth → learned), MSE, L1 and L0 against samples seen, one line per instance."""
    h, hm = result.history, result.mmcs_history
    n = len(h["mse"][0])
    labels = list(labels) if labels is not None else [f"instance {i}" for i in range(n)]
    panels = [("MMCS (truth → learned)", hm, "mmcs"), ("MSE", h, "mse"), ("L1 (before α)", h, "l1"), ("L0", h, "l0")]
    panels = [p for p in panels if p[1].get(p[2])]
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[p[0] for p in panels])
    for col, (_, hist, key) in enumerate(panels, start=1):
        for i in range(n):
            fig.add_trace(
                go.Scatter(x=hist["samples"], y=[v[i] for v in hist[key]], mode="lines", name=labels[i],
                           legendgroup=labels[i], showlegend=col == 1, line=dict(color=_colour(i, n))),
                row=1, col=col,
            )
        fig.update_xaxes(title_text="samples", row=1, col=col)
        if key in ("mse", "l1"):
            fig.update_yaxes(type="log", row=1, col=col)
    fig.update_layout(title=title, height=380)
    return fig


def plot_grid_heatmaps(grid: GridResult, title: str = "α × dictionary size") -> go.Figure:
    """Heatmaps over the grid: MMCS (truth → learned), fraction of dead latents, and MMCS with the next larger dictionary."""
    xs = [alpha_label(a) for a in grid.alphas]
    ys = [f"{s}" for s in grid.d_sae_values]
    panels = []
    if grid.mmcs is not None:
        panels.append(("MMCS (truth → learned)", grid.mmcs, ys, dict(zmin=0, zmax=1, colorscale="Viridis")))
    panels.append(("dead fraction", grid.dead_fraction, ys, dict(zmin=0, zmax=1, colorscale="Reds")))
    if len(ys) > 1:
        panels.append(("MMCS with next larger dictionary", grid.dictionary_mmcs, ys[:-1], dict(zmin=0, zmax=1, colorscale="Viridis")))
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[p[0] for p in panels], horizontal_spacing=0.08)
    for col, (name, z, y, style) in enumerate(panels, start=1):
        text = [[f"{v:.2f}" for v in row] for row in z.tolist()]
        bar_x = col / len(panels) - 0.02
        fig.add_trace(
            go.Heatmap(z=z.tolist(), x=xs, y=y, text=text, texttemplate="%{text}", textfont=dict(size=8), name=name,
                       colorbar=dict(x=bar_x, len=0.9, thickness=10), **style),
            row=1, col=col,
        )
        fig.update_xaxes(title_text="α (L1 coefficient)", type="category", row=1, col=col)
        fig.update_yaxes(title_text="dictionary size", type="category", row=1, col=col)
    fig.update_layout(title=title, height=420, width=max(900, 420 * len(panels)))
    return fig


def plot_mcs_histogram(values: Sequence[float], title: str = "Per-feature max cosine similarity") -> go.Figure:
    """Histogram of the per-feature MCS values whose mean is the MMCS."""
    fig = go.Figure(go.Histogram(x=list(values), xbins=dict(start=0, end=1.0001, size=0.02)))
    fig.update_layout(title=title, xaxis_title="MCS", yaxis_title="features", bargap=0.05)
    return fig


def _colour(i: int, n: int) -> str:
    from plotly.colors import sample_colorscale

    return sample_colorscale("Viridis", [0.9 * i / max(1, n - 1)])[0]


# ---------------------------------------------------------------------------------------------------------------------
# Toy models of superposition (notebooks 01 and 02)
# ---------------------------------------------------------------------------------------------------------------------

def _importance_colours(n: int) -> list[str]:
    from plotly.colors import sample_colorscale

    return sample_colorscale("Viridis", [0.85 * i / max(1, n - 1) for i in range(n)])


def plot_feature_directions(Ws: Sequence, titles: Sequence[str], title: str = "Feature directions W_i in the hidden plane") -> go.Figure:
    """One panel per model: each feature's column W_i [d_hidden ≥ 2] drawn as a line from the origin (first two hidden
    dimensions), coloured by feature index (dark: most important)."""
    fig = make_subplots(rows=1, cols=len(Ws), subplot_titles=list(titles), horizontal_spacing=0.03)
    for col, W in enumerate(Ws, start=1):
        W = W.detach().cpu()
        colours = _importance_colours(W.shape[1])
        for i in range(W.shape[1]):
            x, y = float(W[0, i]), float(W[1, i]) if W.shape[0] > 1 else 0.0
            fig.add_trace(go.Scatter(x=[0, x], y=[0, y], mode="lines+markers", line=dict(color=colours[i], width=3),
                                     marker=dict(size=[0, 8]), name=f"feature {i}", legendgroup=f"f{i}", showlegend=col == 1),
                          row=1, col=col)
        fig.update_xaxes(range=[-1.4, 1.4], showticklabels=False, row=1, col=col)
        fig.update_yaxes(range=[-1.4, 1.4], showticklabels=False, scaleanchor=f"x{col if col > 1 else ''}", row=1, col=col)
    fig.update_layout(title=title, height=300, width=max(500, 230 * len(Ws)))
    return fig


def plot_wtw(Ws: Sequence, titles: Sequence[str], title: str = "WᵀW: how each feature's output reads the others") -> go.Figure:
    """Heatmaps of WᵀW [feat, feat] per model (diagonal ≈ 1: represented; off-diagonal: interference), colour range ±1."""
    fig = make_subplots(rows=1, cols=len(Ws), subplot_titles=list(titles), horizontal_spacing=0.02)
    for col, W in enumerate(Ws, start=1):
        W = W.detach().cpu()
        fig.add_trace(go.Heatmap(z=(W.T @ W).tolist(), zmin=-1, zmax=1, colorscale="RdBu", reversescale=True,
                                 showscale=col == len(Ws), name=titles[col - 1]), row=1, col=col)
        fig.update_yaxes(autorange="reversed", showticklabels=False, row=1, col=col)
        fig.update_xaxes(showticklabels=False, row=1, col=col)
    fig.update_layout(title=title, height=260, width=max(500, 200 * len(Ws)))
    return fig


def plot_norms_superposition(norms: Sequence, sup: Sequence, titles: Sequence[str],
                             title: str = "‖W_i‖ per feature, coloured by superposition Σ_{j≠i}(Ŵ_i·W_j)²") -> go.Figure:
    """Elhage et al.'s bar charts: one panel per model, a bar per feature (length ‖W_i‖), colour = its superposition
    (dark: a dedicated dimension; yellow: shares its direction with others)."""
    fig = make_subplots(rows=len(norms), cols=1, subplot_titles=list(titles), vertical_spacing=0.04, shared_xaxes=True)
    for row, (nrm, s) in enumerate(zip(norms, sup), start=1):
        nrm, s = [float(v) for v in nrm], [float(v) for v in s]
        fig.add_trace(go.Bar(x=list(range(len(nrm))), y=nrm, marker=dict(color=s, cmin=0, cmax=1, colorscale="Viridis",
                             showscale=row == 1, colorbar=dict(title="superposition", len=0.5)), name=titles[row - 1]),
                      row=row, col=1)
        fig.update_yaxes(range=[0, 1.3], row=row, col=1)
    fig.update_xaxes(title_text="feature index (importance decreasing →)", row=len(norms), col=1)
    fig.update_layout(title=title, height=120 + 110 * len(norms), showlegend=False, bargap=0.15)
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
                      yaxis_title="feature density p = 1 − S", yaxis_type="log", height=480, width=640)
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


def plot_ratio_metrics(ratios: Sequence[float], series: dict, y_title: str, title: str, favourable: float = 2.0) -> go.Figure:
    """Lines against the ratio of features to dimensions (log x), series = {name: [value per ratio]}, the report's
    favourable ratio marked."""
    fig = go.Figure([go.Scatter(x=list(ratios), y=[float(v) for v in vals], mode="lines+markers", name=name)
                     for name, vals in series.items()])
    fig.add_vline(x=favourable, line=dict(dash="dash", color="grey"), annotation_text=f"report's ratio {favourable:g}")
    fig.update_layout(title=title, xaxis_title="features / dimensions (n / d)", xaxis_type="log", yaxis_title=y_title)
    return fig

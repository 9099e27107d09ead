"""Figures of SAE training on toy data (notebooks 03–04): curves, α × size grids, per-feature MCS, the plane, the
feature-count evidence."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sae_kit.plots._common import _colour, alpha_label
from sae_kit.training.loop import TrainResult
from sae_kit.training.sweep import GridResult

__all__ = [
    "plot_feature_frequencies", "plot_training", "plot_grid_heatmaps", "plot_mcs_histogram",
    "plot_mcs_histogram_grid", "plot_recovery_vs_frequency", "plot_recovery_over_training", "plot_identifiability",
    "plot_feature_count_evidence",
]


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


def plot_grid_heatmaps(grid: GridResult, title: str = "α × dictionary size",
                       chance: float | Sequence[float] | None = None) -> go.Figure:
    """Heatmaps over the grid: MMCS (truth → learned), fraction of dead latents, and MMCS with the next larger dictionary.

    Every panel has the same rows (dictionary sizes); the largest has no next larger dictionary, so its row in the third
    panel is blank ("—"). `chance`: the MMCS a random dictionary scores on the same features, so a cell can be read
    against it: one number (marked on the first panel's colour bar and in its title) or one per dictionary size
    (written beside each row's size)."""
    xs = [alpha_label(a) for a in grid.alphas]
    ys = [f"{s}" for s in grid.d_sae_values]
    per_row = chance is not None and not isinstance(chance, (int, float))
    if per_row and len(chance) != len(ys):
        raise ValueError(f"chance must be one number or one per dictionary size ({len(ys)}), got {len(chance)} values")
    mmcs_bar = {} if chance is None or per_row else dict(tickvals=[0, chance, 0.5, 1],
                                                         ticktext=["0", f"chance {chance:.2f}", "0.5", "1"])
    panels = []
    if grid.mmcs is not None:
        name = "MMCS (truth → learned)" + ("" if chance is None or per_row else f"; chance {chance:.2f}")
        panels.append((name, grid.mmcs.tolist(), dict(zmin=0, zmax=1, colorscale="Viridis"), mmcs_bar))
    panels.append(("dead fraction", grid.dead_fraction.tolist(), dict(zmin=0, zmax=1, colorscale="Reds"), {}))
    if len(ys) > 1:
        blank = [[None] * len(xs)]  # the largest dictionary has no next larger one
        panels.append(("MMCS with next larger dictionary", grid.dictionary_mmcs.tolist() + blank,
                       dict(zmin=0, zmax=1, colorscale="Viridis"), {}))  # its chance is another number: not marked
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[p[0] for p in panels], horizontal_spacing=0.1)
    for col, (name, z, style, bar) in enumerate(panels, start=1):
        text = [["—" if v is None else f"{v:.2f}" for v in row] for row in z]
        bar_x = fig.layout[f"xaxis{col if col > 1 else ''}"].domain[1] + 0.005  # just right of its own panel
        fig.add_trace(
            go.Heatmap(z=z, x=xs, y=ys, text=text, texttemplate="%{text}", textfont=dict(size=12), name=name,
                       colorbar=dict(x=bar_x, len=0.9, thickness=10, **bar), **style),
            row=1, col=col,
        )
        fig.update_xaxes(title_text="α (L1 coefficient)", type="category", categoryarray=xs, row=1, col=col)
        fig.update_yaxes(title_text="dictionary size" if col == 1 else None, type="category", categoryorder="array",
                         categoryarray=ys, row=1, col=col)
    if per_row and grid.mmcs is not None:
        fig.update_yaxes(tickvals=ys, ticktext=[f"{s} (chance {c:.2f})" for s, c in zip(ys, chance)], row=1, col=1)
    fig.update_layout(title=title, height=420, width=max(900, 440 * len(panels)))
    return fig


def plot_mcs_histogram(values: Sequence[float], title: str = "Per-feature max cosine similarity") -> go.Figure:
    """Histogram of the per-feature MCS values whose mean is the MMCS."""
    fig = go.Figure(go.Histogram(x=list(values), xbins=dict(start=0, end=1.0001, size=0.02)))
    fig.update_layout(title=title, xaxis_title="MCS", yaxis_title="features", bargap=0.05)
    return fig


def plot_mcs_histogram_grid(grid: GridResult, title: str = "Per-feature MCS across the grid") -> go.Figure:
    """The MMCS heatmap (left) beside a histogram of the per-feature MCS of every (size, α) cell (right).

    A middling MMCS then reads as "every feature partly found" (one central bump) or "some fully, some not" (two).
    Histogram rows are dictionary sizes (largest at the top, as in the heatmap), columns α; x: a feature's MCS in
    [0, 1], y: how many features (each panel its own scale)."""
    if grid.mcs is None or grid.mmcs is None:
        raise ValueError("plot_mcs_histogram_grid needs a grid trained with a ground truth (grid.mcs is None)")
    sizes, alphas = grid.d_sae_values, grid.alphas
    n_rows, n_cols = len(sizes), len(alphas)
    specs = [[{"rowspan": n_rows}] + [{}] * n_cols] + [[None] + [{}] * n_cols for _ in range(n_rows - 1)]
    fig = make_subplots(rows=n_rows, cols=n_cols + 1, specs=specs, column_widths=[0.34] + [0.66 / n_cols] * n_cols,
                        horizontal_spacing=0.045, vertical_spacing=0.03,  # room for the histograms' y title
                        column_titles=["MMCS (truth → learned)"] + [f"α = {alpha_label(a)}" for a in alphas],
                        row_titles=[str(s) for s in reversed(sizes)])  # dictionary size, level with the heatmap's rows
    z = grid.mmcs.tolist()
    fig.add_trace(go.Heatmap(z=z, x=[alpha_label(a) for a in alphas], y=[str(s) for s in sizes], zmin=0, zmax=1,
                             colorscale="Viridis", text=[[f"{v:.2f}" for v in row] for row in z], texttemplate="%{text}",
                             name="MMCS", colorbar=dict(orientation="h", x=0.17, xanchor="center", y=-0.2, yanchor="top",
                                                        len=0.3, thickness=10)), row=1, col=1)  # below: clear of the histograms
    fig.update_xaxes(type="category", title_text="α (L1 coefficient)", row=1, col=1)
    fig.update_yaxes(type="category", title_text="dictionary size", row=1, col=1)
    for i, size in enumerate(sizes):
        for j in range(n_cols):
            values = grid.mcs[i][j].tolist()
            fig.add_trace(go.Histogram(x=values, xbins=dict(start=0, end=1.0001, size=0.05), showlegend=False,
                                       marker_color=_colour(int(10 * float(grid.mmcs[i, j])), 10),
                                       name=f"d_sae={size}, α={alpha_label(alphas[j])}"),
                          row=n_rows - i, col=j + 2)  # largest size at the top, as in the heatmap
            fig.update_xaxes(range=[0, 1], showticklabels=i == 0, title_text="MCS" if i == 0 else None,
                             row=n_rows - i, col=j + 2)
            fig.update_yaxes(showticklabels=False, title_text="features" if j == 0 and i == n_rows // 2 else None,
                             title_standoff=0, row=n_rows - i, col=j + 2)
    fig.update_layout(title=title, height=max(460, 110 * n_rows + 120), width=max(900, 330 + 150 * n_cols), bargap=0.05,
                      margin=dict(b=110))
    return fig


def plot_recovery_vs_frequency(probabilities: Sequence[float], mcs_by_variant: dict[str, Sequence[float]],
                               title: str = "Recovery against feature frequency") -> go.Figure:
    """Final MCS of each ground-truth feature against how often it fires (log scale), one series per data variant."""
    fig = go.Figure()
    for k, (name, values) in enumerate(mcs_by_variant.items()):
        fig.add_trace(go.Scatter(x=list(probabilities), y=list(values), mode="markers", name=name,
                                 marker=dict(size=5, color=_colour(k, len(mcs_by_variant)))))
    fig.update_layout(title=title, xaxis_title="P(feature active)", yaxis_title="MCS", xaxis_type="log", yaxis_range=[0, 1.02])
    return fig


def plot_recovery_over_training(mcs_history: dict[str, list], first_found: Sequence[float | None], instance: int = 0,
                                title: str = "When each feature is found") -> go.Figure:
    """Left: MCS of every feature (rows, most frequent at the bottom) over training. Right: samples to reach the
    threshold against the feature index (features never found are left out)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=["MCS over training", "samples until found"], column_widths=[0.6, 0.4])
    z = [list(col) for col in zip(*[row[instance] for row in mcs_history["mcs"]])]  # [feat][step]
    fig.add_trace(go.Heatmap(z=z, x=mcs_history["samples"], zmin=0, zmax=1, colorscale="Viridis", name="MCS",
                             colorbar=dict(x=0.56, thickness=10)), row=1, col=1)
    found = [(i, s) for i, s in enumerate(first_found) if s is not None]
    fig.add_trace(go.Scatter(x=[i for i, _ in found], y=[s for _, s in found], mode="markers", name="first found",
                             marker=dict(size=5)), row=1, col=2)
    fig.update_xaxes(title_text="samples", row=1, col=1)
    fig.update_yaxes(title_text="feature index (frequency falls upward)", row=1, col=1)
    fig.update_xaxes(title_text="feature index", row=1, col=2)
    fig.update_yaxes(title_text="samples", row=1, col=2)
    fig.update_layout(title=title, height=420)
    return fig


def plot_identifiability(points: Sequence[Sequence[float]], recoveries: Sequence[dict], labels: Sequence[str],
                         title: str = "A composed plane: the data fix the plane, not a basis") -> go.Figure:
    """Data in the plane of the two always-together features, the true axes, and each SAE's in-plane directions.

    points [batch, 2]: samples' coordinates in the plane; recoveries: `plane_recovery` results, one per SAE."""
    fig = go.Figure(go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="markers", name="data (in plane)",
                               marker=dict(size=3, color="lightgrey")))
    for k, (x, y) in enumerate([(1, 0), (0, 1)]):
        fig.add_trace(go.Scatter(x=[0, x], y=[0, y], mode="lines", line=dict(color="black", width=3, dash="dot"),
                                 name="ground-truth features", legendgroup="truth", showlegend=k == 0))
    for k, (rec, label) in enumerate(zip(recoveries, labels)):
        xs, ys = [], []
        for cx, cy in rec["coords"]:
            xs += [0, cx, None]
            ys += [0, cy, None]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=label, line=dict(color=_colour(k, len(recoveries)))))
    fig.update_layout(title=title, xaxis_title="along f₀", yaxis_title="along f₁", height=520, width=620,
                      yaxis=dict(scaleanchor="x", scaleratio=1))
    return fig


def plot_feature_count_evidence(estimates: dict, title: str = "Estimating the number of features without ground truth") -> go.Figure:
    """The estimator's evidence against dictionary size, one line per dataset: dictionary-to-dictionary MMCS, dead
    fraction, MSE and L1; the estimate is marked on the first panel. estimates: {label: FeatureCountEstimate}."""
    panels = ["MMCS with next larger dictionary", "dead fraction", "MSE (held out)", "L1 (before α)"]
    fig = make_subplots(rows=1, cols=4, subplot_titles=panels)
    for k, (label, est) in enumerate(estimates.items()):
        c = _colour(k, len(estimates))
        sizes = est.d_sae_values
        series = [(sizes[:-1], est.dictionary_mmcs), (sizes, est.dead_fraction), (sizes, est.mse), (sizes, est.l1)]
        for col, (x, y) in enumerate(series, start=1):
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=str(label), legendgroup=str(label),
                                     showlegend=col == 1, line=dict(color=c)), row=1, col=col)
        i = sizes.index(est.estimate)
        y_est = est.dictionary_mmcs[min(i, len(sizes) - 2)]
        fig.add_trace(go.Scatter(x=[est.estimate], y=[y_est], mode="markers", name=f"{label}: estimate {est.estimate}",
                                 legendgroup=str(label), marker=dict(symbol="star", size=14, color=c)), row=1, col=1)
    for col in range(1, 5):
        fig.update_xaxes(type="log", title_text="dictionary size", row=1, col=col)
    for col in (3, 4):
        fig.update_yaxes(type="log", row=1, col=col)
    fig.update_layout(title=title, height=400, width=1200)
    return fig


# ---------------------------------------------------------------------------------------------------------------------
# Language-model replication (notebook 05): the tiny LM, its MLP activations, SAE grids without ground truth, features
# ---------------------------------------------------------------------------------------------------------------------

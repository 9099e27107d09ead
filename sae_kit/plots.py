"""Plot builders: each takes results and returns a plotly Figure. They never compute, train or show."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sae_kit.estimate import FeatureCountEstimate
from sae_kit.sweep import GridResult
from sae_kit.train import TrainResult

__all__ = [
    "plot_feature_frequencies", "plot_training", "plot_grid_heatmaps", "plot_mcs_histogram", "alpha_label",
    "plot_mcs_histogram_grid", "plot_recovery_vs_frequency", "plot_recovery_over_training", "plot_identifiability",
    "plot_feature_count_evidence",
    "plot_recipe_bars", "plot_recipe_curves", "plot_recipe_table", "plot_frontier", "plot_recommendations",
    "plot_stacked",
    "plot_lm_training", "plot_activation_distribution", "plot_lm_grid", "plot_feature_dashboard", "plot_label_quality",
    "plot_toy_vs_lm",
    "plot_feature_directions", "plot_wtw", "plot_norms_superposition", "plot_dimensionality_heatmap",
    "plot_represented_vs_density", "plot_phase_diagram", "plot_dimensionality_vs_sparsity",
    "plot_interference_histograms", "plot_ratio_metrics",
]


def alpha_label(a: float) -> str:
    """Compact label for an L1 coefficient, two significant digits, no "e+02": 0.0316 → '0.032', 316 → '320',
    100 → '100'; below 10⁻³ a power of ten, 3.16e-5 → '3.2·10⁻⁵'."""
    s = f"{a:.2g}"
    if "e" not in s:
        return s
    if a == 0 or abs(a) >= 1e-3:  # 2 significant digits of a large number: 320, 1000, 32000
        return f"{float(s):.0f}"
    mantissa, exponent = s.split("e")
    power = str(int(exponent)).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return f"{mantissa}·10{power}"


def _vline(fig: go.Figure, x: float, text: str, log_x: bool, colour: str = "grey", dash: str = "dash",
           row: int | None = None, col: int | None = None) -> None:
    """A vertical line at x with its label at the top. On a log axis a shape takes the value x but an annotation takes
    log10(x) (plotly's convention), so the label is placed by hand instead of through add_vline's annotation_text."""
    import math

    where = {} if row is None else dict(row=row, col=col)
    fig.add_vline(x=x, line=dict(dash=dash, color=colour), **where)
    fig.add_annotation(x=math.log10(x) if log_x else x, y=1, yref="y domain", text=text, showarrow=False,
                       yanchor="bottom", font=dict(color=colour), **where)


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


def _colour(i: int, n: int) -> str:
    from plotly.colors import sample_colorscale

    return sample_colorscale("Viridis", [0.9 * i / max(1, n - 1)])[0]


# ---------------------------------------------------------------------------------------------------- 06: recipes


def plot_recipe_bars(results: Sequence, metrics: Sequence[str] = ("mmcs", "mcc", "fve", "dead_fraction"),
                     title: str = "Recipes at matched L0") -> go.Figure:
    """One panel per metric, one bar per recipe (results: `sk.compare_recipes` output)."""
    metrics = [m for m in metrics if any(r.figures.get(m) is not None for r in results)]
    fig = make_subplots(rows=1, cols=len(metrics), subplot_titles=metrics, horizontal_spacing=0.06)
    names = [r.name for r in results]
    for col, m in enumerate(metrics, start=1):
        vals = [r.figures.get(m) for r in results]
        fig.add_trace(go.Bar(x=names, y=vals, name=m, text=[None if v is None else f"{v:.3f}" for v in vals],
                             textposition="outside", showlegend=False), row=1, col=col)
        fig.update_yaxes(range=[0, 1.08], row=1, col=col)
    fig.update_layout(title=title, height=430, width=max(900, 300 * len(metrics)))
    return fig


def plot_stacked(fve_by_depth: Sequence[float], wide_fve: float, dead_by_stage: Sequence[float],
                 title: str = "Stacked TopK: what each stage adds") -> go.Figure:
    """Unexplained variance (1 − FVE) after 1, 2, … stages of a residual stack, with one SAE as wide as the whole stack
    as a dashed line; and each stage's dead fraction (`sk.train_stacked` results)."""
    depth = list(range(1, len(fve_by_depth) + 1))
    fig = make_subplots(rows=1, cols=2, subplot_titles=("unexplained variance 1 − FVE", "dead fraction of each stage"),
                        horizontal_spacing=0.12)
    fig.add_trace(go.Scatter(x=depth, y=[1 - f for f in fve_by_depth], mode="lines+markers", name="stack"), row=1, col=1)
    fig.add_trace(go.Scatter(x=[depth[0], depth[-1]], y=[1 - wide_fve] * 2, mode="lines", line=dict(dash="dash"),
                             name=f"one SAE {depth[-1]}× as wide, {depth[-1]}× k"), row=1, col=1)
    fig.add_trace(go.Bar(x=depth, y=list(dead_by_stage), name="dead", showlegend=False), row=1, col=2)
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_yaxes(range=[0, 1], row=1, col=2)
    fig.update_xaxes(title_text="stages", dtick=1, row=1, col=1)
    fig.update_xaxes(title_text="stage", dtick=1, row=1, col=2)
    fig.update_layout(title=title, height=380, width=900)
    return fig


def plot_recipe_curves(results: Sequence, key: str = "mmcs", title: str | None = None) -> go.Figure:
    """A training curve per recipe (its kept instance): MMCS from mmcs_history, or an eval_history key
    such as "dead", "dead_train" or "ultra_low", against training samples."""
    fig = go.Figure()
    for n, r in enumerate(results):
        h = r.result.mmcs_history if key == "mmcs" else r.result.eval_history
        if key not in h:
            continue
        ys = [v[r.instance] for v in h[key]]
        xs = h["samples"] if "samples" in h else [s * r.result.history["samples"][0] / r.result.history["step"][0] for s in h["step"]]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=r.name, line=dict(color=_colour(n, len(results)))))
    fig.update_layout(title=title or f"{key} over training", xaxis_title="training samples", yaxis_title=key, height=400)
    return fig


def plot_recipe_table(results: Sequence, columns: Sequence[str] = ("l0", "mmcs", "mcc", "fve", "dead_fraction", "samples_to_0.99"),
                      title: str = "") -> go.Figure:
    """The comparison as a table: recipe, source, kept knob, then the chosen figures."""
    cols = [c for c in columns if any(c in r.figures for r in results)]

    def fmt(v):
        return "—" if v is None else f"{v:,}" if isinstance(v, int) else f"{v:.3f}"

    cells = [[r.name for r in results], [r.source for r in results], [f"{r.knob:g}" for r in results]]
    cells += [[fmt(r.figures.get(c)) for r in results] for c in cols]
    fig = go.Figure(go.Table(header=dict(values=["recipe", "source", "α or k", *cols], align="left"),
                             cells=dict(values=cells, align="left")))
    fig.update_layout(title=title, height=80 + 32 * len(results), margin=dict(t=40, b=10))
    return fig


def plot_frontier(results: Sequence, title: str = "Reconstruction against sparsity", matched_l0: float | None = None,
                  min_l0: float = 0.1) -> go.Figure:
    """Held-out FVE against L0 for every instance of each recipe's row (the frontier Gao et al. 2024 compare on).

    Instances with L0 < min_l0 (an L1 penalty so strong that almost nothing fires) would stretch the log axis over
    decades of nothing: they are drawn at L0 = min_l0 as open triangles ◁, one legend entry saying so.
    `matched_l0`: the L0 the recipes are compared at, a dashed line."""
    if min_l0 <= 0:
        raise ValueError(f"min_l0 must be > 0 (the x axis is logarithmic), got {min_l0}")
    fig = go.Figure()
    clipped = {"x": [], "y": [], "colour": [], "text": []}
    for n, r in enumerate(results):
        l0, fve = r.result.final("l0"), r.result.final("fve")
        knobs = [f"{k:g}" for k in (r.result.sae.cfg.ks or r.result.sae.cfg.l1_coeffs)]
        colour = _colour(n, len(results))
        kept = [i for i, v in enumerate(l0) if v >= min_l0]
        for i in (i for i in range(len(l0)) if l0[i] < min_l0):
            clipped["x"].append(min_l0)
            clipped["y"].append(fve[i])
            clipped["colour"].append(colour)
            clipped["text"].append(f"{r.name}, α or k {knobs[i]}: L0 {l0[i]:.2g}")
        fig.add_trace(go.Scatter(x=[l0[i] for i in kept], y=[fve[i] for i in kept], mode="lines+markers", name=r.name,
                                 text=[knobs[i] for i in kept], hovertemplate="L0 %{x:.2f}<br>FVE %{y:.3f}<br>α or k %{text}",
                                 line=dict(color=colour)))
    if clipped["x"]:
        fig.add_trace(go.Scatter(x=clipped["x"], y=clipped["y"], mode="markers", text=clipped["text"],
                                 name=f"L0 < {min_l0:g} ({len(clipped['x'])} points), drawn at {min_l0:g}",
                                 hovertemplate="%{text}<br>FVE %{y:.3f}",
                                 marker=dict(symbol="triangle-left-open", size=11, color=clipped["colour"], line=dict(width=2))))
    if matched_l0 is not None:
        _vline(fig, matched_l0, f"matched L0 = {matched_l0:g}", log_x=True, colour="black")
    fig.update_layout(title=title, xaxis_title="L0 (active latents per sample)", yaxis_title="fraction of variance explained",
                      xaxis_type="log", height=420)
    return fig


def plot_recommendations(rows: Sequence[dict], key: str = "mmcs", title: str = "What to use") -> go.Figure:
    """The table `sk.recommend` returns: per question, the best recipe and the runner-up with their figures."""
    def fmt(v):
        return "—" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)

    cols = ["question", "best", key, "dead_fraction", "runner_up", f"runner_up_{key}", "source"]
    fig = go.Figure(go.Table(header=dict(values=cols, align="left"),
                             cells=dict(values=[[fmt(r.get(c)) for r in rows] for c in cols], align="left")))
    fig.update_layout(title=title, height=90 + 34 * len(rows), margin=dict(t=40, b=10))
    return fig


# --- notebook 04: MCS distributions, recovery order, identifiability, the feature-count estimate ------------------


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


def plot_lm_training(history: dict, title: str = "Training the tiny LM") -> go.Figure:
    """Next-token loss (nats) against tokens seen: the training window's mean and the held-out loss."""
    fig = go.Figure([
        go.Scatter(x=history["tokens"], y=history["loss"], mode="lines+markers", name="train (window mean)"),
        go.Scatter(x=history["tokens"], y=history["eval_loss"], mode="lines+markers", name="held out"),
    ])
    fig.update_layout(title=title, xaxis_title="tokens seen", yaxis_title="cross-entropy (nats / token)", height=360)
    return fig


def plot_activation_distribution(lm: dict, toy: dict, lm_values: Sequence[float], toy_values: Sequence[float],
                                 title: str = "MLP activations against the toy data's assumptions") -> go.Figure:
    """Three panels, LM beside toy data: the values' histogram, each dimension's firing frequency (sorted), and the
    |correlation| between dimensions. `lm`/`toy` are `activation_summary` results; the values are a sample of entries."""
    fig = make_subplots(rows=1, cols=3, subplot_titles=["values (sample of entries)", "firing frequency per dimension",
                                                        "|correlation| between dimensions"])
    for name, s, vals, colour in (("LM MLP", lm, lm_values, "#1f77b4"), ("toy data", toy, toy_values, "#ff7f0e")):
        fig.add_trace(go.Histogram(x=list(vals), name=name, legendgroup=name, opacity=0.6, histnorm="probability",
                                   nbinsx=80, marker_color=colour), row=1, col=1)
        freq = sorted(s["frequency"], reverse=True)
        fig.add_trace(go.Scatter(x=list(range(len(freq))), y=freq, mode="lines", name=name, legendgroup=name,
                                 showlegend=False, line=dict(color=colour)), row=1, col=2)
        fig.add_trace(go.Histogram(x=s["abs_corr"].tolist(), name=name, legendgroup=name, showlegend=False, opacity=0.6,
                                   histnorm="probability", nbinsx=40, marker_color=colour), row=1, col=3)
    fig.update_layout(title=title, barmode="overlay", height=380)
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_xaxes(title_text="dimension (sorted)", row=1, col=2)
    fig.update_yaxes(title_text="P(value > 0)", row=1, col=2)
    return fig


def plot_lm_grid(grid: GridResult, estimate: FeatureCountEstimate | None = None, published: tuple[int, int] | None = (512, 1024),
                 title: str = "SAEs on the LM's MLP activations") -> go.Figure:
    """Against dictionary size, one line per α: MMCS with the next larger dictionary, dead fraction, held-out MSE and
    L1 (the two loss components, reported separately). The published range and our estimate are shaded/marked."""
    panels = ["MMCS with the next larger dictionary", "dead fraction", "MSE (held out)", "L1 (mean over latents)"]
    fig = make_subplots(rows=1, cols=4, subplot_titles=panels)
    sizes = grid.d_sae_values
    for j, a in enumerate(grid.alphas):
        colour, name = _colour(j, len(grid.alphas)), f"α = {alpha_label(a)}"
        series = [(sizes[:-1], grid.dictionary_mmcs[:, j]), (sizes, grid.dead_fraction[:, j]), (sizes, grid.mse[:, j]),
                  (sizes, grid.l1[:, j])]
        for col, (x, y) in enumerate(series, start=1):
            fig.add_trace(go.Scatter(x=list(x), y=y.tolist(), mode="lines+markers", name=name, legendgroup=name,
                                     showlegend=col == 1, line=dict(color=colour)), row=1, col=col)
    for col in range(1, 5):  # one x range for all panels; powers of ten, not SI prefixes ("10n", "1µ") on log axes
        fig.update_xaxes(type="log", title_text="dictionary size", matches="x", exponentformat="power", row=1, col=col)
        if published:
            fig.add_vrect(x0=published[0], x1=published[1], fillcolor="green", opacity=0.12, line_width=0, row=1, col=col)
    if estimate:
        fig.add_vline(x=estimate.estimate, line_dash="dash", line_color="black", row=1, col=1)
    fig.update_yaxes(type="log", exponentformat="power", row=1, col=3)
    fig.update_yaxes(type="log", exponentformat="power", row=1, col=4)
    fig.update_layout(title=title + (" (green: the published 512–1024; dashed: our estimate)" if published else ""),
                      height=400, width=1400)
    return fig


def plot_feature_dashboard(contexts: list[dict], values: Sequence[float], effect: dict, token_strings: Sequence[str],
                           title: str) -> go.Figure:
    """One feature: its top-activating contexts (firing token in bold, between ⟦ ⟧), the histogram of its nonzero
    activations, and the next tokens it boosts through the rest of the model."""
    fig = make_subplots(rows=1, cols=3, column_widths=[0.6, 0.2, 0.2], specs=[[{"type": "table"}, {}, {}]],
                        subplot_titles=["top-activating contexts", "nonzero activations", "boosted next tokens (Δ log p)"])

    def esc(s: str) -> str:
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "⏎")

    cells = [f"{esc(c['left'])}<b>⟦{esc(c['token'])}⟧</b>{esc(c['right'])}" for c in contexts]
    fig.add_trace(go.Table(columnwidth=[0.12, 0.88], header=dict(values=["act", "context"]),
                           cells=dict(values=[[f"{c['value']:.2f}" for c in contexts], cells], align="left")), row=1, col=1)
    fig.add_trace(go.Histogram(x=list(values), nbinsx=40, name="activations", showlegend=False), row=1, col=2)
    boosted = effect.get("boosted", [])
    fig.add_trace(go.Bar(y=[repr(token_strings[t]) for t, _ in boosted][::-1], x=[v for _, v in boosted][::-1],
                         orientation="h", name="boosted", showlegend=False), row=1, col=3)
    fig.update_yaxes(type="log", row=1, col=2)
    fig.update_layout(title=title, height=330, width=1300, margin=dict(t=70, b=20))
    return fig


def plot_label_quality(best_precision: Sequence[float], best_recall: Sequence[float], best_labels: Sequence[str],
                       n_good: int, published: int = 600, title: str = "Automatic labels") -> go.Figure:
    """Each feature at (recall, precision) of its best label; the count of well-labelled features beside the published ~600."""
    fig = go.Figure(go.Scattergl(x=list(best_recall), y=list(best_precision), mode="markers", text=list(best_labels),
                                 marker=dict(size=4, opacity=0.6), name="features",
                                 hovertemplate="%{text}<br>precision %{y:.2f}<br>recall %{x:.2f}"))
    fig.add_hline(y=0.8, line_dash="dash")
    fig.update_layout(title=f"{title}: {n_good} features with a good label (precision ≥ 0.8) — published ≈ {published}",
                      xaxis_title="recall of the best label", yaxis_title="precision of the best label", height=420)
    return fig


def plot_toy_vs_lm(toy_sizes: Sequence[int], toy_d2d: Sequence[float], toy_truth: Sequence[float], lm_sizes: Sequence[int],
                   lm_d2d: Sequence[float], n_toy_features: int, title: str = "Toy data and the LM, read the same way") -> go.Figure:
    """MMCS with the next larger dictionary against dictionary size, for toy data (with its truth → learned MMCS and
    its known number of features) and for the LM — the comparison the follow-up made."""
    fig = go.Figure([
        go.Scatter(x=list(toy_sizes[:-1]), y=list(toy_d2d), mode="lines+markers", name="toy: MMCS with next larger"),
        go.Scatter(x=list(toy_sizes), y=list(toy_truth), mode="lines+markers", name="toy: MMCS truth → learned",
                   line=dict(dash="dot")),
        go.Scatter(x=list(lm_sizes[:-1]), y=list(lm_d2d), mode="lines+markers", name="LM: MMCS with next larger"),
    ])
    fig.add_vline(x=n_toy_features, line_dash="dash", annotation_text=f"toy G = {n_toy_features}")
    fig.update_layout(title=title, xaxis_type="log", xaxis_title="dictionary size", yaxis_title="MMCS",
                      yaxis_range=[0, 1.02], height=400)
    return fig


# ---------------------------------------------------------------------------------------------------------------------
# Toy models of superposition (notebooks 01 and 02)
# ---------------------------------------------------------------------------------------------------------------------

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

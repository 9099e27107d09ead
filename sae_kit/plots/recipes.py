"""Figures comparing training recipes (notebook 06): bars, curves, tables, the reconstruction–sparsity frontier,
recommendations, stacked TopK."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sae_kit.plots._common import _colour, _vline

__all__ = [
    "plot_recipe_bars", "plot_stacked", "plot_recipe_curves", "plot_recipe_table", "plot_frontier",
    "plot_recommendations",
]


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

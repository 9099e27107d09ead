"""Figures of notebook 07: computation in superposition, feature absorption, the α collapse law. They never compute."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from sae_kit.plots._common import _colour

__all__ = ["plot_abs_motifs", "plot_abs_weights", "plot_abs_sae_scores", "plot_part_mcs", "plot_absorption_bars",
           "plot_absorption_snapshot",
           "plot_collapse", "plot_collapse_curves"]


def plot_abs_motifs(probabilities: Sequence[float], polysemantic: Sequence[float], asymmetric: Sequence[float],
                    title: str = "Absolute-value model: how its neurons serve features") -> go.Figure:
    """Fraction of used neurons that serve ≥ 2 features, and that do so with opposite signs (the asymmetric motif),
    against the feature probability p (`sk.neuron_motifs` per instance)."""
    fig = go.Figure()
    for name, ys, dash in (("polysemantic (≥ 2 features)", polysemantic, "dot"),
                           ("asymmetric (features of opposite sign)", asymmetric, "solid")):
        fig.add_trace(go.Scatter(x=list(probabilities), y=list(ys), mode="lines+markers", name=name, line=dict(dash=dash)))
    fig.update_xaxes(type="log", title_text="feature probability p = 1 − S (sparser →)", autorange="reversed")
    fig.update_yaxes(range=[0, 1.05], title_text="fraction of used neurons")
    fig.update_layout(title=title, height=400, width=760, legend=dict(x=0.02, y=0.98))
    return fig


def plot_abs_weights(W1: torch.Tensor, probabilities: Sequence[float], n_show: int = 20,
                     title: str = "W₁ of the absolute-value model: neurons × the first features") -> go.Figure:
    """W₁ [inst, d_hidden, feat] as heatmaps, one panel per instance (its feature probability above), the first
    `n_show` features (the most important) and the neurons that serve them, sorted by their strongest feature.
    Red: the neuron fires for x_i > 0; blue: for x_i < 0. A neuron with both colours shows the asymmetric motif. The
    colour scale is per panel (the colour bar is the last panel's)."""
    n = W1.shape[0]
    fig = make_subplots(rows=1, cols=n, subplot_titles=[f"p = {p:g}" for p in probabilities], horizontal_spacing=0.04)
    for i in range(n):
        w = W1[i, :, :n_show]  # [d_hidden, n_show]
        zmax = float(w.abs().max())  # per panel: the sparse model's weights are smaller
        strongest = w.abs().max(dim=1)
        keep = torch.nonzero(strongest.values > 0.05 * zmax).flatten()
        order = keep[torch.argsort(strongest.indices[keep] * 10 - strongest.values[keep] / (zmax + 1e-12))]
        fig.add_trace(go.Heatmap(z=w[order].tolist(), x=list(range(n_show)), y=[str(int(j)) for j in order],
                                 zmin=-zmax, zmax=zmax, colorscale="RdBu", reversescale=True, showscale=i == n - 1,
                                 colorbar=dict(title="W₁<br>(last)")), row=1, col=i + 1)
        fig.update_xaxes(title_text="feature i", row=1, col=i + 1)
        fig.update_yaxes(showticklabels=False, autorange="reversed", row=1, col=i + 1)
    fig.update_yaxes(title_text="neuron (sorted)", row=1, col=1)
    fig.update_layout(title=title, height=460, width=max(700, 300 * n))
    return fig


def plot_abs_sae_scores(scores: dict[str, dict[str, float]], title: str = "SAEs on a computing and a plain toy model"
                        ) -> go.Figure:
    """Grouped bars: per model (scores' keys, e.g. "computing", "plain"), MMCS, MCC and the latents' mean precision
    and recall against their matched labels (each a number in [0, 1])."""
    metrics = ["mmcs", "mcc", "precision", "recall"]
    fig = go.Figure()
    for n, (name, s) in enumerate(scores.items()):
        vals = [s[m] for m in metrics]
        fig.add_trace(go.Bar(x=metrics, y=vals, name=name, marker_color=_colour(n, len(scores)),
                             text=[f"{v:.2f}" for v in vals], textposition="outside"))
    fig.update_yaxes(range=[0, 1.1])
    fig.update_layout(title=title, barmode="group", height=400, width=760)
    return fig


def plot_part_mcs(feature_index: Sequence[int], sign: Sequence[int], mcs: Sequence[float],
                  title: str = "Which parts the SAE finds, by feature (importance 0.8^i falls →)") -> go.Figure:
    """Per known direction of the computing model, its MCS (best decoder cosine) against its feature index i, the
    positive parts (sign +1) and the negative parts (−1) apart; found: MCS ≥ 0.9 (dotted)."""
    fig = go.Figure()
    for sgn, name, symbol in ((1, "positive part u⁺", "triangle-up"), (-1, "negative part u⁻", "triangle-down")):
        pts = [(i, m) for i, s_, m in zip(feature_index, sign, mcs) if s_ == sgn]
        fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="markers", name=name,
                                 marker=dict(symbol=symbol, size=8)))
    fig.add_hline(y=0.9, line=dict(dash="dot", color="grey"))
    fig.update_xaxes(title_text="feature i")
    fig.update_yaxes(title_text="MCS (best decoder cosine)", range=[0, 1.02])
    fig.update_layout(title=title, height=420, width=900)
    return fig


def plot_absorption_bars(rows: Sequence[dict], title: str = "Absorption at matched L0") -> go.Figure:
    """Per recipe (rows: dicts with name, absorption, mean_share, l0), absorption = 1 − the parent latent's recall on
    child-active samples, and the parent direction its child latents carry (share)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("absorption (1 − parent recall | child on)",
                                                        "share: cos(child latent, parent)"), horizontal_spacing=0.1)
    names = [f"{r['name']}<br>L0 {r['l0']:.2f}" for r in rows]
    for col, key in ((1, "absorption"), (2, "mean_share")):
        vals = [r[key] for r in rows]
        fig.add_trace(go.Bar(x=names, y=vals, text=[f"{v:.2f}" for v in vals], textposition="outside", showlegend=False,
                             marker_color=[_colour(i, len(rows)) for i in range(len(rows))]), row=1, col=col)
        fig.update_yaxes(range=[0, 1.1], row=1, col=col)
    fig.update_layout(title=title, height=420, width=980)
    return fig


def plot_absorption_snapshot(cos: torch.Tensor, feature_names: Sequence[str], recall_child: Sequence[float],
                             child_names: Sequence[str], recall_parent_only: Sequence[float],
                             parent_names: Sequence[str], title: str) -> go.Figure:
    """Left: |cos| of every decoder row with every true feature, cos [d_sae, feat] (latents in the order given).
    Right: the parent latents' recall — on samples with the parent alone, and with each child on."""
    fig = make_subplots(rows=1, cols=2, column_widths=[0.5, 0.5], horizontal_spacing=0.2,
                        subplot_titles=("|cos(decoder row, true feature)|", "parent latent fires when …"))
    fig.add_trace(go.Heatmap(z=cos.tolist(), x=list(feature_names), y=[f"latent {j}" for j in range(cos.shape[0])],
                             zmin=0, zmax=1, colorscale="Viridis", colorbar=dict(title="|cos|", x=0.42)), row=1, col=1)
    fig.update_yaxes(autorange="reversed", showticklabels=False, title_text="latents (by matched feature)", row=1, col=1)
    fig.update_xaxes(tickangle=-60, row=1, col=1)
    x = [f"{p} alone" for p in parent_names] + [f"{c} on" for c in child_names]
    y = list(recall_parent_only) + list(recall_child)
    colours = ["#636efa"] * len(parent_names) + ["#ef553b"] * len(child_names)
    fig.add_trace(go.Bar(x=x, y=y, marker_color=colours, showlegend=False, text=[f"{v:.2f}" for v in y],
                         textposition="outside"), row=1, col=2)
    fig.update_yaxes(range=[0, 1.12], title_text="recall of the parent latent", row=1, col=2)
    fig.update_xaxes(tickangle=-60, row=1, col=2)
    fig.update_layout(title=title, height=520, width=920)
    return fig


def plot_collapse(d_sae_values: Sequence[int], alpha_star: dict[str, torch.Tensor], fits: dict,
                  title: str = "The α collapse law: collapse α* against dictionary size") -> go.Figure:
    """log α* against log d_sae, one panel per L1 convention: each seed's points (alpha_star[conv] [seed, size], NaN
    left out) and the pooled power-law fit α* = e^intercept · d_sae^slope (`sk.fit_power_law`), slope and CI in the
    legend."""
    convs = list(alpha_star)
    fig = make_subplots(rows=1, cols=len(convs), horizontal_spacing=0.1,
                        subplot_titles=[f"{c} L1 convention" for c in convs])
    for col, conv in enumerate(convs, start=1):
        a = alpha_star[conv]
        for s in range(a.shape[0]):
            fig.add_trace(go.Scatter(x=list(d_sae_values), y=[None if v != v else v for v in a[s].tolist()],
                                     mode="markers", marker=dict(color=_colour(s, a.shape[0]), size=9),
                                     name=f"seed {s}", showlegend=col == 1, legendgroup=f"seed {s}"), row=1, col=col)
        f = fits[conv]
        if f.slope == f.slope:  # a fit exists
            import math

            ci = f" (95 % CI {f.ci_low:.2f}…{f.ci_high:.2f})" if f.ci_low == f.ci_low else ""
            xs = [min(d_sae_values), max(d_sae_values)]
            fig.add_trace(go.Scatter(x=xs, y=[math.exp(f.intercept) * x ** f.slope for x in xs], mode="lines",
                                     line=dict(dash="dash", color="black"), name=f"{conv}: slope {f.slope:.2f}{ci}"),
                          row=1, col=col)
        fig.update_xaxes(type="log", title_text="d_sae", row=1, col=col)
        fig.update_yaxes(type="log", title_text="collapse α*" if col == 1 else None, row=1, col=col)
        finite = a[torch.isfinite(a) & (a > 0)].log10()
        if finite.numel():  # every panel spans at least a decade, so the two slopes read on the same scale
            mid, half = float(finite.max() + finite.min()) / 2, max(0.5, float(finite.max() - finite.min()) / 2 + 0.1)
            fig.update_yaxes(range=[mid - half, mid + half], row=1, col=col)
    fig.update_layout(title=title, height=430, width=1000, legend=dict(orientation="h", y=-0.2))
    return fig


def plot_collapse_curves(alphas: dict[str, Sequence[float]], mmcs: dict[str, torch.Tensor], dead: dict[str, torch.Tensor],
                         d_sae_values: Sequence[int], alpha_star: dict[str, Sequence[float]],
                         dead_thresholds: Sequence[float | None] | None = None,
                         title: str = "MMCS and dead latents along the α grid (seed 0)") -> go.Figure:
    """Per L1 convention (columns), MMCS (top) and the dead fraction (bottom) against α for each dictionary size:
    alphas[conv] [alpha], mmcs[conv] and dead[conv] [size, alpha] (one seed's `GridResult`), with each size's α*
    (alpha_star[conv] [size]) as a marker on the 0.8 line and, given dead_thresholds [size]
    (`CollapseConfig.dead_threshold`), each size's collapse threshold as a dotted line in its colour."""
    convs = list(alphas)
    fig = make_subplots(rows=2, cols=len(convs), shared_xaxes="columns", vertical_spacing=0.08, horizontal_spacing=0.08,
                        subplot_titles=[f"{c} L1 convention" for c in convs] + ["" for _ in convs])
    for col, conv in enumerate(convs, start=1):
        for i, size in enumerate(d_sae_values):
            colour = _colour(i, len(d_sae_values))
            kw = dict(legendgroup=str(size), line=dict(color=colour))
            fig.add_trace(go.Scatter(x=list(alphas[conv]), y=mmcs[conv][i].tolist(), mode="lines+markers",
                                     name=f"d_sae = {size}", showlegend=col == 1, **kw), row=1, col=col)
            fig.add_trace(go.Scatter(x=list(alphas[conv]), y=dead[conv][i].tolist(), mode="lines+markers",
                                     showlegend=False, **kw), row=2, col=col)
            if dead_thresholds is not None and dead_thresholds[i] is not None:
                a = list(alphas[conv])
                fig.add_trace(go.Scatter(x=[a[0], a[-1]], y=[dead_thresholds[i]] * 2, mode="lines", showlegend=False,
                                         line=dict(color=colour, dash="dot", width=1), legendgroup=str(size),
                                         name=f"collapse above {dead_thresholds[i]:.3g} dead"), row=2, col=col)
            star = alpha_star[conv][i]
            if star == star:  # not NaN
                fig.add_trace(go.Scatter(x=[star], y=[0.8], mode="markers", marker=dict(symbol="x", size=12, color=colour),
                                         showlegend=False, legendgroup=str(size)), row=1, col=col)
        fig.add_hline(y=0.8, line=dict(dash="dot", color="grey"), row=1, col=col)
        fig.update_xaxes(type="log", row=1, col=col)
        fig.update_xaxes(type="log", title_text="α", row=2, col=col)
    fig.update_yaxes(range=[0, 1.02])
    fig.update_yaxes(title_text="MMCS", row=1, col=1)
    fig.update_yaxes(title_text="dead fraction", row=2, col=1)
    fig.update_layout(title=title, height=560, width=1000)
    return fig

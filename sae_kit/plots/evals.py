"""Figures of what the field measures on language-model SAEs (notebook 08): core metrics, latent densities, head
attribution, LLM-free scores, training length and deep SAEs. Each takes results and returns a plotly Figure."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sae_kit.plots._common import _colour

__all__ = ["plot_core_metrics", "plot_density_histograms", "plot_head_shares", "plot_scores", "plot_length_sweep",
           "plot_deep_frontier", "plot_head_attribution"]

CORE_BARS = (("fve", "FVE (pooled)"), ("fve_per_token", "FVE (per token)"), ("cossim", "cos(x, x̂)"),
             ("ce_recovered_zero", "CE recovered<br>(zero abl.)"), ("ce_recovered_mean", "CE recovered<br>(mean abl.)"),
             ("kl_score", "KL score"), ("frac_alive", "alive fraction"))
"""The core metrics drawn as bars (key in `CoreMetrics.to_dict()`, label); all are 1 for a perfect SAE."""


def plot_core_metrics(rows: dict[str, dict], title: str = "Core metrics, SAEBench-style") -> go.Figure:
    """rows: SAE name → `CoreMetrics.to_dict()`. One group of bars per metric, one bar per SAE; L0 in the legend."""
    labels = [lab for _, lab in CORE_BARS]
    fig = go.Figure([go.Bar(x=labels, y=[m[k] for k, _ in CORE_BARS], name=f"{name} (L0 {m['l0']:.1f})",
                            marker_color=_colour(i, len(rows)), text=[f"{m[k]:.2f}" for k, _ in CORE_BARS],
                            textposition="auto", insidetextanchor="end", textangle=0)  # inside tall bars, off the line at 1
                     for i, (name, m) in enumerate(rows.items())])
    fig.add_hline(y=1.0, line_dash="dot", line_color="grey")
    fig.update_layout(title=title, barmode="group", yaxis_title="score (1 = perfect)", yaxis_range=[0, 1.15], height=480,
                      width=900, xaxis_tickangle=0, legend=dict(orientation="h", y=-0.15), margin=dict(b=110))
    return fig


def plot_density_histograms(log10_densities: dict[str, Sequence[float]], floor: float = -7.0,
                            title: str = "Latent densities: log₁₀ of the fraction of tokens each latent fires on") -> go.Figure:
    """SAE name → log₁₀ density per latent (dead latents at `floor`, the left edge): overlaid histograms."""
    fig = go.Figure([go.Histogram(x=list(v), name=name, opacity=0.6, xbins=dict(start=floor - 0.125, end=0.01, size=0.25),
                                  marker_color=_colour(i, len(log10_densities)))
                     for i, (name, v) in enumerate(log10_densities.items())])
    fig.add_annotation(x=floor, y=1, yref="y domain", text="dead", showarrow=False, yanchor="bottom")
    fig.update_layout(title=title, barmode="overlay", xaxis_title="log₁₀ density", yaxis_title="latents", height=420,
                      legend=dict(orientation="h", y=-0.25))
    return fig


def plot_head_shares(top_share: Sequence[float], n_heads: int, planted_share: Sequence[float] | None = None,
                     title: str = "How much of a latent's |DFA| comes from its top head") -> go.Figure:
    """Histogram of the top head's share of |DFA| per live latent (1: one head; 1/n_heads: spread evenly), beside the
    planted-heads control's if given."""
    fig = go.Figure(go.Histogram(x=list(top_share), name="tiny LM attention SAE", opacity=0.7, xbins=dict(start=0, end=1.0001, size=0.05)))
    if planted_share is not None:
        fig.add_trace(go.Histogram(x=list(planted_share), name="planted-heads control", opacity=0.6,
                                   xbins=dict(start=0, end=1.0001, size=0.05)))
    fig.add_vline(x=1 / n_heads, line_dash="dash", line_color="grey")
    fig.add_annotation(x=1 / n_heads, y=1, yref="y domain", text=f"1/{n_heads}: spread evenly", showarrow=False, yanchor="bottom")
    fig.update_layout(title=title, barmode="overlay", xaxis_title="top head's share of Σ_h |DFA_h| (tokens where it fires)",
                      yaxis_title="latents", xaxis_range=[0, 1.02], height=380)
    return fig


def plot_scores(f1: dict[str, Sequence[float]], quantile_recall: dict[str, Sequence[float]],
                title: str = "LLM-free detection scores against the corpus's latent variables") -> go.Figure:
    """Left: F1 per scored latent (name → values, e.g. with and without single-token detectors). Right: recall per
    activation quantile (name → [quantile]), weakest firing first."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=["held-out F1 per latent", "recall by activation quantile"])
    for i, (name, v) in enumerate(f1.items()):
        fig.add_trace(go.Histogram(x=list(v), name=name, opacity=0.6, xbins=dict(start=0, end=1.0001, size=0.05),
                                   marker_color=_colour(i, len(f1)), legendgroup=name), row=1, col=1)
    for i, (name, q) in enumerate(quantile_recall.items()):
        fig.add_trace(go.Scatter(x=list(range(1, len(q) + 1)), y=list(q), mode="lines+markers", name=f"{name}: recall",
                                 line=dict(color=_colour(i, len(quantile_recall)))), row=1, col=2)
    fig.update_xaxes(title_text="F1", range=[0, 1.02], row=1, col=1)
    fig.update_xaxes(title_text="activation quantile (1 = weakest)", dtick=1, row=1, col=2)
    fig.update_yaxes(title_text="latents", row=1, col=1)
    fig.update_yaxes(title_text="annotation holds (share)", range=[0, 1.02], row=1, col=2)
    fig.update_layout(title=title, barmode="overlay", height=420, legend=dict(orientation="h", y=-0.25))
    return fig


def plot_length_sweep(panels: dict[str, dict], title: str = "MMCS with the next larger dictionary, by training length") -> go.Figure:
    """panels: name (e.g. "toy", "tiny LM") → {"sizes": [size], "steps": [length], "dictionary_mmcs": [length, size − 1],
    "n_features": [length], optional "truth": n}. One panel each: a curve per length, the estimate in the legend."""
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=list(panels))
    for c, p in enumerate(panels.values(), start=1):
        n = len(p["steps"])
        for i, (steps, row, est) in enumerate(zip(p["steps"], p["dictionary_mmcs"], p["n_features"])):
            fig.add_trace(go.Scatter(x=list(p["sizes"][:-1]), y=list(row), mode="lines+markers", line=dict(color=_colour(i, n)),
                                     name=f"{list(panels)[c - 1]}: {steps} steps (estimate {est})"), row=1, col=c)
        if p.get("truth"):
            fig.add_vline(x=p["truth"], line_dash="dash", line_color="grey", row=1, col=c)
        fig.update_xaxes(type="log", title_text="dictionary size (the smaller of the pair)", row=1, col=c)
        fig.update_yaxes(range=[0, 1.02], row=1, col=c)
    fig.update_yaxes(title_text="MMCS with the next larger", row=1, col=1)
    fig.update_layout(title=title, height=440, legend=dict(orientation="h", y=-0.3))
    return fig


def plot_deep_frontier(panels: dict[str, dict], title: str = "Deep SAEs: reconstruction and dead latents against depth") -> go.Figure:
    """panels: data name → {"depths": [depth], "l0": [depth, k], "fve": [depth, k], "dead_fraction": [depth, k]} and
    optional "stacked": {"l0": [...], "fve": [...]} (notebook 06's stacked TopK). FVE against L0 (top row) and the dead
    fraction against L0 (bottom row), one line per depth."""
    names = list(panels)
    fig = make_subplots(rows=2, cols=len(panels), shared_xaxes=True, subplot_titles=names + [""] * len(names),
                        vertical_spacing=0.08)
    for c, p in enumerate(panels.values(), start=1):
        n = len(p["depths"])
        for i, depth in enumerate(p["depths"]):
            style = dict(color=_colour(i, n))
            fig.add_trace(go.Scatter(x=p["l0"][i], y=p["fve"][i], mode="lines+markers", line=style, legendgroup=str(depth),
                                     name=f"depth {depth}", showlegend=c == 1), row=1, col=c)
            fig.add_trace(go.Scatter(x=p["l0"][i], y=p["dead_fraction"][i], mode="lines+markers", line=dict(dash="dot", **style),
                                     legendgroup=str(depth), name=f"depth {depth}", showlegend=False), row=2, col=c)
        if "stacked" in p:
            s = p["stacked"]
            fig.add_trace(go.Scatter(x=s["l0"], y=s["fve"], mode="lines+markers", marker_symbol="diamond",
                                     line=dict(color="firebrick", dash="dash"), name="stacked TopK (notebook 06)"),
                          row=1, col=c)
        fig.update_xaxes(title_text="L0 (active latents per sample)", row=2, col=c)
        fig.update_yaxes(range=[-0.02, 1.02], row=2, col=c)
    fig.update_yaxes(title_text="held-out FVE", row=1, col=1)
    fig.update_yaxes(title_text="dead fraction", row=2, col=1)
    fig.update_layout(title=title, height=620, width=1000)
    return fig


def plot_head_attribution(snapshot: dict, title: str | None = None) -> go.Figure:
    """One attention-SAE latent (`explore.HeadAttribution`'s dict): mean signed DFA per head and the decoder's per-head
    norms (left), its top contexts (right)."""
    heads = [f"head {h}" for h in range(len(snapshot["dfa_mean"]))]
    fig = make_subplots(rows=1, cols=2, column_widths=[0.35, 0.65], specs=[[{}, {"type": "table"}]],
                        subplot_titles=["per-head attribution (tokens where it fires)", "top-activating contexts"])
    fig.add_trace(go.Bar(x=heads, y=snapshot["dfa_mean"], name="mean DFA_h (signed)"), row=1, col=1)
    fig.add_trace(go.Bar(x=heads, y=snapshot["decoder_norms"], name="‖W_dec[f, h-slice]‖"), row=1, col=1)

    def esc(s: str) -> str:
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "⏎")

    ctx = snapshot["contexts"]
    cells = [f"{esc(c['left'])}<b>⟦{esc(c['token'])}⟧</b>{esc(c['right'])}" for c in ctx]
    fig.add_trace(go.Table(columnwidth=[0.12, 0.88], header=dict(values=["act", "context"]),
                           cells=dict(values=[[f"{c['value']:.2f}" for c in ctx], cells], align="left")), row=1, col=2)
    fig.update_layout(title=title or (f"latent {snapshot['latent']}: fires on {snapshot['fires']} tokens; top head "
                                      f"{snapshot['top_head']} ({snapshot['top_share']:.0%} of |DFA|), bias {snapshot['bias']:.2f}"),
                      barmode="group", height=440, width=1200, legend=dict(orientation="h", y=-0.15))
    return fig

"""Figures of the tiny language model and its SAEs (notebook 05)."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sae_kit.analysis.estimate import FeatureCountEstimate
from sae_kit.plots._common import _colour, alpha_label
from sae_kit.training.sweep import GridResult

__all__ = [
    "plot_lm_training", "plot_activation_distribution", "plot_lm_grid", "plot_feature_dashboard",
    "plot_label_quality", "plot_toy_vs_lm",
]


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

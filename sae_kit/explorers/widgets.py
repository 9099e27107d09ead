"""The notebooks' interactive explorers. Built only in a live kernel.

Each explorer wires a compute function (`sae_kit.explorers.explore`, cached by setting) to a figure function
(`sae_kit.explorers.plots`, which never computes). The wiring is a plain `update_*` function — recompute, redraw the
figure in place, return a status message ('' when fine, else what is wrong) — that tests call directly. The explorer
itself only builds the controls and calls it. In headless runs (`sk.is_headless()`) no widget is built and every
explorer returns None, since widget traffic can stall papermill.

| notebook | explorer | controls → what changes |
|---|---|---|
| 01 | `tms_explorer` | sparsity, importance decay, n, m, ReLU/linear, training step → directions (3-D at m = 3), WᵀW, norms, D_i |
| 02 | `ratio_explorer` | n/d, d, mean active features, placement → geometry, interference, antipodal fraction, SAE recovery |
| 03 | `sae_toy_explorer` | α, dictionary size, d → decoder directions against the true features, dead latents, MMCS |
| 04 | `grid_cell_explorer` | a cell of the α × size grid → its per-feature MCS histogram, which features were found |
| 05 | `feature_browser` | dictionary size, latent → that latent's dashboard (contexts, activations, label, logit effect) |
| 07 | `absorption_explorer` | architecture (L1 / TopK / Matryoshka / tied), its α or k → decoder-vs-feature heatmap, parent recall |
| 08 | `head_attribution_explorer` | latent of an attention-output SAE → per-head DFA and decoder norms, top contexts |
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import plotly.graph_objects as go
import torch

from sae_kit._util import is_headless
from sae_kit.explorers.explore import check_ratio_setting, ratio_snapshot, sae_toy_snapshot, tms_run
from sae_kit.explorers.plots import plot_grid_cell, plot_ratio_snapshot, plot_sae_toy_snapshot, plot_tms_geometry, replace_figure
from sae_kit.toy.geometry import feature_dimensionality, interference_stats, superposition
from sae_kit.toy.tms import check_superposition

__all__ = ["update_tms_explorer", "tms_explorer", "update_ratio_explorer", "ratio_explorer", "update_sae_toy_explorer",
           "sae_toy_explorer", "update_grid_cell_explorer", "grid_cell_explorer", "update_feature_browser",
           "feature_browser", "update_absorption_explorer", "absorption_explorer",
           "update_head_attribution_explorer", "head_attribution_explorer", "MAX_FEATURES",
           "EXPLORER_RATIOS"]

MAX_FEATURES = 12
"""Largest n the toy-model explorer offers."""
EXPLORER_RATIOS = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 8.0, 16.0)
"""The n/d values the ratio explorer's slider offers (the cache can be warmed for all of them)."""
_STYLE = dict(continuous_update=False, style={"description_width": "initial"})


def _try(update: Callable[[], str]) -> str:
    """Run an update; a ValueError (an invalid combination of controls) becomes the status message."""
    try:
        return update()
    except ValueError as err:
        return f"⚠ {err}"


# ---------------------------------------------------------------------------------------------------------------------
# 01: a toy model of superposition


def update_tms_explorer(fig: go.Figure, sparsity: float, importance_decay: float, n_features: int, d_hidden: int,
                        linear: bool = False, step_index: int = -1, steps: int = 1000) -> str:
    """Train (or fetch from the cache) one toy model and draw it as it was at recorded step `step_index` (−1: the end),
    with each feature's D_i, the antipodal fraction and the loss in the title."""

    def run() -> str:
        if n_features > MAX_FEATURES:
            raise ValueError(f"n_features must be ≤ {MAX_FEATURES} in the explorer, got {n_features}")
        check_superposition(n_features, d_hidden)
        res = tms_run(float(sparsity), float(importance_decay), int(n_features), int(d_hidden), bool(linear), steps)
        if not -len(res.steps) <= step_index < len(res.steps):
            raise ValueError(f"step_index must lie in [−{len(res.steps)}, {len(res.steps) - 1}], got {step_index}")
        W = res.W_history[step_index]  # [d_hidden, feat]
        stats = interference_stats(W)
        title = (f"{'linear' if linear else 'ReLU'} model, n = {n_features}, m = {d_hidden}, S = {sparsity:.2f}, "
                 f"I_i = {importance_decay:.2f}^i<br>step {res.steps[step_index]} of {steps}: loss "
                 f"{res.loss_history[step_index]:.4f}, {stats['n_represented']} represented, antipodal fraction "
                 f"{stats['antipodal_fraction']:.2f}")
        replace_figure(fig, plot_tms_geometry(W, feature_dimensionality(W).tolist(), superposition(W).tolist(), title))
        return ""

    return _try(run)


def tms_explorer(sparsity: float = 0.9, importance_decay: float = 0.9, n_features: int = 5, d_hidden: int = 2,
                 steps: int = 1000):
    """Sliders for sparsity, importance decay, n and m, a ReLU/linear toggle and a training-step scrubber that redraw a
    small toy model's geometry. Returns an ipywidgets VBox (display it), or None in headless runs."""
    if is_headless():
        return None
    import ipywidgets as widgets

    fig = go.FigureWidget()
    s = widgets.FloatSlider(value=sparsity, min=0.0, max=0.99, step=0.01, description="sparsity S", **_STYLE)
    dec = widgets.FloatSlider(value=importance_decay, min=0.5, max=1.0, step=0.05, description="importance decay", **_STYLE)
    n = widgets.IntSlider(value=n_features, min=2, max=MAX_FEATURES, description="features n", **_STYLE)
    m = widgets.IntSlider(value=d_hidden, min=1, max=MAX_FEATURES - 1, description="dimensions m", **_STYLE)
    relu = widgets.ToggleButtons(options=[("ReLU", False), ("linear", True)], value=False, description="model", **_STYLE)
    step = widgets.IntSlider(value=49, min=0, max=49, description="training step (of 50 recorded)", **_STYLE)
    status = widgets.Label()

    def redraw(_change=None) -> None:
        status.value = "training…"
        status.value = update_tms_explorer(fig, s.value, dec.value, n.value, m.value, relu.value, step.value, steps)

    for w in (s, dec, n, m, relu, step):
        w.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([s, dec, relu]), widgets.HBox([n, m, step]), status, fig])


# ---------------------------------------------------------------------------------------------------------------------
# 02: the ratio of features to dimensions


def update_ratio_explorer(fig: go.Figure, ratio: float, d: int, avg_active: float, placement: str) -> str:
    """Place n = ratio · d features (random, or by a toy model), train a quick SAE row, and redraw."""

    def run() -> str:
        check_ratio_setting(ratio, d, avg_active, placement)
        replace_figure(fig, plot_ratio_snapshot(ratio_snapshot(float(ratio), int(d), float(avg_active), placement)))
        return ""

    return _try(run)


def ratio_explorer(ratio: float = 2.0, d: int = 8, avg_active: float = 2.0, placement: str = "tms",
                   ratios: Sequence[float] = EXPLORER_RATIOS, dims: Sequence[int] = (2, 3, 4, 8, 16)):
    """Sliders for n/d, d and the mean number of active features, and the placement: drag n/d across 2 to watch antipodal
    pairs give way to a tangle and recovery fall. Returns an ipywidgets VBox, or None in headless runs."""
    if is_headless():
        return None
    import ipywidgets as widgets

    fig = go.FigureWidget()
    r = widgets.SelectionSlider(options=[float(v) for v in ratios], value=float(ratio), description="features / dims n/d",
                                **_STYLE)
    dd = widgets.SelectionSlider(options=list(dims), value=d, description="dimensions d", **_STYLE)
    act = widgets.FloatSlider(value=avg_active, min=0.5, max=8.0, step=0.5, description="mean active features", **_STYLE)
    place = widgets.ToggleButtons(options=[("placed by a toy model", "tms"), ("random directions", "random")],
                                  value=placement, description="placement", **_STYLE)
    status = widgets.Label()

    def redraw(_change=None) -> None:
        status.value = "training a toy model and an SAE…"
        status.value = update_ratio_explorer(fig, r.value, dd.value, act.value, place.value)

    for w in (r, dd, act, place):
        w.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([r, dd]), widgets.HBox([act, place]), status, fig])


# ---------------------------------------------------------------------------------------------------------------------
# 03: an SAE small enough to draw


def update_sae_toy_explorer(fig: go.Figure, alpha: float, d_sae: int, d: int = 2, n_features: int = 6) -> str:
    """Train (or fetch) one L1 SAE on `n_features` features in d = 2 or 3 dimensions and draw its dictionary."""

    def run() -> str:
        replace_figure(fig, plot_sae_toy_snapshot(sae_toy_snapshot(float(alpha), int(d_sae), int(n_features), int(d))))
        return ""

    return _try(run)


def sae_toy_explorer(alpha: float = 0.3, d_sae: int = 12, d: int = 2, n_features: int = 6,
                     alphas: Sequence[float] = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)):
    """Sliders for α and the dictionary size (and d = 2 or 3): the learned decoder directions drawn over the true
    features, with dead latents and MMCS. Returns an ipywidgets VBox, or None in headless runs."""
    if is_headless():
        return None
    import ipywidgets as widgets

    fig = go.FigureWidget()
    a = widgets.SelectionSlider(options=[float(v) for v in alphas], value=float(alpha), description="α", **_STYLE)
    size = widgets.IntSlider(value=d_sae, min=2, max=4 * n_features, description="dictionary size d_sae", **_STYLE)
    dim = widgets.ToggleButtons(options=[2, 3], value=d, description="dimensions d", **_STYLE)
    status = widgets.Label()

    def redraw(_change=None) -> None:
        status.value = "training…"
        status.value = update_sae_toy_explorer(fig, a.value, size.value, dim.value, n_features)

    for w in (a, size, dim):
        w.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([a, size, dim]), status, fig])


# ---------------------------------------------------------------------------------------------------------------------
# 04: one cell of the α × size grid


def update_grid_cell_explorer(fig: go.Figure, mcs: Sequence[torch.Tensor], probability: Sequence[float], d_sae_values: Sequence[int],
                              alphas: Sequence[float], i: int, j: int) -> str:
    """Draw cell (i, j) of a grid's per-feature MCS (`GridResult.mcs`: per size, [alpha, feat]) against each
    feature's firing probability [feat]."""

    def run() -> str:
        if not (0 <= i < len(d_sae_values) and 0 <= j < len(alphas)):
            raise ValueError(f"cell (i, j) must lie in [0, {len(d_sae_values) - 1}] × [0, {len(alphas) - 1}], got ({i}, {j})")
        replace_figure(fig, plot_grid_cell(mcs[i][j].tolist(), list(probability), d_sae_values[i], alphas[j]))
        return ""

    return _try(run)


def grid_cell_explorer(grid, probability: Sequence[float], i: int = 0, j: int = 0):
    """Pick a dictionary size and an α of a trained grid (`sk.train_grid` with a ground truth) → that cell's MCS
    histogram and which features, by firing probability, it found. Returns an ipywidgets VBox, or None headless."""
    if is_headless():
        return None
    import ipywidgets as widgets

    if grid.mcs is None:
        raise ValueError("grid must be trained with a ground truth (grid.mcs is None)")
    fig = go.FigureWidget()
    size = widgets.SelectionSlider(options=[(str(s), k) for k, s in enumerate(grid.d_sae_values)], value=i,
                                   description="dictionary size d_sae", **_STYLE)
    alpha = widgets.SelectionSlider(options=[(f"{a:g}", k) for k, a in enumerate(grid.alphas)], value=j, description="α",
                                    **_STYLE)
    status = widgets.Label()

    def redraw(_change=None) -> None:
        status.value = update_grid_cell_explorer(fig, grid.mcs, probability, grid.d_sae_values, grid.alphas, size.value,
                                                 alpha.value)

    for w in (size, alpha):
        w.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([size, alpha]), status, fig])


# ---------------------------------------------------------------------------------------------------------------------
# 05: a feature browser for the tiny LM's SAEs


def update_feature_browser(fig: go.Figure, dashboards, size_index: int, latent: int) -> str:
    """Redraw latent `latent` of dictionary `size_index` from `dashboards` (a `sk.explore.LatentDashboards`)."""
    from sae_kit.plots import plot_feature_dashboard

    def run() -> str:
        sizes = dashboards.d_sae_values
        if not 0 <= size_index < len(sizes):
            raise ValueError(f"size_index must lie in [0, {len(sizes) - 1}], got {size_index}")
        if not 0 <= latent < sizes[size_index]:
            raise ValueError(f"latent must lie in [0, {sizes[size_index] - 1}] for d_sae = {sizes[size_index]}, got {latent}")
        d = dashboards(size_index, latent)
        if not d["values"]:  # a dead latent: an empty figure that says so
            replace_figure(fig, go.Figure(layout=dict(title=f"d_sae = {sizes[size_index]}, latent {latent}: never fires on "
                                                             "these tokens (a dead latent)", height=200)))
            return ""
        title = (f"d_sae = {sizes[size_index]}, latent {latent}: fires on {d['firing_rate']:.2%} of tokens; best label "
                 f"'{d['label']}' (precision {d['precision']:.2f}, recall {d['recall']:.2f})")
        replace_figure(fig, plot_feature_dashboard(d["contexts"], d["values"], d["effect"], dashboards.token_strings, title))
        return ""

    return _try(run)


def feature_browser(dashboards, size_index: int = 0, latent: int = 0):
    """A dictionary-size slider and a latent index → that latent's dashboard (top contexts, activation histogram, best
    label with precision and recall, logit effect). Returns an ipywidgets VBox, or None in headless runs."""
    if is_headless():
        return None
    import ipywidgets as widgets

    sizes = dashboards.d_sae_values
    fig = go.FigureWidget()
    size = widgets.SelectionSlider(options=[(str(s), k) for k, s in enumerate(sizes)], value=size_index,
                                   description="dictionary size d_sae", **_STYLE)
    idx = widgets.BoundedIntText(value=latent, min=0, max=sizes[size_index] - 1, description="latent", **_STYLE)
    status = widgets.Label()

    def redraw(_change=None) -> None:
        idx.max = sizes[size.value] - 1
        status.value = "encoding…"
        status.value = update_feature_browser(fig, dashboards, size.value, idx.value)

    for w in (size, idx):
        w.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([size, idx]), status, fig])


# ---------------------------------------------------------------------------------------------------------------------
# 07: feature absorption by architecture and sparsity


def update_absorption_explorer(fig: go.Figure, rows, name: str, index: int, feature_names: Sequence[str],
                               parent_names: Sequence[str], child_names: Sequence[str]) -> str:
    """Draw instance `index` of the row called `name` (rows: `sk.absorption_rows.AbsorptionRow`s, already trained and
    scored): its decoder-vs-true-feature |cos| heatmap and the parent latents' recall, alone and with each child."""
    from sae_kit.plots import plot_absorption_snapshot

    def run() -> str:
        by_name = {r.name: r for r in rows}
        if name not in by_name:
            raise ValueError(f"name must be one of {list(by_name)}, got {name!r}")
        r = by_name[name]
        if not 0 <= index < len(r.values):
            raise ValueError(f"index must be in [0, {len(r.values) - 1}] for {name}, got {index}")
        knob = f"{r.knob} = {r.values[index]:g}"
        title = (f"{name}, {knob}: L0 {r.l0[index]:.2f}, absorption {r.absorption[index]:.2f}, "
                 f"share {r.mean_share[index]:.2f}")
        replace_figure(fig, plot_absorption_snapshot(r.cos[index], feature_names, r.recall_child[index].tolist(),
                                                     child_names, r.recall_parent_only[index].tolist(), parent_names, title))
        return ""

    return _try(run)


def absorption_explorer(rows, feature_names: Sequence[str], parent_names: Sequence[str], child_names: Sequence[str],
                        name: str | None = None):
    """Pick an architecture (a trained row) and its α or k → the decoder rows' |cos| with the true features and the
    parent latents' recall. Starts at the first row's matched-L0 instance. An ipywidgets VBox, or None headless."""
    if is_headless():
        return None
    import ipywidgets as widgets

    by_name = {r.name: r for r in rows}
    name = name or rows[0].name
    fig = go.FigureWidget()
    arch = widgets.ToggleButtons(options=list(by_name), value=name, description="architecture", style=_STYLE["style"])
    knob = widgets.SelectionSlider(options=[("-", 0)], description="α or k", **_STYLE)
    status = widgets.Label()

    quiet = [False]  # while the slider's options change with the architecture, its value events redraw nothing

    def options(_change=None) -> None:
        r = by_name[arch.value]
        quiet[0] = True
        knob.options = [(f"{r.knob} = {v:g}", i) for i, v in enumerate(r.values)]
        knob.value = r.matched
        quiet[0] = False
        redraw()

    def redraw(_change=None) -> None:
        if not quiet[0]:
            status.value = update_absorption_explorer(fig, rows, arch.value, knob.value, feature_names, parent_names,
                                                      child_names)

    knob.observe(redraw, names="value")
    arch.observe(options, names="value")
    options()
    return widgets.VBox([widgets.HBox([arch, knob]), status, fig])


# ---------------------------------------------------------------------------------------------------------------------
# 08: per-head attribution of an attention-output SAE's latents


def update_head_attribution_explorer(fig: go.Figure, attribution, latent: int) -> str:
    """Redraw latent `latent` from `attribution` (a `sk.explore.HeadAttribution`): per-head DFA, decoder norms, contexts."""
    from sae_kit.plots.evals import plot_head_attribution

    def run() -> str:
        snap = attribution(int(latent))  # raises ValueError naming `latent` when out of range
        if not snap["fires"]:
            replace_figure(fig, go.Figure(layout=dict(title=f"latent {latent}: never fires on these tokens (a dead latent)",
                                                      height=200)))
            return ""
        replace_figure(fig, plot_head_attribution(snap))
        return ""

    return _try(run)


def head_attribution_explorer(attribution, latent: int = 0):
    """A latent slider → that attention-SAE latent's per-head DFA bars, decoder norms per head and top contexts.
    Returns an ipywidgets VBox, or None in headless runs."""
    if is_headless():
        return None
    import ipywidgets as widgets

    fig = go.FigureWidget()
    idx = widgets.IntSlider(value=latent, min=0, max=attribution.d_sae - 1, description="latent", **_STYLE)
    status = widgets.Label()

    def redraw(_change=None) -> None:
        status.value = update_head_attribution_explorer(fig, attribution, idx.value)

    idx.observe(redraw, names="value")
    redraw()
    return widgets.VBox([idx, status, fig])

"""Plotly figures on the report's pages: sized to the page's column, and no heavier than the pixels they fill.

The notebooks store each figure as plotly's JSON (the "application/vnd.plotly.v1+json" output). On a page
(sae_kit.report.html_report), each becomes a div and one `Plotly.newPlot` call, after two changes that leave what the
reader sees as it was:

- **Width.** A layout width (px) becomes the figure's *maximum* width: the figure fills the column (plotly's
  `autosize` and `responsive`), so no figure is wider than a 1280-px page, and a narrow one (a square phase diagram)
  keeps its designed width instead of stretching. The height stays as designed.
- **Weight.** A histogram of raw samples ships every sample to the browser, which bins them: 53k pairwise |cos|
  values in notebook 02's CI profile (1.1 MB of JSON), most of the 23 MB its full-profile page weighed. Such a
  trace is binned here into the bins plotly.js would draw (those the trace states, else the ones plotly's automatic
  binning picks, computed as plotly.js does): each bin's count at the bin's centre, with `histfunc="sum"` and the
  bins stated, so the bars, their normalisation (`histnorm`), the hover and the bin grouping of overlaid or grouped
  traces are the same, and the page carries one number per bin. Histograms plotly would bin in ways not reproduced
  here (cumulative, partly stated bins, dates or categories) are left as they are.
"""

from __future__ import annotations

import base64
import html
import json
import math

import numpy as np

__all__ = ["HIST_MAX_SAMPLES", "DEFAULT_HEIGHT", "bin_histograms", "fit_layout", "figure_div"]

HIST_MAX_SAMPLES = 1000
"""A histogram trace with more raw samples than this is binned on the page (fewer: left to plotly, exactly as stored)."""
DEFAULT_HEIGHT = 525
"""Figure height (px) where the layout sets none: plotly's notebook renderer's default."""


def _numbers(values) -> np.ndarray | None:
    """A trace's data array (a JSON list, or plotly's typed array {dtype, bdata[, shape]}) as 1-D floats; None when
    it is not numeric (categories, dates: those stay with plotly)."""
    if isinstance(values, dict) and "bdata" in values and "dtype" in values:
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=np.dtype(values["dtype"])).astype(float).ravel()
    if isinstance(values, (list, tuple)):
        try:
            arr = np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            return None
        return arr.ravel() if arr.ndim == 1 else None
    return None


def _orientation(trace: dict) -> str | None:
    """'x' for a histogram of x samples, 'y' for one of y samples (horizontal); None for anything else (other trace
    types, and histograms that aggregate y over x categories, which carry no raw samples to bin)."""
    if trace.get("type") != "histogram":
        return None
    has_x, has_y = trace.get("x") is not None, trace.get("y") is not None
    return "x" if has_x and not has_y else "y" if has_y and not has_x else None


def _round_up(val: float, arr: list[float], reverse: bool = False) -> float:
    """plotly.js's Lib.roundUp, step for step (without `reverse`: the first element > val)."""
    lo, hi, steps = 0, len(arr) - 1, 0
    d_lo, d_hi, rnd = (0, 1, math.ceil) if reverse else (1, 0, math.floor)
    while lo < hi and steps < 100:
        steps += 1
        mid = rnd((lo + hi) / 2)
        if arr[mid] <= val:
            lo = mid + d_lo
        else:
            hi = mid - d_hi
    return arr[lo]


def _min_diff(v: np.ndarray) -> float:
    """plotly.js's Lib.distinctVals(v).minDiff: the smallest gap between distinct values (ties within span/n/10⁴)."""
    u = np.unique(v)
    min_diff = float(u[-1] - u[0]) or 1.0
    err = min_diff / (max(v.size - 1, 1)) / 1e4
    prev = u[0]
    for x in u[1:]:
        if x - prev > err:
            min_diff, prev = min(min_diff, float(x - prev)), x
    return min_diff


def _auto_bins(v: np.ndarray, n_bins: int | None) -> tuple[float, float, float]:
    """The bins plotly.js picks for samples v on a linear axis (Axes.autoBin and autoShiftNumericBins, plotly.js
    src/plots/cartesian/axes.js): a round size (2, 5 or 10 × 10ᵏ) from span/nbins, or from max(the values' own
    resolution, 2σ/n^0.4); edges on multiples of it, shifted half a bin when the data sit on the edges."""
    lo, hi = float(v.min()), float(v.max())
    if n_bins:
        size0 = (hi - lo) / n_bins
    else:
        md = _min_diff(v)
        f = 10.0 ** math.floor(math.log10(md))
        size0 = max(f * _round_up(md / f, [0.9, 1.9, 4.9, 9.9], reverse=True), 2 * float(v.std()) / v.size ** 0.4)
        size0 = size0 if math.isfinite(size0) else 1.0
    base = 10.0 ** math.floor(math.log(size0) / math.log(10))  # autoTicks on a linear axis: tick0 = 0
    size = base * _round_up(size0 / base, [2, 5, 10]) or 1.0
    start = math.ceil((lo - (hi - lo) * 1e-4) / size) * size - size  # tickFirst of the padded range, one tick back
    edge = np.fmod(1 + (v - start) * 100 / size, 100) < 2  # within 1 % of a bin edge (JavaScript's % is fmod)
    mid = np.fmod(1 + (v + size / 2 - start) * 100 / size, 100) < 2

    def near(x: float) -> bool:
        return math.fmod(1 + (x - start) * 100 / size, 100) < 2

    if np.all(np.fmod(v, 1) == 0):
        if size < 1:
            start = lo - 0.5 * size
        else:
            start -= 0.5
            start += size if start + size < lo else 0
    elif mid.sum() < v.size * 0.1 and (edge.sum() > v.size * 0.3 or near(lo) or near(hi)):
        start += size / 2 if start + size / 2 < lo else -size / 2
    return start, start + (1 + math.floor((hi - start) / size)) * size, size


def _stated_bins(trace: dict, axis: str) -> tuple[float, float, float] | None:
    """(start, end, size) when the trace states all three of its bins, else None."""
    bins = trace.get(f"{axis}bins") or {}
    try:
        start, end, size = (float(bins[k]) for k in ("start", "end", "size"))
    except (KeyError, TypeError, ValueError):
        return None
    return (start, end, size) if size > 0 and end > start else None


def _binned(trace: dict, values: np.ndarray, axis: str, bins: tuple[float, float, float]) -> dict:
    """The trace with its samples replaced by per-bin counts at bin centres (histfunc "sum", bins stated), counted
    as plotly.js does (bins laid from start while below end − size/10⁶; Lib.findBin's 10⁻⁹ tolerance)."""
    start, end, size = bins
    n_bins, edge = 0, start
    while edge < end - size / 1e6 and n_bins < 1_000_000:
        n_bins, edge = n_bins + 1, edge + size
    idx = np.floor((values[np.isfinite(values)] - start) / size + 1e-9).astype(np.int64)
    counts = np.bincount(idx[(idx >= 0) & (idx < n_bins)], minlength=n_bins)  # plotly drops samples outside its bins
    filled = np.nonzero(counts)[0]
    other = "y" if axis == "x" else "x"
    out = {k: val for k, val in trace.items() if k not in (axis, f"nbins{axis}", f"autobin{axis}")}
    out[axis] = [start + (i + 0.5) * size for i in filled]
    out[other] = counts[filled].tolist()
    out["histfunc"] = "sum"
    out["orientation"] = "v" if axis == "x" else "h"  # with both x and y given, plotly would assume vertical
    out[f"{axis}bins"] = {"start": start, "end": end, "size": size}
    return out


def _groups(data: list[dict], layout: dict, max_samples: int) -> list[list[tuple[int, np.ndarray, str]]]:
    """Histograms to bin, grouped as plotly.js bins them together: by `bingroup`, else (unless barmode is "overlay")
    by subplot and orientation. A group is left to plotly when any member is cumulative, states only part of its
    bins, has non-numeric or constant samples, or none has more than max_samples."""
    overlay = layout.get("barmode") == "overlay"
    groups: dict[tuple, list] = {}
    for i, trace in enumerate(data):
        axis = _orientation(trace)
        if axis is None:
            continue
        key = (("bingroup", trace["bingroup"]) if trace.get("bingroup") else ("trace", i) if overlay
               else (trace.get("xaxis", "x"), trace.get("yaxis", "y"), axis))
        groups.setdefault(key, []).append((i, _numbers(trace.get(axis)), axis))
    keep = []
    for members in groups.values():
        traces = [data[i] for i, _, _ in members]
        partial = any(_stated_bins(t, a) is None and (t.get(f"{a}bins") or {}) for t, (_, _, a) in zip(traces, members))
        odd = any(v is None or v.size == 0 or not np.all(np.isfinite(v)) for _, v, _ in members)
        if odd or partial or any((t.get("cumulative") or {}).get("enabled") for t in traces):
            continue
        if max(v.size for _, v, _ in members) > max_samples and np.ptp(np.concatenate([v for _, v, _ in members])) > 0:
            keep.append(members)
    return keep


def bin_histograms(data: list[dict], layout: dict | None = None, max_samples: int = HIST_MAX_SAMPLES) -> list[dict]:
    """The figure's traces with every histogram of more than `max_samples` raw samples binned into the bins plotly.js
    would draw (stated ones, else its automatic ones); other traces as they are. Bars, normalisation, hover unchanged."""
    if max_samples < 0:
        raise ValueError(f"max_samples must be ≥ 0, got {max_samples}")
    out = list(data)
    for members in _groups(data, layout or {}, max_samples):
        first = data[members[0][0]]
        axis = members[0][2]
        bins = _stated_bins(first, axis) or _auto_bins(np.concatenate([v for _, v, _ in members]),
                                                       next((data[i].get(f"nbins{a}") for i, _, a in members
                                                             if data[i].get(f"nbins{a}")), None))
        for i, values, a in members:
            out[i] = _binned(data[i], values, a, _stated_bins(data[i], a) or bins)
    return out


def fit_layout(layout: dict) -> tuple[dict, int | None, int]:
    """(layout without a fixed width, with autosize; the designed width as a maximum, or None; the height in px).

    The figure then fills its column up to the width it was designed for: never wider than the page."""
    layout = dict(layout)
    width = layout.pop("width", None)
    height = layout.pop("height", None) or DEFAULT_HEIGHT
    layout["autosize"] = True
    return layout, (int(width) if width else None), int(height)


def _script_json(obj) -> str:
    """JSON safe inside a <script> element (no "</" that would close it; NaN stays NaN, a JavaScript number)."""
    return json.dumps(obj, separators=(",", ":")).replace("</", "<\\/")


def figure_div(spec: dict, div_id: str, max_samples: int = HIST_MAX_SAMPLES) -> str:
    """A plotly figure's JSON (as the mimetype output stores it) as a responsive div and one Plotly.newPlot call.

    Needs plotly.js on the page (sae_kit.report.html_report embeds it once)."""
    data = bin_histograms(spec.get("data", []), spec.get("layout", {}), max_samples)
    layout, max_width, height = fit_layout(spec.get("layout", {}))
    config = {**(spec.get("config") or {}), "responsive": True}
    frames = spec.get("frames") or []
    cap = f" max-width:{max_width}px;" if max_width else ""
    args = ", ".join(_script_json(x) for x in (data, layout, config))
    plot = f"Plotly.newPlot({json.dumps(div_id)}, {args})"
    if frames:
        plot += f".then(function () {{ Plotly.addFrames({json.dumps(div_id)}, {_script_json(frames)}); }})"
    return (f'<div class="sk-figure" style="width:100%;{cap}">'
            f'<div id="{html.escape(div_id)}" class="plotly-graph-div" style="height:{height}px; width:100%;"></div>'
            f'</div>\n<script type="text/javascript">{plot};</script>\n')

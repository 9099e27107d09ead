"""Each executed notebook's headline figure as a static PNG (for the README and for slides).

    python -m sae_kit --out reports --summary-only --png    # reports/png/NN_name.png from notebooks already executed
    make png                                                # the same, installing kaleido first

The notebooks store their plotly figures as JSON outputs ("application/vnd.plotly.v1+json", see sae_kit.report.html_report).
`headline_figure` picks one per notebook: the first figure whose layout title starts with the notebook's key in
HEADLINES (the figure that shows the notebook's main claim). `export_headlines` draws them with kaleido ≥ 1, which
renders in a Chromium or Chrome already installed: $BROWSER_PATH, else the first of chromium, google-chrome, … on
PATH (Debian: `apt-get install chromium`). No network is needed: plotly.js comes from the plotly package and MathJax
is switched off (titles are plain text).
"""

from __future__ import annotations

from pathlib import Path

from sae_kit.report.html_report import PLOTLY_MIME

__all__ = ["HEADLINES", "figure_title", "plotly_figures", "headline_figure", "export_headlines"]

HEADLINES = {
    "01_toy_superposition": "Feature directions W_i",  # n = 5, m = 2: dedicated dimensions → antipodal pairs → pentagon
    "02_strongly_interfering_ratios": "SAE recovery against the ratio",
    "03_sae_training": "G = ",  # the report's α × dictionary-size grid of MMCS (title: "G = … features, … steps per SAE")
    "04_mcs_histograms": "G = ",  # MMCS and the per-feature MCS histograms behind it
    "05_lm_replication": "SAEs on the LM's MLP activations",
    "06_beyond_the_report": "FVE against L0",
    "07_computation_absorption_collapse": "Absorption at matched L0",
    "08_measuring_lm_saes": "Core metrics",  # SAEBench-style core metrics of the MLP and attention-output SAEs
}
"""Notebook name → the start of its headline figure's title ("" picks the notebook's first figure)."""

PNG_WIDTH, PNG_HEIGHT = 1000, 450  # pixels, where the figure's layout sets no size
PNG_MIN_HEIGHT = 360  # a notebook's short strips of panels (300 px) would cut their legend off in a PNG


def figure_title(spec: dict) -> str:
    """The layout title of a plotly figure's JSON ("" when it has none); plotly stores it as a str or {"text": str}."""
    title = spec.get("layout", {}).get("title", "")
    return (title.get("text") or "") if isinstance(title, dict) else str(title or "")


def plotly_figures(notebook) -> list[dict]:
    """Every plotly figure (its JSON) among a notebook's outputs, in order. `notebook`: a path or an nbformat node."""
    import nbformat

    if isinstance(notebook, (str, Path)):
        notebook = nbformat.read(Path(notebook), as_version=4)
    return [out["data"][PLOTLY_MIME] for cell in notebook.cells for out in cell.get("outputs", [])
            if PLOTLY_MIME in out.get("data", {})]


def headline_figure(notebook, key: str) -> dict:
    """The first figure whose title starts with `key` ("" → the first figure); ValueError naming the titles if none."""
    figures = plotly_figures(notebook)
    for spec in figures:
        if figure_title(spec).startswith(key):
            return spec
    titles = [figure_title(s) for s in figures]
    raise ValueError(f"no figure whose title starts with {key!r} in {getattr(notebook, 'name', 'the notebook')}; titles: {titles}")


def export_headlines(report_dir: str | Path, out_dir: str | Path | None = None, headlines: dict[str, str] | None = None,
                     scale: float = 1.0) -> list[Path]:
    """Write the headline figure of each executed notebook in report_dir (NN_name.ipynb) to out_dir/NN_name.png.

    out_dir defaults to report_dir/png. Raises RuntimeError with what to install when kaleido or a browser is missing.
    """
    try:
        import kaleido
    except ImportError as e:
        raise RuntimeError("PNG export needs kaleido ≥ 1.0: pip install 'sae-kit[png]' (or `make png`)") from e
    if not hasattr(kaleido, "write_fig_from_object_sync"):
        raise RuntimeError(f"PNG export needs kaleido ≥ 1.0 (found {getattr(kaleido, '__version__', 'an older one')}): "
                           "pip install -U 'sae-kit[png]'")
    report_dir = Path(report_dir)
    out = Path(out_dir) if out_dir is not None else report_dir / "png"
    headlines = HEADLINES if headlines is None else headlines
    jobs = []
    for nb in sorted(report_dir.glob("[0-9][0-9]_*.ipynb")):
        if nb.stem not in headlines:
            continue
        spec = headline_figure(nb, headlines[nb.stem])
        layout = dict(spec.get("layout", {}))
        fig = {"data": spec.get("data", []), "layout": layout}
        height = max(layout.get("height") or PNG_HEIGHT, PNG_MIN_HEIGHT)
        opts = {"format": "png", "width": layout.get("width") or PNG_WIDTH, "height": height, "scale": scale}
        jobs.append({"fig": fig, "path": str(out / f"{nb.stem}.png"), "opts": opts})
    if not jobs:
        raise ValueError(f"no executed notebook (NN_name.ipynb) named in the headlines in {report_dir}")
    out.mkdir(parents=True, exist_ok=True)
    try:
        kaleido.write_fig_from_object_sync(jobs, kopts={"mathjax": False}, cancel_on_error=True)
    except Exception as e:  # choreographer/kaleido raise their own kinds: no browser found, browser crashed, timeout
        raise RuntimeError(f"PNG export failed ({type(e).__name__}: {e}). kaleido draws in an installed Chromium or Chrome: "
                           "set BROWSER_PATH to one, or install one on PATH (Debian: apt-get install chromium)") from e
    return [Path(j["path"]) for j in jobs]

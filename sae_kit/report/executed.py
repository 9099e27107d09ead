"""Executed copies of the notebooks that read without a kernel: docs/executed/NN_name.ipynb, with every output.

    make docs-executed                                            # what the docs link to
    python -m sae_kit.report.executed --reports reports/ci --out docs/executed

GitHub (and any viewer without JavaScript) shows a notebook's stored outputs, but a plotly figure is stored as JSON
("application/vnd.plotly.v1+json") that only plotly.js can draw, and widget outputs need a live kernel. A copy is the
executed notebook with:

- a static `image/png` beside each plotly figure, drawn by kaleido ≥ 1 in an installed Chromium (as in
  sae_kit.report.figures_png), and a one-line `text/plain` naming the figure;
- HTML outputs that embed or load plotly.js dropped (a figure's HTML renderer output, `init_notebook_mode`);
- widget views replaced by a line saying a kernel is needed, and the notebook's saved widget state removed;
- relative links in the prose that leave notebooks/ (`../docs/START_HERE.md`) re-pointed from docs/executed/
  (`../START_HERE.md`); links to a sibling notebook keep pointing at its executed copy beside this one;
- the plotly JSON kept only while the copy stays under the size budget (MAX_BYTES): first dropped from the figures that
  have a PNG, and if the copy is still too big a ValueError names the notebook and its size.

The executed notebooks come from `python -m sae_kit --profile ci --out reports/ci` (run here for a notebook whose
executed copy in `--reports` is missing or older than its source; `--no-run` refuses instead).
"""

from __future__ import annotations

import argparse
import base64
import copy
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from sae_kit.report.figures_png import PNG_HEIGHT, PNG_MIN_HEIGHT, PNG_WIDTH, figure_title
from sae_kit.report.html_report import PLOTLY_MIME

__all__ = ["MAX_BYTES", "WIDGET_MIME", "static_copy", "kaleido_renderer", "stale_notebooks", "write_executed_copies", "main"]

MAX_BYTES = 2_000_000  # one copy, in bytes: GitHub's notebook viewer gives up on large files, a reader's browser too
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = "[an interactive widget: it needs a running kernel (open the notebook in JupyterLab)]"
PLOTLY_JS_MARKERS = ("plotly.js", "plotly-latest", "Plotly.newPlot", "require.config", "plotly.min.js")

Renderer = Callable[[list[dict]], list[bytes]]
"""Plotly figure JSONs → PNG bytes, one per figure, in order."""


def _size_opts(spec: dict) -> dict:
    """kaleido's options for one figure: the layout's size if it sets one, else the defaults of figures_png (a table
    keeps its own height; other figures get at least PNG_MIN_HEIGHT, room for their legend)."""
    layout = spec.get("layout", {})
    tables = bool(spec.get("data")) and all(t.get("type") == "table" for t in spec["data"])
    height = layout.get("height") or PNG_HEIGHT
    height = height if tables else max(height, PNG_MIN_HEIGHT)
    return {"format": "png", "width": layout.get("width") or PNG_WIDTH, "height": height}


def kaleido_renderer(specs: list[dict]) -> list[bytes]:
    """Draw plotly figure JSONs to PNG bytes with kaleido ≥ 1 (RuntimeError saying what to install when it cannot)."""
    try:
        import kaleido
    except ImportError as e:
        raise RuntimeError("executed copies need kaleido ≥ 1.0 for their PNGs: pip install 'sae-kit[png]' "
                           "(or `make docs-executed`)") from e
    if not specs:
        return []
    with tempfile.TemporaryDirectory() as tmp:
        jobs = [{"fig": {"data": s.get("data", []), "layout": s.get("layout", {})}, "path": f"{tmp}/{i}.png",
                 "opts": _size_opts(s)} for i, s in enumerate(specs)]
        try:
            kaleido.write_fig_from_object_sync(jobs, kopts={"mathjax": False}, cancel_on_error=True)
        except Exception as e:  # no browser, a crash, a timeout: kaleido and choreographer raise their own kinds
            raise RuntimeError(f"PNG rendering failed ({type(e).__name__}: {e}). kaleido draws in an installed Chromium "
                               "or Chrome: set BROWSER_PATH, or install one (Debian: apt-get install chromium)") from e
        return [Path(j["path"]).read_bytes() for j in jobs]


def _embeds_plotly_js(html: str | list) -> bool:
    text = "".join(html) if isinstance(html, list) else str(html)
    return any(m in text for m in PLOTLY_JS_MARKERS)


def _clean_output(out: dict) -> dict | None:
    """One output without what cannot render statically (plotly.js HTML, widget views); None to drop it."""
    data = out.get("data")
    if data is None:
        return out
    data = dict(data)
    if "text/html" in data and (PLOTLY_MIME in data or _embeds_plotly_js(data["text/html"])):
        del data["text/html"]
    if WIDGET_MIME in data:
        del data[WIDGET_MIME]
        data["text/plain"] = WIDGET_NOTE
    if not data:
        return None
    from nbformat import from_dict

    return from_dict({**out, "data": data})


def _strip(nb) -> list[dict]:
    """Clean every output in place, drop the saved widget state; return the outputs holding a plotly figure."""
    nb.metadata.pop("widgets", None)
    figures = []
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        cell.get("metadata", {}).pop("widgets", None)
        kept = [o for o in (_clean_output(o) for o in cell.get("outputs", [])) if o is not None]
        cell["outputs"] = kept
        figures += [o for o in kept if PLOTLY_MIME in o.get("data", {})]
    return figures


def _size(nb) -> int:
    import nbformat

    return len(nbformat.writes(nb).encode())


def static_copy(notebook, renderer: Renderer | None = None, max_bytes: int = MAX_BYTES, keep_json: str = "auto"):
    """A copy of an executed notebook that reads without a kernel (see the module docstring); the input is unchanged.

    notebook: an nbformat node or a path. renderer: figure JSONs → PNG bytes (default: kaleido_renderer).
    keep_json: "auto" keeps the plotly JSON while the copy fits in max_bytes, "yes" always, "no" never."""
    import nbformat

    if keep_json not in ("auto", "yes", "no"):
        raise ValueError(f"keep_json must be 'auto', 'yes' or 'no', got {keep_json!r}")
    if max_bytes <= 0:
        raise ValueError(f"max_bytes must be > 0, got {max_bytes}")
    name = Path(notebook).name if isinstance(notebook, (str, Path)) else "the notebook"
    nb = nbformat.read(Path(notebook), as_version=4) if isinstance(notebook, (str, Path)) else copy.deepcopy(notebook)
    figures = _strip(nb)
    _relink(nb)
    pngs = (renderer or kaleido_renderer)([o["data"][PLOTLY_MIME] for o in figures])
    if len(pngs) != len(figures):
        raise ValueError(f"the renderer returned {len(pngs)} PNGs for {len(figures)} figures")
    for out, png in zip(figures, pngs):
        title = figure_title(out["data"][PLOTLY_MIME])
        out["data"]["image/png"] = base64.b64encode(png).decode()
        out["data"]["text/plain"] = f"[plotly figure{': ' + title.split('<br>')[0] if title else ''}]"
    if keep_json == "no" or (keep_json == "auto" and _size(nb) > max_bytes):
        for out in figures:
            del out["data"][PLOTLY_MIME]
    size = _size(nb)
    if size > max_bytes and keep_json != "yes":
        raise ValueError(f"{name}: the executed copy is {size / 1e6:.2f} MB even without the plotly JSON, over the "
                         f"budget max_bytes = {max_bytes / 1e6:.2f} MB (smaller figures, fewer outputs, or a higher budget)")
    return nb


_UP_LINK = re.compile(r"\]\(\.\./([^)\s]+)\)")


def _relink(nb) -> None:
    """Markdown links relative to notebooks/ that go up a level, re-pointed from docs/executed/ (in place)."""
    def repoint(m: re.Match) -> str:
        target = m.group(1)
        return f"](../{target[len('docs/'):]})" if target.startswith("docs/") else f"](../../{target})"

    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = _UP_LINK.sub(repoint, cell.source)


def stale_notebooks(reports: Path, sources: list[Path]) -> list[Path]:
    """The source notebooks whose executed copy in `reports` is missing or older than the source."""
    return [s for s in sources if not (reports / s.name).exists() or (reports / s.name).stat().st_mtime < s.stat().st_mtime]


def write_executed_copies(reports: str | Path, out: str | Path, renderer: Renderer | None = None,
                          max_bytes: int = MAX_BYTES, keep_json: str = "auto") -> list[tuple[Path, int]]:
    """static_copy of every executed NN_name.ipynb in `reports`, written to out/NN_name.ipynb; returns (path, bytes)."""
    import nbformat

    executed = sorted(Path(reports).glob("[0-9][0-9]_*.ipynb"))
    if not executed:
        raise ValueError(f"no executed notebook (NN_name.ipynb) in {reports}: run `python -m sae_kit --profile ci "
                         f"--out {reports}` first")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in executed:
        nb = static_copy(path, renderer, max_bytes, keep_json)
        target = out / path.name
        nbformat.write(nb, target)
        written.append((target, target.stat().st_size))
    return written


def main(argv: list[str] | None = None) -> int:
    from sae_kit.report.replicate import NOTEBOOK_DIR, notebooks, run_notebooks

    ap = argparse.ArgumentParser(prog="python -m sae_kit.report.executed", description=__doc__.split("\n\n")[0])
    ap.add_argument("--reports", default="reports/ci", help="executed notebooks, CI profile (default: reports/ci)")
    ap.add_argument("--out", default="docs/executed", help="where the copies go (default: docs/executed)")
    ap.add_argument("--no-run", action="store_true", help="fail instead of executing notebooks missing or stale in --reports")
    ap.add_argument("--keep-json", default="auto", choices=("auto", "yes", "no"), help="keep the plotly JSON (default: auto, "
                    "while the copy fits the budget)")
    ap.add_argument("--max-mb", type=float, default=MAX_BYTES / 1e6, help="size budget of one copy in MB (default: 2)")
    args = ap.parse_args(argv)
    reports = Path(args.reports)
    stale = stale_notebooks(reports, notebooks(NOTEBOOK_DIR))
    if stale and args.no_run:
        print(f"stale or missing in {reports}: {', '.join(s.name for s in stale)}", file=sys.stderr)
        return 1
    if stale:
        run_notebooks(reports, "ci", only=[s.name[:2] for s in stale])
    try:
        written = write_executed_copies(reports, args.out, max_bytes=int(args.max_mb * 1e6), keep_json=args.keep_json)
    except (RuntimeError, ValueError) as e:
        print(f"executed copies: {e}", file=sys.stderr)
        return 1
    for path, size in written:
        print(f"{path}  {size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

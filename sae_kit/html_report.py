"""The replication report as web pages: every executed notebook rendered to HTML, and an index of the claims.

    python -m sae_kit --profile full --out reports     # ends with reports/index.html (what `make replicate` runs)
    python -m sae_kit --out reports --summary-only     # rebuild the pages from notebooks already executed

The notebooks display plotly figures with plotly's default renderer in a kernel, `plotly_mimetype`: the figure's JSON
under "application/vnd.plotly.v1+json", which JupyterLab draws but nbconvert's HTML exporter drops. Rather than
changing the renderer inside the kernel (that would store plotly.js, ~5 MB, in every executed notebook and change
what nbval re-executes), the pages are made at conversion time: each plotly output gets an HTML rendering of the same
figure (a div and a `Plotly.newPlot` call), and plotly.js is embedded once per page, inline. The pages need no
network: no script is loaded from a CDN. nbconvert's require.js (only needed for widgets, which headless runs never
build) is dropped; formulas are typeset by MathJax when the browser is online, loaded on demand, and stay as TeX
source offline.
"""

from __future__ import annotations

import copy
import html
import re
from pathlib import Path

__all__ = ["PLOTLY_MIME", "notebook_html", "write_notebook_html", "index_html", "write_report_html"]

PLOTLY_MIME = "application/vnd.plotly.v1+json"
MATHJAX_URL = "https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.7/latest.js?config=TeX-AMS_CHTML-full,Safe"
_EXTERNAL_SCRIPT = re.compile(r'<script[^>]*\ssrc="https?://[^"]*"[^>]*>\s*</script>\s*', re.IGNORECASE)
_MATHJAX_ON_DEMAND = (
    "<script>/* formulas: MathJax when online (offline they stay as TeX); figures need no network */\n"
    "if (navigator.onLine) {{ var s = document.createElement('script'); s.async = true; s.src = '{url}';"
    " document.head.appendChild(s); }}</script>\n"
)


def _plotly_js() -> str:
    """plotly.js as an inline script (the same bundle `plotly.io.to_html(include_plotlyjs=True)` embeds)."""
    from plotly.offline import get_plotlyjs

    return '<script type="text/javascript">window.PlotlyConfig = {MathJaxConfig: "local"};</script>\n' \
           f'<script type="text/javascript">{get_plotlyjs()}</script>\n'


def _figure_html(spec: dict) -> str:
    """A plotly figure's JSON (as the mimetype output stores it) as a div and a Plotly.newPlot call, no plotly.js."""
    import plotly.io as pio

    fig = {"data": spec.get("data", []), "layout": spec.get("layout", {})}
    if spec.get("frames"):
        fig["frames"] = spec["frames"]
    return pio.to_html(fig, include_plotlyjs=False, full_html=False, validate=False, config=spec.get("config") or None,
                       default_width="100%", default_height=525)  # plotly's notebook renderer's size when the layout sets none


def _with_figure_html(nb):
    """A copy of the notebook in which every plotly mimetype output also carries its HTML rendering."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data")
            if data and PLOTLY_MIME in data and "text/html" not in data:
                data["text/html"] = _figure_html(data[PLOTLY_MIME])
                del data[PLOTLY_MIME]  # rendered above; nbconvert would only warn that it cannot show it
    return nb


def notebook_html(notebook, mathjax: bool = True) -> str:
    """Render an executed notebook (path or nbformat node) to one self-contained HTML page with interactive figures."""
    import nbformat
    from nbconvert import HTMLExporter

    if isinstance(notebook, (str, Path)):
        path = Path(notebook)
        if not path.is_file():
            raise ValueError(f"{path}: no such notebook")
        try:
            notebook = nbformat.read(path, as_version=4)
        except Exception as e:  # nbformat raises several kinds for a broken file
            raise ValueError(f"{path}: not a readable notebook ({e})") from e
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(_with_figure_html(notebook))
    body = _EXTERNAL_SCRIPT.sub("", body)  # require.js and MathJax from a CDN
    head = _plotly_js() + (_MATHJAX_ON_DEMAND.format(url=MATHJAX_URL) if mathjax else "")
    if "</head>" not in body:
        raise ValueError("nbconvert's page has no </head>: cannot embed plotly.js")
    return body.replace("</head>", head + "</head>", 1)


def write_notebook_html(notebook: str | Path, target: str | Path | None = None) -> Path:
    """Write `notebook_html(notebook)` beside the notebook (same name, .html) or to `target`; returns the path."""
    target = Path(target) if target is not None else Path(notebook).with_suffix(".html")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(notebook_html(notebook), encoding="utf-8")
    return target


_INDEX_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; width: 100%; font-size: 0.92em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.4em 0.6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.yes { color: #176117; font-weight: 600; } td.no { color: #a31515; font-weight: 600; }
"""


def index_html(results: list[dict], pages: dict[str, str] | None = None, title: str = "sae-kit replication report") -> str:
    """The summary page: one row per published claim (claim, source, published, ours, replicated) across notebooks.

    results: each notebook's results JSON ({notebook, profile, claims, figures}); pages: notebook name → relative link
    to its HTML page.
    """
    pages = pages or {}
    e = html.escape
    rows, n_yes, n_all = [], 0, 0
    for r in results:
        name = r.get("notebook", "?")
        link = f'<a href="{e(pages[name])}">{e(name)}</a>' if name in pages else e(name)
        for c in r.get("claims", []):
            ok = bool(c.get("replicated"))
            n_yes, n_all = n_yes + ok, n_all + 1
            rows.append(
                f"<tr><td>{link}<br><small>{e(str(r.get('profile', '')))}</small></td><td>{e(str(c.get('claim', '')))}</td>"
                f"<td>{e(str(c.get('source', '')))}</td><td>{e(str(c.get('published', '')))}</td>"
                f"<td>{e(str(c.get('ours', '')))}</td><td class=\"{'yes' if ok else 'no'}\">{'yes' if ok else 'no'}</td></tr>"
            )
    listing = "".join(f'<li><a href="{e(href)}">{e(name)}</a></li>' for name, href in pages.items())
    return (
        f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{e(title)}</title>"
        f"<style>{_INDEX_STYLE}</style></head><body>\n<h1>{e(title)}</h1>\n"
        f"<p>{n_yes} of {n_all} published claims replicated. Each notebook page shows our figures beside the "
        f"published ones; the figures are interactive and need no network.</p>\n"
        f"<h2>Notebooks</h2><ul>{listing}</ul>\n<h2>Claims</h2>\n"
        "<table><thead><tr><th>notebook</th><th>claim</th><th>source</th><th>published</th><th>ours</th>"
        "<th>replicated</th></tr></thead><tbody>\n" + "\n".join(rows) + "\n</tbody></table>\n</body></html>\n"
    )


def write_report_html(out_dir: str | Path, results: list[dict]) -> Path:
    """Render every executed notebook in out_dir (NN_name.ipynb) to NN_name.html and write out_dir/index.html."""
    out = Path(out_dir)
    pages = {}
    for nb in sorted(out.glob("[0-9][0-9]_*.ipynb")):
        write_notebook_html(nb)
        pages[nb.stem] = nb.with_suffix(".html").name
    target = out / "index.html"
    target.write_text(index_html(results, pages), encoding="utf-8")
    return target

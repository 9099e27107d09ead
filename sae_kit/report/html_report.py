"""The replication report as web pages: every executed notebook rendered to HTML, and an index of the claims.

    python -m sae_kit --profile full --out reports     # ends with reports/index.html (what `make replicate` runs)
    python -m sae_kit --out reports --summary-only     # rebuild the pages from notebooks already executed

The notebooks display plotly figures with plotly's default renderer in a kernel, `plotly_mimetype`: the figure's JSON
under "application/vnd.plotly.v1+json", which JupyterLab draws but nbconvert's HTML exporter drops. Rather than
changing the renderer inside the kernel (that would store plotly.js, ~5 MB, in every executed notebook and change
what nbval re-executes), the pages are made at conversion time: each plotly output becomes a div and a
`Plotly.newPlot` call that fits the page's column and carries no more data than it draws (sae_kit.report.html_figures),
and plotly.js is embedded once per page, inline.

Every page works offline; no script comes from the network. Formulas are typeset by MathJax 2.7 from Jupyter's own
copy (the PyPI package jupyter-server-mathjax, which JupyterLab's server extension serves): it is copied once beside
the pages (out/mathjax/, ≈ 3 MB: the TeX input, HTML-CSS output and its STIX web fonts, without the speech and SVG
parts) and each page loads it by a relative path, so a report folder can be copied or zipped whole. nbconvert's
require.js (only needed for widgets, which headless runs never build) is dropped.
"""

from __future__ import annotations

import copy
import html
import re
import shutil
import sys
from pathlib import Path

from sae_kit.report.html_figures import figure_div

__all__ = ["PLOTLY_MIME", "MATHJAX_DIR", "notebook_html", "write_mathjax", "write_notebook_html", "index_html",
           "write_report_html"]

PLOTLY_MIME = "application/vnd.plotly.v1+json"
MATHJAX_DIR = "mathjax"
"""Where pages look for MathJax, relative to the page (write_notebook_html copies it there)."""
MATHJAX_PACKAGE = "jupyter_server_mathjax"  # pip: jupyter-server-mathjax (in sae-kit[notebooks]); MathJax 2.7.9
_EXTERNAL_SCRIPT = re.compile(r'<script[^>]*\ssrc="https?://[^"]*"[^>]*>\s*</script>\s*', re.IGNORECASE)
_NBCONVERT_MATHJAX = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->\s*", re.DOTALL)
_RELATIVE = re.compile(r"^(?![a-zA-Z][a-zA-Z0-9+.-]*:|/|\\)[^?#]+$")  # no scheme, not absolute, no query
# MathJax 2 as nbconvert configures it (TeX delimiters $…$, $$…$$, \(…\), \[…\]), with the web font the package
# ships (STIX-Web; its TeX fonts are not in it) and figures left to plotly. When the first typesetting pass is done,
# <html data-mathjax="done"> (what the browser test waits for).
_MATHJAX = """<script type="text/x-mathjax-config">
MathJax.Hub.Config({
  tex2jax: {inlineMath: [['$', '$'], ['\\\\(', '\\\\)']], displayMath: [['$$', '$$'], ['\\\\[', '\\\\]']],
            processEscapes: true, processEnvironments: true, ignoreClass: 'tex2jax_ignore|plotly-graph-div'},
  TeX: {equationNumbers: {autoNumber: 'AMS', useLabelIds: true}},
  'HTML-CSS': {availableFonts: [], preferredFont: null, webFont: 'STIX-Web', imageFont: null,
               linebreaks: {automatic: true}},
  displayAlign: 'center', messageStyle: 'none'
});
MathJax.Hub.Register.StartupHook('End', function () { document.documentElement.setAttribute('data-mathjax', 'done'); });
</script>
<script type="text/javascript" src="{src}/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"></script>
"""
# One readable column: text no wider than a paper's, figures and tables no wider than the page (they scroll inside
# themselves if they must), long printed lines wrapped.
_PAGE_STYLE = """<style type="text/css">
body.jp-Notebook { max-width: 1240px; margin: 0 auto; box-sizing: border-box; }
.jp-MarkdownCell .jp-RenderedMarkdown { display: block; max-width: 60em; }  /* JupyterLab makes it a table cell */
.jp-RenderedHTMLCommon table { display: block; max-width: 100%; overflow-x: auto; }
.jp-OutputArea-output, .jp-Cell-inputWrapper, .jp-InputArea-editor { min-width: 0; max-width: 100%; }
.jp-OutputArea-output pre { white-space: pre-wrap; overflow-wrap: anywhere; }
.jp-InputArea-editor .highlight pre { white-space: pre-wrap; overflow-wrap: anywhere; }  /* not clipped at the edge */
/* progress bars and warnings (stderr): a few lines, scrollable, not screens of them */
.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"] { display: block; max-height: 7.5em; overflow-y: auto; }
.sk-figure { margin: 0.4em 0; }
/* MathJax's hidden MathML for screen readers would ask for its TeX web fonts, which the package does not ship */
.MJX_Assistive_MathML [mathvariant] { font-family: inherit !important; }
nav.sk-nav { font: 14px system-ui, sans-serif; padding: 0.8em var(--jp-notebook-padding, 10px) 0; }
nav.sk-nav button { margin-left: 1.5em; font: inherit; }
body.sk-no-code .jp-CodeCell .jp-Cell-inputWrapper { display: none; }  /* read it as a paper: prose and results */
</style>
"""


def _plotly_js() -> str:
    """plotly.js as an inline script (the same bundle `plotly.io.to_html(include_plotlyjs=True)` embeds)."""
    from plotly.offline import get_plotlyjs

    return '<script type="text/javascript">window.PlotlyConfig = {MathJaxConfig: "local"};</script>\n' \
           f'<script type="text/javascript">{get_plotlyjs()}</script>\n'


def _with_figure_html(nb):
    """A copy of the notebook in which every plotly mimetype output is replaced by its HTML rendering, and the
    consecutive chunks of a cell's printed text are one block (as JupyterLab shows them; nbconvert's preprocessor)."""
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor

    nb, _ = CoalesceStreamsPreprocessor().preprocess(copy.deepcopy(nb), {})
    n = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data")
            if data and PLOTLY_MIME in data:
                n += 1
                data["text/html"] = figure_div(data.pop(PLOTLY_MIME), f"sk-figure-{n}")  # nbconvert cannot show the JSON
    return nb


def _check_mathjax(mathjax: str | None) -> None:
    if mathjax is not None and not _RELATIVE.match(mathjax):
        raise ValueError(f"mathjax must be a folder path relative to the page (e.g. {MATHJAX_DIR!r}) or None "
                         f"(formulas left as TeX), got {mathjax!r}")


def _read(notebook):
    import nbformat

    if not isinstance(notebook, (str, Path)):
        return notebook
    path = Path(notebook)
    if not path.is_file():
        raise ValueError(f"{path}: no such notebook")
    try:
        return nbformat.read(path, as_version=4)
    except Exception as e:  # nbformat raises several kinds for a broken file
        raise ValueError(f"{path}: not a readable notebook ({e})") from e


def notebook_html(notebook, mathjax: str | None = MATHJAX_DIR, title: str | None = None,
                  index_href: str | None = None) -> str:
    """Render an executed notebook (path or nbformat node) to one HTML page with interactive figures, offline.

    mathjax: MathJax's folder relative to the page (write_mathjax puts it there), or None to leave formulas as TeX.
    title: the page's title (default: the notebook's file name). index_href: a link back to the report's index."""
    from nbconvert import HTMLExporter

    _check_mathjax(mathjax)
    if title is None:
        title = Path(notebook).stem if isinstance(notebook, (str, Path)) else "notebook"
    nb = _read(notebook)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(_with_figure_html(nb), resources={"metadata": {"name": title}})
    body = _NBCONVERT_MATHJAX.sub("", body)  # its configuration and its MathJax from a CDN: ours is below
    body = _EXTERNAL_SCRIPT.sub("", body)  # require.js from a CDN
    if "</head>" not in body:
        raise ValueError("nbconvert's page has no </head>: cannot embed plotly.js")
    head = _PAGE_STYLE + _plotly_js() + (_MATHJAX.replace("{src}", html.escape(mathjax)) if mathjax else "")
    body = body.replace("</head>", head + "</head>", 1)
    if index_href:
        nav = (f'<nav class="sk-nav"><a href="{html.escape(index_href)}">← replication report: every claim</a>'
               '<button type="button" onclick="document.body.classList.toggle(\'sk-no-code\')">show / hide code</button></nav>')
        body = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + nav, body, count=1)
    return body


def write_mathjax(target: str | Path) -> Path:
    """Copy MathJax 2.7 from the jupyter-server-mathjax package into `target` (a folder; its MathJax.js is what the
    pages load), leaving out the parts the pages never load (speech: extensions/a11y; the SVG output's fonts)."""
    try:
        import jupyter_server_mathjax
    except ImportError as e:
        raise RuntimeError("formulas need MathJax from the package jupyter-server-mathjax: "
                           "pip install jupyter-server-mathjax (it is in sae-kit[notebooks])") from e
    source = Path(jupyter_server_mathjax.__file__).parent / "static"
    if not (source / "MathJax.js").is_file():
        raise RuntimeError(f"{source}: no MathJax.js in jupyter-server-mathjax (reinstall it)")
    target = Path(target)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("a11y", "SVG"), dirs_exist_ok=True)
    return target


def write_notebook_html(notebook: str | Path, target: str | Path | None = None, mathjax: str | None = MATHJAX_DIR,
                        index_href: str | None = None) -> Path:
    """Write `notebook_html(notebook)` beside the notebook (same name, .html) or to `target`; returns the path.

    MathJax is copied to `mathjax` relative to the page (skipped when it is there already); None: formulas as TeX."""
    _check_mathjax(mathjax)
    target = Path(target) if target is not None else Path(notebook).with_suffix(".html")
    target.parent.mkdir(parents=True, exist_ok=True)
    if mathjax and not (target.parent / mathjax / "MathJax.js").is_file():
        write_mathjax(target.parent / mathjax)
    target.write_text(notebook_html(notebook, mathjax, index_href=index_href), encoding="utf-8")
    return target


_INDEX_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; width: 100%; font-size: 0.92em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.4em 0.6em; text-align: left; vertical-align: top; overflow-wrap: anywhere; }
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
    """Render every executed notebook in out_dir (NN_name.ipynb) to NN_name.html, MathJax into out_dir/mathjax, and
    write out_dir/index.html. Without jupyter-server-mathjax the pages are still written, formulas as TeX (warned)."""
    out = Path(out_dir)
    mathjax: str | None = MATHJAX_DIR
    try:
        write_mathjax(out / MATHJAX_DIR)
    except RuntimeError as e:
        print(f"warning: {e}; the pages show formulas as TeX source", file=sys.stderr)
        mathjax = None
    pages = {}
    for nb in sorted(out.glob("[0-9][0-9]_*.ipynb")):
        write_notebook_html(nb, mathjax=mathjax, index_href="index.html")
        pages[nb.stem] = nb.with_suffix(".html").name
    target = out / "index.html"
    target.write_text(index_html(results, pages), encoding="utf-8")
    return target

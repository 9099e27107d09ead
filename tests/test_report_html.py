"""The HTML replication report: notebook pages are self-contained (plotly.js inline, once; no CDN script) and the
index lists every published claim."""

import json
import re

import nbformat
import plotly.graph_objects as go
import pytest

import sae_kit as sk
from sae_kit.html_report import PLOTLY_MIME, index_html, notebook_html

CDN_SCRIPT = re.compile(r"<script[^>]*\ssrc=[\"']?(https?:)?//", re.IGNORECASE)


def plotly_js_marker() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()[:2000]  # the bundle's licence header and first lines


def executed_like_notebook(n_figures: int = 2) -> nbformat.NotebookNode:
    """A notebook as papermill leaves it: markdown with a formula, printed text, plotly figures as the mimetype output."""
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("# Claim\nMMCS $= \\frac{1}{G}\\sum_i \\max_j |\\cos|$"))
    nb.cells.append(nbformat.v4.new_code_cell("print('MMCS 0.987')", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="MMCS 0.987\n")]))
    for i in range(n_figures):
        fig = go.Figure(go.Scatter(x=[1, 2, 3], y=[0.5, 0.9, 0.987 + i], name=f"trace-{i}"))
        data = {PLOTLY_MIME: json.loads(fig.to_json()), "text/plain": "Figure()"}
        nb.cells.append(nbformat.v4.new_code_cell("fig", outputs=[
            nbformat.v4.new_output("display_data", data=data, metadata={})]))
    return nb


def test_notebook_page_is_self_contained():
    page = notebook_html(executed_like_notebook(n_figures=2))
    assert not CDN_SCRIPT.search(page), "a script is loaded from the network"
    assert page.count(plotly_js_marker()) == 1  # plotly.js embedded once per page
    assert page.count("Plotly.newPlot") >= 2 and "trace-0" in page and "trace-1" in page
    assert page.index(plotly_js_marker()) < page.index("Plotly.newPlot")  # defined before any figure is drawn
    assert "require.min.js" not in page  # require.js would swallow plotly.js as an AMD module
    assert '<div style="height:525px; width:100%;"> <div class="plotly-graph-div"' in page  # a figure without a height must not collapse
    assert "MMCS 0.987" in page and "\\frac{1}{G}" in page
    assert "MathJax" in page and "navigator.onLine" in page  # formulas typeset when online, TeX source offline
    assert "navigator.onLine" not in notebook_html(executed_like_notebook(0), mathjax=False)


def test_real_kernel_output_is_rendered(tmp_path):
    """Guard against plotly changing its kernel renderer: a figure displayed in a real (papermill) run ends up drawn."""
    pm = pytest.importorskip("papermill")
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(
        "import plotly.graph_objects as go\ngo.Figure(go.Bar(x=['a', 'b'], y=[3, 1], name='kernel-bar'))"))
    nbformat.write(nb, tmp_path / "01_t.ipynb")
    pm.execute_notebook(str(tmp_path / "01_t.ipynb"), str(tmp_path / "run.ipynb"), kernel_name="python3", progress_bar=False)
    page = notebook_html(tmp_path / "run.ipynb")
    assert "kernel-bar" in page and "Plotly.newPlot" in page and not CDN_SCRIPT.search(page)


def test_index_and_main(tmp_path, capsys):
    nbformat.write(executed_like_notebook(1), tmp_path / "03_sae_training.ipynb")
    claims = [sk.report.Claim("zone", "A Goldilocks zone of α <recovers> features", "Sharkey et al. 2022", "MMCS > 0.99",
                              "0.995", True),
              sk.report.Claim("dead", "Large α kills latents", "Sharkey et al. 2022", "most dead", "12%", False)]
    sk.report.write_results(tmp_path / "03_sae_training.json", "03_sae_training", "ci", claims, {"x": 1})
    assert sk.report.main(["--out", str(tmp_path), "--summary-only"]) == 0
    index = (tmp_path / "index.html").read_text()
    assert '<a href="03_sae_training.html">03_sae_training</a>' in index
    assert index.count("<tr><td>") == 2 and "&lt;recovers&gt;" in index and "1 of 2 published claims replicated" in index
    assert 'class="no">no<' in index and "Sharkey et al. 2022" in index and "0.995" in index
    page = (tmp_path / "03_sae_training.html").read_text()
    assert page.count(plotly_js_marker()) == 1 and not CDN_SCRIPT.search(page)
    assert json.loads((tmp_path / "results.json").read_text())["03_sae_training"]["claims"][0]["id"] == "zone"
    assert "index.html" in capsys.readouterr().out


def test_index_without_pages_and_bad_notebook(tmp_path):
    assert "<a " not in index_html([{"notebook": "04_x", "profile": "ci", "claims": []}]).split("<h2>Claims")[1]
    with pytest.raises(ValueError, match="no such notebook"):
        notebook_html(tmp_path / "missing.ipynb")
    (tmp_path / "bad.ipynb").write_text("{not a notebook")
    with pytest.raises(ValueError, match="not a readable notebook"):
        notebook_html(tmp_path / "bad.ipynb")

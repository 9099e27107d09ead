"""The HTML replication report: notebook pages work offline (plotly.js inline, once; MathJax from a folder beside
them; no CDN script), their figures fit the page and carry one number per histogram bin, and the index lists every
published claim. tests/browser/test_report_browser.py opens the real pages in Chromium."""

import base64
import json
import re

import nbformat
import numpy as np
import plotly.graph_objects as go
import pytest

import sae_kit as sk
from sae_kit.report.html_figures import bin_histograms, figure_div, fit_layout
from sae_kit.report.html_report import PLOTLY_MIME, index_html, notebook_html, write_notebook_html

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
    assert page.count("Plotly.newPlot") == 2 and "trace-0" in page and "trace-1" in page
    assert page.index(plotly_js_marker()) < page.index("Plotly.newPlot")  # defined before any figure is drawn
    assert "require.min.js" not in page  # require.js would swallow plotly.js as an AMD module
    assert 'id="sk-figure-1" style="height:525px; width:100%;"' in page  # a figure without a height must not collapse
    assert "MMCS 0.987" in page and "\\frac{1}{G}" in page
    assert '<script type="text/javascript" src="mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe">' in page
    assert "libs/mathjax" not in page and "navigator.onLine" not in page  # formulas never wait for a network
    assert "MathJax.js" not in notebook_html(executed_like_notebook(0), mathjax=None)


def test_page_loads_mathjax_beside_it(tmp_path):
    """write_notebook_html copies Jupyter's MathJax next to the page, and the page's relative src finds it."""
    nb_path = tmp_path / "01_x.ipynb"
    nbformat.write(executed_like_notebook(1), nb_path)
    page = write_notebook_html(nb_path, tmp_path / "site" / "01_x.html")
    src = re.search(r'src="([^"?]+MathJax\.js)', page.read_text()).group(1)
    assert (page.parent / src).is_file() and (page.parent / "mathjax" / "config" / "TeX-AMS-MML_HTMLorMML-full.js").is_file()
    assert (page.parent / "mathjax" / "fonts" / "HTML-CSS" / "STIX-Web" / "woff").is_dir()  # the web font it is set to
    assert not (page.parent / "mathjax" / "extensions" / "a11y").exists()  # speech: never loaded by the pages
    deeper = write_notebook_html(nb_path, tmp_path / "site" / "nb" / "01_x.html", mathjax="../mathjax")
    assert 'src="../mathjax/MathJax.js' in deeper.read_text() and not (deeper.parent / "mathjax").exists()
    for bad in ("https://cdn.example/mathjax", "/abs/mathjax", "mathjax?x=1"):
        with pytest.raises(ValueError, match="mathjax must be a folder path relative to the page"):
            notebook_html(executed_like_notebook(0), mathjax=bad)


def test_wide_figures_fit_the_column():
    """A layout width becomes a maximum: the figure fills narrower columns instead of running past them."""
    layout, max_width, height = fit_layout({"width": 1400, "height": 400, "title": {"text": "t"}})
    assert (max_width, height) == (1400, 400) and "width" not in layout and layout["autosize"] is True
    assert fit_layout({})[1:] == (None, 525)
    div = figure_div({"data": [{"type": "scatter", "y": [1, 2]}], "layout": {"width": 1400, "title": {"text": "</script>"}}},
                     "f1")
    assert 'style="width:100%; max-width:1400px;"' in div and '"responsive":true' in div
    assert div.count("</script>") == 1, "a title must not close the figure's script"
    assert '"width"' not in div.split("Plotly.newPlot")[1]  # no fixed pixel width reaches plotly


def _hist(values, **kw) -> dict:
    return {"type": "histogram", "x": list(map(float, values)), **kw}


def test_histograms_are_binned_as_plotly_bins_them():
    rng = np.random.default_rng(0)
    v = rng.uniform(0, 1, 5000)
    stated = _hist(v, xbins={"start": 0, "end": 1.0001, "size": 0.05}, histnorm="probability", name="cos")
    small = _hist(v[:50])
    line = {"type": "scatter", "y": list(range(3000))}
    out = bin_histograms([stated, small, line], {"barmode": "overlay"})
    assert out[1] is small and out[2] is line  # few samples, or not a histogram: left to plotly as stored
    b = out[0]
    counts, _ = np.histogram(v, bins=np.arange(0, 1.0001 + 0.05, 0.05)[:21])
    assert b["histfunc"] == "sum" and b["histnorm"] == "probability" and b["name"] == "cos" and b["orientation"] == "v"
    assert b["y"] == [int(c) for c in counts if c] and sum(b["y"]) == 5000 and len(b["x"]) == len(b["y"]) <= 21
    assert b["xbins"] == {"start": 0.0, "end": 1.0001, "size": 0.05} and b["x"][0] == pytest.approx(0.025)
    # plotly.js's own automatic bins (read from `gd._fullData[0].xbins` in Chromium, plotly.js bundled with plotly 7.1)
    normal = np.random.default_rng(0).normal(size=1000).round(6)
    auto = bin_histograms([_hist(normal)], max_samples=0)[0]["xbins"]
    assert auto == pytest.approx({"start": -4, "end": 3.2, "size": 0.2})
    ints = bin_histograms([_hist([i % 7 for i in range(1500)])], max_samples=0)[0]
    assert ints["xbins"] == pytest.approx({"start": -0.5, "end": 6.5, "size": 1}) and ints["y"] == [215, 215, 214, 214, 214, 214, 214]
    uni = np.random.default_rng(1).uniform(0, 1, 1200).round(6)
    assert bin_histograms([_hist(uni, nbinsx=12)], max_samples=0)[0]["xbins"] == pytest.approx({"start": -0.05, "end": 1.05, "size": 0.1})
    # overlaid traces are binned one by one; grouped ones (plotly's default barmode) share their bins
    pair = [_hist(normal), _hist(normal * 3)]
    overlay, grouped = bin_histograms(pair, {"barmode": "overlay"}, 0), bin_histograms(pair, {}, 0)
    assert overlay[0]["xbins"] != overlay[1]["xbins"] and grouped[0]["xbins"] == grouped[1]["xbins"]
    # horizontal histograms, and plotly's typed arrays (what plotly.py ≥ 6 writes for numpy data)
    typed = {"type": "histogram", "y": {"dtype": "f8", "bdata": base64.b64encode(normal.astype("f8").tobytes()).decode()}}
    h = bin_histograms([typed], max_samples=0)[0]
    assert h["orientation"] == "h" and h["ybins"] == auto and sum(h["x"]) == 1000
    with pytest.raises(ValueError, match="max_samples must be ≥ 0"):
        bin_histograms([], max_samples=-1)


def test_left_to_plotly_when_not_reproduced():
    """Cumulative histograms, partly stated bins and categories stay raw (plotly would bin them its own way)."""
    v = np.arange(3000) / 3000
    traces = [_hist(v, cumulative={"enabled": True}), _hist(v, xbins={"size": 0.1}), {"type": "histogram", "x": ["a", "b"] * 1500}]
    assert bin_histograms(traces, {"barmode": "overlay"}) == traces


def test_page_weight_is_per_bin_not_per_sample():
    nb = executed_like_notebook(0)
    fig = go.Figure(go.Histogram(x=np.random.default_rng(0).uniform(size=200_000).tolist(), xbins=dict(start=0, end=1, size=0.01)))
    nb.cells.append(nbformat.v4.new_code_cell("fig", outputs=[nbformat.v4.new_output(
        "display_data", data={PLOTLY_MIME: json.loads(fig.to_json()), "text/plain": "Figure()"}, metadata={})]))
    extra = len(notebook_html(nb)) - len(notebook_html(executed_like_notebook(0)))
    assert extra < 20_000, f"a 200k-sample histogram added {extra} bytes to its page"


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
    claims = [sk.claims.Claim("zone", "A Goldilocks zone of α <recovers> features", "Sharkey et al. 2022", "MMCS > 0.99",
                              "0.995", True),
              sk.claims.Claim("dead", "Large α kills latents", "Sharkey et al. 2022", "most dead", "12%", False)]
    sk.report.write_results(tmp_path / "03_sae_training.json", "03_sae_training", "ci", claims, {"x": 1})
    assert sk.report.main(["--out", str(tmp_path), "--summary-only"]) == 0
    index = (tmp_path / "index.html").read_text()
    assert '<a href="03_sae_training.html">03_sae_training</a>' in index
    assert index.count("<tr><td>") == 2 and "&lt;recovers&gt;" in index and "1 of 2 published claims replicated" in index
    assert 'class="no">no<' in index and "Sharkey et al. 2022" in index and "0.995" in index
    page = (tmp_path / "03_sae_training.html").read_text()
    assert page.count(plotly_js_marker()) == 1 and not CDN_SCRIPT.search(page)
    assert '<a href="index.html">' in page and (tmp_path / "mathjax" / "MathJax.js").is_file()
    assert json.loads((tmp_path / "results.json").read_text())["03_sae_training"]["claims"][0]["id"] == "zone"
    assert "index.html" in capsys.readouterr().out


def test_index_without_pages_and_bad_notebook(tmp_path):
    assert "<a " not in index_html([{"notebook": "04_x", "profile": "ci", "claims": []}]).split("<h2>Claims")[1]
    with pytest.raises(ValueError, match="no such notebook"):
        notebook_html(tmp_path / "missing.ipynb")
    (tmp_path / "bad.ipynb").write_text("{not a notebook")
    with pytest.raises(ValueError, match="not a readable notebook"):
        notebook_html(tmp_path / "bad.ipynb")

"""Executed copies that read without a kernel, built from a tiny executed notebook made here (a stand-in renderer
draws the PNGs, so no browser is needed): a PNG beside each figure, no plotly.js, no widget state, under the budget."""

import base64
import os
import sys
from pathlib import Path

import nbformat
import pytest

from sae_kit.report import executed
from sae_kit.report.html_report import PLOTLY_MIME

# the smallest valid PNG (1 × 1 px, grey)
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==")
PLOTLY_JS = '<script src="https://cdn.plot.ly/plotly-2.35.2.min.js"></script><div id="f"></div><script>Plotly.newPlot("f")</script>'


def fake_renderer(specs):
    return [PNG for _ in specs]


def _executed_notebook(n_points=2):
    """What a notebook run in JupyterLab stores: plotly JSON + its HTML renderer output, plotly.js loaded once by
    init_notebook_mode, a widget view, the saved widget state, and ordinary text."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"abc": {"model_name": "FloatSlider"}}}}
    nb.cells.append(nbformat.v4.new_markdown_cell("# A notebook"))
    init = nbformat.v4.new_output("display_data", data={"text/html": "<script>require.config({paths: {plotly: 'x'}})</script>"})
    nb.cells.append(nbformat.v4.new_code_cell("import plotly", outputs=[init]))
    for title in ("MMCS against α", {"text": "Dead latents<br><sup>n = 5</sup>"}):
        spec = {"data": [{"type": "scatter", "x": list(range(n_points)), "y": list(range(n_points))}], "layout": {"title": title}}
        out = nbformat.v4.new_output("display_data", data={PLOTLY_MIME: spec, "text/html": PLOTLY_JS, "text/plain": "Figure"})
        nb.cells.append(nbformat.v4.new_code_cell("fig", outputs=[out]))
    widget = nbformat.v4.new_output("display_data", data={executed.WIDGET_MIME: {"model_id": "abc"}, "text/plain": "VBox()"})
    nb.cells.append(nbformat.v4.new_code_cell("explorer", outputs=[widget]))
    nb.cells.append(nbformat.v4.new_code_cell("print(1)", outputs=[nbformat.v4.new_output("stream", text="1\n")]))
    return nb


def test_copy_has_a_png_beside_each_figure_and_no_plotly_js(tmp_path):
    nb = _executed_notebook()
    copy = executed.static_copy(nb, fake_renderer)
    figures = [o for c in copy.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(figures) == 2
    assert all(base64.b64decode(o["data"]["image/png"]) == PNG and PLOTLY_MIME in o["data"] for o in figures)  # small: JSON kept
    assert [o["data"]["text/plain"] for o in figures] == ["[plotly figure: MMCS against α]", "[plotly figure: Dead latents]"]
    text = nbformat.writes(copy)
    assert not any(m in text for m in ("plotly-2.35", "Plotly.newPlot", "require.config", "widget-state", executed.WIDGET_MIME))
    assert executed.WIDGET_NOTE in text and '"1\\n"' in text  # the widget said so; ordinary output untouched
    nbformat.validate(copy)
    assert "widgets" in nb.metadata and nb.cells[2].outputs[0].data["text/html"] == PLOTLY_JS  # the input is unchanged
    path = tmp_path / "01_x.ipynb"
    nbformat.write(nb, path)
    (written, size), = executed.write_executed_copies(tmp_path, tmp_path / "out", fake_renderer)
    assert written == tmp_path / "out" / "01_x.ipynb" and size == os.path.getsize(written) < executed.MAX_BYTES


def test_links_out_of_notebooks_are_repointed_from_docs_executed(tmp_path):
    nb = _executed_notebook()
    prose = ("[start](../docs/START_HERE.md), [bench](../docs/benchmarks.md), [data](../data/README.md), "
             "[next](02_x.ipynb), [paper](https://arxiv.org/abs/2406.04093)")
    nb.cells.append(nbformat.v4.new_markdown_cell(prose))
    nb.cells.append(nbformat.v4.new_code_cell("s = '](../docs/x.md)'"))  # code is not prose: left alone
    copy = executed.static_copy(nb, fake_renderer)
    assert copy.cells[-2].source == ("[start](../START_HERE.md), [bench](../benchmarks.md), [data](../../data/README.md), "
                                     "[next](02_x.ipynb), [paper](https://arxiv.org/abs/2406.04093)")
    assert copy.cells[-1].source == "s = '](../docs/x.md)'" and nb.cells[-2].source == prose  # the input is unchanged
    root = Path(__file__).resolve().parents[1]
    for link in ("../START_HERE.md", "../benchmarks.md", "../../data/README.md"):  # they resolve in the repository
        assert (root / "docs" / "executed" / link).resolve().exists(), link


def test_budget_drops_the_json_first_then_refuses():
    nb = _executed_notebook(n_points=20_000)  # ≈ 0.4 MB of plotly JSON
    big = executed.static_copy(nb, fake_renderer)
    assert all(PLOTLY_MIME in o["data"] for c in big.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {}))
    small = executed.static_copy(nb, fake_renderer, max_bytes=100_000)
    outs = [o for c in small.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(outs) == 2 and not any(PLOTLY_MIME in o["data"] for o in outs)
    assert len(nbformat.writes(small).encode()) < 100_000
    with pytest.raises(ValueError, match=r"max_bytes = 0\.00 MB"):
        executed.static_copy(nb, fake_renderer, max_bytes=1_000)
    assert PLOTLY_MIME in nbformat.writes(executed.static_copy(nb, fake_renderer, max_bytes=1_000, keep_json="yes"))


def test_bad_arguments_and_missing_tools(tmp_path, monkeypatch):
    nb = _executed_notebook()
    with pytest.raises(ValueError, match="keep_json"):
        executed.static_copy(nb, fake_renderer, keep_json="maybe")
    with pytest.raises(ValueError, match="max_bytes"):
        executed.static_copy(nb, fake_renderer, max_bytes=0)
    with pytest.raises(ValueError, match="1 PNGs for 2 figures"):
        executed.static_copy(nb, lambda specs: [PNG])
    with pytest.raises(ValueError, match="no executed notebook"):
        executed.write_executed_copies(tmp_path, tmp_path / "out", fake_renderer)
    monkeypatch.setitem(sys.modules, "kaleido", None)
    with pytest.raises(RuntimeError, match=r"kaleido ≥ 1\.0.*sae-kit\[png\]"):
        executed.static_copy(nb)


def test_stale_notebooks_by_time(tmp_path):
    src, rep = tmp_path / "src", tmp_path / "rep"
    src.mkdir(), rep.mkdir()
    for name in ("01_a.ipynb", "02_b.ipynb", "03_c.ipynb"):
        (src / name).write_text("{}")
    (rep / "01_a.ipynb").write_text("{}")
    (rep / "02_b.ipynb").write_text("{}")
    os.utime(rep / "02_b.ipynb", (0, 0))  # older than its source
    assert executed.stale_notebooks(rep, sorted(src.iterdir())) == [src / "02_b.ipynb", src / "03_c.ipynb"]


def test_command_refuses_stale_runs_with_no_run(tmp_path, capsys):
    assert executed.main(["--reports", str(tmp_path), "--out", str(tmp_path / "out"), "--no-run"]) == 1
    assert "stale or missing" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_png_sizes_follow_the_layout():
    assert executed._size_opts({"data": [{"type": "table"}], "layout": {"height": 120}})["height"] == 120  # no blank space
    assert executed._size_opts({"data": [{"type": "scatter"}], "layout": {"height": 120}})["height"] == executed.PNG_MIN_HEIGHT
    assert executed._size_opts({"data": [], "layout": {"width": 1300}}) == {"format": "png", "width": 1300,
                                                                           "height": executed.PNG_HEIGHT}

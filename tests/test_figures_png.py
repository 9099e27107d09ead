"""The headline-figure picker on a small synthetic notebook, and the PNG export's errors (no kaleido run here)."""

import sys

import nbformat
import pytest

from sae_kit.report import figures_png
from sae_kit.report.html_report import PLOTLY_MIME
from sae_kit.report.replicate import main


def _notebook(titles):
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("## A figure"))
    for i, title in enumerate(titles):
        spec = {"data": [{"type": "scatter", "x": [0, 1], "y": [i, i]}], "layout": {"title": title}}
        out = nbformat.v4.new_output("display_data", data={PLOTLY_MIME: spec, "text/plain": "Figure"})
        nb.cells.append(nbformat.v4.new_code_cell("fig", outputs=[out]))
    nb.cells.append(nbformat.v4.new_code_cell("print(1)", outputs=[nbformat.v4.new_output("stream", text="1\n")]))
    return nb


def test_figure_title_str_dict_and_none():
    assert figures_png.figure_title({"layout": {"title": {"text": "A"}}}) == "A"
    assert figures_png.figure_title({"layout": {"title": "B"}}) == "B"
    assert figures_png.figure_title({"layout": {}}) == ""
    assert figures_png.figure_title({"layout": {"title": {"font": {"size": 3}}}}) == ""


def test_headline_figure_picks_by_title_prefix(tmp_path):
    nb = _notebook(["Loss curves", {"text": "MMCS against α: the headline"}, "MMCS, second"])
    assert len(figures_png.plotly_figures(nb)) == 3
    assert figures_png.headline_figure(nb, "MMCS")["data"][0]["y"] == [1, 1]  # the first match
    assert figures_png.headline_figure(nb, "")["data"][0]["y"] == [0, 0]  # "" → the first figure
    path = tmp_path / "01_x.ipynb"
    nbformat.write(nb, path)
    assert figures_png.headline_figure(path, "MMCS, second")["data"][0]["y"] == [2, 2]
    with pytest.raises(ValueError, match="Loss curves"):  # names the titles it has
        figures_png.headline_figure(nb, "Dead latents")


def test_headlines_name_every_notebook():
    from sae_kit.report.replicate import notebooks

    assert sorted(figures_png.HEADLINES) == [p.stem for p in notebooks()]


def test_export_without_kaleido_says_what_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "kaleido", None)  # import kaleido → ImportError
    nbformat.write(_notebook(["Loss curves"]), tmp_path / "03_sae_training.ipynb")
    with pytest.raises(RuntimeError, match=r"kaleido ≥ 1\.0.*sae-kit\[png\]"):
        figures_png.export_headlines(tmp_path)
    # the command reports it; with --summary-only the export is all that was asked, so it is the exit status
    assert main(["--out", str(tmp_path), "--summary-only", "--no-html", "--png"]) == 1
    assert "PNG export skipped" in capsys.readouterr().err


class _FakeKaleido:
    """Stands in for kaleido ≥ 1: records the jobs it is given, or fails like a missing browser."""

    def __init__(self, error=None):
        self.jobs, self.error = [], error

    def write_fig_from_object_sync(self, jobs, kopts=None, cancel_on_error=False):
        if self.error:
            raise self.error
        self.jobs.extend(jobs)
        self.kopts = kopts


def test_export_builds_one_png_job_per_notebook(tmp_path, monkeypatch):
    fake = _FakeKaleido()
    monkeypatch.setitem(sys.modules, "kaleido", fake)
    nbformat.write(_notebook(["Loss curves", "MMCS against α"]), tmp_path / "03_sae_training.ipynb")
    nbformat.write(_notebook(["Other"]), tmp_path / "99_not_listed.ipynb")  # not in the headlines: left alone
    paths = figures_png.export_headlines(tmp_path, tmp_path / "img", headlines={"03_sae_training": "MMCS"})
    assert paths == [tmp_path / "img" / "03_sae_training.png"]
    (job,) = fake.jobs
    assert job["fig"]["layout"]["title"] == "MMCS against α" and job["opts"]["format"] == "png"
    assert (job["opts"]["width"], job["opts"]["height"]) == (figures_png.PNG_WIDTH, figures_png.PNG_HEIGHT)
    assert fake.kopts == {"mathjax": False}  # offline: no MathJax from a CDN
    with pytest.raises(ValueError, match="no executed notebook"):
        figures_png.export_headlines(tmp_path / "img")


def test_export_failure_names_the_browser(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "kaleido", _FakeKaleido(error=OSError("no chromium")))
    nbformat.write(_notebook(["MMCS"]), tmp_path / "03_sae_training.ipynb")
    with pytest.raises(RuntimeError, match="BROWSER_PATH"):
        figures_png.export_headlines(tmp_path, headlines={"03_sae_training": ""})

"""Every notebook runs headless in its CI profile (papermill) and writes the key figures it promises.

The executed notebooks land in reports/ci/, where `make notebooks-ci` then runs nbval on them: a second execution
whose seeded outputs (cells marked NBVAL_CHECK_OUTPUT) must match the first.
"""


import pytest
import torch

import sae_kit as sk

NOTEBOOKS = sk.report.notebooks()


def test_every_notebook_is_parameterised_and_stripped():
    import nbformat

    assert NOTEBOOKS, "no notebooks found"
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert "parameters" in code[0].metadata.get("tags", []), f"{path.name}: first code cell must be tagged parameters"
        for name in ("profile", "results_path", "cache_dir"):
            assert f"{name} =" in code[0].source, f"{path.name}: parameters cell lacks {name}"
        assert all(not c.get("outputs") for c in code), f"{path.name}: commit notebooks without outputs"


@pytest.mark.parametrize("name", [p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_writes_results(executed, name):
    res = sk.read_json(executed[name].with_suffix(".json"))
    assert res["notebook"] == name and res["profile"] == "ci"
    env = res["environment"]  # the arithmetic the replication ran with
    assert env["torch"] == torch.__version__
    assert env["auto_matmul_dtype"] == ("bfloat16" if sk.native_bf16(torch.device(env["device"])) else "float32")
    assert res["claims"], "a notebook must state the claims it reproduces"
    for c in res["claims"]:
        assert set(c) == {"id", "claim", "source", "published", "ours", "replicated"}


def check_page(notebook) -> None:
    """The notebook's report page draws each of its plotly figures and loads nothing from the network."""
    import re

    import nbformat
    from plotly.offline import get_plotlyjs

    from sae_kit.report.html_report import PLOTLY_MIME, notebook_html

    nb = nbformat.read(notebook, as_version=4)
    n_figures = sum(PLOTLY_MIME in out.get("data", {}) for cell in nb.cells for out in cell.get("outputs", []))
    page = notebook_html(nb)
    assert n_figures > 0, f"{notebook}: no plotly figure in the executed notebook"
    assert page.count("Plotly.newPlot") == n_figures, f"{notebook}: not every figure is drawn on its page"
    assert page.count(get_plotlyjs()[:2000]) == 1, f"{notebook}: plotly.js must be embedded once"
    assert not re.search(r"<script[^>]*\ssrc=[\"']?(https?:)?//", page, re.IGNORECASE), f"{notebook}: a CDN script"


@pytest.mark.parametrize("name", [p.stem for p in NOTEBOOKS])
def test_notebook_report_page(executed, name):
    """`make replicate` renders every executed notebook to an offline page (sae_kit.report.html_report): check the CI runs'."""
    check_page(executed[name])

"""Every notebook runs headless in its CI profile (papermill) and writes the key figures it promises.

The executed notebooks land in reports/ci/, where `make notebooks-ci` then runs nbval on them: a second execution
whose seeded outputs (cells marked NBVAL_CHECK_OUTPUT) must match the first.
"""

from pathlib import Path

import pytest

import sae_kit as sk

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "reports" / "ci"
NOTEBOOKS = sk.report.notebooks()
TIMEOUT = 900  # per cell, seconds: a stalled kernel fails instead of hanging CI


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


@pytest.fixture(scope="session")
def executed():
    """Run every notebook once in the CI profile (shared by the tests below)."""
    paths = sk.report.run_notebooks(OUT, profile="ci", timeout=TIMEOUT)
    return {p.stem: p for p in paths}


@pytest.mark.parametrize("name", [p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_writes_results(executed, name):
    res = sk.read_json(executed[name].with_suffix(".json"))
    assert res["notebook"] == name and res["profile"] == "ci"
    assert res["claims"], "a notebook must state the claims it reproduces"
    for c in res["claims"]:
        assert set(c) == {"id", "claim", "source", "published", "ours", "replicated"}


def test_sae_training_ci_figures(executed):
    """Notebook 03 in its CI profile (128 features in 64 dimensions) must still show the report's qualitative result."""
    res = sk.read_json(executed["03_sae_training"].with_suffix(".json"))
    claims = {c["id"]: c["replicated"] for c in res["claims"]}
    assert claims["near_perfect_recovery"] and claims["dead_neurons"], claims
    grid = res["figures"]["grid"]
    mmcs, dead = grid["mmcs"], grid["dead_fraction"]
    assert max(max(row) for row in mmcs) > 0.98
    assert max(mmcs[0]) < 0.6  # a dictionary of G/4 latents can find at most a quarter of the features well
    assert max(row[-1] for row in mmcs) < 0.5  # α = 100: the codes die and nothing is recovered
    assert min(row[-1] for row in dead) > 0.5
    # the zone: at dictionaries of G and 2G the best α lies strictly inside the swept range
    for i, size in enumerate(grid["d_sae"]):
        if size in (128, 256):
            j = max(range(len(mmcs[i])), key=mmcs[i].__getitem__)
            assert 0 < j < len(mmcs[i]) - 1 and mmcs[i][j] > 0.95, (size, mmcs[i])

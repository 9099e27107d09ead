"""The grid sweep, the plot builders and the replication report on a tiny grid."""

import plotly.graph_objects as go
import pytest
import torch

import sae_kit as sk
from tests.conftest import small_train_cfg


@pytest.fixture(scope="module")
def tiny_grid(tmp_path_factory):
    data = sk.ToyData(sk.ToyDataConfig(n_features=16, d=8, avg_active=2.0, decay=0.95, device="cpu"))
    out = tmp_path_factory.mktemp("grid")
    grid = sk.train_grid(data, [8, 16, 32], [0.1, 1.0, 10.0], small_train_cfg(steps=60), results_dir=out)
    return data, grid, out


def test_grid_shapes_and_values(tiny_grid):
    data, grid, _ = tiny_grid
    assert grid.mmcs.shape == grid.dead.shape == grid.l0.shape == (3, 3)
    assert grid.dictionary_mmcs.shape == (2, 3)
    assert grid.dead_fraction.allclose(grid.dead / torch.tensor([8.0, 16.0, 32.0])[:, None])
    # each cell equals the metric recomputed from that row's SAE
    for i, run in enumerate(grid.runs):
        assert torch.allclose(grid.mmcs[i], sk.mmcs(data.features, run.sae.dictionary))
    assert grid.dictionary_mmcs[0, 1].item() == pytest.approx(
        sk.dictionary_mmcs(grid.runs[0].sae.dictionary[1], grid.runs[1].sae.dictionary[1]), abs=1e-6)
    assert [m.shape for m in grid.mcs] == [(3, 16)] * 3


def test_grid_rows_resume_from_results_dir(tiny_grid):
    data, grid, out = tiny_grid
    again = sk.train_grid(data, [8, 16, 32], [0.1, 1.0, 10.0], small_train_cfg(steps=60), results_dir=out)
    assert torch.equal(again.mmcs, grid.mmcs)
    assert again.runs[2].seconds == grid.runs[2].seconds  # loaded, not retrained


def test_grid_bad_input(tiny_grid):
    data = tiny_grid[0]
    with pytest.raises(ValueError, match="ascending"):
        sk.train_grid(data, [16, 8], [0.1], small_train_cfg())
    with pytest.raises(ValueError, match="non-empty"):
        sk.train_grid(data, [8], [], small_train_cfg())


def test_report_grid_values():
    assert sk.report_alphas() == pytest.approx([10 ** (e / 4) for e in range(-8, 9)])
    assert sk.report_alphas()[0] == pytest.approx(0.01) and sk.report_alphas()[-1] == pytest.approx(100.0)
    assert sk.report_sizes(512) == [128, 256, 512, 1024, 2048, 4096, 8192, 16384]


def test_goldilocks_zone_and_claims(tiny_grid):
    _, grid, _ = tiny_grid
    zone = sk.goldilocks_zone(grid, threshold=0.0)
    assert len(zone["cells"]) == 9 and zone["best"][2] == pytest.approx(float(grid.mmcs.max()))
    assert sk.goldilocks_zone(grid, threshold=1.01)["cells"] == []
    claims = sk.sae_training_claims(grid, grid.runs[1], n_features=16)
    assert [c.id for c in claims] == ["near_perfect_recovery", "goldilocks_zone", "dead_neurons", "dictionary_to_dictionary"]
    assert all(isinstance(c.replicated, bool) for c in claims)


def test_plot_builders_return_figures(tiny_grid):
    data, grid, _ = tiny_grid
    stats = sk.toy_data_stats(data, n_samples=500)
    fig = sk.plots.plot_feature_frequencies(stats["expected_frequency"], stats["observed_frequency"])
    assert isinstance(fig, go.Figure) and len(fig.data) == 2
    fig = sk.plots.plot_training(grid.runs[0], ["a", "b", "c"])
    assert len(fig.data) == 4 * 3  # MMCS, MSE, L1, L0 for each instance
    fig = sk.plots.plot_grid_heatmaps(grid)
    assert [t.type for t in fig.data] == ["heatmap"] * 3
    assert fig.data[0].y == fig.data[2].y == ("8", "16", "32")  # every panel has the same rows, by size
    assert list(fig.data[2].z[-1]) == [None] * 3  # the largest dictionary has no next larger one: a blank row
    fig = sk.plots.plot_mcs_histogram(grid.mcs[0][0].tolist())
    assert fig.data[0].type == "histogram"


def test_toy_data_stats(tiny_grid):
    data = tiny_grid[0]
    s = sk.toy_data_stats(data, n_samples=4000, seed=1)
    assert s["mean_active"] == pytest.approx(2.0, rel=0.05)
    assert s["mean_coefficient"] == pytest.approx(0.5, rel=0.05)
    assert len(s["observed_frequency"]) == 16


def test_results_json_and_summary(tmp_path):
    claims = [sk.claims.Claim("a", "claim a", "src", "pub", "ours", True),
              sk.claims.Claim("b", "claim b", "src", "pub", "ours", False)]
    sk.report.write_results(tmp_path / "01_x.json", "01_x", "ci", claims, {"v": torch.tensor([1.0, float("nan")])})
    res = sk.report.collect_results(tmp_path)
    assert res[0]["figures"]["v"] == [1.0, None] and res[0]["claims"][1]["replicated"] is False
    table = sk.report.summary_table(res)
    assert "01_x" in table and "NO" in table and "yes" in table


def test_notebook_listing_and_bad_profile(tmp_path):
    names = [p.name for p in sk.report.notebooks()]
    assert "03_sae_training.ipynb" in names and names == sorted(names)
    with pytest.raises(ValueError, match="profile"):
        sk.report.run_notebooks(tmp_path, profile="huge")
    with pytest.raises(ValueError, match="no notebook"):
        sk.report.notebooks(only=["99"])


def _tiny_notebook(path, body: str) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                                            "language_info": {"name": "python"}})
    params = nbformat.v4.new_code_cell('profile = "lab"\nresults_path = None\ncache_dir = None')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nbformat.write(nb, path)


def test_run_notebooks_in_parallel_reports_each_failure(tmp_path):
    src, out = tmp_path / "nbs", tmp_path / "out"
    src.mkdir()
    _tiny_notebook(src / "01_ok.ipynb", "import os\nprint(profile, os.environ['OMP_NUM_THREADS'])")
    _tiny_notebook(src / "02_fails.ipynb", "raise ValueError('planted failure')")
    with pytest.raises(RuntimeError, match=r"1 notebook\(s\) failed:\n02_fails.ipynb: (.|\n)*planted failure"):
        sk.report.run_notebooks(out, profile="ci", notebook_dir=src, jobs=2, timeout=120)
    import nbformat

    printed = nbformat.read(out / "01_ok.ipynb", as_version=4).cells[-1].outputs[0]["text"]
    assert printed.startswith("ci "), printed  # the other notebook still ran, with the profile injected
    with pytest.raises(ValueError, match="jobs"):
        sk.report.run_notebooks(out, profile="ci", notebook_dir=src, jobs=0)

"""The headline figures read as their captions say: labels where the values are, matching rows and axes, dotted chance
lines, the setting in the title, clipped points said so in the legend. Each check also fails on the defect it guards."""

import math
import types

import pytest
import torch

from sae_kit import plots
from sae_kit.toy import geometry
from sae_kit.training.sweep import GridResult


def _grid(sizes=(8, 16, 32), alphas=(0.01, 1.0, 100.0), feats=6):
    S, A = len(sizes), len(alphas)
    g = torch.Generator().manual_seed(0)
    r = lambda *shape: torch.rand(*shape, generator=g)  # noqa: E731
    return GridResult(list(sizes), list(alphas), r(S, A), torch.zeros(S, A), r(S, A), r(S, A), r(S, A) * 1e-7, r(S, A) * 1e-6,
                      r(S, A), r(S - 1, A), [r(A, feats) for _ in sizes], [], 0.0)


def _recipe(name, l0, fve, ks=None, l1=None):
    cfg = types.SimpleNamespace(ks=ks, l1_coeffs=l1)
    result = types.SimpleNamespace(final={"l0": l0, "fve": fve}.__getitem__, sae=types.SimpleNamespace(cfg=cfg))
    return types.SimpleNamespace(name=name, result=result)


@pytest.mark.parametrize("a, label", [(100, "100"), (316.2, "320"), (1e4, "10000"), (0.0316, "0.032"), (1.0, "1"),
                                      (0.001, "0.001"), (3.16e-5, "3.2·10⁻⁵"), (0, "0")])
def test_alpha_label_has_no_e_notation(a, label):
    assert plots.alpha_label(a) == label


def test_ratio_label_sits_on_its_line_on_the_log_axis():
    fig = plots.plot_ratio_metrics([1, 2, 4, 8], {"a": [1, 0.9, 0.5, 0.3]}, "y", "t", favourable=2.0, d=16)
    (line,) = [s for s in fig.layout.shapes if s.type == "line"]
    (label,) = fig.layout.annotations
    assert line.x0 == 2.0 and label.x == pytest.approx(math.log10(2.0))  # an annotation takes log10(x); 2 would sit at 100
    assert "report's ratio 2" in label.text and fig.layout.title.text == "t (d = 16 dimensions)"
    assert plots.plot_ratio_metrics([1, 2], {"a": [1, 0.5]}, "y", "t").layout.title.text == "t"  # the old call form


def test_chance_lines_are_dotted_in_their_placements_colour():
    series = {"random: MMCS": [1, 0.5], "tms: MMCS": [1, 0.4], "random: chance": [0.3, 0.3], "tms: chance": [0.2, 0.2]}
    by_name = {t.name: t for t in plots.plot_ratio_metrics([1, 2], series, "MMCS", "t").data}
    for placement in ("random", "tms"):
        chance, mmcs = by_name[f"{placement}: chance"], by_name[f"{placement}: MMCS"]
        assert chance.line.dash == "dot" and chance.mode == "lines" and mmcs.line.dash == "solid"
        assert chance.line.color == mmcs.line.color
    assert by_name["random: MMCS"].line.color != by_name["tms: MMCS"].line.color


def test_grid_heatmaps_share_rows_mark_chance_and_read_alphas():
    grid = _grid()
    fig = plots.plot_grid_heatmaps(grid, chance=0.31)
    assert [t.y for t in fig.data] == [("8", "16", "32")] * 3
    assert list(fig.data[2].z[-1]) == [None] * 3 and list(fig.data[2].text[-1]) == ["—"] * 3
    assert fig.data[0].x == ("0.01", "1", "100") and all(t.textfont.size >= 11 for t in fig.data)
    assert "chance 0.31" in fig.data[0].colorbar.ticktext and "chance 0.31" in fig.layout.annotations[0].text
    assert fig.data[2].colorbar.ticktext is None  # dictionary-to-dictionary MMCS has another chance level
    assert plots.plot_grid_heatmaps(grid).data[0].colorbar.ticktext is None  # without chance: plain bar
    fig = plots.plot_grid_heatmaps(grid, chance=[0.2, 0.3, 0.4])  # one per size: beside each row's size
    assert fig.layout.yaxis.ticktext == ("8 (chance 0.20)", "16 (chance 0.30)", "32 (chance 0.40)")
    with pytest.raises(ValueError, match="one per dictionary size"):
        plots.plot_grid_heatmaps(grid, chance=[0.2, 0.3])


def test_mcs_histogram_grid_colour_bar_clear_of_histograms_and_axes_titled():
    grid = _grid()
    fig = plots.plot_mcs_histogram_grid(grid)
    bar = fig.data[0].colorbar
    assert bar.orientation == "h" and bar.y < 0  # under the heatmap, not over the first histogram column
    assert bar.x + bar.len / 2 <= fig.layout.xaxis2.domain[0]
    titles = [fig.layout[k].title.text for k in fig.layout if k.startswith("xaxis") and fig.layout[k].title.text]
    assert titles.count("MCS") == len(grid.alphas) and "α (L1 coefficient)" in titles
    assert any(fig.layout[k].title.text == "features" for k in fig.layout if k.startswith("yaxis"))
    assert {a.text for a in fig.layout.annotations} >= {"8", "16", "32"}  # row titles: dictionary sizes


def test_lm_grid_shares_x_and_writes_powers_of_ten():
    fig = plots.plot_lm_grid(_grid(), types.SimpleNamespace(estimate=16))
    assert [fig.layout[f"xaxis{i}"].matches for i in (2, 3, 4)] == ["x"] * 3
    log_axes = [fig.layout[k] for k in fig.layout if k[1:5] == "axis" and fig.layout[k].type == "log"]
    assert len(log_axes) == 6 and all(ax.exponentformat == "power" for ax in log_axes)  # not "10n", "1µ"


def test_frontier_clips_dead_points_visibly_and_marks_matched_l0():
    res = [_recipe("L1", [1e-4, 0.5, 3.0], [0.0, 0.4, 0.8], l1=[100, 1, 0.1]), _recipe("TopK", [4.0], [0.9], ks=[4])]
    fig = plots.plot_frontier(res, matched_l0=4, min_l0=0.1)
    l1, topk, clipped = fig.data
    assert l1.x == (0.5, 3.0) and topk.x == (4.0,)  # the dead instance is off the L1 line …
    assert clipped.x == (0.1,) and clipped.y == (0.0,) and "L0 < 0.1" in clipped.name  # … drawn at the edge, said so
    (line,) = fig.layout.shapes
    assert line.x0 == 4 and fig.layout.annotations[0].x == pytest.approx(math.log10(4))
    assert len(plots.plot_frontier(res[1:]).data) == 1  # nothing dead, nothing matched: just the lines
    with pytest.raises(ValueError, match="min_l0"):
        plots.plot_frontier(res, min_l0=0)


def test_feature_directions_unit_circle_and_setting_in_title():
    fig = plots.plot_feature_directions([geometry.regular_polygon(5)], ["p = 0.1"], n=5, m=2, importance=0.9)
    circle = fig.data[0]
    assert circle.name == "‖W_i‖ = 1" and max(math.hypot(x, y) for x, y in zip(circle.x, circle.y)) == pytest.approx(1)
    assert "n = 5 features, m = 2 dimensions, importance I_i = 0.9ⁱ" in fig.layout.title.text
    assert fig.layout.xaxis.tickvals == (-1, 0, 1)
    for build in (plots.plot_wtw, plots.plot_feature_directions):
        assert "m = 2" in build([geometry.regular_polygon(5)], ["a"], m=2).layout.title.text
        assert build([geometry.regular_polygon(5)], ["a"]).layout.title.text.startswith(("Feature", "WᵀW"))

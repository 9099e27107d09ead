"""Notebook 07's absorption rows (scored at matched L0), the absorption explorer's update, and the figures of 07."""

import math

import plotly.graph_objects as go
import pytest
import torch

import sae_kit as sk
from sae_kit.analysis.absorption_rows import (
    feature_names,
    held_out_l0,
    matched_instance,
    score_absorption_row,
    train_absorption_row,
)
from sae_kit.analysis.collapse import PowerLawFit
from sae_kit.explorers import widgets

TRAIN = sk.TrainConfig(steps=30, batch_size=64, lr=1e-2, progress=False, device="cpu", seed=0, eval_every=30, mmcs_every=30,
                       matmul_dtype="float32")


@pytest.fixture(scope="module")
def tree():
    return sk.HierarchyData(sk.HierarchyConfig())


def hand_row(tree, absorbing: bool):
    """Two hand-made instances of an SAE whose latents are the true features (clean), or whose child latents are
    f_P + f_C and whose parent latents stay off when a child is on (absorbing)."""
    x, c = tree.sample(2000, torch.Generator().manual_seed(0))
    F = tree.features  # [feat, d]
    dec = F.clone()
    codes = c.clone()
    if absorbing:
        for p, kids in enumerate(tree.children):
            for k in kids:
                dec[k] = (F[p] + F[k]) / 2 ** 0.5
            codes[:, p] = c[:, p] * (c[:, kids].sum(-1) == 0)
    return score_absorption_row("hand", "α", [0.1, 0.2], tree, x, c, torch.stack([codes, codes]), torch.stack([dec, dec]),
                                torch.stack([dec, dec]), target_l0=1.0)


def test_scores_of_hand_made_saes(tree):
    clean, bad = hand_row(tree, False), hand_row(tree, True)
    assert clean.absorption == [0.0, 0.0] and bad.absorption == pytest.approx([1.0, 1.0])
    assert bad.mean_share[0] == pytest.approx(2 ** -0.5, abs=1e-5) and clean.mean_share[0] < 1e-5
    assert clean.cos.shape == (2, tree.n_features, tree.n_features)
    assert torch.allclose(clean.cos[0], torch.eye(tree.n_features), atol=1e-5)  # sorted by matched feature: the identity
    f = bad.figures()
    assert f["name"] == "hand" and f["absorption"] == pytest.approx(1.0) and len(f["recall_child"]) == 9


def test_matched_instance_and_held_out_l0(tree):
    assert matched_instance([0.5, 1.1, 2.0], 1.2) == 1 and matched_instance([1.0, 3.0], 2.0) == 0
    with pytest.raises(ValueError, match="l0 must hold"):
        matched_instance([], 1.0)
    # parents 3 · 0.15, children 3 · 0.15 · 0.6, independent 8 · 0.05: 1.12 expected
    assert held_out_l0(tree) == pytest.approx(0.45 + 0.27 + 0.4, abs=0.05)
    names = feature_names(tree)
    assert names[:4] == ["P0", "P1", "P2", "P0.c0"] and names[-1] == "I7" and len(names) == 20


def test_rows_train_with_kit_classes_and_the_tied_toy_sae(tree):
    kit, sae = train_absorption_row("Matryoshka", tree, sk.SAEConfig(d=20, d_sae=20, architecture="matryoshka",
                                    prefixes=[3, 20], l1_coeff=[0.01, 0.02], l1_convention="sum"), TRAIN, 1.1, n_eval=256)
    assert isinstance(sae, sk.MatryoshkaSAE) and kit.knob == "α" and kit.values == [0.01, 0.02] and len(kit.l0) == 2
    topk, _ = train_absorption_row("TopK", tree, sk.SAEConfig(d=20, d_sae=20, architecture="topk", k=[1, 2]), TRAIN, 1.1,
                                   n_eval=256)
    assert topk.knob == "k" and topk.values == [1, 2] and topk.l0[0] <= 1.0 + 1e-6
    tied, toy = train_absorption_row("tied", tree, sk.ToySAEConfig(l1_coeff=0.01, tied=True, steps=20), TRAIN, 1.1, n_eval=256)
    assert toy.W_enc is None and tied.cos.shape == (1, 20, 20)
    with pytest.raises(ValueError, match="cfg must be a sae_kit.SAEConfig or a ToySAEConfig"):
        train_absorption_row("bad", tree, {"d": 20}, TRAIN, 1.1)


def test_absorption_explorer_update(tree):
    rows = [hand_row(tree, False), hand_row(tree, True)]
    rows[1].name = "absorbing"
    names = feature_names(tree)
    parents, children = names[:3], names[3:12]
    fig = go.Figure()
    assert widgets.update_absorption_explorer(fig, rows, "absorbing", 1, names, parents, children) == ""
    assert fig.layout.title.text.startswith("absorbing, α = 0.2: L0") and "absorption 1.00" in fig.layout.title.text
    heat, bars = fig.data
    assert len(heat.z) == 20 and list(bars.y[3:]) == [0.0] * 9  # every child-on recall is 0
    assert widgets.update_absorption_explorer(fig, rows, "hand", 0, names, parents, children) == ""
    assert "absorption 0.00" in fig.layout.title.text
    assert widgets.update_absorption_explorer(fig, rows, "nope", 0, names, parents, children).startswith("⚠ name must be")
    assert widgets.update_absorption_explorer(fig, rows, "hand", 5, names, parents, children).startswith("⚠ index must be")
    assert widgets.absorption_explorer(rows, names, parents, children) is None  # headless


def test_next_toy_figures_draw_what_they_are_given():
    fig = sk.plots.plot_abs_motifs([1.0, 0.1], [0.2, 0.9], [0.1, 0.8])
    assert [list(t.y) for t in fig.data] == [[0.2, 0.9], [0.1, 0.8]]
    W1 = torch.randn(2, 6, 10, generator=torch.Generator().manual_seed(0))
    assert len(sk.plots.plot_abs_weights(W1, [1.0, 0.01], n_show=5).data) == 2
    s = {"computing": dict(mmcs=0.7, mcc=0.6, precision=0.3, recall=0.4), "plain": dict(mmcs=0.9, mcc=0.9, precision=0.5, recall=0.5)}
    assert [list(t.y) for t in sk.plots.plot_abs_sae_scores(s).data] == [[0.7, 0.6, 0.3, 0.4], [0.9, 0.9, 0.5, 0.5]]
    bars = sk.plots.plot_absorption_bars([dict(name="L1", absorption=0.9, mean_share=0.7, l0=1.1)])
    assert bars.data[0].y == (0.9,) and bars.data[1].y == (0.7,)
    fits = {"mean": PowerLawFit(1.0, 0.0, 0.9, 1.1, [1.0, 1.0], 4), "sum": PowerLawFit(*[math.nan] * 4, [], 0)}
    stars = {"mean": torch.tensor([[32.0, 64.0], [30.0, math.nan]]), "sum": torch.full((2, 2), math.nan)}
    col = sk.plots.plot_collapse([32, 64], stars, fits)
    assert len(col.data) == 5 and list(col.data[1].y) == [30.0, None]  # 2 seeds × 2 conventions + one fit line
    assert "slope 1.00" in col.data[2].name
    curves = sk.plots.plot_collapse_curves({"mean": [0.1, 1.0]}, {"mean": torch.tensor([[0.9, 0.5]])},
                                           {"mean": torch.tensor([[0.0, 0.2]])}, [32], {"mean": [0.5]})
    assert len(curves.data) == 3 and curves.data[2].x == (0.5,)
    with_lines = sk.plots.plot_collapse_curves({"mean": [0.1, 1.0]}, {"mean": torch.tensor([[0.9, 0.5], [0.9, 0.9]])},
                                               {"mean": torch.tensor([[0.0, 0.2], [0.1, 0.3]])}, [32, 64],
                                               {"mean": [0.5, math.nan]}, dead_thresholds=[0.5, 0.75])
    lines = [t for t in with_lines.data if t.mode == "lines"]  # each size's collapse threshold, in its colour
    assert [t.y for t in lines] == [(0.5, 0.5), (0.75, 0.75)] and lines[0].line.color == with_lines.data[0].line.color


def test_best_instance_of_an_abs_score():
    score = sk.score_sae_on_abs(torch.tensor([[[1.0, 0.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 0.0]]]),
                                torch.eye(2)[None].expand(2, 2, 2).clone(), torch.eye(2),
                                torch.tensor([[True, False], [True, False]]))
    best = sk.analysis.abs_hidden.best_instance(score)
    assert best["instance"] == 0 and best["precision"] == 1.0 and best["recall"] == 0.5 and best["alive_fraction"] == 0.5
    dead = sk.score_sae_on_abs(torch.zeros(1, 2, 2), torch.eye(2)[None], torch.eye(2), torch.tensor([[True, False]] * 2))
    with pytest.raises(ValueError, match="no latent that fired"):
        sk.analysis.abs_hidden.best_instance(dead)


def test_absorption_explorer_live_switches_rows_and_their_knob(tree, monkeypatch):
    monkeypatch.setenv("SAE_KIT_HEADLESS", "0")
    rows = [hand_row(tree, False), hand_row(tree, True)]
    rows[1].name, rows[1].matched = "absorbing", 1
    names = feature_names(tree)
    box = widgets.absorption_explorer(rows, names, names[:3], names[3:12])
    arch, knob = box.children[0].children
    fig = box.children[2]
    assert fig.layout.title.text.startswith("hand, α = 0.1") and knob.value == 0
    arch.value = "absorbing"  # the slider jumps to that row's matched instance and the figure follows
    assert knob.value == 1 and fig.layout.title.text.startswith("absorbing, α = 0.2")
    knob.value = 0
    assert fig.layout.title.text.startswith("absorbing, α = 0.1") and box.children[1].value == ""


def test_part_mcs_splits_the_signs():
    fig = sk.plots.plot_part_mcs([0, 0, 1], [1, -1, 1], [0.95, 0.5, 0.8])
    assert list(fig.data[0].x) == [0, 1] and list(fig.data[0].y) == [0.95, 0.8] and list(fig.data[1].y) == [0.5]

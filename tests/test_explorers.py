"""The notebooks' explorers: what they compute (sae_kit.explorers.explore), what they draw (sae_kit.explorers.plots), and the
plain update callbacks the widgets call (sae_kit.explorers.widgets). A real browser moves the widgets in tests/browser/."""

import plotly.graph_objects as go
import pytest
import torch

import sae_kit as sk
from sae_kit.explorers import explore, widgets
from sae_kit.explorers import plots as explorer_plots
from sae_kit.toy import geometry


def test_ratio_snapshot_geometry_and_recovery():
    pairs = explore.ratio_snapshot(2.0, 4, 1.0, "tms", sae_steps=150, tms_steps=600)
    tangle = explore.ratio_snapshot(8.0, 4, 1.0, "tms", sae_steps=150, tms_steps=600)
    assert pairs.n_features == 8 and pairs.antipodal_fraction >= 0.5  # a toy model pairs 8 features up in 4 dimensions
    assert tangle.antipodal_fraction < pairs.antipodal_fraction
    rand = explore.ratio_snapshot(4.0, 4, 1.0, "random", sae_steps=150)
    f = rand.directions  # [feat, d]
    naive = torch.tensor([sum(float(f[i] @ f[j]) ** 2 for j in range(len(f)) if j != i) for i in range(len(f))])
    assert torch.allclose(rand.interference, naive, atol=1e-5)  # Σ_{j≠i} cos²
    assert rand.random_interference == pytest.approx((16 - 1) / 4)
    assert rand.mcs.shape == rand.chance_mcs.shape == (16,)
    assert explore.ratio_snapshot(4.0, 4, 1.0, "random", sae_steps=150) is rand  # cached


@pytest.mark.parametrize("kw, match", [(dict(avg_active=8.0), "avg_active"), (dict(placement="grid"), "placement"),
                                       (dict(ratio=float("nan")), "ratio"), (dict(ratio=100.0, d=16), "features")])
def test_ratio_snapshot_refuses_bad_settings(kw, match):
    base = dict(ratio=2.0, d=4, avg_active=1.0, placement="random")
    with pytest.raises(ValueError, match=match):
        explore.check_ratio_setting(**{**base, **kw})


def test_ratio_explorer_update_draws_or_explains():
    fig = go.Figure()
    assert widgets.update_ratio_explorer(fig, 2.0, 2, 1.0, "random") == ""
    assert "antipodal fraction" in fig.layout.title.text and "n/d = 2" in fig.layout.title.text
    three = go.Figure()
    assert widgets.update_ratio_explorer(three, 1.0, 3, 1.0, "random") == ""
    assert any(t.type == "scatter3d" for t in three.data)  # d = 3: a 3-D view of the directions
    before = fig.to_dict()
    msg = widgets.update_ratio_explorer(fig, 0.5, 4, 3.0, "random")  # 2 features, 3 active on average: impossible
    assert msg.startswith("⚠") and "avg_active" in msg and fig.to_dict() == before  # a message, the figure untouched


def test_tms_run_and_explorer_scrubber():
    run = explore.tms_run(0.9, 0.9, 5, 2, steps=500)
    assert run.W_history.shape == (50, 2, 5) and len(run.steps) == 50 and run.steps[-1] == 500
    fig = go.Figure()
    assert widgets.update_tms_explorer(fig, 0.9, 0.9, 5, 2, step_index=-1, steps=500) == ""
    end = [list(t.x) for t in fig.data if t.type == "scatter" and t.name and t.name.startswith("feature")]
    assert widgets.update_tms_explorer(fig, 0.9, 0.9, 5, 2, step_index=0, steps=500) == ""
    start = [list(t.x) for t in fig.data if t.type == "scatter" and t.name and t.name.startswith("feature")]
    assert start != end and "step 10 of 500" in fig.layout.title.text  # the scrubber shows the geometry forming
    assert widgets.update_tms_explorer(fig, 0.5, 0.9, 4, 3, steps=500) == ""
    assert sum(t.type == "scatter3d" for t in fig.data) == 4  # m = 3: a 3-D view
    assert widgets.update_tms_explorer(fig, 0.5, 0.9, 4, 2, linear=True, steps=500) == ""
    assert fig.layout.title.text.startswith("linear model")
    assert "m < n" in widgets.update_tms_explorer(fig, 0.5, 0.9, 3, 3, steps=500) or "d_hidden" in \
        widgets.update_tms_explorer(fig, 0.5, 0.9, 3, 3, steps=500)
    assert widgets.update_tms_explorer(fig, 0.5, 0.9, 5, 2, step_index=50, steps=500).startswith("⚠")


def test_linear_toy_model_keeps_the_top_m():
    run = explore.tms_run(0.9, 0.7, 5, 2, linear=True, steps=600)
    norms = geometry.feature_norms(run.W_history[-1])
    assert norms[:2].min() > 0.8 and norms[2:].max() < 0.2


def test_sae_toy_snapshot_and_explorer():
    snap = explore.sae_toy_snapshot(0.1, 6, n_features=4, steps=300)
    assert snap.features.shape == (4, 2) and snap.dictionary.shape == (6, 2)
    assert torch.allclose(snap.dictionary.norm(dim=1), torch.ones(6), atol=1e-4)
    fig = explorer_plots.plot_sae_toy_snapshot(snap)
    assert "MMCS" in fig.layout.title.text and "dead" in fig.layout.title.text
    g = go.Figure()
    assert widgets.update_sae_toy_explorer(g, 0.1, 6, 2, 4) == ""
    assert widgets.update_sae_toy_explorer(g, 0.1, 6, 4, 4).startswith("⚠")  # d = 4 cannot be drawn
    with pytest.raises(ValueError, match="d_sae"):
        explore.sae_toy_snapshot(0.1, 100)


def test_grid_cell_explorer_update():
    mcs = torch.tensor([[[0.95, 0.2, 0.99]], [[0.5, 0.5, 0.5]]])  # [size, alpha, feat]
    fig = go.Figure()
    assert widgets.update_grid_cell_explorer(fig, mcs, [0.1, 0.01, 0.05], [4, 8], [0.3], 0, 0) == ""
    assert fig.layout.title.text.startswith("d_sae = 4, α = 0.3: 2 of 3 features found")
    assert widgets.update_grid_cell_explorer(fig, mcs, [0.1, 0.01, 0.05], [4, 8], [0.3], 2, 0).startswith("⚠")


def test_latent_dashboards_and_feature_browser():
    from sae_kit.lm import analysis as la

    model = sk.TinyLM(sk.LMConfig(vocab_size=30, d_model=8, n_layers=2, n_heads=2, d_mlp=16, n_ctx=10))
    windows = torch.randint(0, 30, (6, 10), generator=torch.Generator().manual_seed(0))  # [batch, pos]
    hook = "blocks.0.mlp.hook_post"
    x = sk.flatten_positions(sk.collect_activations(model, windows, [hook])[hook])  # [tok, 16]
    saes = [sk.SAE(sk.SAEConfig(d=16, d_sae=s, l1_coeff=[0.1, 1.0], seed=0)) for s in (8, 16)]
    labels = torch.stack([windows.flatten() == 3, windows.flatten() % 2 == 0], dim=1)  # [tok, 2]
    dash = explore.LatentDashboards(saes, 1, x, windows, [f"t{i}" for i in range(30)], model, hook, 1.0, labels, ["three", "even"])
    d = dash(1, 5)
    codes = la.sae_codes(saes[1], x, inst=1)[:, 5]
    fires = codes > 0
    tp = (fires & labels[:, ["three", "even"].index(d["label"])]).sum()
    assert d["precision"] == pytest.approx(float(tp) / max(1, int(fires.sum())))  # against a naive count
    assert d["firing_rate"] == pytest.approx(float(fires.float().mean()))
    assert dash(1, 5) is d  # kept
    fig = go.Figure()
    msg = widgets.update_feature_browser(fig, dash, 1, 5)
    assert msg == "" and "latent 5" in fig.layout.title.text or "never fires" in msg
    assert widgets.update_feature_browser(fig, dash, 0, 8).startswith("⚠")  # d_sae = 8 has latents 0…7
    with pytest.raises(ValueError, match="labels"):
        explore.LatentDashboards(saes, 0, x, windows, [], model, hook, 1.0, labels[:5], ["a", "b"])


def test_head_attribution_snapshots_and_explorer():
    """Notebook 08's explorer on planted heads: a latent's mean DFA per head against a naive sum over its firing tokens,
    its top head the planted one, a dead latent drawn as such, an out-of-range latent a message."""
    from sae_kit.lm import attribution as at

    planted = at.planted_heads(n_heads=2, d_head=3, n_feat=2, n_tok=60, p_fire=0.3, seed=0)
    x = planted.z.reshape(60, 6)  # [tok, head·d_head]
    windows = torch.arange(60).reshape(6, 10) % 7  # [batch, pos] token ids for the contexts
    sae = sk.SAE(sk.SAEConfig(d=6, d_sae=3, l1_coeff=0.1))
    with torch.no_grad():
        sae.W_enc[0] = torch.cat([planted.features, torch.zeros(1, 6)])  # latents 0, 1 read the planted features
        sae.b_enc.fill_(-1e-3)
    snaps = explore.HeadAttribution(sae, x, 2, windows, [f"t{i}" for i in range(7)])
    s = snaps(0)
    on = (x @ planted.features[0] - 1e-3) > 0
    naive = (x[on].reshape(-1, 2, 3) * planted.features[0].reshape(2, 3)).sum(-1).mean(0)  # [head]
    assert s["fires"] == int(on.sum()) and torch.allclose(torch.tensor(s["dfa_mean"]), naive, atol=1e-5)
    assert s["top_head"] == int(planted.head[0]) and s["top_share"] == pytest.approx(1.0)
    assert snaps(0) is s and len(s["contexts"]) == min(8, s["fires"])
    fig = go.Figure()
    assert widgets.update_head_attribution_explorer(fig, snaps, 1) == "" and fig.layout.title.text.startswith("latent 1:")
    assert widgets.update_head_attribution_explorer(fig, snaps, 2) == "" and "never fires" in fig.layout.title.text
    assert "latent must be" in widgets.update_head_attribution_explorer(fig, snaps, 3)
    with pytest.raises(ValueError, match="flattened hook_z"):
        explore.HeadAttribution(sae, x[:10], 2, windows, [])


def test_no_widget_is_built_headless():
    assert sk.is_headless()
    assert widgets.tms_explorer() is None and widgets.ratio_explorer() is None and widgets.sae_toy_explorer() is None
    assert widgets.grid_cell_explorer(None, []) is None and widgets.feature_browser(None) is None
    assert widgets.head_attribution_explorer(None) is None


def test_replace_figure_keeps_a_figure_widget_in_place():
    target = go.Figure(go.Scatter(x=[0], y=[0]))
    new = explorer_plots.plot_grid_cell([0.9, 0.1], [0.5, 0.05], 2, 1.0)
    out = explorer_plots.replace_figure(target, new)
    assert out is target and len(target.data) == len(new.data) and target.layout.title.text == new.layout.title.text

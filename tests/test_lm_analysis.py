"""Feature labelling against naive counts (full codes and streamed from an SAE), contexts, logit effects, and the LM plots."""

import plotly.graph_objects as go
import pytest
import torch

import sae_kit as sk
from sae_kit.lm import analysis as la


def test_label_features_matches_naive_counts():
    g = torch.Generator().manual_seed(0)
    codes = torch.relu(torch.randn(500, 6, generator=g))  # [tok, d_sae]
    labels = torch.rand(500, 4, generator=g) < 0.3  # [tok, label]
    labels[:, 3] = codes[:, 2] > 0  # label 3 is exactly feature 2's firing
    res = la.label_features(codes, labels, ["a", "b", "c", "d"], chunk=128)
    for j in range(6):
        fires = codes[:, j] > 0
        for k in range(4):
            both = (fires & labels[:, k]).sum().item()
            assert res.precision[j, k].item() == pytest.approx(both / fires.sum().item())
            assert res.recall[j, k].item() == pytest.approx(both / labels[:, k].sum().item())
    assert res.find("d") == {**res.find("d"), "feature": 2, "precision": 1.0, "recall": 1.0}
    assert res.good()[2] and int(res.best[2]) == 3
    with pytest.raises(ValueError, match="unknown label"):
        res.find("zzz")
    with pytest.raises(ValueError, match="do not match"):
        la.label_features(codes, labels, ["a"])


def test_label_sae_streams_the_same_counts_as_full_codes():
    """Encoding batch by batch (memory of one batch) gives exactly the counts of the full [tok, d_sae] codes, also with
    a relative threshold (its largest codes found in a first pass); sae_codes of chosen latents are their columns."""
    g = torch.Generator().manual_seed(1)
    sae = sk.SAE(sk.SAEConfig(d=8, d_sae=24, l1_coeff=[0.1, 1.0], seed=3))
    with torch.no_grad():
        sae.b_enc.add_(0.2)
    x = torch.randn(700, 8, generator=g)  # [tok, d]
    labels = torch.rand(700, 3, generator=g) < 0.4
    full = la.sae_codes(sae, x, inst=1, batch_size=256)  # [tok, d_sae]
    assert torch.allclose(full, sae(x).codes[1], rtol=0, atol=1e-6)
    assert torch.allclose(la.sae_codes(sae, x, inst=1, batch_size=100, features=[5, 0]), full[:, [5, 0]], rtol=0, atol=1e-6)
    for rel in (0.0, 0.5):
        a = la.label_features(full, labels, ["a", "b", "c"], rel_threshold=rel, chunk=128)
        b = la.label_sae(sae, x, labels, ["a", "b", "c"], inst=1, rel_threshold=rel, batch_size=96)
        assert torch.equal(a.fires, b.fires) and torch.allclose(a.precision, b.precision) and torch.allclose(a.recall, b.recall)
        assert torch.equal(a.best, b.best)
    with pytest.raises(ValueError, match="inst must be in"):
        la.label_sae(sae, x, labels, ["a", "b", "c"], inst=2)
    with pytest.raises(ValueError, match="features must be"):
        la.sae_codes(sae, x, features=[24])


@pytest.mark.parametrize("kw", [dict(decoder_bias=True, centre_input=True), dict(architecture="topk", k=[3, 5]),
                                dict(architecture="batchtopk", k=4)])
def test_sae_codes_of_one_instance_match_the_row(kw):
    """Encoding one instance (an L1 SAE: only the requested latents) gives the row's codes of that instance, with a
    centred input and for TopK/BatchTopK (which choose among all latents)."""
    g = torch.Generator().manual_seed(2)
    sae = sk.SAE(sk.SAEConfig(d=8, d_sae=24, n_inst=2, seed=4, **kw)).eval()
    with torch.no_grad():
        sae.b_enc.add_(0.3)
        if sae.b_dec is not None:
            sae.b_dec.normal_(generator=g)
    x = torch.randn(300, 8, generator=g)  # [tok, d]
    want = sae.encode(x)[1]  # [tok, d_sae]
    assert (want > 0).any()
    assert torch.allclose(la.sae_codes(sae, x, inst=1, batch_size=64), want, rtol=0, atol=1e-6)
    assert torch.allclose(la.sae_codes(sae, x, inst=1, batch_size=64, features=[7, 2, 7]), want[:, [7, 2, 7]], rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="inst must be in"):
        sae.instance_preactivations(x, 2)


def test_token_labels_and_top_contexts():
    windows = torch.tensor([[0, 1, 2, 1], [2, 2, 0, 1]])
    strings = ["A", "b", "."]
    lab, names = la.token_labels(windows, strings, min_count=3)
    assert names == ["token 'b'", "token '.'"] and lab.shape == (8, 2) and lab[:, 0].sum() == 3
    codes = torch.tensor([0.0, 0.5, 0, 0, 0, 2.0, 0, 0])
    ctx = la.top_contexts(codes, windows, strings, k=5, before=2, after=1)
    assert [(c["window"], c["pos"], c["token"], c["left"], c["right"]) for c in ctx] == [(1, 1, ".", ".", "A"), (0, 1, "b", "A", ".")]
    with pytest.raises(ValueError, match="windows hold 8 tokens"):
        la.top_contexts(codes[:5], windows, strings)


def test_activation_summary_on_known_data():
    x = torch.zeros(1000, 4)
    x[:100, 0] = 1.0
    x[:, 1] = -0.1
    s = la.activation_summary(x)
    assert s["frequency"] == pytest.approx([0.1, 0.0, 0.0, 0.0]) and s["fraction_negative"] == pytest.approx(0.25)
    assert s["mean_active"] == pytest.approx(0.1)


def test_logit_effect_of_a_feature():
    model = sk.TinyLM(sk.LMConfig(vocab_size=30, d_model=8, n_layers=2, n_heads=2, d_mlp=16, n_ctx=10))
    windows = torch.randint(0, 30, (4, 10), generator=torch.Generator().manual_seed(0))
    ctx = [{"window": 1, "pos": 3, "value": 2.0}, {"window": 2, "pos": 5, "value": 1.0}]
    zero = la.feature_logit_effect(model, "blocks.0.mlp.hook_post", torch.zeros(16), windows, ctx, k=3)
    assert all(abs(v) < 1e-5 for _, v in zero["boosted"])
    eff = la.feature_logit_effect(model, "blocks.0.mlp.hook_post", torch.ones(16), windows, ctx, k=3)
    assert len(eff["boosted"]) == 3 and eff["boosted"][0][1] >= eff["suppressed"][0][1]
    assert la.feature_logit_effect(model, "blocks.0.mlp.hook_post", torch.ones(16), windows, [])["boosted"] == []


def estimate_at(d2d, dead_fraction, sizes=(128, 256, 512, 1024, 2048)):
    """The kit's estimator on a one-α grid with the given evidence."""
    n = len(sizes)
    col = lambda v: torch.tensor(v, dtype=torch.float32)[:, None]  # noqa: E731
    grid = sk.GridResult(d_sae_values=list(sizes), alphas=[10.0], mmcs=None,
                         dead=col(dead_fraction) * torch.tensor(sizes, dtype=torch.float32)[:, None],
                         dead_fraction=col(dead_fraction), l0=col([1.0] * n), mse=col([1e-3] * n), l1=col([0.1] * n),
                         fve=col([0.9] * n), dictionary_mmcs=col(d2d), mcs=None, runs=[], seconds=0.0)
    return sk.estimate_n_features(grid)


GOOD_TITLE = {"feature": 3, "precision": 0.9, "recall": 0.7}
# [size, alpha] held-out dead fractions: the largest dictionary has 30 % dead at the largest α, the smallest 2 %
DEAD = torch.tensor([[0.0, 0.02], [0.0, 0.1], [0.05, 0.3]])


def passing(**kw) -> dict:
    """Arguments of lm_claims with which every claim replicates; kw replaces some."""
    # levels off from the pair (1024, 2048): D_1024 holds the features, D_512 did not → 512 < G ≤ 1024
    at_1024 = estimate_at([0.5, 0.7, 0.8, 0.9, 0.91], [0] * 6, sizes=(128, 256, 512, 1024, 2048, 4096))
    return {"estimate": at_1024, "n_good": 350, "title_feature": GOOD_TITLE,
            "dead_fraction": DEAD, "chance_fraction": None, **kw}


def test_lm_claims_all_pass_on_a_passing_input():
    claims = sk.claims.lm.lm_claims(**passing())
    assert [c.id for c in claims] == list(sk.claims.lm.LM_CRITERIA)
    assert all(c.replicated for c in claims) and "512–1024" in claims[0].ours and "bound" not in claims[0].ours
    with_size = sk.claims.lm.lm_claims(**passing(title_feature={**GOOD_TITLE, "d_sae": 1024}))
    assert "feature 3 of the 1024-latent dictionary" in with_size[2].ours and "of the" not in claims[2].ours


@pytest.mark.parametrize("claim_id, kw", [
    ("n_features", dict(estimate=estimate_at([0.9, 0.91, 0.9, 0.9], [0, 0.2, 0.3, 0.4, 0.5]))),  # dead above 128: 128–256
    ("n_features", dict(estimate=estimate_at([0.9, 0.9, 0.9, 0.9], [0] * 5))),  # no signal, no dead: ≥ 2048, open above
    ("n_features", dict(estimate=estimate_at([0.9, 0.9, 0.9, 0.9], [0.2] * 5))),  # dead from the smallest on: ≤ 128
    ("labelled_features", dict(n_good=299)),
    ("title_period_feature", dict(title_feature={**GOOD_TITLE, "precision": 0.79})),
    ("title_period_feature", dict(title_feature={**GOOD_TITLE, "recall": 0.49})),
    # α alone: the largest dictionary has more dead latents only because it sits at a larger α; at the same α the
    # smallest has more (the old criterion, largest size and α against smallest size and α, passed this)
    ("dead_latents", dict(dead_fraction=torch.tensor([[0.0, 0.4], [0.0, 0.3], [0.0, 0.2]]))),
    ("dead_latents", dict(dead_fraction=torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 0.04]]))),  # too few to say
    # dead on the held-out sample, but no more than a sample of that size leaves unseen by chance
    ("dead_latents", dict(chance_fraction=torch.tensor([[0.0, 0.0], [0.0, 0.1], [0.05, 0.28]]))),
])
def test_each_lm_claim_fails_on_its_failing_input(claim_id, kw):
    claims = {c.id: c.replicated for c in sk.claims.lm.lm_claims(**passing(**kw))}
    assert not claims[claim_id]
    assert all(ok for k, ok in claims.items() if k != claim_id)  # only the claim whose evidence changed fails


def test_feature_count_bounds_are_not_estimates():
    no_dead = estimate_at([0.9, 0.9, 0.9, 0.9], [0] * 5)  # no signal and no dead latents at any size: ≥ 2048, a bound
    assert no_dead.bound == "lower" and no_dead.interval == (2048, None)
    assert "a bound" in sk.claims.lm.lm_claims(**passing(estimate=no_dead))[0].ours and not sk.claims.lm.features_criterion(no_dead)
    rising = estimate_at([0.5, 0.6, 0.7, 0.91], [0] * 5)  # still rising at the largest pair: > 512, open above
    assert rising.bound == "lower" and rising.interval == (512, None) and not sk.claims.lm.features_criterion(rising)
    inside = passing()["estimate"]  # levels off from (1024, 2048): 512 < G ≤ 1024
    assert inside.bound == "exact" and inside.interval == (512, 1024) and sk.claims.lm.features_criterion(inside)
    below = estimate_at([0.5, 0.9, 0.91, 0.91], [0] * 5)  # levels off from (256, 512): 128 < G ≤ 256
    assert below.bound == "exact" and below.interval == (128, 256) and not sk.claims.lm.features_criterion(below)
    inside.bound = "upper"  # any bound is read as a bound, whatever its interval
    assert not sk.claims.lm.features_criterion(inside)


def test_dead_criterion_reads_one_alpha():
    assert sk.claims.lm.dead_criterion(DEAD) == (True, pytest.approx(0.3), pytest.approx(0.02))
    ok, big, small = sk.claims.lm.dead_criterion(DEAD, torch.full((3, 2), 0.01))
    assert ok and big == pytest.approx(0.29) and small == pytest.approx(0.01)
    with pytest.raises(ValueError, match="dead_fraction must be"):
        sk.claims.lm.dead_criterion(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="same shape"):
        sk.claims.lm.dead_criterion(DEAD, torch.zeros(2, 2))


def test_lm_plots_return_figures():
    hist = {"tokens": [1, 2], "loss": [3.0, 2.0], "eval_loss": [3.1, 2.1]}
    assert len(sk.plots.plot_lm_training(hist).data) == 2
    s = la.activation_summary(torch.randn(200, 5))
    fig = sk.plots.plot_activation_distribution(s, s, [0.1, 0.2], [0.3])
    assert isinstance(fig, go.Figure) and len(fig.data) == 6
    ctx = [{"window": 0, "pos": 1, "value": 1.5, "left": "Mr", "token": ".", "right": " Hill"}]
    fig = sk.plots.plot_feature_dashboard(ctx, [1.0, 1.5], {"boosted": [(1, 0.5)]}, ["a", "b"], "f")
    assert [t.type for t in fig.data] == ["table", "histogram", "bar"] and "<b>⟦.⟧</b>" in fig.data[0].cells.values[1][0]
    fig = sk.plots.plot_label_quality([0.9, 0.5], [0.4, 0.2], ["x", "y"], 1)
    assert len(fig.data) == 1 and "1 features" in fig.layout.title.text
    fig = sk.plots.plot_toy_vs_lm([8, 16, 32], [0.5, 0.9], [0.6, 0.8, 0.9], [8, 16], [0.4], 16)
    assert len(fig.data) == 3

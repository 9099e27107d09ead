"""Notebook 08 (what the field measures on LM SAEs): the CI profile's figures. The CI profile trains small SAEs briefly;
the metrics' definitions and the controls already show, the training-length answer needs the full profile."""

import math

import sae_kit as sk


def test_measuring_lm_saes_ci_figures(executed):
    res = sk.read_json(executed["08_measuring_lm_saes"].with_suffix(".json"))
    f = res["figures"]
    claims = {c["id"]: c["replicated"] for c in res["claims"]}
    assert set(claims) == set(sk.claims.evals.EVAL_CRITERIA)
    # core metrics on held-out windows: both SAEs reconstruct well, and every score lies where its definition puts it
    for key in ("mlp", "attn"):
        m = f["core"][key]
        assert m["n_tokens"] == f["split"]["core_tokens"] > 1000
        assert 0.5 < m["fve"] <= 1 and 0.5 < m["cossim"] <= 1 and 0 < m["frac_alive"] <= 1
        assert m["fve_per_token"] <= m["fve"] + 0.05  # the per-token form is pulled down by tokens near the mean
        assert m["ce_clean"] <= m["ce_sae"] + 1e-3 and m["ce_zero"] > m["ce_clean"]
    # ablating the early attention layer costs far more loss than ablating the layer-3 MLP: its recovery is a real test
    gap = {k: f["core"][k]["ce_zero"] - f["core"][k]["ce_clean"] for k in ("mlp", "attn")}
    assert gap["attn"] > 3 * gap["mlp"]
    assert claims["attn_loss_recovered"] == (f["core"]["attn"]["ce_recovered_zero"] >= 0.8)
    # DFA: the heads plus the bias give the pre-activation; with TopK, Σ DFA > 0 is far from "fires"
    d = f["dfa"]
    assert d["max_error"] < 1e-4 and d["off_given_positive"] > 0.5 and 0.25 <= d["top_share_median"] <= 1
    # the planted control is found and a shuffled attribution is not
    assert f["planted"]["recovery"] >= 0.9 > f["planted"]["shuffled"] and claims["dfa_planted_heads"]
    # scoring: the same activating examples under both negatives, so recall is paired; single-token detectors excluded
    s = f["scoring"]
    assert s["random"]["recall"] == s["neighbours"]["recall"] and s["random"]["n_scored"] >= 20
    assert s["random_without_tokens"]["n_scored"] == s["random"]["n_scored"] - s["random"]["token_detectors"]
    assert 0 <= s["random"]["perfect"] <= 1 and len(s["random"]["quantile_recall"]) == 10
    assert claims["neighbour_negatives"] == (s["neighbours"]["balanced_accuracy"] < s["random"]["balanced_accuracy"])
    # training length: ×1, ×3, ×10 a budget; the toy data's recovery improves with training
    u = f["undertraining"]
    assert u["lm"]["multipliers"] == [1, 3, 10] and len(u["lm"]["n_features"]) == len(u["lm"]["exact"]) == 3
    toy_mmcs = u["toy"]["mmcs"]  # [length, size, alpha]
    assert sum(r[0] for r in toy_mmcs[-1]) > sum(r[0] for r in toy_mmcs[0])
    # deep SAEs: [depth, k] on the LM, held-out FVE and dead fractions in range; stacked TopK gains with every stage
    deep = f["deep"]
    assert len(deep["fve"]) == len(deep["depths"]) == 3 and all(len(r) == len(deep["ks"]) for r in deep["fve"])
    assert all(0 <= v <= 1 for r in deep["dead_fraction"] for v in r)
    assert all(not math.isnan(v) for r in deep["fve"] for v in r)
    st = deep["stacked"]["fve"]
    assert all(b > a for a, b in zip(st, st[1:]))

"""Notebook 02 (the ratio of features to dimensions): the CI profile's figures."""

import sae_kit as sk


def test_ratio_ci_figures(executed):
    res = sk.read_json(executed["02_strongly_interfering_ratios"].with_suffix(".json"))
    claims = {c["id"]: c["replicated"] for c in res["claims"]}
    assert claims["recovery_falls_beyond_2"] and claims["interference_grows"], claims
    f = res["figures"]
    ratios = f["ratios"]
    assert min(ratios) <= 1 and max(ratios) >= 32
    i2 = ratios.index(2)
    for name in ("random", "tms"):
        m = f["recovery"][name]
        assert m[-1] < m[i2] - 0.1, (name, m)  # recovery (MMCS above chance) falls beyond the report's ratio
        # α scaled with d_sae: at ratio 2, where α matters, the best α lies inside the grid, not at its edge
        row = f["mmcs_all"][name][i2]
        assert 0 < row.index(max(row)) < len(row) - 1, (name, row)
    worst = [s["mean_max_cos"] for s in f["stats"]["random"]]  # independent draws per ratio
    assert all(b > a for a, b in zip(worst, worst[1:])), worst
    for s, n in zip(f["stats"]["random"], f["n_features"]):
        assert abs(s["mean_sum_cos2"] - (n - 1) / f["d"]) <= 0.35 * (n - 1) / f["d"]  # E Σ_j cos² = (n − 1)/d

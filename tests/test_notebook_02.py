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
    random_max = [s["max_interference"] for s in f["stats"]["random"]]
    assert random_max[-1] > random_max[0]

"""Notebook 01 (toy models of superposition): the CI profile's figures must show each published geometry."""

import sae_kit as sk
from sae_kit.toy.geometry import sticky_statistics


def test_toy_superposition_ci_figures(executed):
    res = sk.read_json(executed["01_toy_superposition"].with_suffix(".json"))
    claims = {c["id"]: c["replicated"] for c in res["claims"]}
    assert all(claims.values()), claims
    f = res["figures"]
    n5 = f["n5"]
    dense = n5["norms"][0]
    assert min(dense[:2]) > 0.8 and max(dense[2:]) < 0.5  # two dedicated dimensions
    assert all(abs(d - 0.4) < 0.05 for d in n5["dimensionality"][-1])  # pentagon
    assert any(s["antipodal_pairs"] >= 1 for s in n5["stats"][1:-1])  # antipodal pairs in between
    n20 = f["n20"]
    assert n20["n_represented"][0] == 5 and n20["n_represented"][-1] >= 10
    assert all(kept == [0, 1, 2, 3, 4] for kept in f["linear"]["kept"])
    ph = f["phase"]
    assert ph["agreement"] >= 0.8 and set(ph["regions"]) >= {0, 1, 2}
    assert ph["trained"][-1][0] == 0 and ph["trained"][-1][-1] == 1  # dense: keep the more important feature
    assert ph["trained"][0][len(ph["trained"][0]) // 2] == 2  # sparse, equal importance: antipodal pair
    st = f["sticky"]
    s = sticky_statistics(st["d_star"], st["d_rep"], sk.claims.STICKY_FRACTIONS)
    # the D_i cluster at the fractions far beyond a uniform spread; D* nearly stops moving at 1/2
    assert s["fraction_at_fractions"] >= 2 * s["uniform_fraction"] and s["plateau_step"] <= s["mean_step"] / 3
    assert st["fraction_at_fractions"] == s["fraction_at_fractions"]  # the notebook's figure is the function's

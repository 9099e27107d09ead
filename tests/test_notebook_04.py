"""Notebook 04 (MCS histograms, recovery order, the composed plane, the feature-count estimate): the CI profile's figures.

The CI profile is small (16 dimensions, 500 steps): these checks state what it measures, including the estimator's
miss and the mixture claim's miss at d_sae ≥ G, so a change in the science shows up as a failure here.
"""

import sae_kit as sk


def _results(executed):
    res = sk.read_json(executed["04_mcs_histograms"].with_suffix(".json"))
    return {c["id"]: c for c in res["claims"]}, res["figures"]


def test_mcs_distributions_and_mcc(executed):
    claims, fig = _results(executed)
    g = fig["grid"]
    sizes, mmcs, found, missed = g["d_sae"], g["mmcs"], g["found"], g["missed"]
    # the mixture claim is judged at d_sae ≥ G only (below G, missing features is forced)
    cells = [(i, j) for i, s in enumerate(sizes) if s >= 32 for j in range(len(g["alphas"])) if 0.4 <= mmcs[i][j] <= 0.9]
    mixed = [c for c in cells if found[c[0]][c[1]] >= 0.1 and missed[c[0]][c[1]] >= 0.1]
    assert claims["middling_mmcs_is_mixture"]["replicated"] == (len(cells) > 0 and 2 * len(mixed) > len(cells))
    # a dictionary of G/4 latents: some features found, most missed — a mixture, not "all partly"
    assert sizes[0] * 4 == 32 and max(found[0]) >= 0.1 and min(missed[0]) >= 0.4
    # from G latents up almost nothing is missed outright
    for i, s in enumerate(sizes):
        if s >= 32:
            assert max(missed[i]) <= 0.15, (s, missed[i])
    # SAELens' MCC averages over min(G, d_sae) pairs: above MMCS when the dictionary is smaller than G
    for j in range(len(g["alphas"])):
        assert g["mcc_saelens"][0][j] > mmcs[0][j] + 0.1
    # the ground-truth-normalised MCC: far below MMCS under G (unmatched features score 0), close to it from G up
    # (it uses |cos|, MMCS the signed cosine, so it can be slightly above)
    for i, s in enumerate(sizes):
        for j in range(len(g["alphas"])):
            if s < 32:
                assert g["mcc_reference"][i][j] < mmcs[i][j] - 0.1
            else:
                assert abs(g["mcc_reference"][i][j] - mmcs[i][j]) < 0.08


def test_frequent_features_first_and_variants(executed):
    claims, fig = _results(executed)
    assert claims["frequent_features_first"]["replicated"] and fig["order"]["spearman_rho"] > 0.3
    first = fig["order"]["first_found"]
    half = len(first) // 2
    assert sum(s is not None for s in first[:half]) > sum(s is not None for s in first[half:])
    v = fig["variants"]
    plain = v["plain"]
    correlated = next(val for k, val in v.items() if k.startswith("correlated"))
    decayed = next(val for k, val in v.items() if k.startswith("magnitude decay"))
    assert abs(correlated - plain) < 0.1  # the correlated variant is recovered about as well
    assert decayed < plain - 0.03  # features on a smaller scale are recovered worse
    co = fig["coactivation"]
    assert co["correlated"] > 5 * co["plain"] and co["plain"] < 0.02  # far above the independent data's noise floor


def test_plane_recovered_up_to_rotation(executed):
    claims, fig = _results(executed)
    assert claims["plane_up_to_rotation"]["replicated"], claims["plane_up_to_rotation"]
    for rec in fig["plane"]:
        assert len(rec["principal_angles_deg"]) == 2 and max(rec["principal_angles_deg"]) <= 15
        assert len(rec["angles_deg"]) >= 3  # non-negative codes need ≥ 3 directions to cover a signed plane
    assert min(min(rec["mcs"]) for rec in fig["plane"]) < 0.95  # the basis picked is not the ground truth's
    inside = [any(15 <= a % 360 <= 75 for a in rec["angles_deg"]) for rec in fig["plane_nonneg"]]
    assert claims["composed_nonnegative"]["replicated"] == (2 * sum(inside) > len(inside))
    for rec in fig["plane_nonneg"]:  # non-negative data: ≥ 2 directions in the plane cover the quadrant
        assert len(rec["principal_angles_deg"]) == 2 and max(rec["principal_angles_deg"]) <= 25


def test_feature_count_estimates(executed):
    claims, fig = _results(executed)
    est = {int(g): e for g, e in fig["estimates"].items()}
    assert sorted(est) == [16, 32, 64]
    for g, e in est.items():
        assert e["d_sae_values"] == [g // 4, g // 2, g, 2 * g, 4 * g]  # the sizes bracket G on both sides
        assert e["estimate"] in e["d_sae_values"] and e["rule"] in ("dictionary_mmcs", "dead_onset")
        assert e["bound"] in ("exact", "lower", "upper") and e["interval"] == [e["low"], e["high"]]
        assert len(e["dictionary_mmcs"]) == len(e["d_sae_values"]) - 1 and e["explanation"].startswith("at α=")
    found = all(e["bound"] == "exact" and sk.FeatureCountEstimate(**{k: v for k, v in e.items() if k not in
                                                                     ("interval", "interval_text")}).contains(g)
                for g, e in est.items())
    assert claims["feature_count_estimate"]["replicated"] == found

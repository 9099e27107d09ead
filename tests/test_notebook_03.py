"""Notebook 03 (SAE training, the Goldilocks grid): the CI profile's figures."""

import sae_kit as sk


def test_sae_training_ci_figures(executed):
    """Notebook 03 in its CI profile (128 features in 64 dimensions) must still show the report's qualitative result."""
    res = sk.read_json(executed["03_sae_training"].with_suffix(".json"))
    claims = {c["id"]: c["replicated"] for c in res["claims"]}
    assert claims["near_perfect_recovery"] and claims["goldilocks_zone"], claims
    grid = res["figures"]["grid"]
    mmcs, dead, sizes, alphas = grid["mmcs"], grid["dead_fraction"], grid["d_sae"], grid["alphas"]
    assert max(max(row) for row in mmcs) > 0.98
    assert max(mmcs[0]) < 0.6  # a dictionary of G/4 latents can find at most a quarter of the features well
    assert max(row[-1] for row in mmcs) < 0.5  # α = 100: the codes die and nothing is recovered
    assert min(row[-1] for row in dead) > 0.5
    # the zone: at dictionaries of G and 2G the best α lies strictly inside the swept range
    for i, size in enumerate(sizes):
        if size in (128, 256):
            j = max(range(len(mmcs[i])), key=mmcs[i].__getitem__)
            assert 0 < j < len(mmcs[i]) - 1 and mmcs[i][j] > 0.95, (size, mmcs[i])
    # dead neurons, judged at the same α: the verdict is the criterion's on the grid's own numbers
    cols = [j for j, a in enumerate(alphas) if a >= 1]
    over = [[row[j] for row, s in zip(dead, sizes) if s > 128] for j in cols]
    under = [[row[j] for row, s in zip(dead, sizes) if s <= 128] for j in cols]
    gaps = [(sum(o) / len(o), sum(o) / len(o) - sum(u) / len(u)) for o, u in zip(over, under)]
    o, gap = max(gaps, key=lambda t: t[1])
    assert claims["dead_neurons"] == (o >= 0.25 and gap >= 0.2)
    # the heuristic is read at the α chosen without ground truth (largest α whose smallest dictionary is alive)
    assert grid["d2d_alpha"] == max(a for a, d in zip(alphas, dead[0]) if d < 0.05)

"""Notebook 03 (SAE training, the Goldilocks grid): the CI profile's figures."""

import sae_kit as sk


def test_sae_training_ci_figures(executed):
    """Notebook 03 in its CI profile (128 features in 64 dimensions) must still show the report's qualitative result."""
    res = sk.read_json(executed["03_sae_training"].with_suffix(".json"))
    claims = {c["id"]: c["replicated"] for c in res["claims"]}
    assert claims["near_perfect_recovery"] and claims["dead_neurons"], claims
    grid = res["figures"]["grid"]
    mmcs, dead = grid["mmcs"], grid["dead_fraction"]
    assert max(max(row) for row in mmcs) > 0.98
    assert max(mmcs[0]) < 0.6  # a dictionary of G/4 latents can find at most a quarter of the features well
    assert max(row[-1] for row in mmcs) < 0.5  # α = 100: the codes die and nothing is recovered
    assert min(row[-1] for row in dead) > 0.5
    # the zone: at dictionaries of G and 2G the best α lies strictly inside the swept range
    for i, size in enumerate(grid["d_sae"]):
        if size in (128, 256):
            j = max(range(len(mmcs[i])), key=mmcs[i].__getitem__)
            assert 0 < j < len(mmcs[i]) - 1 and mmcs[i][j] > 0.95, (size, mmcs[i])

"""Notebook 05 (the language-model replication): the CI profile's figures."""

import sae_kit as sk


def test_lm_replication_ci_figures(executed):
    """The CI profile reads ~25k tokens and trains small dictionaries: the easy features and the activation statistics
    must already show; the number of features needs the quick or full profile."""
    res = sk.read_json(executed["05_lm_replication"].with_suffix(".json"))
    f = res["figures"]
    claims = {c["id"]: c["replicated"] for c in res["claims"]}
    # the trained LM is far better than uniform guessing over its vocabulary (ln 512 ≈ 6.2 nats)
    assert f["lm"]["final_eval_loss"] < 2.0
    # the MLP layer is not the toy data: its dimensions are several times more correlated
    assert f["activations"]["mean_abs_corr"] > 2 * f["toy_activations"]["mean_abs_corr"]
    # automatic labelling finds features whose label holds almost whenever they fire (the "title period" one needs
    # the longer training of the quick/full profiles)
    assert f["labels"]["n_good"] >= 10
    assert 0 <= f["labels"]["title_period"]["precision"] <= 1
    # the title-period feature is looked for in every dictionary size of the grid
    assert f["labels"]["title_period"]["d_sae"] in f["grid"]["d_sae"]
    # dictionaries agree more with their successors as they grow; dead latents come with size and α
    d2d = f["grid"]["dictionary_mmcs"]
    assert all(0 <= v <= 1 for row in d2d for v in row)
    assert claims["dead_latents"]
    # on the toy data, recovery (truth → learned) improves with dictionary size
    assert f["toy"]["mmcs"][-1] > f["toy"]["mmcs"][0]

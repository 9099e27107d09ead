"""Notebook 06 (TopK, Muon, inits, dead-latent remedies): the CI profile's figures."""

import sae_kit as sk


def test_beyond_the_report_ci_figures(executed):
    res = sk.read_json(executed["06_beyond_the_report"].with_suffix(".json"))
    fig = res["figures"]
    claims = {c["id"]: c["replicated"] for c in res["claims"]}
    assert set(claims) == {"topk_frontier", "transpose_init", "auxk", "resampling", "muon", "preact_penalty",
                           "stacked_topk"}
    # the large, robust effects must show even in the small CI run
    assert claims["topk_frontier"] and claims["transpose_init"] and claims["auxk"], claims
    arch = {r["name"]: r for r in fig["architectures"]}
    # both recover nearly every feature (0.97–0.99 over the toy data's random streams so far)
    assert arch["TopK"]["mmcs"] > 0.95 and arch["BatchTopK"]["mmcs"] > 0.95
    assert all(0 < r["mcc"] <= r["mmcs"] + 0.01 for r in fig["architectures"])  # one-to-one matching: no better than MMCS
    for r in fig["architectures"]:
        assert abs(r["l0"] - fig["target_l0"]) < 1.5, r  # compared at matched sparsity
    optim = {r["name"]: r for r in fig["optimisers"]}
    assert abs(optim["TopK + Muon (10× lr)"]["mmcs"] - arch["TopK"]["mmcs"]) < 0.02
    inits = {r["name"]: r for r in fig["initialisations"]}
    assert set(inits) == {*sk.INITS, "report's init (kaiming encoder)"}
    assert all(r["mmcs"] > 0.9 for r in inits.values())
    rem = {r["name"]: r for r in fig["remedies"]}
    assert rem["TopK, kaiming encoder"]["dead_fraction"] > 2 * rem["TopK"]["dead_fraction"]
    assert rem["TopK + resampling"]["dead_fraction"] <= rem["TopK"]["dead_fraction"]
    assert {r["question"] for r in fig["recommendations"]} == {"architecture", "optimiser", "initialisation", "dead-latent remedy"}
    lm = {r["name"]: r for r in fig["lm"]}
    assert {"L1", "TopK", "BatchTopK", "TopK + AuxK", "TopK, init from W_out's singular vectors"} <= set(lm)
    assert all(0.5 < r["fve"] <= 1 for r in lm.values())
    # on the LM's MLP activations TopK reconstructs better with no more active latents than the L1 SAE kept
    assert lm["TopK"]["fve"] > lm["L1"]["fve"] and lm["TopK"]["l0"] <= lm["L1"]["l0"] + 0.5
    assert fig["lm_recommendations"][0]["best"] in lm
    # stacked TopK on the LM: every stage adds explained variance
    st = fig["stacked"]
    assert st["depth"] == len(st["fve"]) == len(st["dead_fraction"]) >= 2
    assert st["k"] * st["depth"] <= 64 // 4  # the whole stack keeps far fewer active latents than the layer's 64 dims
    assert all(b > a for a, b in zip(st["fve"], st["fve"][1:])), st["fve"]
    assert 0.5 < st["wide_fve"] <= 1
    # core metrics of the TopK SAE spliced into the LM on 16 held-out windows
    cm = fig["lm_core_metrics"]
    assert cm["n_tokens"] == 16 * 128 and abs(cm["fve"] - lm["TopK"]["fve"]) < 0.1 and cm["ce_zero"] > cm["ce_clean"]

"""Every claim criterion against hand-made inputs: one that passes, and for every claim id one that must fail.

The factories build the figures, grids and results a notebook would pass, without training; each `break_*` edit
changes one thing the criterion is meant to detect and must turn exactly that claim's verdict to "not replicated".
"""

import copy
from types import SimpleNamespace

import pytest
import torch

import sae_kit as sk
from sae_kit import claims as C

# ------------------------------------------------------------------------------------------------------------------
# factories
# ------------------------------------------------------------------------------------------------------------------

SIZES, ALPHAS, G = [32, 64, 128, 256, 512], [0.1, 0.3, 1.0, 3.0, 10.0], 128


def grid03() -> sk.GridResult:
    """Notebook 03's grid (G = 128): near-perfect in a bounded zone, dead latents only above G at α ≥ 1, and
    dictionary-to-dictionary MMCS high from G up at the estimator's α (α = 1: the smallest dictionary is alive there)."""
    n, k = len(SIZES), len(ALPHAS)
    mmcs = torch.full((n, k), 0.5)
    mmcs[2:, 1:3] = 0.995  # d_sae ≥ G, α ∈ {0.3, 1}
    dead_fraction = torch.zeros(n, k)
    dead_fraction[3:, 2:] = 0.5  # d_sae > G, α ≥ 1
    dead_fraction[:3, 2:] = torch.tensor([0.0, 0.1, 0.3])  # d_sae ≤ G: fewer (none at α = 1)
    d2d = torch.full((n - 1, k), 0.6)
    d2d[2:, :] = 0.95  # pairs from G up
    return _grid(mmcs, dead_fraction, d2d)


def _grid(mmcs, dead_fraction, d2d, sizes=SIZES, alphas=ALPHAS) -> sk.GridResult:
    n, k = len(sizes), len(alphas)
    filler = torch.ones(n, k)
    dead = dead_fraction * torch.tensor(sizes, dtype=torch.float32)[:, None]
    return sk.GridResult(d_sae_values=list(sizes), alphas=list(alphas), mmcs=mmcs, dead=dead, dead_fraction=dead_fraction,
                         l0=filler, mse=filler * 1e-3, l1=filler * 0.1, fve=filler * 0.9, dictionary_mmcs=d2d,
                         mcs=None, runs=[], seconds=0.0)


def row(best=0.995):
    return SimpleNamespace(final=lambda key: [best, 0.9])


def verdicts(claims) -> dict:
    return {c.id: bool(c.replicated) for c in claims}


def assert_only_fails(claims, claim_id):
    v = verdicts(claims)
    assert not v[claim_id], (claim_id, [c for c in claims if c.id == claim_id])
    assert all(ok for k, ok in v.items() if k != claim_id), v


# ------------------------------------------------------------------------------------------------------------------
# notebook 03
# ------------------------------------------------------------------------------------------------------------------


def test_sae_training_claims_pass_on_the_reports_picture():
    v = verdicts(C.sae_training_claims(grid03(), row(), G))
    assert set(v) == {"near_perfect_recovery", "goldilocks_zone", "dead_neurons", "dictionary_to_dictionary"}
    assert all(v.values()), v


def _alpha_only_dead(g):
    g.dead_fraction[:, 2:] = torch.tensor([0.0, 0.5, 0.5])  # dead latents from α alone, at every size
    g.dead_fraction[:, 2] = 0.0  # keep the estimator's α (1.0) alive in the smallest dictionary
    g.dead = g.dead_fraction * torch.tensor(SIZES, dtype=torch.float32)[:, None]


def _d2d_only_at_ground_truth_alpha(g):
    # the estimator reads α = 1 (largest α alive at the smallest size): there the curve does not separate; at α = 0.3
    # (where ground-truth MMCS is also best) it does. The criterion must not pick α by ground truth.
    g.dictionary_mmcs[:, 2] = 0.9
    g.mmcs[2:, 2] = 0.9


@pytest.mark.parametrize("claim_id, edit", [
    ("near_perfect_recovery", "mmcs"),
    ("goldilocks_zone", "edge"),
    ("dead_neurons", "alpha_only"),
    ("dictionary_to_dictionary", "flat"),
    ("dictionary_to_dictionary", "ground_truth_alpha"),
])
def test_sae_training_claims_fail_when_their_evidence_is_missing(claim_id, edit):
    g, best = grid03(), 0.995
    if edit == "mmcs":
        g.mmcs[g.mmcs > 0.99] = 0.97
        best = 0.97
    elif edit == "edge":
        g.mmcs[3, 0] = 0.99  # near-perfect at the smallest α: the zone is not bounded in α
    elif edit == "alpha_only":
        _alpha_only_dead(g)
    elif edit == "flat":
        g.dictionary_mmcs[:] = 0.9
    else:
        _d2d_only_at_ground_truth_alpha(g)
    claims = C.sae_training_claims(g, row(best), G)
    if edit == "ground_truth_alpha":  # the zone shrinks with that edit too; only the heuristic's verdict is asserted
        assert not verdicts(claims)[claim_id]
    else:
        assert_only_fails(claims, claim_id)


# ------------------------------------------------------------------------------------------------------------------
# notebook 04
# ------------------------------------------------------------------------------------------------------------------

SIZES4, ALPHAS4, G4 = [8, 16, 32, 64, 128], [0.3, 1.0], 32


def inputs04() -> dict:
    n, k = len(SIZES4), len(ALPHAS4)
    mmcs = torch.tensor([[0.3, 0.3], [0.5, 0.5], [0.95, 0.6], [0.97, 0.7], [0.98, 0.96]])
    found = torch.tensor([[0.2, 0.2], [0.4, 0.4], [0.95, 0.5], [0.97, 0.6], [0.98, 0.96]])
    missed = torch.tensor([[0.7, 0.7], [0.4, 0.4], [0.0, 0.3], [0.0, 0.2], [0.0, 0.0]])
    grid = _grid(mmcs, torch.zeros(n, k), torch.full((n - 1, k), 0.9), SIZES4, ALPHAS4)
    plane = [dict(principal_angles_deg=[1.0, 3.0], mcs=[0.9, 0.95], angles_deg=[10.0, 130.0, 250.0]),
             dict(principal_angles_deg=[2.0, 2.5], mcs=[0.97, 0.92], angles_deg=[40.0, 160.0, 280.0])]
    nonneg = [dict(principal_angles_deg=[1.0, 2.0], mcs=[0.9, 0.9], angles_deg=[5.0, 45.0, 85.0])] * 2
    estimates = {g: sk.estimate_n_features(_estimator_grid(g)) for g in (16, 32, 64)}
    return dict(grid=grid, n_features=G4, found=found, missed=missed, rho=0.6, plane=plane, estimates=estimates,
                plane_nonneg=nonneg)


def _estimator_grid(g: int, still_rising: bool = False, sizes=None) -> sk.GridResult:
    """One α, sizes g/4 … 4g: dictionary-to-dictionary MMCS stops rising at the pair starting at size g (or, with
    `still_rising`, rises up to the last pair)."""
    sizes = sizes or [g // 4, g // 2, g, 2 * g, 4 * g]
    n = len(sizes)
    d2d = [0.95 if s >= g else 0.5 + 0.1 * i for i, s in enumerate(sizes[:-1])]
    if still_rising:
        d2d = [0.5, 0.6, 0.7, 0.9]
    col = lambda v: torch.tensor(v, dtype=torch.float32)[:, None]  # noqa: E731
    return _grid(col([0.0] * n), col([0.0] * n), col(d2d), sizes, [0.3])


def test_mcs_histogram_claims_pass():
    v = verdicts(C.mcs_histogram_claims(**inputs04()))
    assert set(v) == {"middling_mmcs_is_mixture", "frequent_features_first", "plane_up_to_rotation",
                      "composed_nonnegative", "feature_count_estimate"}
    assert all(v.values()), v


def _edit04(x: dict, edit: str) -> None:
    if edit == "all_partly":  # middling cells at d_sae ≥ G where every feature is partly found: not a mixture
        x["found"][2:] = torch.where(x["grid"].mmcs[2:] <= 0.9, 0.0, x["found"][2:])
        x["missed"][2:] = 0.0
    elif edit == "rho":
        x["rho"] = 0.1
    elif edit == "rho_nan":
        x["rho"] = float("nan")
    elif edit == "basis_exact":
        for r in x["plane"]:
            r["mcs"] = [1.0, 1.0]
    elif edit == "plane_missed":
        x["plane"][0]["principal_angles_deg"] = [3.0, 40.0]
    elif edit == "same_rotation":
        x["plane"][1]["angles_deg"] = list(x["plane"][0]["angles_deg"])
    elif edit == "basis_only":
        x["plane_nonneg"] = [dict(principal_angles_deg=[1.0, 1.0], mcs=[0.99, 0.99], angles_deg=[0.5, 89.0])] * 2
    elif edit == "lower_bound":  # G = 64 read off a curve still rising at the end: an open interval
        x["estimates"][64] = sk.estimate_n_features(_estimator_grid(64, still_rising=True))
    elif edit == "misses":
        x["estimates"][64] = x["estimates"][16]
    elif edit == "unbracketed":  # G = 128 is the largest size tried: no size above it
        x["estimates"] = {128: sk.estimate_n_features(_estimator_grid(128, sizes=[8, 16, 32, 64, 128]))}


@pytest.mark.parametrize("claim_id, edit", [
    ("middling_mmcs_is_mixture", "all_partly"),
    ("frequent_features_first", "rho"),
    ("frequent_features_first", "rho_nan"),
    ("plane_up_to_rotation", "basis_exact"),
    ("plane_up_to_rotation", "plane_missed"),
    ("plane_up_to_rotation", "same_rotation"),
    ("composed_nonnegative", "basis_only"),
    ("feature_count_estimate", "lower_bound"),
    ("feature_count_estimate", "misses"),
    ("feature_count_estimate", "unbracketed"),
])
def test_mcs_histogram_claims_fail(claim_id, edit):
    x = inputs04()
    x["plane"] = copy.deepcopy(x["plane"])
    _edit04(x, edit)
    assert_only_fails(C.mcs_histogram_claims(**x), claim_id)


def test_mixture_below_g_alone_does_not_pass():
    x = inputs04()
    x["grid"].mmcs[2:] = 0.97  # nothing middling from G up: nothing to judge
    assert not verdicts(C.mcs_histogram_claims(**x))["middling_mmcs_is_mixture"]


# ------------------------------------------------------------------------------------------------------------------
# notebook 06
# ------------------------------------------------------------------------------------------------------------------


def recipe(name, dead=0.1, l0=(10.0,), fve=(0.9,), mmcs=0.95):
    res = SimpleNamespace(final=lambda key: list(l0) if key == "l0" else list(fve))
    return SimpleNamespace(name=name, result=res, figures={"dead_fraction": dead, "fve": fve[0], "mmcs": mmcs})


def inputs06(**dead) -> dict:
    d = {"TopK": 0.1, "TopK + AuxK": 0.05, "TopK + resampling": 0.05, "TopK + pre-act penalty": 0.05,
         "TopK, kaiming encoder": 0.3, "TopK, kaiming encoder + AuxK": 0.1} | dead
    arch = [recipe("L1", l0=(5.0, 10.0, 20.0), fve=(0.5, 0.7, 0.8)), recipe("TopK", dead=d["TopK"])]
    optim = [recipe("TopK + Muon (sparsify lr)")]
    remedies = [recipe(k, dead=v) for k, v in d.items()]
    return dict(arch=arch, optim=optim, remedies=remedies, stacked=C.stacked_claim([0.5, 0.8, 0.9], 0.9))


def test_toolbox_claims_pass():
    v = verdicts(C.toolbox_claims(**inputs06()))
    assert set(v) == {"topk_frontier", "transpose_init", "auxk", "resampling", "muon", "preact_penalty", "stacked_topk"}
    assert all(v.values()), v


@pytest.mark.parametrize("claim_id, edit", [
    ("topk_frontier", dict(arch_fve=0.6)),
    ("topk_frontier", dict(arch_l0=100.0)),  # no TopK point inside the L1 row's L0 range
    ("transpose_init", dict(dead={"TopK, kaiming encoder": 0.1, "TopK, kaiming encoder + AuxK": 0.05})),
    ("auxk", dict(dead={"TopK + AuxK": 0.1})),
    ("resampling", dict(dead={"TopK + resampling": 0.2})),
    ("muon", dict(muon_mmcs=0.9)),
    ("preact_penalty", dict(dead={"TopK + pre-act penalty": 0.1})),
    ("stacked_topk", dict(stacked=([0.5, 0.6], 0.9))),
])
def test_toolbox_claims_fail(claim_id, edit):
    x = inputs06(**edit.get("dead", {}))
    if "arch_fve" in edit or "arch_l0" in edit:
        topk = recipe("TopK", l0=(edit.get("arch_l0", 10.0),), fve=(edit.get("arch_fve", 0.9),))
        x["arch"] = [x["arch"][0], topk]
    if "muon_mmcs" in edit:
        x["optim"] = [recipe("TopK + Muon (sparsify lr)", mmcs=edit["muon_mmcs"])]
    if "stacked" in edit:
        x["stacked"] = C.stacked_claim(*edit["stacked"])
    assert_only_fails(C.toolbox_claims(**x), claim_id)


def test_stacked_claim_needs_two_stages_and_can_fail_against_width():
    assert C.stacked_claim([0.5, 0.8, 0.9], 0.9).replicated
    assert C.stacked_claim([0.5, 0.7, 0.76], 0.7).replicated  # cut 52 %, widening 40 %
    assert not C.stacked_claim([0.5, 0.7, 0.76], 0.95).replicated  # cut 52 %, but widening cuts 90 %
    assert not C.stacked_claim([0.5, 0.6, 0.7], 0.5).replicated  # cut 40 % < half
    with pytest.raises(ValueError, match="fve_by_depth"):
        C.stacked_claim([0.5], 0.9)


# ------------------------------------------------------------------------------------------------------------------
# notebook 01
# ------------------------------------------------------------------------------------------------------------------


def sticky_clustered() -> dict:
    inv = torch.logspace(0, 1.6, 20).tolist()
    d_star = [1.0, 1.0, 1.0, 0.75, 0.75, 0.5, 0.5, 0.5, 0.5, 0.5, 0.4, 0.4, 0.3, 0.25, 0.22, 0.2, 0.18, 0.17, 0.16, 0.15]
    rep = {1.0: [1.0] * 5, 0.75: [0.75] * 4 + [1.0], 0.5: [0.5] * 6 + [2 / 3] * 3, 0.4: [0.4] * 5 + [0.5]}
    d_rep = [rep.get(v, [0.3] * 4) for v in d_star]
    return {"inv_density": inv, "d_star": d_star, "d_rep": d_rep, "n_features": 40, "d_hidden": 8}


def sticky_smooth() -> dict:
    """A smooth decline of D* and D_i spread uniformly: what the criterion must not call sticky."""
    inv = torch.logspace(0, 1.6, 20).tolist()
    d_star = torch.linspace(1.0, 0.15, 20).tolist()
    d_rep = [torch.linspace(max(0.35, v - 0.3), min(1.0, v + 0.3), 12).tolist() for v in d_star]
    return {"inv_density": inv, "d_star": d_star, "d_rep": d_rep, "n_features": 40, "d_hidden": 8}


def figures01() -> dict:
    dens = [1.0, 0.3, 0.03]
    return {
        "n5": {"densities": dens, "norms": [[1.0, 1.0, 0.1, 0.0, 0.0], [1.0] * 4 + [0.0], [1.0] * 5],
               "dimensionality": [[1.0, 1.0, 0, 0, 0], [0.5] * 4 + [0.0], [0.4] * 5], "cos01_dense": 0.01,
               "stats": [{"antipodal_pairs": 0, "n_represented": 2}, {"antipodal_pairs": 2, "n_represented": 4},
                         {"antipodal_pairs": 0, "n_represented": 5}]},
        "n20": {"densities": [1.0, 0.3, 0.1, 0.03, 0.01], "d_hidden": 5, "n_represented": [5, 7, 9, 11, 12],
                "antipodal_fraction": [0.0, 4 / 7, 0.4, 0.3, 0.2]},
        "linear": {"densities": [1.0, 0.1, 0.01], "d_hidden": 5, "kept": [[0, 1, 2, 3, 4]] * 3},
        "phase": {"agreement": 0.9, "regions": [0, 1, 2]},
        "sticky": sticky_clustered(),
    }


def test_tms_claims_pass():
    v = verdicts(C.tms_claims(figures01()))
    assert set(v) == {"n5_dense_orthogonal", "n5_sparse_pentagon", "n5_antipodal_intermediate",
                      "n20_more_features_when_sparse", "linear_keeps_top_m", "phase_diagram", "sticky_dimensionality"}
    assert all(v.values()), v


def _edit01(f: dict, edit: str) -> None:
    n5 = f["n5"]
    if edit == "dense_not_orthogonal":
        n5["cos01_dense"] = 0.5
    elif edit == "no_pentagon":
        n5["dimensionality"][-1] = [0.5, 0.5, 0.5, 0.5, 0.0]
    elif edit == "no_antipodal":
        n5["stats"][1]["antipodal_pairs"] = 0
    elif edit == "n20_no_pairs":
        f["n20"]["antipodal_fraction"][1] = 0.0
    elif edit == "linear_drops":
        f["linear"]["kept"][1] = [0, 1, 2, 3, 7]
    elif edit == "phase_two_regions":
        f["phase"]["regions"] = [0, 1]
    elif edit == "smooth":
        f["sticky"] = sticky_smooth()
    elif edit == "uniform_d_i":  # the D* plateau kept, the D_i spread out
        f["sticky"]["d_rep"] = [torch.linspace(0.36, 1.0, 12).tolist()] * 20
    elif edit == "no_plateau":  # the D_i kept, D* declining smoothly
        f["sticky"]["d_star"] = torch.linspace(1.0, 0.15, 20).tolist()


@pytest.mark.parametrize("claim_id, edit", [
    ("n5_dense_orthogonal", "dense_not_orthogonal"),
    ("n5_sparse_pentagon", "no_pentagon"),
    ("n5_antipodal_intermediate", "no_antipodal"),
    ("n20_more_features_when_sparse", "n20_no_pairs"),
    ("linear_keeps_top_m", "linear_drops"),
    ("phase_diagram", "phase_two_regions"),
    ("sticky_dimensionality", "smooth"),
    ("sticky_dimensionality", "uniform_d_i"),
    ("sticky_dimensionality", "no_plateau"),
])
def test_tms_claims_fail(claim_id, edit):
    f = figures01()
    _edit01(f, edit)
    assert_only_fails(C.tms_claims(f), claim_id)


# ------------------------------------------------------------------------------------------------------------------
# notebook 02
# ------------------------------------------------------------------------------------------------------------------


def sweep02(d: int = 8):
    ratios, alphas = [1, 2, 4, 8, 16, 32], [0.01, 0.1, 1.0]
    ns = [r * d for r in ratios]
    random = [{"n_represented": n, "mean_max_cos": 0.5 + 0.08 * i, "mean_sum_cos2": (n - 1) / d, "antipodal_fraction": 0.0}
              for i, n in enumerate(ns)]
    tms = [{"antipodal_fraction": a} for a in (0.0, 1.0, 0.8, 0.5, 0.3, 0.1)]
    cfg = SimpleNamespace(ratios=ratios, alphas=alphas, d=d)
    rec = [0.9, 0.9, 0.7, 0.5, 0.3, 0.2]
    rows = [[0.8, 0.95, 0.85]] * 2 + [[0.8, 0.85, 0.82]] * 4  # [ratio][alpha] MMCS: α matters at every ratio
    return SimpleNamespace(cfg=cfg, recovery={"random": list(rec), "tms": list(rec)},
                           best_alpha={"random": [0.1] * 6, "tms": [0.1] * 6}, stats={"random": random, "tms": tms},
                           mmcs_all={"random": [list(r) for r in rows], "tms": [list(r) for r in rows]})


def test_ratio_claims_pass():
    v = verdicts(C.ratio_claims(sweep02()))
    assert set(v) == {"recovery_falls_beyond_2", "interference_grows", "tms_antipodal_then_interfering"}
    assert all(v.values()), v
    flat = sweep02()
    flat.best_alpha["tms"][-1] = 1.0  # at the edge, but MMCS is flat over α there
    flat.mmcs_all["tms"][-1] = [0.81, 0.815, 0.82]
    assert verdicts(C.ratio_claims(flat))["recovery_falls_beyond_2"]  # flat over α: the grid is not what limits it


@pytest.mark.parametrize("claim_id, edit", [
    ("recovery_falls_beyond_2", "flat_recovery"),
    ("recovery_falls_beyond_2", "alpha_at_edge"),
    ("recovery_falls_beyond_2", "alpha_at_edge_ratio_2"),
    ("interference_grows", "flat"),
    ("interference_grows", "not_random"),
    ("tms_antipodal_then_interfering", "antipodal_flat"),
])
def test_ratio_claims_fail(claim_id, edit):
    s = sweep02()
    if edit == "flat_recovery":
        s.recovery["tms"] = [0.5] * 6
    elif edit == "alpha_at_edge":  # the best α at the grid's edge where α matters (MMCS varies by 0.1 over α)
        s.best_alpha["random"][-1] = 1.0
    elif edit == "alpha_at_edge_ratio_2":
        s.best_alpha["tms"][1] = 0.01
    elif edit == "flat":  # the same worst interference at every ratio
        for st in s.stats["random"]:
            st["mean_max_cos"] = 0.6
    elif edit == "not_random":  # interference rising but far below (n − 1)/d: not the geometry of random directions
        for st in s.stats["random"]:
            st["mean_sum_cos2"] *= 0.5
    else:
        s.stats["tms"] = [{"antipodal_fraction": 0.6}] * 6
    assert_only_fails(C.ratio_claims(s), claim_id)


def test_interference_claim_on_real_random_directions():
    """Independent random draws per ratio pass; directions squeezed into half the dimensions do not match (n − 1)/d."""
    from sae_kit.toy.ratios import placement_stats

    d, ratios = 8, [1, 2, 4, 8, 16, 32]
    stats = [placement_stats(sk.geometry.random_directions(r * d, d, seed=100 + i).T) for i, r in enumerate(ratios)]
    assert C.interference_claim(ratios, stats, d).replicated
    squeezed = []
    for i, r in enumerate(ratios):
        w = sk.geometry.random_directions(r * d, d // 2, seed=100 + i)  # [d/2, feat]
        squeezed.append(placement_stats(torch.cat([w, torch.zeros_like(w)]).T))  # lives in 4 of the 8 dimensions
    assert not C.interference_claim(ratios, squeezed, d).replicated

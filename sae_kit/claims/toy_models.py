"""Notebooks 01 and 02: toy models of superposition (Elhage et al. 2022) and the ratio of features to dimensions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sae_kit.claims.base import ELHAGE_2022, SHARKEY_2023, Claim

__all__ = ["tms_claims", "sticky_claim", "ratio_claims", "interference_claim", "STICKY_FRACTIONS"]


STICKY_FRACTIONS = (1.0, 3 / 4, 2 / 3, 1 / 2, 2 / 5)


def tms_claims(f: dict) -> list[Claim]:
    """Notebook 01's claims from its figures dict (see the notebook for each key and the criteria)."""
    out = []
    p5 = f["n5"]
    dense, sparse = p5["norms"][0], p5["norms"][-1]
    ok = min(dense[:2]) >= 0.8 and abs(p5["cos01_dense"]) <= 0.2 and max(dense[2:]) <= 0.5
    out.append(Claim("n5_dense_orthogonal", "n=5, m=2, dense data: the two most important features get orthogonal dimensions",
                     ELHAGE_2022, "‖W_1‖, ‖W_2‖ ≈ 1, orthogonal; the other three ≈ 0",
                     f"norms {[round(v, 2) for v in dense]}, cos(W_1, W_2) = {p5['cos01_dense']:.2f}", ok))
    D = p5["dimensionality"][-1]
    ok = min(sparse) >= 0.8 and max(abs(d - 0.4) for d in D) <= 0.05
    out.append(Claim("n5_sparse_pentagon", "n=5, m=2, sparse data: all five features in a pentagon", ELHAGE_2022,
                     "D_i = 2/5 for all five", f"p = {p5['densities'][-1]:g}: D = {[round(v, 2) for v in D]}", ok))
    mids = [(p, s) for p, s in zip(p5["densities"][1:-1], p5["stats"][1:-1]) if s["antipodal_pairs"] >= 1 and s["n_represented"] >= 4]
    out.append(Claim("n5_antipodal_intermediate", "n=5, m=2, intermediate sparsity: features pair up antipodally", ELHAGE_2022,
                     "antipodal pairs (D_i = 1/2) between the dense and the pentagon regimes",
                     "; ".join(f"p = {p:g}: {s['antipodal_pairs']} pair(s) among {s['n_represented']} features" for p, s in mids)
                     or "no intermediate density with an antipodal pair", bool(mids)))
    n20 = f["n20"]
    counts, m = n20["n_represented"], n20["d_hidden"]
    first = next((i for i, c in enumerate(counts) if c > m), None)
    pairs = None if first is None else round(n20["antipodal_fraction"][first] * counts[first] / 2)
    ok = counts[0] <= m and counts[-1] >= 2 * m and first is not None and pairs >= counts[first] - m
    out.append(Claim("n20_more_features_when_sparse", "n=20, m=5: more features represented as sparsity grows, first as antipodal pairs",
                     ELHAGE_2022, "m features when dense; more when sparse, the first extra ones in antipodal pairs",
                     f"represented {counts} over densities {[round(p, 3) for p in n20['densities']]}; where the count first "
                     f"exceeds m: {pairs} antipodal pair(s) for {counts[first] - m if first is not None else 'n/a'} extra feature(s)", ok))
    lin = f["linear"]
    ok = all(kept == list(range(lin["d_hidden"])) for kept in lin["kept"])
    out.append(Claim("linear_keeps_top_m", "A linear model (no ReLU) keeps the m most important features, whatever the sparsity",
                     ELHAGE_2022, "the top m features, orthogonal; the rest dropped",
                     f"kept features per density {lin['kept']}", ok))
    ph = f["phase"]
    ok = ph["agreement"] >= 0.8 and set(ph["regions"]) >= {0, 1, 2}
    out.append(Claim("phase_diagram", "n=2, m=1: feature 2 dropped, feature 1 dropped, or both share the dimension antipodally",
                     ELHAGE_2022, "three regions, the antipodal one at low density and comparable importance",
                     f"trained solution agrees with the analytic optimum in {ph['agreement']:.0%} of cells; regions found "
                     f"{sorted(ph['regions'])}", ok))
    out.append(sticky_claim(f["sticky"]))
    return out


def sticky_claim(st: dict) -> Claim:
    """Sticky dimensionality, beyond what a smooth spread gives (`geometry.sticky_statistics` on st["d_star"] and
    st["d_rep"]): replicated when (a) at least half of the D_i (settings with D* ≥ 0.35) lie within 0.02 of 1, 3/4,
    2/3, 1/2 or 2/5, and at least twice the share a uniform spread over the same range would put there; and (b) D*
    plateaus at 1/2: between two consecutive sparsities both within 0.05 of 1/2 it moves by at most a third of its
    mean step over the sweep."""
    from sae_kit.toy.geometry import sticky_statistics

    s = sticky_statistics(st["d_star"], st["d_rep"], STICKY_FRACTIONS)
    clustered = s["fraction_at_fractions"] >= 0.5 and s["fraction_at_fractions"] >= 2 * s["uniform_fraction"]
    plateau = s["plateau_step"] is not None and s["plateau_step"] <= s["mean_step"] / 3
    on = [round(st["inv_density"][i], 1) for i in s["plateau_settings"]]
    step = "none" if s["plateau_step"] is None else f"{s['plateau_step']:.3f}"
    return Claim("sticky_dimensionality", "Dimensionality sticks at simple fractions; D* plateaus at 1/2 over a range of sparsity",
                 ELHAGE_2022, "D_i clusters at 1, 3/4, 2/3, 1/2, 2/5; a plateau of D* at 1/2",
                 f"{s['fraction_at_fractions']:.0%} of D_i within 0.02 of a published fraction (a uniform spread: "
                 f"{s['uniform_fraction']:.0%}); D* within 0.05 of 1/2 at 1/(1−S) = {on}, flattest step there {step} "
                 f"(mean step {s['mean_step']:.3f})", bool(clustered and plateau))


def ratio_claims(res) -> list[Claim]:
    """Notebook 02's claims from a RatioSweepResult (criteria in each claim's docstring-like comment below)."""
    ratios, alphas = res.cfg.ratios, res.cfg.alphas
    out = []
    i2 = min(range(len(ratios)), key=lambda i: abs(ratios[i] - 2))
    # recovery above chance falls by ≥ 0.1 from n/d ≈ 2 to the largest ratio, for both placements; at both ratios the
    # best α lies strictly inside the α grid, or MMCS varies by < 0.02 over the whole grid (no α does better than
    # another): a best α at the grid's edge could mean the grid, not the ratio, limited recovery
    ok, parts = True, []
    for name in res.recovery:
        m, best, rows = res.recovery[name], res.best_alpha[name], res.mmcs_all[name]
        inner = all(alphas.index(best[i]) not in (0, len(alphas) - 1) or max(rows[i]) - min(rows[i]) < 0.02
                    for i in (i2, len(ratios) - 1))
        ok &= m[-1] <= m[i2] - 0.1 and inner
        parts.append(f"{name}: MMCS above chance {m[i2]:.2f} at n/d = {ratios[i2]:g}, {m[-1]:.2f} at {ratios[-1]:g} "
                     f"(best α {best[i2]:.3g}, {best[-1]:.3g}{'' if inner else ': at the α grid edge'})")
    out.append(Claim("recovery_falls_beyond_2", "SAE recovery falls as the ratio of features to dimensions grows beyond 2",
                     SHARKEY_2023,
                     "recovery good at the report's ratio 2, worse in strongly interfering superposition",
                     "; ".join(parts), bool(ok)))
    out.append(interference_claim(ratios, res.stats["random"], res.cfg.d))
    anti = [s["antipodal_fraction"] for s in res.stats["tms"]]
    ok = anti[i2] >= 0.5 and anti[-1] <= anti[i2] - 0.3
    out.append(Claim("tms_antipodal_then_interfering",
                     "A toy model places features in antipodal pairs at ratio 2, in a strongly interfering tangle at large ratios",
                     f"{SHARKEY_2023}; {ELHAGE_2022}", "antipodal pairs at n/d = 2; few at n/d ≥ 16",
                     f"antipodal fraction {[round(v, 2) for v in anti]} over n/d {ratios}", bool(ok)))
    return out


def interference_claim(ratios: Sequence[float], stats: Sequence[dict], d: int) -> Claim:
    """Per-feature interference of random directions (an independent draw per ratio): replicated when each feature's
    worst interference, mean_i max_{j≠i} |cos(f_i, f_j)|, rises at every step of the ratio and by ≥ 0.2 overall, and
    its total interference mean_i Σ_{j≠i} cos² matches (n − 1)/d within 3 standard errors at every ratio (cos² of two
    random unit vectors in d dimensions has mean 1/d and relative s.d. √(2(d − 1)/(d + 2)); the mean over n(n − 1)/2
    pairs has that over √pairs; at least 10 % is allowed)."""
    worst = [s["mean_max_cos"] for s in stats]
    total = [s["mean_sum_cos2"] for s in stats]
    ns = [s["n_represented"] for s in stats]
    expect = [(n - 1) / d for n in ns]
    rel_sd = math.sqrt(2 * (d - 1) / (d + 2))
    tol = [max(0.1, 3 * rel_sd / math.sqrt(max(1, n * (n - 1) / 2))) for n in ns]
    rises = all(b > a for a, b in zip(worst, worst[1:])) and worst[-1] - worst[0] >= 0.2
    matches = all(abs(t - e) <= r * e for t, e, r in zip(total, expect, tol))
    return Claim("interference_grows", "Interference between random feature directions grows with the ratio",
                 "geometry of random directions (Sharkey et al. 2022 toy data)",
                 "each feature's interference rises with n/d: max |cos| towards 1, Σ cos² = (n − 1)/d",
                 f"mean per-feature max |cos| {[round(v, 2) for v in worst]}; mean Σ cos² {[round(v, 2) for v in total]} "
                 f"vs (n − 1)/d {[round(v, 2) for v in expect]}", bool(rises and matches))

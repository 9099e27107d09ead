"""Notebook 06: TopK's frontier, the transpose init, AuxK, resampling, Muon, the pre-activation penalty, stacked TopK.
"""

from __future__ import annotations

from collections.abc import Sequence

from sae_kit.claims.base import BRICKEN_2023, DEEP_SAE_DISCUSSION, GAO_2024, SPARSIFY_MUON, Claim

__all__ = ["stacked_claim", "toolbox_claims"]


def stacked_claim(fve_by_depth: Sequence[float], wide_fve: float) -> Claim:
    """Stacked TopK (L. Quirke, in the discussion of Abraham 2025): unexplained variance 1 − FVE of 1 stage against L
    stages, beside one SAE L× as wide with L× the k.
    Replicated when L stages cut it by at least half and by at least 0.8× what widening cuts."""
    depth = len(fve_by_depth)
    if depth < 2:
        raise ValueError(f"fve_by_depth needs at least 2 stages, got {depth}")
    u1, uL, uw = (1 - fve_by_depth[0]), (1 - fve_by_depth[-1]), (1 - wide_fve)
    cut, cut_wide = 1 - uL / u1, 1 - uw / u1
    return Claim(
        "stacked_topk", "Stacking TopK layers residual-style cuts the unexplained variance about as much as widening",
        DEEP_SAE_DISCUSSION, "84 % less unexplained variance from 1 to 5 layers, similar to 5× width and k",
        f"{cut:.0%} less from 1 to {depth} stages; one SAE {depth}× as wide with {depth}× k: {cut_wide:.0%} less",
        cut >= 0.5 and cut >= 0.8 * cut_wide,
    )


def toolbox_claims(arch: list, optim: list, remedies: list, stacked: Claim | None = None) -> list[Claim]:
    """Notebook 06: TopK's frontier, the transpose init, AuxK, resampling, Muon and the pre-activation penalty.

    arch, optim, remedies: `compare_recipes` results (RecipeResult) whose names are those notebook 06 uses:
    arch has "L1" and "TopK"; optim has "TopK + Muon (sparsify lr)"; remedies has "TopK", "TopK + AuxK",
    "TopK + resampling", "TopK + pre-act penalty", "TopK, kaiming encoder" and "TopK, kaiming encoder + AuxK".
    stacked: the stacked-TopK claim (`stacked_claim`), appended when given.
    """
    from sae_kit.analysis.compare import frontier_gap

    a, o, r = ({x.name: x for x in rs} for rs in (arch, optim, remedies))
    claims = []
    l1, topk = a["L1"].result, a["TopK"].result
    gap = frontier_gap(l1.final("l0"), l1.final("fve"), topk.final("l0"), topk.final("fve"))
    claims.append(Claim(
        "topk_frontier", "TopK reconstructs better than an L1 SAE at the same sparsity", GAO_2024,
        "TopK improves the reconstruction–sparsity frontier over ReLU/L1 autoencoders",
        "no TopK point inside the L1 row's L0 range" if gap is None else f"FVE {gap:+.3f} above the L1 frontier (same L0)",
        gap is not None and gap > 0,
    ))
    dead = {k: v.figures["dead_fraction"] for k, v in r.items()}
    claims.append(Claim(
        "transpose_init", "Initialising the encoder as the decoder's transpose prevents dead latents", GAO_2024,
        "far fewer dead latents with W_enc = W_decᵀ at init",
        f"dead fraction {dead['TopK']:.2f} (transpose) vs {dead['TopK, kaiming encoder']:.2f} (kaiming)",
        dead["TopK"] < dead["TopK, kaiming encoder"],
    ))
    claims.append(Claim(
        "auxk", "The AuxK loss reduces dead latents", GAO_2024, "AuxK (k_aux = d/2, weight 1/32) keeps latents alive",
        f"dead fraction {dead['TopK + AuxK']:.2f} vs {dead['TopK']:.2f} without (kaiming encoder: "
        f"{dead['TopK, kaiming encoder + AuxK']:.2f} vs {dead['TopK, kaiming encoder']:.2f})",
        dead["TopK + AuxK"] < dead["TopK"] and dead["TopK, kaiming encoder + AuxK"] < dead["TopK, kaiming encoder"],
    ))
    claims.append(Claim(
        "resampling", "Resampling dead latents towards badly reconstructed inputs reduces dead latents", BRICKEN_2023,
        "resampling revives dead neurons (≈4 % dead after it at 4,096 latents)",
        f"dead fraction {dead['TopK + resampling']:.2f} vs {dead['TopK']:.2f} without",
        dead["TopK + resampling"] < dead["TopK"],
    ))
    mu, ad = o["TopK + Muon (sparsify lr)"].figures, a["TopK"].figures
    key = "mmcs" if "mmcs" in ad else "fve"
    claims.append(Claim(
        "muon", "Muon (matrices) + Adam (biases) trains SAEs as well as Adam at sparsify's default learning rate",
        SPARSIFY_MUON, "Muon lr 2e-3 for every number of latents",
        f"{key} {mu[key]:.3f} with Muon vs {ad[key]:.3f} with Adam (same steps, matched k)", mu[key] >= ad[key] - 0.01,
    ))
    claims.append(Claim(
        "preact_penalty", "A small penalty on the spread of encoder pre-activations reduces dead latents", DEEP_SAE_DISCUSSION,
        "fewer dead latents at little MSE cost",
        f"dead fraction {dead['TopK + pre-act penalty']:.2f} vs {dead['TopK']:.2f}; "
        f"FVE {r['TopK + pre-act penalty'].figures['fve']:.3f} vs {r['TopK'].figures['fve']:.3f}",
        dead["TopK + pre-act penalty"] < dead["TopK"],
    ))
    if stacked is not None:
        claims.append(stacked)
    return claims

"""Notebook 07: computation in superposition, feature absorption and its remedies, the α collapse law.

Each criterion is a function of the run's figures that returns a `Claim`; the thresholds are stated in the docstrings
and in the notebook, and each can fail (tests/test_claims_next_toy.py holds a passing and a failing input for each).
The criteria are `motif_claim`, `absorption_claim` and `collapse_claim` (each returns the verdict and the figures it read);
the `*_row` functions make them report rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from sae_kit._util import check_range
from sae_kit.analysis.collapse import PowerLawFit
from sae_kit.claims.base import ANDERS_2024, ELHAGE_2022, REPORT_DISCUSSION, Claim

__all__ = ["CHANIN_2024", "NABESHIMA_2024", "motif_claim", "absorption_claim", "collapse_claim",
           "motif_row", "computing_sae_row", "absorption_rows", "collapse_row",
           "next_toy_claims"]

CHANIN_2024 = ("Chanin et al. (2024), A is for Absorption, https://arxiv.org/abs/2409.14507, and Chanin (2024), "
               "Toy Models of Feature Absorption in SAEs (LessWrong)")
NABESHIMA_2024 = ("Nabeshima (2024), Matryoshka Sparse Autoencoders, https://sparselatents.com/matryoshka.html; "
                  "Bussmann et al. (2025), https://arxiv.org/abs/2503.17547")


def motif_claim(probabilities: Sequence[float], asymmetric_fraction: Sequence[float], min_sparse: float = 0.5,
                max_dense: float = 0.25) -> dict:
    """Elhage et al.'s computation-in-superposition claim: dense models keep neurons monosemantic, sparse ones pack
    several features per neuron with the asymmetric motif.

    Replicated when the asymmetric fraction at the smallest p (sparsest) is ≥ `min_sparse`, at the largest p (densest)
    ≤ `max_dense`, and the sparsest exceeds the densest. Returns {"replicated", "sparse", "dense", "summary"}.
    """
    p = torch.as_tensor(probabilities, dtype=torch.float64)
    f = torch.as_tensor(asymmetric_fraction, dtype=torch.float64)
    if p.numel() < 2 or p.shape != f.shape:
        raise ValueError(f"probabilities and asymmetric_fraction must be equal-length lists of ≥ 2 values, got {p.numel()} and {f.numel()}")
    sparse, dense = float(f[p.argmin()]), float(f[p.argmax()])
    ok = sparse >= min_sparse and dense <= max_dense and sparse > dense
    return {"replicated": bool(ok), "sparse": sparse, "dense": dense,
            "summary": f"asymmetric-superposition neurons: {dense:.0%} at p={float(p.max()):g}, {sparse:.0%} at "
                       f"p={float(p.min()):g} (criterion: ≤ {max_dense:.0%} dense, ≥ {min_sparse:.0%} sparse)"}


def absorption_claim(flat: float, remedy: float, high: float = 0.5, low: float = 0.15, name: str = "Matryoshka") -> dict:
    """Chanin et al. 2024 / Nabeshima 2024: a flat L1 SAE absorbs (absorption ≥ `high`), the remedy (Matryoshka, or
    tied encoder and decoder) largely does not (≤ `low`). Returns {"replicated", "flat", "remedy", "summary"}."""
    for n, v in (("flat", flat), ("remedy", remedy)):
        check_range(n, v, 0.0, 1.0)
    ok = flat >= high and remedy <= low
    return {"replicated": bool(ok), "flat": float(flat), "remedy": float(remedy),
            "summary": f"absorption {flat:.2f} in the flat L1 SAE, {remedy:.2f} with {name} "
                       f"(criterion: flat ≥ {high}, {name} ≤ {low})"}


def collapse_claim(fits: dict[str, PowerLawFit], tol: float = 0.3) -> dict:
    """The collapse law: slope of log α* on log d_sae ≈ 1 under the mean-L1 convention (|slope − 1| ≤ tol) and ≈ 0
    under the sum convention (|slope| ≤ tol). Returns {"replicated", "mean", "sum", "summary"}."""
    check_range("tol", tol, 0.0, 1.0, low_open=True, high_open=True)
    if set(fits) != {"mean", "sum"}:
        raise ValueError(f"fits must hold both conventions 'mean' and 'sum', got {sorted(fits)}")
    m, s = fits["mean"].slope, fits["sum"].slope
    ok = math.isfinite(m) and math.isfinite(s) and abs(m - 1) <= tol and abs(s) <= tol

    def ci(f: PowerLawFit) -> str:
        return f" (95 % CI {f.ci_low:.2f}–{f.ci_high:.2f})" if math.isfinite(f.ci_low) else ""

    return {"replicated": bool(ok), "mean": m, "sum": s,
            "summary": f"slope of log α* on log d_sae: {m:.2f}{ci(fits['mean'])} with the mean L1, {s:.2f}"
                       f"{ci(fits['sum'])} with the sum (expected 1 and 0, tolerance {tol})"}


def motif_row(probabilities: Sequence[float], asymmetric_fraction: Sequence[float]) -> Claim:
    """Elhage et al. 2022: the absolute-value model's neurons serve features with opposite signs (asymmetric
    superposition) when features are sparse, not when they are dense. Criterion: `motif_claim` (≥ 50 % of used
    neurons asymmetric at the smallest p, ≤ 25 % at the largest)."""
    m = motif_claim(probabilities, asymmetric_fraction)
    return Claim("abs_motif", "Sparse features make the absolute-value model's neurons compute in superposition, with "
                 "the asymmetric motif", ELHAGE_2022 + "#computation",
                 "dense: monosemantic neurons; sparse: neurons serve several features, x_a > 0 and x_b < 0 at once",
                 m["summary"], m["replicated"])


def computing_sae_row(computing: dict, plain: dict, margin: float = 0.05, floor: float = 0.5) -> Claim:
    """SAEs on ground-truth toys (Anders et al. 2024; the notebook's question): at the same sparsity, an SAE recovers
    the known directions of a model that *computes* (the absolute-value model's hidden ReLU parts) less well than those
    of a plain storing model. computing, plain: {"mmcs": …, "mcc": …}. Replicated when the computing model's MMCS is at
    least `margin` below the plain model's while still above `floor` (the parts are found, only worse)."""
    for name, s in (("computing", computing), ("plain", plain)):
        if not {"mmcs", "mcc"} <= set(s):
            raise ValueError(f"{name} must hold 'mmcs' and 'mcc', got {sorted(s)}")
    gap = plain["mmcs"] - computing["mmcs"]
    return Claim("computing_harder", "An SAE recovers a computing model's hidden features less well than a plain "
                 "model's at the same sparsity", ANDERS_2024,
                 "SAEs on small toy models learn composed rather than true features (no figure for the abs model)",
                 f"MMCS {computing['mmcs']:.2f} (computing) vs {plain['mmcs']:.2f} (plain), MCC {computing['mcc']:.2f} vs "
                 f"{plain['mcc']:.2f} (criterion: gap ≥ {margin}, computing ≥ {floor})",
                 gap >= margin and computing["mmcs"] >= floor)


def absorption_rows(flat: float, matryoshka: float, tied: float) -> list[Claim]:
    """Absorption (1 − the parent latent's recall on child-active samples) of the flat L1 SAE against the Matryoshka
    and the tied SAE at matched L0. Criterion: `absorption_claim` (flat ≥ 0.5, remedy ≤ 0.15)."""
    m = absorption_claim(flat, matryoshka)
    t = absorption_claim(flat, tied, name="tied weights")
    return [
        Claim("absorption_matryoshka", "Flat SAEs absorb parent features into child latents; Matryoshka SAEs largely "
              "do not", NABESHIMA_2024 + "; " + CHANIN_2024,
              "Matryoshka SAEs 'completely avoid' absorption on the 20-feature tree", m["summary"], m["replicated"]),
        Claim("absorption_tied", "Tying encoder and decoder removes absorption in the toy", CHANIN_2024,
              "tying the encoder and decoder solves absorption in the toy", t["summary"], t["replicated"]),
    ]


def collapse_row(fits: dict[str, PowerLawFit], tol: float = 0.3) -> Claim:
    """The collapse law: slope of log α* on log d_sae ≈ 1 with the report's mean L1 (penalty α/d_sae per latent) and
    ≈ 0 with the sum. Criterion: `collapse_claim` (|slope − 1| ≤ tol and |slope| ≤ tol)."""
    c = collapse_claim(fits, tol)
    return Claim("collapse_law", "Dividing the L1 penalty by the dictionary size makes the collapse α grow ∝ d_sae",
                 REPORT_DISCUSSION + " (Sharkey's self-review)",
                 "'pretty silly of me to divide the L1 loss by the number of dictionary elements… you want more penalty "
                 "as you scale' (no fitted exponent published; slope 1 is our inference)", c["summary"], c["replicated"])


def next_toy_claims(probabilities: Sequence[float], asymmetric_fraction: Sequence[float], computing: dict, plain: dict,
                    flat: float, matryoshka: float, tied: float, fits: dict[str, PowerLawFit]) -> list[Claim]:
    """Every claim of notebook 07, in the notebook's order."""
    return [motif_row(probabilities, asymmetric_fraction), computing_sae_row(computing, plain),
            *absorption_rows(flat, matryoshka, tied), collapse_row(fits)]

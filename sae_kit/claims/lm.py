"""Notebook 05's claims: the follow-up's language-model results (Sharkey et al. 2023) and the report's dead latents,
each with the thresholds its criterion uses (`LM_CRITERIA` says them in words).

The inputs are typed results: a `FeatureCountEstimate`, a count of well-scored latents (`ScoringResult.n_well_scored`),
the 'period after a title' feature as `LabelResult.find` returns it, and held-out dead fractions [size, alpha].
"""

from __future__ import annotations

import torch

from sae_kit.analysis.estimate import FeatureCountEstimate
from sae_kit.claims.base import SHARKEY_2022, SHARKEY_2023, Claim

__all__ = ["lm_claims", "features_criterion", "dead_criterion", "LM_CRITERIA", "FOLLOW_UP", "PUBLISHED_FEATURES",
           "MIN_GOOD_LABELS", "MIN_SCORE_F1", "TITLE_MIN_PRECISION", "TITLE_MIN_RECALL", "MIN_DEAD_BEYOND_CHANCE"]

FOLLOW_UP = SHARKEY_2023
PUBLISHED_FEATURES = (512, 1024)
"""The follow-up's tentative number of features in the layer-3 MLP."""
MIN_GOOD_LABELS = 300
"""Well-labelled features needed: the same order as the published ≈ 600."""
MIN_SCORE_F1 = 0.8
"""Held-out detection F1 (`sk.score_latents`) from which a latent counts as easy to label."""
TITLE_MIN_PRECISION, TITLE_MIN_RECALL = 0.8, 0.5
MIN_DEAD_BEYOND_CHANCE = 0.05
"""Fraction of the largest dictionary's latents dead beyond chance for "has dead latents" (the estimator's 5 %)."""

LM_CRITERIA = {
    "n_features": f"the estimate is exact (both ends of `estimate.interval` found, e.g. (256, 512]) and overlaps "
                  f"{PUBLISHED_FEATURES[0]}–{PUBLISHED_FEATURES[1]}; a bound (a curve still rising at the largest pair, "
                  "or no dead latents at any size) fails",
    "labelled_features": f"at least {MIN_GOOD_LABELS} latents score a held-out detection F1 ≥ {MIN_SCORE_F1} against "
                         "their best annotation (`sk.score_latents`, single-token detectors included; the count "
                         "without them is shown beside)",
    "title_period_feature": f"a feature's precision for 'period after a title' is ≥ {TITLE_MIN_PRECISION} with recall ≥ "
                            f"{TITLE_MIN_RECALL}",
    "dead_latents": f"at the largest α, the largest dictionary's held-out dead fraction beyond chance (dead − "
                    f"Σ_j (1 − p_j)^N, over d_sae) is ≥ {MIN_DEAD_BEYOND_CHANCE} and above the smallest dictionary's",
}
"""Each claim's criterion in a sentence, made from the thresholds `lm_claims` uses (the notebook prints these)."""


def _open_ended(estimate: FeatureCountEstimate) -> bool:
    """True when the estimate is a bound: an open end of its interval, or (where the estimator reports it) bound != "exact"."""
    return getattr(estimate, "bound", "exact") != "exact" or None in tuple(estimate.interval)


def features_criterion(estimate: FeatureCountEstimate) -> bool:
    """An exact interval [lo, hi] overlapping 512–1024 (an end the estimator marks open, "(" or ")", excludes its size)."""
    if _open_ended(estimate):
        return False
    lo, hi = estimate.interval
    ends = getattr(estimate, "ends", "[]")
    pub_lo, pub_hi = PUBLISHED_FEATURES
    return (lo < pub_hi if ends[0] == "(" else lo <= pub_hi) and (hi > pub_lo if ends[1] == ")" else hi >= pub_lo)


def dead_criterion(dead_fraction: torch.Tensor, chance_fraction: torch.Tensor | None = None) -> tuple[bool, float, float]:
    """(passes, beyond-chance dead fraction of the largest size, of the smallest), both at the largest α.

    dead_fraction, chance_fraction: [size, alpha], sizes and α ascending; beyond chance = dead − chance (chance 0 when
    None). Passes when the largest size's is ≥ MIN_DEAD_BEYOND_CHANCE and above the smallest's: size compared at one α."""
    dead = torch.as_tensor(dead_fraction, dtype=torch.float64)
    chance = torch.zeros_like(dead) if chance_fraction is None else torch.as_tensor(chance_fraction, dtype=torch.float64)
    if dead.dim() != 2 or dead.shape[0] < 2 or chance.shape != dead.shape:
        raise ValueError(f"dead_fraction must be [size ≥ 2, alpha] and chance_fraction the same shape, got "
                         f"{tuple(dead.shape)} and {tuple(chance.shape)}")
    beyond = dead - chance
    big, small = float(beyond[-1, -1]), float(beyond[0, -1])
    return big >= MIN_DEAD_BEYOND_CHANCE and big > small, big, small


def lm_claims(estimate: FeatureCountEstimate, n_good: int, title_feature: dict, dead_fraction: torch.Tensor,
              chance_fraction: torch.Tensor | None = None, n_good_without_tokens: int | None = None) -> list[Claim]:
    """Notebook 05's claims, each judged by the criterion in `LM_CRITERIA`: the number of features
    (`sk.estimate_n_features`), the latents easy to label (n_good: `ScoringResult.n_well_scored(MIN_SCORE_F1)`, and
    the same count without single-token detectors, shown beside), the 'period after a title' feature (title_feature:
    `LabelResult.find`'s dict, with "d_sae" when the dictionary it comes from was chosen among several), and dead
    latents in large dictionaries (`dead_criterion` on [size, alpha] held-out dead fractions and their chance level)."""
    lo, hi = estimate.interval
    shown = f"≤ {hi}" if lo is None else f"≥ {lo}" if hi is None else f"{lo}–{hi}"
    shown += " (a bound, not an estimate)" if _open_ended(estimate) else ""
    of_size = f" of the {title_feature['d_sae']}-latent dictionary" if "d_sae" in title_feature else ""
    dead_ok, big, small = dead_criterion(dead_fraction, chance_fraction)
    title_ok = title_feature["precision"] >= TITLE_MIN_PRECISION and title_feature["recall"] >= TITLE_MIN_RECALL
    return [
        Claim("n_features", "The layer-3 MLP (width 64) of a tiny LM holds 512–1024 features (dictionary-to-dictionary MMCS)",
              FOLLOW_UP, "512–1024 (tentative)", f"{shown} ({estimate.rule})", features_criterion(estimate)),
        Claim("labelled_features", "Hundreds of the features are easy to label", FOLLOW_UP, "≈ 600 easily labelled",
              f"{n_good} latents with held-out detection F1 ≥ {MIN_SCORE_F1}"
              + ("" if n_good_without_tokens is None else f" ({n_good_without_tokens} without single-token detectors)"),
              n_good >= MIN_GOOD_LABELS),
        Claim("title_period_feature", "One feature fires on the period after 'Mr', 'Mrs' or 'Dr'", FOLLOW_UP,
              "a 'period after a title' feature exists",
              f"feature {title_feature['feature']}{of_size}: precision {title_feature['precision']:.2f}, "
              f"recall {title_feature['recall']:.2f}", title_ok),
        Claim("dead_latents", "Large dictionaries with a large α have dead latents", SHARKEY_2022,
              "dead latents at d_sae ≫ features and large α",
              f"held-out dead fraction beyond chance at the largest α: {big:.2f} at the largest size vs {small:.2f} at the "
              "smallest", dead_ok),
    ]

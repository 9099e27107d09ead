"""Notebook 08's criteria: core metrics of attention-output SAEs, head attribution on a planted control, LLM-free
scoring with neighbour negatives, deep SAEs against depth, and the feature-count estimate against training length.

Each criterion is a small function that returns a bool and can fail (tests/test_claims_evals.py: a hand-made input
that passes and one that fails); `eval_claims` turns a run's figures into `Claim` rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sae_kit._util import check_range
from sae_kit.claims.base import DEEP_SAE_DISCUSSION, SHARKEY_2023, Claim

__all__ = ["KISSANE_2024", "PAULO_2024", "EVAL_CRITERIA", "loss_recovered_criterion", "neighbours_harder_criterion",
           "deep_frontier_criterion", "deep_dead_criterion", "log2_distance", "moves_toward_criterion", "eval_claims"]

KISSANE_2024 = ("Kissane, Krzyzanowski, Bloom, Conmy & Nanda (2024), Interpreting attention layer outputs with sparse "
                "autoencoders, https://arxiv.org/abs/2406.17759, and their LW sequence "
                "https://www.lesswrong.com/s/FzGeLpkzDgzGhigLm")
PAULO_2024 = ("Paulo, Mallen, Juang & Belrose (2024), Automatically interpreting millions of features in large language "
              "models, https://arxiv.org/abs/2410.13928 (code: https://github.com/EleutherAI/delphi)")
PUBLISHED_FEATURES = (512, 1024)
"""The follow-up's tentative number of features in the tiny LM's layer-3 MLP (Sharkey et al. 2023)."""

EVAL_CRITERIA = {
    "attn_loss_recovered": "the attention-output SAE spliced into the LM recovers ≥ 0.8 of the next-token loss "
                           "against zero ablation, (H_zero − H_SAE) / (H_zero − H_clean) ≥ 0.8",
    "dfa_planted_heads": "on the planted-heads control, the head with the largest |DFA| of the latent matched to each "
                         "planted feature is that feature's head for ≥ 90 % of the features",
    "neighbour_negatives": "mean balanced accuracy of the scored latents is lower with co-occurrence-neighbour "
                           "negatives than with random ones (same activating examples)",
    "deep_frontier": "at every k tried, the deepest SAE's held-out FVE is above the shallow (depth 0) SAE's",
    "deep_dead": "the deepest SAE's dead fraction, averaged over the k tried, is above the shallow SAE's",
    "undertraining": f"the LM's feature-count estimate at the longest training is exact (not a bound) and nearer "
                     f"{PUBLISHED_FEATURES[0]}–{PUBLISHED_FEATURES[1]} (log₂ distance, 0 inside) than at the shortest, "
                     "or inside it",
}
"""Each claim's criterion in a sentence (the notebook prints these)."""


def loss_recovered_criterion(score: float, threshold: float = 0.8) -> bool:
    """CE loss recovered against zero ablation ≥ threshold (NaN, no gap, fails)."""
    check_range("threshold", threshold, 0.0, 1.0)
    return bool(score >= threshold)


def neighbours_harder_criterion(acc_random: float, acc_neighbours: float) -> bool:
    """Neighbour negatives make detection harder: balanced accuracy strictly lower than with random negatives."""
    return bool(acc_neighbours < acc_random)


def deep_frontier_criterion(fve_by_depth: Sequence[Sequence[float]]) -> bool:
    """fve_by_depth [depth, k] (depth 0 first, the same k in every row): the last row is above the first at every k."""
    if len(fve_by_depth) < 2 or len({len(r) for r in fve_by_depth}) != 1 or not fve_by_depth[0]:
        raise ValueError(f"fve_by_depth must be [depth ≥ 2, k ≥ 1] with one FVE per k in every row, got {fve_by_depth}")
    return all(deep > shallow for shallow, deep in zip(fve_by_depth[0], fve_by_depth[-1]))


def deep_dead_criterion(dead_by_depth: Sequence[Sequence[float]]) -> bool:
    """dead_by_depth [depth, k]: the deepest row's mean dead fraction is above the shallow row's."""
    if len(dead_by_depth) < 2 or not dead_by_depth[0] or not dead_by_depth[-1]:
        raise ValueError(f"dead_by_depth must be [depth ≥ 2, k ≥ 1], got {dead_by_depth}")
    mean = lambda r: sum(r) / len(r)  # noqa: E731
    return mean(dead_by_depth[-1]) > mean(dead_by_depth[0])


def log2_distance(n: float, interval: tuple[float, float] = PUBLISHED_FEATURES) -> float:
    """|log₂ n − log₂ of the nearer end of `interval`|, 0 inside it."""
    if not n > 0:
        raise ValueError(f"n must be a positive number of features, got {n}")
    lo, hi = interval
    return 0.0 if lo <= n <= hi else min(abs(math.log2(n / lo)), abs(math.log2(n / hi)))


def moves_toward_criterion(first: int | None, last: int | None, last_exact: bool) -> bool:
    """The estimate at the longest training (`last`, exact) is inside 512–1024 or strictly nearer it than the estimate
    at the shortest (`first`; None, no estimate, counts as infinitely far)."""
    if last is None or not last_exact:
        return False
    d_last = log2_distance(last)
    return d_last == 0 or first is None or d_last < log2_distance(first)


def eval_claims(f: dict) -> list[Claim]:
    """Notebook 08's claims from its figures: f["core"]["attn"] (`CoreMetrics.to_dict`), f["planted"]["recovery"],
    f["scoring"]["random"|"neighbours"] (`ScoringResult.summary`), f["deep"]["fve"|"dead_fraction"] [depth, k] and
    f["undertraining"]["lm"] ("n_features" per length, "exact" per length)."""
    attn = f["core"]["attn"]["ce_recovered_zero"]
    rec = f["planted"]["recovery"]
    acc_r, acc_n = f["scoring"]["random"]["balanced_accuracy"], f["scoring"]["neighbours"]["balanced_accuracy"]
    fve, dead = f["deep"]["fve"], f["deep"]["dead_fraction"]
    lm = f["undertraining"]["lm"]
    n, exact = lm["n_features"], lm["exact"]
    shown = lambda i: "none" if n[i] is None else f"{n[i]}{'' if exact[i] else ' (a bound)'}"  # noqa: E731
    return [
        Claim("attn_loss_recovered", "Attention-output SAEs recover most of the loss when spliced in", KISSANE_2024,
              "often > 80 % of the loss recovered vs zero ablation (GPT-2 Small, all 12 layers)",
              f"{attn:.3f} recovered vs zero ablation", loss_recovered_criterion(attn)),
        Claim("dfa_planted_heads", "Direct feature attribution names the head a feature comes from", KISSANE_2024,
              "DFA splits a latent's pre-activation exactly over heads (method)",
              f"planted control: {rec:.2f} of features attributed to their head", rec >= 0.9),
        Claim("neighbour_negatives", "Non-activating examples from co-occurring latents make detection harder",
              PAULO_2024, "neighbour negatives lower detection scores",
              f"balanced accuracy {acc_n:.3f} (neighbours) vs {acc_r:.3f} (random)",
              neighbours_harder_criterion(acc_r, acc_n)),
        Claim("deep_frontier", "Depth improves the reconstruction–sparsity frontier", DEEP_SAE_DISCUSSION,
              "deeper SAEs reach a better FVE at the same L0 (GPT-2)",
              "FVE at k = " + ", ".join(f"{a:.2f}→{b:.2f}" for a, b in zip(fve[0], fve[-1])) + " (depth 0 → deepest)",
              deep_frontier_criterion(fve)),
        Claim("deep_dead", "Dead latents are a problem for deep SAEs", DEEP_SAE_DISCUSSION, "dead latents grow with depth",
              f"mean dead fraction {sum(dead[0]) / len(dead[0]):.2f} (depth 0) vs {sum(dead[-1]) / len(dead[-1]):.2f} (deepest)",
              deep_dead_criterion(dead)),
        Claim("undertraining", "Longer training brings the LM's feature count to 512–1024", SHARKEY_2023,
              "the earlier mismatch was 'severely undertrained' SAEs; 512–1024 features",
              f"estimate {shown(0)} at ×{lm['multipliers'][0]} → {shown(-1)} at ×{lm['multipliers'][-1]} training",
              moves_toward_criterion(n[0], n[-1], exact[-1])),
    ]

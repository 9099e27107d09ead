"""Checkers for the recovery metrics: MMCS (Sharkey, Braun & Millidge 2022,
https://www.lesswrong.com/posts/z6QQJbtpkEAX3Aojj/interim-research-report-taking-features-out-of-superposition) and MCC
with a one-to-one Hungarian matching (as in SAELens' synthetic evaluations)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from scipy.optimize import linear_sum_assignment

from sae_kit.exercises import solutions as sol
from sae_kit.exercises._check import Case, Check, Mistake, generator, run_checks

__all__ = ["check_mmcs", "check_mcc"]


def _rows(g: torch.Generator, n: int, d: int) -> torch.Tensor:
    """n random rows in R^d with norms in [0.5, 2.5) (so a missing normalisation shows)."""
    v = torch.randn(n, d, generator=g)
    return v / v.norm(dim=-1, keepdim=True) * (0.5 + 2 * torch.rand(n, 1, generator=g))


def _recovery_cases(seed: int) -> list[Case]:
    """Ground truth [ref, d] and a dictionary [d_sae, d] that finds some features, some only with the wrong sign,
    copies one feature several times, and holds random rows."""
    def make(n, ref, d, d_sae, found, flipped, copies):
        g = generator(seed + 800 + n)
        truth = _rows(g, ref, d)
        parts = [truth[:found] * 1.7 + 0.1 * torch.randn(found, d, generator=g),  # found, up to noise
                 -truth[found:found + flipped],  # found only with the wrong sign
                 truth[:1].expand(copies, d) * 0.9]  # one feature copied many times
        learned = torch.cat(parts + [_rows(g, max(0, d_sae - found - flipped - copies), d)])[:d_sae]
        return (truth, learned[torch.randperm(len(learned), generator=g)]), {}
    settings = [  # (name, ref, d, d_sae, found, flipped, copies)
        ("ref=8, d=6, d_sae=16: 4 found, 2 only with flipped sign", (0, 8, 6, 16, 4, 2, 1)),
        ("a dictionary larger than the truth: ref=5, d=10, d_sae=20", (1, 5, 10, 20, 3, 1, 1)),
        ("a dictionary smaller than the truth: ref=12, d=8, d_sae=6", (2, 12, 8, 6, 3, 1, 1)),
        ("one feature copied 5 times: ref=6, d=5, d_sae=8", (3, 6, 5, 8, 1, 1, 5)),
    ]
    return [Case(name, lambda a=a: make(*a)) for name, a in settings]


def _cos(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a / a.norm(dim=-1, keepdim=True)) @ (b / b.norm(dim=-1, keepdim=True)).T


def check_mmcs(fn: Callable, strict: bool = False, seed: int = 0) -> bool:
    """Check `fn(truth, learned) → float`, MMCS(truth → learned) = (1/n_ref) Σ_i max_j cos(truth_i, learned_j) with
    signed cosines (the kit's `sk.mmcs`). truth [ref, d], learned [d_sae, d] → a number (float or 0-dim tensor)."""
    check = Check(
        "check_mmcs", sol.mmcs, ["mmcs"], _recovery_cases(seed),
        mistakes=[
            Mistake("that is the reverse direction, MMCS(learned → truth): for each ground-truth feature take its best "
                    "match among the learned rows (max over learned, axis 1 of [ref, d_sae]), then average over the "
                    "ground-truth features", lambda t, l_: _cos(t, l_).amax(dim=0).mean()),
            Mistake("cosine similarity: divide every row by its norm before the dot products",
                    lambda t, l_: (t @ l_.T).amax(dim=1).mean()),
            Mistake("normalise both sets of rows, truth and learned",
                    lambda t, l_: ((t / t.norm(dim=-1, keepdim=True)) @ l_.T).amax(dim=1).mean()),
            Mistake("the kit's MMCS uses signed cosines: a learned row pointing opposite a feature does not find it "
                    "(no |·|)", lambda t, l_: _cos(t, l_).abs().amax(dim=1).mean()),
            Mistake("average the best match of each feature (mean of max), not the mean of all cosines",
                    lambda t, l_: _cos(t, l_).mean()),
        ],
        general_hint="cos = unit(truth) @ unit(learned).T, shape [ref, d_sae]; MMCS = cos.max(dim=1).values.mean()",
    )
    return run_checks(check, fn, strict)


def _matched(sims: torch.Tensor, maximize: bool = True) -> torch.Tensor:
    s = sims.double().numpy()
    rows, cols = linear_sum_assignment(s, maximize=maximize)
    return torch.tensor(s[rows, cols])


def check_mcc(fn: Callable, strict: bool = False, seed: int = 0) -> bool:
    """Check `fn(truth, learned) → float`, MCC = mean |cos| over the one-to-one matching that maximises the sum
    (scipy.optimize.linear_sum_assignment), divided by the number of pairs min(n_ref, d_sae) (SAELens' convention,
    the kit's `sk.mcc` default). truth [ref, d], learned [d_sae, d] → a number (float or 0-dim tensor)."""
    check = Check(
        "check_mcc", sol.mcc, ["mcc"], _recovery_cases(seed),
        mistakes=[
            Mistake("MCC matches one-to-one: each learned row may serve one feature only. A max per feature lets one "
                    "row count many times; use scipy.optimize.linear_sum_assignment(abs_cos, maximize=True)",
                    lambda t, l_: _cos(t, l_).abs().amax(dim=1).mean()),
            Mistake("linear_sum_assignment minimises by default: pass maximize=True",
                    lambda t, l_: _matched(_cos(t, l_).abs(), maximize=False).mean()),
            Mistake("MCC uses |cos|: a feature learned with the opposite sign counts as found",
                    lambda t, l_: _matched(_cos(t, l_)).mean()),
            Mistake("divide by the number of matched pairs, min(n_ref, d_sae) (the kit's default, as SAELens); "
                    "you divided by n_ref (sk.mcc(..., convention='reference'))",
                    lambda t, l_: _matched(_cos(t, l_).abs()).sum() / len(t)),
            Mistake("cosine similarity: divide every row by its norm before the dot products",
                    lambda t, l_: _matched((t @ l_.T).abs()).mean()),
        ],
        general_hint="sims = |unit(truth) @ unit(learned).T| [ref, d_sae]; rows, cols = "
                     "linear_sum_assignment(sims, maximize=True); MCC = sims[rows, cols].mean()",
    )
    return run_checks(check, fn, strict)

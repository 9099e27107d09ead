"""Recovery and sparsity metrics (Sharkey, Braun & Millidge 2022, §"Metrics").

MCS / MMCS are directional. With `reference` the ground truth and `learned` the dictionary:
- MCS_i = max_j cos(reference_i, learned_j): how well ground-truth feature i was found;
- MMCS(truth → learned) = mean_i MCS_i — the report's headline number ("mean max cosine similarity").
The reverse, MMCS(learned → truth) = mean over dictionary elements of their best match in the ground truth, is a
different number (how many learned elements are real features). `mmcs_truth_to_learned` and
`mmcs_learned_to_truth` name the two; `mmcs(reference, learned)` is the general form.

Dimension names: `ref` rows of the reference set, `learn` rows of the learned set, `inst` instances, `batch`, `d`.
Every function accepts an optional leading `inst` axis on `learned` (and on `reference`).
"""

from __future__ import annotations

from typing import Literal

import torch
from scipy.optimize import linear_sum_assignment

__all__ = [
    "cosine_matrix", "mcs", "mmcs", "mmcs_truth_to_learned", "mmcs_learned_to_truth", "dead_latents",
    "l0", "fraction_variance_explained", "dictionary_mmcs", "mcc", "principal_angles",
]


def _unit(v: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit norm; a zero row stays zero (its cosine with anything is 0)."""
    return v / v.norm(dim=-1, keepdim=True).clamp_min(1e-8)


def cosine_matrix(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """cos(a_i, b_j): a [..., n_a, d], b [..., n_b, d] → [..., n_a, n_b]."""
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"reference and learned must have the same last dimension d, got {a.shape[-1]} and {b.shape[-1]}")
    return _unit(a.float()) @ _unit(b.float()).transpose(-1, -2)


def mcs(reference: torch.Tensor, learned: torch.Tensor) -> torch.Tensor:
    """Max cosine similarity of each reference row with any learned row: [ref, d], [(inst,) learn, d] → [(inst,) ref]."""
    return cosine_matrix(reference, learned).amax(dim=-1)


def mmcs(reference: torch.Tensor, learned: torch.Tensor) -> float | torch.Tensor:
    """Mean over reference rows of their max cosine similarity with any learned row.

    A float for 2-D `learned`; a tensor [inst] when `learned` (or `reference`) has an instance axis.
    """
    m = mcs(reference, learned).mean(dim=-1)
    return float(m) if m.dim() == 0 else m


def mmcs_truth_to_learned(truth: torch.Tensor, learned: torch.Tensor) -> float | torch.Tensor:
    """The report's MMCS: mean over ground-truth features of the best cosine with any dictionary element."""
    return mmcs(truth, learned)


def mmcs_learned_to_truth(truth: torch.Tensor, learned: torch.Tensor) -> float | torch.Tensor:
    """The reverse MMCS: mean over dictionary elements of the best cosine with any ground-truth feature."""
    if learned.dim() == 3:
        return cosine_matrix(truth, learned).amax(dim=-2).mean(dim=-1)
    return mmcs(learned, truth)


def dead_latents(codes: torch.Tensor) -> torch.Tensor:
    """Latents that never fire on a held-out sample: codes [(inst,) batch, d_sae] → bool [(inst,) d_sae]."""
    return ~(codes > 0).any(dim=-2)


def l0(codes: torch.Tensor) -> torch.Tensor:
    """Mean number of non-zero latents per sample: codes [(inst,) batch, d_sae] → [(inst,)]."""
    return (codes != 0).sum(dim=-1).float().mean(dim=-1)


def fraction_variance_explained(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """1 − Σ‖x − x̂‖² / Σ‖x − x̄‖² over the batch: x [batch, d], x_hat [(inst,) batch, d] → [(inst,)]."""
    resid = (x_hat - x).pow(2).sum(dim=(-2, -1))
    total = (x - x.mean(dim=-2, keepdim=True)).pow(2).sum(dim=(-2, -1))
    return 1.0 - resid / total


def dictionary_mmcs(smaller: torch.Tensor, larger: torch.Tensor) -> float | torch.Tensor:
    """Dictionary-to-dictionary MMCS: each element of the smaller dictionary matched in the larger one.

    The report's no-ground-truth heuristic: train dictionaries of growing size with the same α; this number stops
    rising once the dictionary holds all the features. smaller [(inst,) k, d], larger [(inst,) K, d] → float or [inst].
    """
    return mmcs(smaller, larger)


# --- one-to-one matching (MCC) and subspaces --------------------------------------------------------------------

MCCConvention = Literal["saelens", "reference"]


def mcc(reference: torch.Tensor, learned: torch.Tensor, convention: MCCConvention = "saelens") -> float | torch.Tensor:
    """Mean correlation coefficient: mean |cos| over a one-to-one (Hungarian) matching of reference and learned rows.

    MCC = (1/N) Σ_{(i, j) ∈ M} |cos(reference_i, learned_j)|, M the matching of min(n_ref, n_learn) pairs that
    maximises the sum (scipy's `linear_sum_assignment`). Unlike MMCS, a learned row can be used only once, so a
    dictionary that copies one feature many times is not rewarded, and signs are ignored (|cos|).
    - convention="saelens": N = min(n_ref, n_learn), SAELens' `mean_correlation_coefficient` (synthetic/evals.py,
      6.54): with a dictionary smaller than the ground truth, unmatched features are not counted;
    - convention="reference": N = n_ref, every ground-truth feature counts and an unmatched one scores 0 (≤ MMCS
      computed with |cos|).
    Zero rows score 0 (norms clamped at 1e-8, as SAELens does). reference [ref, d], learned [(inst,) learn, d] → float,
    or a tensor [inst] when `learned` has an instance axis.
    """
    if convention not in ("saelens", "reference"):
        raise ValueError(f"convention must be 'saelens' or 'reference', got {convention!r}")
    if reference.dim() != 2 or learned.dim() not in (2, 3):
        raise ValueError(f"reference must be [ref, d] and learned [learn, d] or [inst, learn, d], got "
                         f"{tuple(reference.shape)} and {tuple(learned.shape)}")
    sims = cosine_matrix(reference, learned).abs().detach().cpu().double()  # [(inst,) ref, learn]
    flat = sims.reshape(-1, *sims.shape[-2:])
    out = []
    for s in flat.numpy():
        rows, cols = linear_sum_assignment(s, maximize=True)
        n = min(s.shape) if convention == "saelens" else s.shape[0]
        out.append(float(s[rows, cols].sum() / n))
    return out[0] if learned.dim() == 2 else torch.tensor(out)


def principal_angles(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Principal angles (radians, ascending) between span(rows of a) and span(rows of b).

    With Q_a, Q_b orthonormal bases of the two row spaces (from an SVD, which drops dependent rows), the singular
    values of Q_aᵀ Q_b are cos θ_1 ≥ … ≥ cos θ_k, k = min(rank a, rank b) (Björck & Golub 1973). Basis-invariant:
    any rotation of the rows inside their span gives the same angles, so a plane recovered up to rotation scores 0.
    a [n_a, d], b [n_b, d] → [k].
    """
    if a.dim() != 2 or b.dim() != 2 or a.shape[-1] != b.shape[-1]:
        raise ValueError(f"a and b must be [n, d] with the same d, got {tuple(a.shape)} and {tuple(b.shape)}")
    qa, qb = _row_basis(a.double()), _row_basis(b.double())  # [d, k_a], [d, k_b]
    cos = torch.linalg.svdvals(qa.T @ qb).clamp(-1.0, 1.0)  # [min(k_a, k_b)], descending
    return torch.arccos(cos).float()


def _row_basis(m: torch.Tensor, tol: float = 1e-10) -> torch.Tensor:
    """Orthonormal basis [d, rank] of the row space of m [n, d] (via SVD, so dependent rows are dropped)."""
    u, s, _ = torch.linalg.svd(m.T, full_matrices=False)  # m.T = U S Vᵀ, columns of U span the rows of m
    keep = s > tol * max(1.0, float(s.max()) if s.numel() else 0.0)
    return u[:, keep]

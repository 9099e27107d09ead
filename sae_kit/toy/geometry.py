"""The geometry of features in superposition (Elhage et al. 2022, "Feature dimensionality" and "Superposition").

With W [d_hidden, feat] (column W_i: feature i's direction, Ŵ_i = W_i / ‖W_i‖):

    D_i  = ‖W_i‖² / Σ_j (Ŵ_i · W_j)²          feature dimensionality: 1 dedicated dimension, 1/2 antipodal pair,
                                               2/3 triangle, 3/4 tetrahedron, 2/5 pentagon, 0 not represented
    D*   = m / ‖W‖_F²                          dimensions per (represented) feature
    sup_i = Σ_{j≠i} (Ŵ_i · W_j)²               how much of the other features lies along feature i (0: orthogonal)

Interference statistics look at cosines between represented feature directions (‖W_i‖ ≥ a threshold).
Every function accepts leading batch axes (e.g. `inst`) on W.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = [
    "feature_norms", "feature_dimensionality", "dimensions_per_feature", "superposition", "feature_cosines",
    "interference_stats", "count_represented", "sweep_summary", "fraction_near", "random_directions", "regular_polygon",
    "regular_simplex", "sticky_statistics", "window_share", "ANTIPODAL_COS", "REPRESENTED_NORM",
]

ANTIPODAL_COS = -0.95
"""Two features form an antipodal pair when cos(W_i, W_j) ≤ this (both represented)."""
REPRESENTED_NORM = 0.5
"""A feature counts as represented when ‖W_i‖ ≥ this (trained columns are ≈ 1 or ≈ 0)."""


def feature_norms(W: torch.Tensor) -> torch.Tensor:
    """‖W_i‖: [..., d_hidden, feat] → [..., feat]."""
    return W.norm(dim=-2)


def _unit_columns(W: torch.Tensor) -> torch.Tensor:
    return W / feature_norms(W).clamp_min(1e-8).unsqueeze(-2)


def feature_dimensionality(W: torch.Tensor) -> torch.Tensor:
    """D_i = ‖W_i‖² / Σ_j (Ŵ_i · W_j)²: [..., d_hidden, feat] → [..., feat]; 0 for a zero column (Elhage et al. 2022)."""
    W = W.double()
    proj = _unit_columns(W).transpose(-1, -2) @ W  # [..., feat, feat]: Ŵ_i · W_j
    norm2 = feature_norms(W).pow(2)
    denom = proj.pow(2).sum(dim=-1)
    return torch.where(norm2 > 1e-12, norm2 / denom.clamp_min(1e-30), torch.zeros_like(norm2)).float()


def dimensions_per_feature(W: torch.Tensor) -> torch.Tensor:
    """D* = m / ‖W‖_F²: [..., d_hidden, feat] → [...] (Elhage et al. 2022: 1 without superposition, 1/2 antipodal)."""
    return W.shape[-2] / W.pow(2).sum(dim=(-2, -1))


def superposition(W: torch.Tensor) -> torch.Tensor:
    """Σ_{j≠i} (Ŵ_i · W_j)²: [..., d_hidden, feat] → [..., feat] (0 when feature i is orthogonal to all others)."""
    proj = _unit_columns(W).transpose(-1, -2) @ W  # [..., feat, feat]
    return proj.pow(2).sum(dim=-1) - proj.diagonal(dim1=-2, dim2=-1).pow(2)


def feature_cosines(W: torch.Tensor) -> torch.Tensor:
    """cos(W_i, W_j): [..., d_hidden, feat] → [..., feat, feat] (0 involving a zero column)."""
    U = _unit_columns(W)
    return U.transpose(-1, -2) @ U


def count_represented(W: torch.Tensor, threshold: float = REPRESENTED_NORM) -> torch.Tensor:
    """Number of features with ‖W_i‖ ≥ threshold: [..., d_hidden, feat] → [...]."""
    return (feature_norms(W) >= threshold).sum(dim=-1)


def interference_stats(W: torch.Tensor, norm_threshold: float = REPRESENTED_NORM,
                       antipodal_cos: float = ANTIPODAL_COS) -> dict:
    """Interference between the represented features of one model W [d_hidden, feat].

    Returns {"n_represented", "abs_cos" (|cos| of every pair of represented features, a list), "mean_abs_cos",
    "max_interference" (largest |cos| between two represented features that are *not* an antipodal pair; 0 with
    fewer than two), "mean_max_cos" (mean over features of max_{j≠i} |cos(W_i, W_j)|: each feature's worst
    interference), "mean_sum_cos2" (mean over features of Σ_{j≠i} cos²(W_i, W_j); (k − 1)/d for k random directions
    in d dimensions, since E cos² = 1/d), "antipodal_fraction" (fraction of represented features whose direction has an antipodal
    partner, cos ≤ `antipodal_cos`), "antipodal_pairs" (number of such pairs), "dimensions_per_feature" (D*)}.
    """
    if W.dim() != 2:
        raise ValueError(f"W must be [d_hidden, feat], got shape {tuple(W.shape)}")
    keep = feature_norms(W) >= norm_threshold
    k = int(keep.sum())
    cos = feature_cosines(W[:, keep]).double()  # [k, k]
    iu = torch.triu_indices(k, k, offset=1)
    pair_cos = cos[iu[0], iu[1]]  # [pairs]
    antipodal = pair_cos <= antipodal_cos
    in_pair = torch.zeros(k, dtype=torch.bool)
    in_pair[iu[0][antipodal]] = True
    in_pair[iu[1][antipodal]] = True
    others = pair_cos[~antipodal].abs()
    off = cos.abs().fill_diagonal_(0.0) if k >= 2 else cos.abs()  # [k, k], |cos| with the diagonal zeroed
    return {
        "n_represented": k,
        "abs_cos": pair_cos.abs().tolist(),
        "mean_abs_cos": float(pair_cos.abs().mean()) if len(pair_cos) else 0.0,
        "max_interference": float(others.max()) if len(others) else 0.0,
        "antipodal_fraction": float(in_pair.float().mean()) if k else 0.0,
        "antipodal_pairs": int(antipodal.sum()),
        "dimensions_per_feature": float(dimensions_per_feature(W)),
        "mean_max_cos": float(off.max(dim=1).values.mean()) if k >= 2 else 0.0,
        "mean_sum_cos2": float(off.pow(2).sum(dim=1).mean()) if k >= 2 else 0.0,
    }


def random_directions(n_features: int, d: int, seed: int = 0) -> torch.Tensor:
    """n unit vectors drawn uniformly on the sphere in R^d, as columns [d, feat] (the Sharkey toy data's placement)."""
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(d, n_features, generator=g)
    return v / v.norm(dim=0, keepdim=True)


def regular_polygon(k: int) -> torch.Tensor:
    """k unit vectors at equal angles in the plane, as columns [2, k] (k = 2: an antipodal pair; 5: a pentagon)."""
    a = torch.arange(k, dtype=torch.float64) * 2 * math.pi / k
    return torch.stack([a.cos(), a.sin()]).float()


def regular_simplex(k: int) -> torch.Tensor:
    """k unit vectors with pairwise cosine −1/(k−1) in R^(k−1), as columns [k − 1, k] (3: triangle, 4: tetrahedron)."""
    e = np.eye(k) - 1.0 / k  # centred basis vectors span a (k−1)-dimensional subspace
    u, s, vt = np.linalg.svd(e)
    coords = s[: k - 1, None] * vt[: k - 1]  # [k − 1, k]: the columns of e in an orthonormal basis of their span
    coords /= np.linalg.norm(coords, axis=0, keepdims=True)
    return torch.tensor(coords, dtype=torch.float32)


def sweep_summary(W: torch.Tensor) -> dict:
    """Per-instance geometry of a sweep W [inst, d_hidden, feat] as plain lists (for figures and JSON):
    norms, dimensionality, superposition, D*, kept (indices of represented features) and interference stats."""
    return {
        "norms": feature_norms(W).tolist(),
        "dimensionality": feature_dimensionality(W).tolist(),
        "superposition": superposition(W).tolist(),
        "d_star": dimensions_per_feature(W).tolist(),
        "kept": [torch.nonzero(feature_norms(w) >= REPRESENTED_NORM).flatten().tolist() for w in W],
        "stats": [{k: v for k, v in interference_stats(w).items() if k != "abs_cos"} for w in W],
    }


def fraction_near(values, targets, tol: float = 0.05) -> float:
    """Fraction of `values` within `tol` of any of `targets` (0 for no values)."""
    v = torch.as_tensor(list(values), dtype=torch.float64)
    if v.numel() == 0:
        return 0.0
    t = torch.as_tensor(list(targets), dtype=torch.float64)
    return float(((v[:, None] - t[None, :]).abs() <= tol).any(dim=1).double().mean())


def window_share(targets, tol: float, low: float, high: float) -> float:
    """Share of [low, high] within `tol` of any target: what a value spread uniformly over [low, high] lands in."""
    if high <= low:
        return 1.0
    pieces = sorted((max(low, t - tol), min(high, t + tol)) for t in targets if t + tol >= low and t - tol <= high)
    covered, end = 0.0, low
    for a, b in pieces:  # union of the windows
        a = max(a, end)
        if b > a:
            covered, end = covered + (b - a), b
    return covered / (high - low)


def sticky_statistics(d_star, d_rep, targets, tol: float = 0.02, plateau: float = 1 / 2, plateau_tol: float = 0.05,
                      min_d_star: float = 0.35) -> dict:
    """Do D_i stick at simple fractions, and does D* plateau, beyond what a smooth spread would give?

    d_star [setting] D* per sparsity (in sweep order); d_rep [setting][represented] D_i of the represented features.
    - clustering: the share of D_i (settings with D* ≥ `min_d_star`) within `tol` of a target fraction, against the
      share a uniform spread over the same range [min D_i, max D_i] would give (`window_share`);
    - plateau: the flattest step |D*_{k+1} − D*_k| between consecutive settings both within `plateau_tol` of
      `plateau`, against D*'s mean step over the sweep, mean_k |D*_{k+1} − D*_k| (a smooth, even decline has every
      step equal to the mean; a plateau has a step far below it).
    Elhage et al. (2022), "Feature dimensionality": https://transformer-circuits.pub/2022/toy_model/index.html
    """
    near = [d for ds, ds_ in zip(d_rep, d_star) if ds_ >= min_d_star for d in ds]
    lo, hi = (min(near), max(near)) if near else (0.0, 0.0)
    steps = [abs(b - a) for a, b in zip(d_star, d_star[1:])]
    on = [i for i, v in enumerate(d_star) if abs(v - plateau) <= plateau_tol]
    flat = [steps[i] for i in on if i + 1 in on]
    return {"fraction_at_fractions": fraction_near(near, targets, tol), "n_values": len(near), "tol": tol,
            "uniform_fraction": window_share(targets, tol, lo, hi) if near else 1.0,
            "plateau_settings": on, "plateau_step": min(flat) if flat else None,
            "mean_step": sum(steps) / len(steps) if steps else 0.0, "plateau_tol": plateau_tol}

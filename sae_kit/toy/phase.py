"""The n = 2, m = 1 phase diagram of Elhage et al. (2022): which solution a one-dimensional toy model should pick.

Two features share one hidden dimension; feature 1 has importance 1, feature 2 importance r; both fire with
probability p (density), x_i ~ U[0, 1) when active. Losses are the training loss's mean over the two features,
E[½ Σ_i I_i (x_i − x'_i)²]. The candidate solutions and their expected losses:

- **keep feature 1** (W = [1, 0], b = [0, p/2]): feature 1 is reconstructed exactly; feature 2's best constant
  output is its mean p/2, leaving its variance v(p) = E[x²] − E[x]² = p/3 − p²/4. Loss ½ r v(p).
- **keep feature 2**: loss ½ v(p).
- **antipodal pair** (W = [1, −1], b = [β, β]): x'_1 = ReLU(x_1 − x_2 + β) and the same for feature 2. Per feature,
  over the four cases (neither fires, only the other, only itself, both):
  h(β) = (1 − p)² ReLU(β)² + p(1 − p) (E_s[ReLU(β − s)²] + E_t[(t − ReLU(t + β))²]) + p² E_{t,s}[(t − ReLU(t − s + β))²],
  each a closed form or a 1-D integral (scipy quad). h is the same for both features, so the best bias does not
  depend on the importances: loss ½ (1 + r) H(p) with H(p) = min_{β ∈ [−1, 1]} h(β) (scipy bounded minimisation).

The antipodal pair wins when ½ (1 + r) H < ½ min(1, r) v, i.e. for r* < r < 1/r* with r* = H / (v − H) (when
v > 2H; otherwise never). Dimension names: `dens` densities, `imp` relative importances.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import integrate, optimize

from sae_kit.toy.geometry import REPRESENTED_NORM

__all__ = [
    "PHASES", "dropped_variance", "antipodal_feature_loss", "antipodal_pair_loss", "best_antipodal_bias", "phase_losses", "best_phase",
    "antipodal_importance_range", "phase_boundary", "classify_n2m1",
]

PHASES = ("keep feature 1", "keep feature 2", "antipodal pair")
"""Labels of the candidate solutions, in the order of `phase_losses` and `classify_n2m1` (3 = anything else)."""


def _check_density(p: float) -> None:
    if not (isinstance(p, (int, float)) and 0 < p <= 1):
        raise ValueError(f"density must be a number in (0, 1], got {p!r}")


def dropped_variance(p: float) -> float:
    """v(p) = p/3 − p²/4: the squared error left on a dropped feature whose output is its mean p/2."""
    _check_density(p)
    return p / 3 - p**2 / 4


def _alone_other(beta: float) -> float:
    """E_s[ReLU(β − s)²], s ~ U[0, 1): the error on a silent feature when only its antipodal partner fires."""
    if beta <= 0:
        return 0.0
    m = min(beta, 1.0)
    return (beta**3 - (beta - m) ** 3) / 3


def _alone_self(beta: float) -> float:
    """E_t[(t − ReLU(t + β))²]: the error on a feature firing alone."""
    if beta >= 0:
        return beta**2
    c = min(-beta, 1.0)
    return c**3 / 3 + beta**2 * (1 - c)


def _both(beta: float) -> float:
    """E_{t,s}[(t − ReLU(t − s + β))²]: the error on a feature when both fire (inner expectation over t in closed form)."""
    def inner(s: float) -> float:
        c = s - beta  # output = ReLU(t − c)
        if c <= 0:
            return c**2
        mu = min(c, 1.0)
        return mu**3 / 3 + c**2 * (1 - mu)
    kinks = [v for v in (beta, 1 + beta) if 0 < v < 1]
    return integrate.quad(inner, 0.0, 1.0, points=kinks or None)[0]


def antipodal_feature_loss(p: float, beta: float) -> float:
    """h(β): expected squared error of one feature of the antipodal pair W = [1, −1], b = [β, β], at density p."""
    _check_density(p)
    if not -1 <= beta <= 1:
        raise ValueError(f"beta must lie in [-1, 1], got {beta!r}")
    q = 1 - p
    return q * q * max(beta, 0.0) ** 2 + p * q * (_alone_other(beta) + _alone_self(beta)) + p * p * _both(beta)


def antipodal_pair_loss(p: float, beta: float, relative_importance: float = 1.0) -> float:
    """Expected loss (mean over the two features) of W = [1, −1], b = [β, β]: ½ (1 + r) h(β)."""
    return 0.5 * (1 + relative_importance) * antipodal_feature_loss(p, beta)


def best_antipodal_bias(p: float) -> tuple[float, float]:
    """(β*, H(p)): the bias minimising h(β) over β ∈ [−1, 1], and the minimum."""
    _check_density(p)
    res = optimize.minimize_scalar(lambda b: antipodal_feature_loss(p, b), bounds=(-1.0, 1.0), method="bounded",
                                   options=dict(xatol=1e-6))
    return float(res.x), float(res.fun)


def phase_losses(p: float, relative_importance: float) -> tuple[float, float, float]:
    """Expected losses of (keep feature 1, keep feature 2, antipodal pair) at density p and importance ratio r."""
    if not (isinstance(relative_importance, (int, float)) and relative_importance > 0 and math.isfinite(relative_importance)):
        raise ValueError(f"relative_importance must be a finite number > 0, got {relative_importance!r}")
    v = dropped_variance(p)
    _, h = best_antipodal_bias(p)
    r = relative_importance
    return 0.5 * r * v, 0.5 * v, 0.5 * (1 + r) * h


def best_phase(densities, relative_importances) -> np.ndarray:
    """Index into PHASES of the lowest expected loss on a grid: [dens], [imp] → [dens, imp]."""
    out = np.zeros((len(densities), len(relative_importances)), dtype=int)
    for i, p in enumerate(densities):
        for j, r in enumerate(relative_importances):
            out[i, j] = int(np.argmin(phase_losses(float(p), float(r))))
    return out


def antipodal_importance_range(p: float) -> tuple[float, float] | None:
    """(r*, 1/r*): the importance ratios at density p where the antipodal pair beats dropping a feature; None if never."""
    v = dropped_variance(p)
    _, h = best_antipodal_bias(p)
    if v <= 2 * h:
        return None
    r_star = h / (v - h)
    return r_star, 1 / r_star


def phase_boundary(densities) -> dict:
    """The analytic boundary over densities: {"density", "low": r*, "high": 1/r*} (None where the pair never wins)."""
    out = {"density": [float(p) for p in densities], "low": [], "high": []}
    for p in densities:
        rng = antipodal_importance_range(float(p))
        out["low"].append(None if rng is None else rng[0])
        out["high"].append(None if rng is None else rng[1])
    return out


def classify_n2m1(W: torch.Tensor, threshold: float = REPRESENTED_NORM) -> torch.Tensor:
    """Which solution trained n=2, m=1 models found: W [..., 1, 2] → [...] indices into PHASES (3: other).

    A feature is kept when ‖W_i‖ ≥ threshold; both kept with opposite signs is the antipodal pair.
    """
    if W.shape[-2:] != (1, 2):
        raise ValueError(f"W must be [..., d_hidden=1, feat=2], got shape {tuple(W.shape)}")
    w = W[..., 0, :]  # [..., 2]
    k1, k2 = w[..., 0].abs() >= threshold, w[..., 1].abs() >= threshold
    out = torch.full(w.shape[:-1], 3, dtype=torch.long)
    out[k1 & ~k2] = 0
    out[k2 & ~k1] = 1
    out[k1 & k2 & (w[..., 0] * w[..., 1] < 0)] = 2
    return out

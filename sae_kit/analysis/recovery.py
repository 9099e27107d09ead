"""What recovery looks like feature by feature: when each feature is found, and a plane the data cannot resolve.

- `first_found`: from per-feature MCS recorded during training (`TrainConfig(record_mcs=True)`), the number of
  samples after which each ground-truth feature's MCS first reaches a threshold — to ask whether frequent features are
  learned first (a question raised in the discussion of the report,
  https://www.lesswrong.com/posts/z6QQJbtpkEAX3Aojj/interim-research-report-taking-features-out-of-superposition).
- `rank_correlation`: Spearman's ρ, to summarise "recovery against feature frequency" in one number.
- `shared_features`: why a feature is not found: no latent near it, or two latents sharing it (each fires on the
  feature's samples with about half its code, so each gets half the gradient and both stall near MCS 0.9).
- `PlaneData`: toy data where two features always fire together with a rotation-invariant joint distribution. The
  data then fix the plane they span but no basis of it (the follow-up's identifiability point): an SAE finds the
  plane, at a rotation its initialisation picks. `plane_recovery` measures both sides of that: the per-feature MCS,
  which depends on the rotation, and the principal angles between the planes, which do not.

Dimension names: `feat` ground-truth features, `d`, `d_sae`, `inst`, `batch`, `step` recorded steps.
"""

from __future__ import annotations

import math

import torch

from sae_kit._util import check_range
from sae_kit.analysis.metrics import cosine_matrix, principal_angles
from sae_kit.toy.data import ToyData, ToyDataConfig

__all__ = ["first_found", "rank_correlation", "shared_features", "PlaneData", "plane_recovery"]


def first_found(mcs_history: dict[str, list], threshold: float = 0.9, instance: int = 0) -> list[float | None]:
    """Per feature, the samples seen when its MCS first reached `threshold` (None if never): mcs_history from
    `TrainResult.mcs_history` (needs `TrainConfig(record_mcs=True)`) → [feat]."""
    check_range("threshold", threshold, 0.0, 1.0)
    if not mcs_history.get("mcs"):
        raise ValueError("mcs_history is empty: train with TrainConfig(record_mcs=True) and a ground truth")
    m = torch.tensor([row[instance] for row in mcs_history["mcs"]])  # [step, feat]
    samples = mcs_history["samples"]
    hit = m >= threshold
    first = hit.float().argmax(dim=0)  # [feat] index of the first step at/above threshold
    return [samples[int(i)] if bool(hit[int(i), f]) else None for f, i in enumerate(first)]


def rank_correlation(x: list[float], y: list[float]) -> float:
    """Spearman's ρ: the Pearson correlation of the ranks (ties get their mean rank)."""
    from scipy.stats import spearmanr

    if len(x) != len(y) or len(x) < 3:
        raise ValueError(f"x and y must have the same length ≥ 3, got {len(x)} and {len(y)}")
    rho = spearmanr(x, y).statistic
    return float(rho) if math.isfinite(rho) else 0.0


def shared_features(ground_truth: torch.Tensor, dictionary: torch.Tensor, found_mcs: float = 0.9,
                    close: float = 0.8) -> dict[str, torch.Tensor]:
    """Which ground-truth features are not found, and which of those are shared by two or more latents.

    ground_truth [feat, d]; dictionary [d_sae, d] or [inst, d_sae, d]. A feature is found when its MCS ≥ `found_mcs`;
    a latent is close to it when their cosine ≥ `close`. Returns "mcs" [(inst,) feat], "n_close" [(inst,) feat]
    (latents close to each feature), and per instance "unfound" (features with MCS < found_mcs) and "shared" (those
    of them with ≥ 2 close latents: a duplicate pair, each near the feature, rather than a feature no latent has)."""
    check_range("found_mcs", found_mcs, 0.0, 1.0, low_open=True)
    check_range("close", close, 0.0, 1.0, low_open=True)
    cos = cosine_matrix(ground_truth, dictionary)  # [(inst,) feat, d_sae]
    m, n_close = cos.amax(dim=-1), (cos >= close).sum(dim=-1)
    unfound = m < found_mcs
    return {"mcs": m, "n_close": n_close, "unfound": unfound.sum(dim=-1), "shared": (unfound & (n_close >= 2)).sum(dim=-1)}


class PlaneData(ToyData):
    """The report's toy data, except features 0 and 1 always fire together, isotropically in their plane.

    When the pair is active (probability p_0 of the base data), (c_0, c_1) = r (cos φ, sin φ) with r ~ U[0, 1) and
    φ ~ U[0, 2π): a distribution that any rotation of the plane leaves unchanged, so no basis of span(f_0, f_1) is
    special. The coefficients are signed, so an SAE (non-negative codes) needs ≥ 3 directions in the plane to
    rebuild it. The pair's two directions are made orthogonal, so the plane is the only thing to recover.

    `nonnegative=True`: φ ~ U[0, π/2), non-negative amplitudes of two co-occurring features. The samples then fill a
    quarter disc whose edges are f_0 and f_1, so the data do carry a basis; whether an SAE learns it or composed
    directions inside the quadrant is the question raised around Anders et al. (2024), "Sparse autoencoders find
    composed features in small toy models",
    https://www.lesswrong.com/posts/a5wwqza2cY3W7L9cj/sparse-autoencoders-find-composed-features-in-small-toy
    (an L1 penalty favours composed directions: r·(cos φ + sin φ) ≥ r costs more in the basis than one element at φ).
    """

    def __init__(self, cfg: ToyDataConfig | None = None, nonnegative: bool = False) -> None:
        if not isinstance(nonnegative, bool):
            raise ValueError(f"nonnegative must be True or False, got {nonnegative!r}")
        self.nonnegative = nonnegative
        super().__init__(cfg)
        if self.n_features < 3:
            raise ValueError(f"PlaneData needs n_features ≥ 3 (a pair and the rest), got {self.n_features}")
        f0, f1 = self.features[0], self.features[1]
        f1 = f1 - (f1 @ f0) * f0
        self.features[1] = f1 / f1.norm()

    @property
    def plane(self) -> torch.Tensor:
        """[2, d] the orthonormal pair spanning the composed plane."""
        return self.features[:2]

    def sample_coefficients(self, batch_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
        c = super().sample_coefficients(batch_size, generator)  # [batch, feat]
        kw = dict(generator=generator, device=self.device)
        on = c[:, 0] > 0  # the pair fires when feature 0 would
        r = torch.rand(batch_size, **kw)
        phi = (math.pi / 2 if self.nonnegative else 2 * math.pi) * torch.rand(batch_size, **kw)
        c[:, 0] = on * r * torch.cos(phi)
        c[:, 1] = on * r * torch.sin(phi)
        return c


def plane_recovery(plane: torch.Tensor, dictionary: torch.Tensor, min_in_plane: float = 0.9) -> dict:
    """How a dictionary represents a plane: its elements that lie in it, their angles, MCS and principal angles.

    plane [2, d] orthonormal, dictionary [d_sae, d]. An element lies in the plane when the norm of its projection onto
    it is ≥ `min_in_plane` (its cosine with the plane). Returns {"coords" [k, 2] in-plane coordinates of those elements,
    "angles_deg" their directions in the plane, "mcs" [2] the pair's best cosines with the whole dictionary,
    "principal_angles_deg" [≤2] between the plane and the span of the in-plane elements (empty when none)}.
    """
    if plane.dim() != 2 or plane.shape[0] != 2 or dictionary.dim() != 2 or dictionary.shape[-1] != plane.shape[-1]:
        raise ValueError(f"plane must be [2, d] and dictionary [d_sae, d], got {tuple(plane.shape)} and {tuple(dictionary.shape)}")
    check_range("min_in_plane", min_in_plane, 0.0, 1.0)
    w = dictionary.detach().float()
    w = w / w.norm(dim=1, keepdim=True).clamp_min(1e-8)
    coords = w @ plane.float().T  # [d_sae, 2]
    inside = coords.norm(dim=1) >= min_in_plane
    sel = coords[inside]
    angles = torch.rad2deg(torch.atan2(sel[:, 1], sel[:, 0])).tolist()
    pa = torch.rad2deg(principal_angles(plane.float(), w[inside])).tolist() if bool(inside.any()) else []
    return {
        "coords": sel.tolist(),
        "angles_deg": angles,
        "mcs": cosine_matrix(plane, w).amax(dim=1).tolist(),
        "principal_angles_deg": pa,
    }

"""The ratio of features to dimensions: from antipodal pairs to strongly interfering superposition (notebook 02).

For each ratio n/d (d fixed) the features are placed in two ways:
- **random**: n unit directions drawn uniformly on the sphere (the Sharkey et al. toy data, `ToyData`);
- **tms**: the directions a toy model of superposition (Elhage et al. 2022) learns for n uniform-importance features
  in d hidden dimensions at the same density (`TMSData`: only the features it represents are ground truth).
Both generate SAE training data with the same per-feature density p = avg_active / n and U[0, 1) coefficients.
A row of SAEs (one per α, `d_sae = sae_ratio · n`, L1 coefficient α · d_sae/d so that the per-latent penalty is the
same at every ratio) is trained on each, one batched run per ratio and placement, and the best α's MMCS (truth →
learned) and dead fraction are kept. Each ratio draws its random directions independently.

Dimension names: `ratio`, `alpha`, `feat`, `d`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from sae_kit._util import check_memory, check_positive_int, check_range, derive_seed
from sae_kit.analysis.metrics import mmcs
from sae_kit.sae.base import SAEConfig
from sae_kit.toy.data import ToyData, ToyDataConfig
from sae_kit.toy.geometry import feature_dimensionality, interference_stats, random_directions
from sae_kit.toy.tms import TMSConfig, TMSData, train_tms
from sae_kit.training.loop import mmcs_train_config, train_sae

__all__ = ["RatioSweepConfig", "RatioSweepResult", "ratio_sweep", "placement_stats", "PLACEMENTS"]

PLACEMENTS = ("random", "tms")


@dataclass
class RatioSweepConfig:
    """A sweep over the ratio n/d of features to dimensions."""

    ratios: list[float] = field(default_factory=lambda: [1, 2, 4, 8, 16, 32])
    """n/d values (n = round(ratio · d) ≥ 2)."""
    d: int = 16
    """Dimensions (fixed)."""
    avg_active: float = 3.0
    """Mean number of active features per sample (density p = avg_active / n), > 0 and < n."""
    alphas: list[float] = field(default_factory=lambda: [0.003, 0.01, 0.03, 0.1, 0.3, 1.0])
    """L1 coefficients of the SAE row at d_sae = d; the best MMCS over them is reported. Under the kit's mean-L1
    convention the penalty per latent is α/d_sae, so each α is scaled by d_sae/d (α · d_sae/d is trained): the
    per-latent penalty stays α/d at every ratio instead of shrinking 32–128× as the dictionary grows."""
    sae_ratio: float = 1.0
    """Dictionary size as a multiple of n, > 0."""
    sae_steps: int = 2000
    """SAE training steps (batch `batch_size`)."""
    batch_size: int = 256
    """SAE batch size."""
    tms_steps: int = 2000
    """Toy-model training steps (lr `tms_lr`, batch `tms_batch_size`, best of `tms_seeds`)."""
    tms_batch_size: int = 1024
    """Toy-model batch size (Elhage et al.: 1024)."""
    tms_seeds: int = 2
    """Toy-model seeds (the lowest-loss one places the features)."""
    tms_lr: float = 1e-2
    """Toy-model learning rate (cosine decay)."""
    seed: int = 0
    """Seed of the directions, the toy models, the SAEs and the data streams."""

    def __post_init__(self) -> None:
        if not self.ratios:
            raise ValueError("ratios must be a non-empty list of numbers > 0, got []")
        for i, r in enumerate(self.ratios):
            check_range(f"ratios[{i}]", r, 0.0, math.inf, low_open=True, high_open=True)
        check_positive_int("d", self.d)
        for name in ("sae_steps", "batch_size", "tms_steps", "tms_batch_size", "tms_seeds"):
            check_positive_int(name, getattr(self, name))
        check_range("avg_active", self.avg_active, 0.0, math.inf, low_open=True, high_open=True)
        check_range("tms_lr", self.tms_lr, 0.0, math.inf, low_open=True, high_open=True)
        check_range("sae_ratio", self.sae_ratio, 0.0, 1e6, low_open=True)
        if not self.alphas:
            raise ValueError("alphas must be a non-empty list of numbers ≥ 0, got []")
        for i, a in enumerate(self.alphas):
            check_range(f"alphas[{i}]", a, 0.0, math.inf, high_open=True)
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ValueError(f"seed must be an int, got {self.seed!r}")
        n_max = max(self.n_features(r) for r in self.ratios)
        if min(self.n_features(r) for r in self.ratios) <= self.avg_active:
            raise ValueError(f"avg_active={self.avg_active} must be below the smallest number of features "
                             f"{min(self.n_features(r) for r in self.ratios)}")
        d_sae = max(1, round(self.sae_ratio * n_max))
        check_memory({"ratios": max(self.ratios), "d": self.d, "sae_ratio": self.sae_ratio},
                     max(n_max * self.d, 2 * len(self.alphas) * d_sae * self.d, self.tms_seeds * self.tms_batch_size * n_max),
                     "the largest ratio's features, SAE weights [alpha, d, d_sae] or toy-model batch [seed, batch, feat]")

    def n_features(self, ratio: float) -> int:
        return max(2, round(ratio * self.d))

    def l1_coeffs(self, d_sae: int) -> list[float]:
        """The L1 coefficients trained at dictionary size d_sae: α · d_sae / d (a per-latent penalty α/d throughout)."""
        return [a * d_sae / self.d for a in self.alphas]



def placement_stats(features: torch.Tensor) -> dict:
    """Interference of a placement, features [feat, d] (unit rows): interference_stats of the columns plus mean D_i."""
    W = features.T  # [d, feat]
    s = interference_stats(W)
    s["mean_dimensionality"] = float(feature_dimensionality(W).mean())
    return s


@dataclass
class RatioSweepResult:
    """Per placement ({"random", "tms"}), lists over the ratios."""

    cfg: RatioSweepConfig
    n_features: list[int]
    ground_truth: dict[str, list[int]]
    """Number of ground-truth features (tms: those the toy model represents)."""
    stats: dict[str, list[dict]]
    """placement_stats of every ratio."""
    mmcs: dict[str, list[float]]
    """Best MMCS (truth → learned) over α."""
    best_alpha: dict[str, list[float]]
    """The best α (as given in `cfg.alphas`, before the d_sae/d scaling)."""
    dead_fraction: dict[str, list[float]]
    """Dead fraction of the best-α SAE."""
    mmcs_all: dict[str, list[list[float]]]
    """[ratio][alpha] MMCS."""
    chance: dict[str, list[float]]
    """MMCS of a random dictionary of the same size (unit directions on the sphere): what no learning scores. In few
    dimensions it is high (many random directions land near any feature), so compare `recovery`, not raw MMCS."""
    recovery: dict[str, list[float]]
    """MMCS above chance, (MMCS − chance) / (1 − chance): 1 perfect, 0 no better than a random dictionary."""
    seconds: float = 0.0


def ratio_sweep(cfg: RatioSweepConfig, progress: bool = False) -> RatioSweepResult:
    """Place features both ways at every ratio, train a row of SAEs on each, and collect interference and recovery."""
    ns = [cfg.n_features(r) for r in cfg.ratios]
    res = RatioSweepResult(cfg=cfg, n_features=ns, ground_truth={k: [] for k in PLACEMENTS}, stats={k: [] for k in PLACEMENTS},
                           mmcs={k: [] for k in PLACEMENTS}, best_alpha={k: [] for k in PLACEMENTS},
                           dead_fraction={k: [] for k in PLACEMENTS}, mmcs_all={k: [] for k in PLACEMENTS},
                           chance={k: [] for k in PLACEMENTS}, recovery={k: [] for k in PLACEMENTS})
    for n in ns:
        p = cfg.avg_active / n
        # an independent draw of directions per ratio: with one seed the n directions would be a prefix of one stream
        # (a nested set), and statistics like max |cos| would rise with n by construction
        random_data = ToyData(ToyDataConfig(n_features=n, d=cfg.d, avg_active=cfg.avg_active, decay=1.0,
                                            seed=derive_seed(cfg.seed, f"ratio-{n}") % 2**31, device="cpu"))
        tms = train_tms(TMSConfig(n_features=n, d_hidden=cfg.d, feature_probability=p, importance=1.0, n_seeds=cfg.tms_seeds,
                                  steps=cfg.tms_steps, lr=cfg.tms_lr, batch_size=cfg.tms_batch_size, seed=cfg.seed, n_eval=2048))
        tms_data = TMSData(tms)
        for name, data in (("random", random_data), ("tms", tms_data)):
            res.ground_truth[name].append(int(data.features.shape[0]))
            res.stats[name].append(placement_stats(data.features))
            d_sae = max(1, round(cfg.sae_ratio * n))
            sae_cfg = SAEConfig(d=cfg.d, d_sae=d_sae, l1_coeff=cfg.l1_coeffs(d_sae), seed=cfg.seed)
            run = train_sae(data, sae_cfg, mmcs_train_config(steps=cfg.sae_steps, batch_size=cfg.batch_size, seed=cfg.seed,
                                                        device="cpu", progress=progress, eval_every=cfg.sae_steps,
                                                        mmcs_every=cfg.sae_steps))
            m = run.final("mmcs")
            j = max(range(len(m)), key=m.__getitem__)
            res.mmcs_all[name].append(m)
            res.mmcs[name].append(m[j])
            res.best_alpha[name].append(cfg.alphas[j])
            res.dead_fraction[name].append(run.final("dead")[j] / sae_cfg.d_sae)
            chance = float(mmcs(data.features, random_directions(sae_cfg.d_sae, cfg.d, seed=cfg.seed + 1).T))
            res.chance[name].append(chance)
            res.recovery[name].append((m[j] - chance) / max(1e-8, 1 - chance))
            res.seconds += run.seconds
        res.seconds += tms.seconds
    return res

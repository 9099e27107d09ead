"""Training length: do recovery and the feature-count signal still move when the SAEs train longer?

Sharkey, Braun & Millidge's update (LW 2023, "A small update to the Sparse Coding interim research report",
https://www.lesswrong.com/posts/DezghAd4bdxivEknM) put the earlier mismatch between the toy and the LM results down to
"severely undertrained sparse autoencoders"; practitioners still flag it (e.g. "It is likely under-trained" on
https://huggingface.co/jbloom/Gemma-2b-Residual-Stream-SAEs). `length_sweep` trains the same α × dictionary-size
grid (`sk.train_grid`) at several multiples of a step budget (default ×1, ×3, ×10) and returns the curves against
training length: ground-truth MMCS (when known), FVE, dead fraction, L0, dictionary-to-dictionary MMCS and the
feature-count estimate (`sk.estimate_n_features`) at each length.

Each length is a separate run, not a checkpoint of the longest one: with a decaying learning rate (the kit's default
cosine schedule) step n of a long run has not yet cooled down, so it is not what a run of n steps would give.

A curve has converged at a length when its relative change per doubling of the steps is below `tol`,
|v(L₂) − v(L₁)| / |v(L₁)| / log₂(L₂ / L₁) < tol (the kit's rule; 1% by default).

Dimension names: `length` training lengths (ascending), `size` dictionary sizes, `alpha` L1 coefficients.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from sae_kit._util import check_positive_int, check_range
from sae_kit.analysis.estimate import FeatureCountEstimate, estimate_n_features
from sae_kit.sae.base import SAEConfig
from sae_kit.toy.data import DataSource
from sae_kit.training.loop import TrainConfig
from sae_kit.training.sweep import GridResult, train_grid

__all__ = ["LengthSweepResult", "length_sweep", "relative_change_per_doubling", "converged"]

METRICS = ("mmcs", "fve", "dead_fraction", "l0", "mse", "dictionary_mmcs")


@dataclass
class LengthSweepResult:
    """One α × size grid per training length, and the feature-count estimate at each length."""

    multipliers: list[int]
    steps: list[int]
    grids: list[GridResult]
    estimates: list[FeatureCountEstimate | None]
    """`estimate_n_features` of each length's grid (None with a single dictionary size)."""

    def curve(self, metric: str) -> torch.Tensor:
        """[length, size, alpha] of a grid metric ("mmcs", "fve", "dead_fraction", "l0", "mse"), or [length, size − 1,
        alpha] for "dictionary_mmcs"."""
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
        values = [getattr(g, metric) for g in self.grids]
        if any(v is None for v in values):
            raise ValueError(f"{metric!r} was not recorded (MMCS needs a ground truth)")
        return torch.stack([v.float() for v in values])

    def n_features(self) -> list[int | None]:
        """The estimated number of features at each length."""
        return [None if e is None else e.estimate for e in self.estimates]

    def to_dict(self) -> dict:
        out = {"multipliers": self.multipliers, "steps": self.steps, "n_features": self.n_features()}
        for m in METRICS:
            if all(getattr(g, m) is not None for g in self.grids):
                out[m] = self.curve(m).tolist()
        return out


def relative_change_per_doubling(values: torch.Tensor, steps: Sequence[int]) -> torch.Tensor:
    """|v_{i+1} − v_i| / |v_i| / log₂(steps_{i+1} / steps_i): values [length, …] → [length − 1, …]."""
    if len(values) != len(steps) or len(steps) < 2:
        raise ValueError(f"need ≥ 2 lengths and one value row per length, got {len(values)} rows and steps {list(steps)}")
    v = values.double()
    doublings = torch.tensor([math.log2(b / a) for a, b in zip(steps, steps[1:])], dtype=torch.float64)
    return ((v[1:] - v[:-1]).abs() / v[:-1].abs().clamp_min(1e-12)) / doublings.view(-1, *[1] * (v.dim() - 1))


def converged(values: torch.Tensor, steps: Sequence[int], tol: float = 0.01) -> torch.Tensor:
    """Criterion: bool [length − 1, …], True where the curve changes by less than `tol` per doubling of the steps
    between a length and the next (so a False in the last row means: still moving, train longer)."""
    check_range("tol", tol, 0.0, 1.0, low_open=True)
    return relative_change_per_doubling(values, steps) < tol


def length_sweep(
    data: DataSource | torch.Tensor,
    d_sae_values: list[int],
    alphas: list[float],
    train_cfg: TrainConfig,
    multipliers: Sequence[int] = (1, 3, 10),
    sae_cfg: SAEConfig | None = None,
    ground_truth: torch.Tensor | None = None,
    results_dir: str | Path | None = None,
    eval_data: torch.Tensor | None = None,
) -> LengthSweepResult:
    """Train the α × size grid for multiplier × `train_cfg.steps` steps, once per multiplier (module docstring).

    sae_cfg: template for everything but d_sae and α (as `train_grid`). results_dir: each length checkpoints to
    results_dir/steps_<n> (a finished length loads instead of training again). eval_data: held-out activations [n, d]
    on which every length's grid measures FVE, L0 and dead latents (`train_grid`'s; default: its own sample).
    """
    mults = list(multipliers)
    if not mults:
        raise ValueError("multipliers must be a non-empty list of positive integers, e.g. (1, 3, 10)")
    for i, m in enumerate(mults):
        check_positive_int(f"multipliers[{i}]", m)
    if mults != sorted(set(mults)):
        raise ValueError(f"multipliers must be distinct and ascending, got {mults}")
    if train_cfg.steps < train_cfg.log_every:
        raise ValueError(f"train_cfg.steps={train_cfg.steps} must be ≥ log_every={train_cfg.log_every} "
                         "(the grid reads the last logged L1)")
    steps = [m * train_cfg.steps for m in mults]
    grids, estimates = [], []
    for n in steps:
        sub = None if results_dir is None else str(Path(results_dir) / f"steps_{n}")
        grid = train_grid(data, d_sae_values, alphas, replace(train_cfg, steps=n), sae_cfg, ground_truth, sub,
                          eval_data=eval_data)
        grids.append(grid)
        estimates.append(estimate_n_features(grid) if len(d_sae_values) > 1 else None)
    return LengthSweepResult(mults, steps, grids, estimates)

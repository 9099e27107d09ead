"""Stacked SAEs in a residual arrangement: each stage encodes what the stages before it left unexplained.

Stage 1 is an SAE trained on x. Stage l is trained on the residual r_l = r_{l-1} − x̂_{l-1}(r_{l-1}) of the frozen stages
before it (r_1 = x), like residual vector quantisation. With TopK stages of k_1, k_2, … the stack has L0 = Σ k_l and a
dictionary that is the stages' dictionaries side by side; the reconstruction is the sum of the stages' reconstructions:

    x̂ = Σ_l x̂_l(r_l),    r_{l+1} = r_l − x̂_l(r_l).

The idea: a first stage with a small k spends its few latents on the largest parts of each input, and later stages
mop up what interference and the TopK budget left behind. Every stage is an ordinary `SAE` trained by `train_sae`, so
every architecture, init and optimiser of the kit can be a stage; the stages of one stack share `n_inst`, and instance
i of a stage is trained on the residual of instance i of the stages before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch

from sae_kit._util import eval_mode
from sae_kit.analysis.metrics import fraction_variance_explained
from sae_kit.sae.base import SAE, SAEConfig
from sae_kit.toy.data import DataSource
from sae_kit.training.loop import TrainConfig, TrainResult, train_sae

__all__ = ["ResidualSource", "StackedSAE", "StackedResult", "train_stacked"]


class StackedSAE:
    """Frozen stages applied in sequence to the residual; behaves like one SAE with the stages' latents side by side."""

    def __init__(self, stages: Sequence[SAE]) -> None:
        stages = list(stages)
        if not stages:
            raise ValueError("stages must hold at least one SAE, got none")
        d, n = stages[0].cfg.d, stages[0].cfg.n_inst
        for i, s in enumerate(stages):
            if s.cfg.d != d or s.cfg.n_inst != n:
                raise ValueError(f"stage {i} has d={s.cfg.d}, n_inst={s.cfg.n_inst}; every stage needs d={d}, n_inst={n} "
                                 "(the first stage's)")
        self.stages = stages

    @property
    def dictionary(self) -> torch.Tensor:
        """[inst, Σ d_sae, d] the stages' unit dictionary rows, stage 1 first."""
        return torch.cat([s.dictionary for s in self.stages], dim=1)

    @torch.no_grad()
    def _pass(self, x: torch.Tensor, with_codes: bool) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """One pass through the stages: their inputs and the final residual, and (with_codes) each stage's codes."""
        n = self.stages[0].cfg.n_inst
        r = x.expand(n, *x.shape) if x.dim() == 2 else x
        rs, codes = [r], []
        for s in self.stages:
            with eval_mode(s):  # BatchTopK stages encode with their threshold
                out = s(r, with_l0=False)
            r = r - out.x_hat
            rs.append(r)
            if with_codes:
                codes.append(out.codes)
        return rs, codes

    def residuals(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The input of every stage and what is left after the last: [r_1 = x, r_2, …, r_{L+1}], each [inst, batch, d]
        (r_1 broadcast from a shared x [batch, d])."""
        return self._pass(x, with_codes=False)[0]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """[inst, batch, Σ d_sae] the codes of every stage on its own input, stage 1 first."""
        return torch.cat(self._pass(x, with_codes=True)[1], dim=-1)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """[inst, batch, d] x̂ = x − r_{L+1}, the sum of the stages' reconstructions."""
        rs = self.residuals(x)
        return rs[0] - rs[-1]

    @torch.no_grad()
    def fve_by_depth(self, x: torch.Tensor) -> torch.Tensor:
        """[n_stages, inst] fraction of the variance of x explained by the first 1, 2, … stages."""
        rs = self.residuals(x)
        x0 = rs[0]
        return torch.stack([fraction_variance_explained(x0, x0 - r) for r in rs[1:]])


class ResidualSource:
    """A DataSource of fresh residuals: samples of `base` minus the reconstruction of the frozen `stack` (instance i of
    the residual is what instance i of the stack left). Ground truth: the base data's features."""

    def __init__(self, base: DataSource, stack: StackedSAE) -> None:
        if stack.stages[0].cfg.d != base.d:
            raise ValueError(f"the stack has d={stack.stages[0].cfg.d} but the data has d={base.d}")
        self.base, self.stack = base, stack
        self.d, self.device, self.features = base.d, base.device, base.features

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Residuals [inst, batch, d] of fresh base samples, and the base coefficients [batch, feat] behind them."""
        x, coeffs = self.base.sample(batch_size, generator)
        return self.stack.residuals(x)[-1], coeffs


@dataclass
class StackedResult:
    """A trained stack, each stage's training result, and how much of x the first 1, 2, … stages explain."""

    stack: StackedSAE
    stages: list[TrainResult]
    fve: list[list[float]]  # [n_stages][inst] held-out FVE of x after each stage (cumulative)


def _check_stacked_inputs(data, stage_cfgs: list[SAEConfig], cfg: TrainConfig, eval_data) -> None:
    """Refuse what `train_stacked` cannot train, naming the argument."""
    if not stage_cfgs:
        raise ValueError("stage_cfgs must hold at least one SAEConfig, got none")
    fixed = isinstance(data, torch.Tensor)
    if fixed:
        if data.dim() != 2:
            raise ValueError(f"data as a tensor must be [n, d], got shape {tuple(data.shape)}")
        if eval_data is None:
            raise ValueError("eval_data [n_eval, d] is needed when data is a fixed tensor")
        if any(c.n_inst != 1 for c in stage_cfgs):
            raise ValueError("with a fixed tensor every stage has one instance: n_inst must be 1")
    elif not isinstance(data, DataSource):
        raise ValueError(f"data must be a DataSource (e.g. ToyData) or a tensor [n, d], got {type(data).__name__}")
    d_data = data.shape[1] if fixed else data.d
    for i, c in enumerate(stage_cfgs):
        if c.d != d_data:
            raise ValueError(f"stage_cfgs[{i}].d={c.d} does not match the data dimension d={d_data}")
        if c.n_inst != stage_cfgs[0].n_inst:
            raise ValueError(f"stage_cfgs[{i}].n_inst={c.n_inst}; every stage needs the first stage's n_inst={stage_cfgs[0].n_inst}")
    if cfg.resample_every and cfg.resample_from == "fresh":
        raise ValueError(f"resample_every must be 0 for stacked training with resample_from='fresh', got {cfg.resample_every}"
                         " (resample_from='worst' resamples on the stage's own residuals)")


def train_stacked(data: DataSource | torch.Tensor, stage_cfgs: Sequence[SAEConfig], cfg: TrainConfig | None = None,
                  n_eval: int | None = None, eval_data: torch.Tensor | None = None) -> StackedResult:
    """Train the stages one after the other, stage l on the residuals of the frozen stages before it.

    data: a DataSource (fresh samples every step; each stage draws fresh residuals) or a fixed tensor [n, d] of
    activations (each stage trains on the residual tensor; one instance per stage, n_inst = 1). eval_data: held-out
    [n_eval, d] for the FVE by depth (default: drawn from a DataSource, or needed for a tensor).

    stage_cfgs: one `SAEConfig` per stage (e.g. TopK with k = 8, then k = 4), all with the data's d and one n_inst.
    cfg: the training settings of every stage; each stage gets its own data seed (cfg.seed + stage index), and with a
    checkpoint_dir each stage checkpoints (and resumes) in its own sub-folder stage_0, stage_1, … . Resampling on the
    worst residuals of a stage's own training inputs (the default `resample_from="worst"`) works here; resampling on
    fresh draws (`resample_from="fresh"`) would draw the data rather than the stage's residuals, so it is not offered.
    """
    cfg = cfg or TrainConfig()
    stage_cfgs = list(stage_cfgs)
    fixed = isinstance(data, torch.Tensor)
    _check_stacked_inputs(data, stage_cfgs, cfg, eval_data)
    stages: list[SAE] = []
    results: list[TrainResult] = []
    r_train, r_eval = data, eval_data  # fixed tensor: what the stages so far left, [n, d] and [n_eval, d]
    for i, c in enumerate(stage_cfgs):
        ckpt = None if cfg.checkpoint_dir is None else f"{cfg.checkpoint_dir}/stage_{i}"
        stage_cfg = replace(cfg, seed=cfg.seed + i, checkpoint_dir=ckpt)
        if fixed:
            res = train_sae(r_train, c, stage_cfg, eval_data=r_eval)
        else:
            res = train_sae(data if not stages else ResidualSource(data, StackedSAE(stages)), c, stage_cfg)
        res.sae.eval()
        for p in res.sae.parameters():
            p.requires_grad_(False)
        stages.append(res.sae)
        results.append(res)
        if fixed and i + 1 < len(stage_cfgs):  # only the new stage runs over the residual tensors
            last = StackedSAE([res.sae])
            r_train, r_eval = last.residuals(r_train)[-1][0], last.residuals(r_eval)[-1][0]
    stack = StackedSAE(stages)
    if eval_data is not None:
        x_eval = eval_data
    else:
        g = torch.Generator(device=data.device).manual_seed(cfg.seed + 10_007)
        x_eval = data.sample(n_eval or cfg.n_eval, g)[0]
    return StackedResult(stack, results, stack.fve_by_depth(x_eval).tolist())

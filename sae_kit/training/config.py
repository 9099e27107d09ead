"""How to train a row of SAEs (`TrainConfig`): optimisation, evaluation, the remedies that act during training, and
bookkeeping, in that order. The defaults are the kit's fast recipe; `report_train_config()` gives the report's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from sae_kit._util import check_positive_int, check_range, resolve_device
from sae_kit.training.optim import OptimizerName
from sae_kit.training.schedule import DECAYS, Decay, lr_at

__all__ = ["TrainConfig", "report_train_config", "mmcs_train_config", "scaled_train_config"]


@dataclass
class TrainConfig:
    """How to train. The defaults are the kit's fast recipe, tuned to find every feature of the default toy data
    (MMCS ≥ 0.99 and every feature's MCS ≥ 0.9 within the 200,000-sample schedule: all of seeds 0–19 at 162k–200k
    samples, median 167k, with bfloat16 products on an AVX512-BF16 CPU; 19 of 20, median 163k, with float32 products,
    as on CPUs without native bfloat16): batch 64, a high learning rate with warm-up and cosine decay, α
    ramped in, Adam β₂ 0.99, the decoder gradient projected, silent latents resampled on the worst residuals with
    Adam's second moment kept at the other rows' level, and in the schedule's last third a square-root sparsity term
    beside L1 (docs/benchmarks.md);
    `report_train_config()` gives the report's (Adam lr 1e-3, batch 256, 20,000 steps, constant)."""

    # ---- optimisation
    steps: int = 3125
    """Optimiser steps (with the default cosine decay, also the schedule's length: 3,125 steps of 64, 200,000
    samples, within which the defaults find every feature of the default toy data; see docs/benchmarks.md)."""
    batch_size: int = 64
    """Samples per step (shared by every instance of the row): 64, more and smaller steps per sample than 256, is what
    lets the rarest features (seen once in ~3,300 samples) be learned within a few hundred thousand samples."""
    lr: float = 1e-2
    """Adam's peak learning rate. > 0."""
    adam_beta2: float = 0.99
    """Adam's β₂ (the decay of its squared-gradient average), in (0, 1): 0.99 (the default) lets a rare feature's
    latent take large steps when it fires after a quiet spell; 0.999 is torch's default and the report's."""
    optimizer: OptimizerName = "adam"
    """"adam" for every parameter, or "muon": torch.optim.Muon for the weight matrices, Adam (at `lr`) for biases."""
    muon_lr: float = 2e-3
    """Muon's peak learning rate (sparsify's default), on the same schedule as `lr`. > 0."""
    lr_warmup_steps: int = 50
    """Linear learning-rate warm-up from 0 over this many steps. ≥ 0."""
    lr_decay: Decay = "cosine"
    """Learning-rate shape after warm-up: constant, or decayed to `lr_final_fraction`·lr at the last step."""
    lr_final_fraction: float = 0.05
    """Final learning rate as a fraction of `lr` when decaying, in [0, 1]."""
    l1_warmup_steps: int = 300
    """Linear ramp of α from 0 to its value over this many steps (0: the full α from the start). ≥ 0."""
    sqrt_sparsity: float = 1.0
    """β of a square-root sparsity term added to the loss in the schedule's last part (from `sqrt_sparsity_from` on):
    α·β·Σ_j (√(c_j + ε) − √ε) per sample, in the SAE's L1 convention, beside α·L1. Under L1 two latents that share one
    feature's code (each with half of it) cost as much as one latent with all of it; under the square root they cost
    √2 times more, so one of the two takes the whole code and its row settles on the feature. On the default toy data
    it finds the last, rarest features that two latents held between them (docs/benchmarks.md). A concave penalty in
    place of L1: Riggs & Brinkmann 2024, https://www.alignmentforum.org/posts/YiGs8qJ8aNBgwt2YN; moving toward one late
    in training: p-annealing, Karvonen et al. 2024, https://arxiv.org/abs/2408.00113. 0: off. ≥ 0."""
    sqrt_sparsity_eps: float = 0.1
    """ε of the square-root term: its gradient at c = 0 is 1/(2√ε) (≈ 1.6 at 0.1) instead of unbounded. > 0."""
    sqrt_sparsity_from: float = 0.64
    """Fraction of `steps` after which the square-root term is on, in [0, 1] (0.64: from step 2,000 of 3,125, once the
    learning rate has decayed to about a third and most features are found; from the start it does worse)."""
    project_decoder_grad: bool = True
    """Remove from each decoder row's gradient its component along the row before the optimiser step, g ← g − (g·w)w
    (the rows are re-normalised after every step, so that component only inflates Adam's state; Bricken et al. 2023,
    https://transformer-circuits.pub/2023/monosemantic-features)."""
    matmul_dtype: Literal["auto", "float32", "bfloat16"] = "auto"
    """dtype of the SAE's encoder and decoder products during training (forward and backward); the weights, Adam's
    state, the codes, the losses and every evaluation (MMCS, dead latents, FVE) stay float32. "auto": bfloat16 where
    the device multiplies it natively (x86 CPUs with AVX512-BF16 or AMX, CUDA GPUs with bf16), float32 elsewhere.
    On a 2-core CPU with AVX512-BF16 a step runs 2–2.8× faster and needs the same samples to MMCS ≥ 0.99 up to seed
    noise (README, benchmark sections 2 and 4); "float32" gives the same numbers on every CPU."""
    seed: int = 0
    """Seed of the data stream and the held-out sample."""
    device: str = "auto"
    """"auto" (cuda, then mps, then cpu) or a torch device name."""

    # ---- evaluation: what is recorded, how often, and when to stop early
    log_every: int = 50
    """Record training losses (averaged over this many steps)."""
    mmcs_every: int = 100
    """Record MMCS against the ground truth (cheap: one cosine matrix)."""
    eval_every: int = 1000
    """Record dead latents and fraction of variance explained on the held-out sample."""
    n_eval: int = 2560
    """Held-out samples for dead latents (the replication: 2,560)."""
    record_mcs: bool = False
    """Also record the per-feature MCS (ground truth → learned) at every `mmcs_every` step, in `mcs_history`."""
    stop_at_mmcs: float | None = None
    """Stop early once every instance has MMCS ≥ this (needs a ground truth), in (0, 1]; None: never."""
    stop_at_min_mcs: float | None = None
    """Stop early once every instance has min MCS ≥ this, every feature found (needs a ground truth), in (0, 1];
    None: never. With `stop_at_mmcs` too, the run stops once both are reached."""
    found_mcs: float = 0.9
    """A ground-truth feature counts as found once its MCS ≥ this, in (0, 1]: `mmcs_history.n_below` counts the
    features not yet found."""

    # ---- dead-latent remedies that act during training (AuxK and the pre-activation penalty are SAEConfig's)
    resample_every: int = 100
    """Resample silent latents (Bricken et al. 2023) every this many steps, except in the last such period. 0: never.
    The default restarts, every 100 steps, latents silent for `resample_after` samples on the residual of the
    worst-reconstructed recent inputs: that is what finds the rarest features of the toy data (docs/benchmarks.md)."""
    resample_after: int | None = 19_200
    """A latent that has not fired for this many training samples is resampled (19,200: 300 steps of 64); None:
    `SAEConfig.dead_after` (the dead-latent count's own threshold, 100,000 by default). ≥ 1."""
    resample_from: Literal["worst", "fresh"] = "worst"
    """Where new directions come from: "worst", the residuals x − x̂ of the `resample_pool` worst-reconstructed
    training inputs since the last resampling, worst first (no extra samples or forward pass), or "fresh",
    `resample_pool` inputs drawn for the purpose, chosen ∝ loss² (Bricken et al. 2023), per `resample_target`."""
    resample_pool: int = 256
    """Candidate inputs kept ("worst") or drawn ("fresh")."""
    resample_target: Literal["input", "residual"] = "input"
    """With `resample_from="fresh"`: a resampled latent's new direction is the drawn input ("input", Bricken et al.
    2023) or what the SAE misses on it ("residual", x − x̂). "worst" always takes the residual."""
    resample_encoder_scale: float = 0.2
    """A resampled latent's encoder row: its new direction times this × the mean norm of the alive encoder rows
    (Bricken et al. 2023: 0.2). > 0."""
    resample_second_moment: Literal["zero", "mean"] = "mean"
    """Adam's second moment of a resampled latent's rows: "mean", that of the instance's other rows, or "zero"
    (Bricken et al. 2023: the whole state reset). From zero, Adam's first steps on the row are sign-like, every
    coordinate moving by about lr, which throws the restarted latent off the direction it was given: on the default toy
    data "mean" finds the rarest features about 20 % sooner (docs/benchmarks.md)."""
    track_density: bool = False
    """Record, at every eval step, latents dead over training (`SAEConfig.dead_after`) and ultra-low-density ones."""
    ultra_low_density: float = 1e-5
    """A latent that fired on a fraction of training samples in (0, this) since the last eval is ultra-low density."""

    # ---- bookkeeping
    checkpoint_dir: str | None = None
    """Save checkpoints here and resume from one found here; None: no checkpoints."""
    checkpoint_every: int = 2000
    """Steps between checkpoints (a checkpoint is also written at the end and on Ctrl-C)."""
    progress: bool = True
    """Show a tqdm progress bar."""

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "log_every", "mmcs_every", "eval_every", "n_eval", "checkpoint_every", "resample_pool"):
            check_positive_int(name, getattr(self, name))
        if self.optimizer not in ("adam", "muon"):
            raise ValueError(f"optimizer must be 'adam' or 'muon', got {self.optimizer!r}")
        if not isinstance(self.project_decoder_grad, bool):
            raise ValueError(f"project_decoder_grad must be True or False, got {self.project_decoder_grad!r}")
        if self.matmul_dtype not in ("auto", "float32", "bfloat16"):
            raise ValueError(f"matmul_dtype must be 'auto', 'float32' or 'bfloat16', got {self.matmul_dtype!r}")
        if self.resample_from not in ("worst", "fresh"):
            raise ValueError(f"resample_from must be 'worst' or 'fresh', got {self.resample_from!r}")
        if self.resample_after is not None:
            check_positive_int("resample_after", self.resample_after)
        check_range("resample_encoder_scale", self.resample_encoder_scale, 0.0, float("inf"), low_open=True, high_open=True)
        check_range("adam_beta2", self.adam_beta2, 0.0, 1.0, low_open=True, high_open=True)
        check_range("found_mcs", self.found_mcs, 0.0, 1.0, low_open=True)
        if self.resample_target not in ("input", "residual"):
            raise ValueError(f"resample_target must be 'input' or 'residual', got {self.resample_target!r}")
        if self.resample_second_moment not in ("zero", "mean"):
            raise ValueError(f"resample_second_moment must be 'zero' or 'mean', got {self.resample_second_moment!r}")
        check_range("muon_lr", self.muon_lr, 0.0, float("inf"), low_open=True, high_open=True)
        check_range("ultra_low_density", self.ultra_low_density, 0.0, 1.0, low_open=True)
        check_range("lr", self.lr, 0.0, float("inf"), low_open=True, high_open=True)
        for name in ("lr_warmup_steps", "l1_warmup_steps", "resample_every"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} must be an integer ≥ 0, got {v!r}")
        if self.lr_decay not in DECAYS:
            raise ValueError(f"lr_decay must be 'constant', 'cosine' or 'linear', got {self.lr_decay!r}")
        check_range("lr_final_fraction", self.lr_final_fraction, 0.0, 1.0)
        check_range("sqrt_sparsity", self.sqrt_sparsity, 0.0, float("inf"), high_open=True)
        check_range("sqrt_sparsity_eps", self.sqrt_sparsity_eps, 0.0, float("inf"), low_open=True, high_open=True)
        check_range("sqrt_sparsity_from", self.sqrt_sparsity_from, 0.0, 1.0)
        for name in ("stop_at_mmcs", "stop_at_min_mcs"):
            if getattr(self, name) is not None:
                check_range(name, getattr(self, name), 0.0, 1.0, low_open=True)
        resolve_device(self.device)

    def lr_at(self, step: int) -> float:
        """Learning rate used for optimiser step `step` (0-based): `sae_kit.training.schedule.lr_at` with these settings."""
        return lr_at(step, self.lr, self.steps, self.lr_warmup_steps, self.lr_decay, self.lr_final_fraction)

    def l1_scale_at(self, step: int) -> float:
        """Fraction of α applied at step `step`."""
        return 1.0 if step >= self.l1_warmup_steps else (step + 1) / self.l1_warmup_steps

    def sqrt_sparsity_at(self, step: int) -> float:
        """β of the square-root sparsity term at step `step` (0 before `sqrt_sparsity_from` · steps)."""
        return self.sqrt_sparsity if step >= round(self.sqrt_sparsity_from * self.steps) else 0.0


def report_train_config(**overrides) -> TrainConfig:
    """The report's replication settings: Adam (β₂ 0.999), lr 1e-3 constant, batch 256, 20,000 steps, α from the start,
    L1 alone, float32, the plain decoder gradient, no resampling (when asked for, Bricken et al.'s: fresh inputs, dead after
    `SAEConfig.dead_after`)."""
    base = dict(steps=20_000, batch_size=256, lr=1e-3, lr_warmup_steps=0, lr_decay="constant", lr_final_fraction=0.0,
                l1_warmup_steps=0, matmul_dtype="float32", adam_beta2=0.999, project_decoder_grad=False,
                resample_every=0, resample_after=None, resample_from="fresh", resample_pool=4096, resample_target="input",
                resample_second_moment="zero", sqrt_sparsity=0.0)
    return TrainConfig(**{**base, **overrides})


def mmcs_train_config(**overrides) -> TrainConfig:
    """The kit's former defaults, tuned for MMCS ≥ 0.99 alone: 3,000 steps of 256 with the same lr schedule, α from
    the start, L1 alone, Adam β₂ 0.999, the plain decoder gradient, no resampling (when asked for, Bricken et al.'s)."""
    base = dict(steps=3000, batch_size=256, l1_warmup_steps=0, adam_beta2=0.999, project_decoder_grad=False,
                resample_every=0, resample_after=None, resample_from="fresh", resample_pool=4096, resample_target="input",
                resample_second_moment="zero", sqrt_sparsity=0.0)
    return TrainConfig(**{**base, **overrides})


def scaled_train_config(n_features: int, **overrides) -> TrainConfig:
    """The defaults carried from the default toy data's G = 512 features to `n_features` (with λ = 0.99^(512/G), so the
    rarest feature fires G/512 times less often, in d = G/2 with d_sae = 2G): the schedule and the silence before a
    restart grow by G/512, the learning rate shrinks by 512/G. Measured to find every feature at G = 512, 1024 and
    2048 in seeds 0–2 (`benchmarks/bench_every_feature.py --section scale`; docs/benchmarks.md); at G = 1024 the
    unscaled defaults leave features unfound, and at G = 4096 these scalings leave 4 (seed 0, MMCS 0.996).
    G = 512 gives `TrainConfig()` itself."""
    check_positive_int("n_features", n_features)
    base = TrainConfig()
    scaled = dict(steps=math.ceil(base.steps * n_features / 512), resample_after=max(1, base.resample_after * n_features // 512),
                  lr=base.lr * 512 / n_features)
    return TrainConfig(**{**scaled, **overrides})

"""The one training loop: a row of SAEs (one per L1 coefficient) trained side by side on the same batches.

Data is either a `ToyData` generator (fresh samples every step, as in the report) or a fixed activation tensor
[n, d] (shuffled minibatches). Every `log_every` steps the loop records MSE, L1 and loss (averaged over the
window) and L0 (of that step); every `mmcs_every` steps the MMCS against a ground truth when one is known; every `eval_every` steps the
dead latents and fraction of variance explained on a fixed held-out sample.

Checkpoints (safetensors + JSON) hold the weights, Adam's state, the data generator's state and the history, so a
run that is interrupted and resumed ends with exactly the numbers of an uninterrupted run.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import torch

from sae_kit import io
from sae_kit._util import check_positive_int, check_range, derive_seed, progress, resolve_device, resolve_matmul_dtype
from sae_kit.dictionary_init import data_dictionary, init_dictionary_, pca_dictionary
from sae_kit.metrics import dead_latents, fraction_variance_explained, mcs, mmcs
from sae_kit.optim import OptimizerName, SAEOptimizer
from sae_kit.remedies import density_counts, resample_dead_
from sae_kit.sae import SAE, SAEConfig
from sae_kit.toy_data import DataSource

__all__ = ["TrainConfig", "TrainResult", "train_sae", "evaluate", "report_train_config"]


@dataclass
class TrainConfig:
    """How to train. The defaults are the kit's fast recipe (a high learning rate with warm-up and cosine decay; see
    the README's benchmark); `report_train_config()` gives the report's (Adam lr 1e-3, batch 256,
    20,000 steps, constant)."""

    steps: int = 3000
    """Optimiser steps (with the default cosine decay, also the schedule's length: 3,000 steps of 256 reach MMCS ≥ 0.99
    on the default toy data sooner than 5,000 do, see the README's benchmark)."""
    batch_size: int = 256
    """Samples per step (shared by every instance of the row)."""
    lr: float = 1e-2
    """Adam's peak learning rate. > 0."""
    optimizer: OptimizerName = "adam"
    """"adam" for every parameter, or "muon": torch.optim.Muon for the weight matrices, Adam (at `lr`) for biases."""
    muon_lr: float = 2e-3
    """Muon's peak learning rate (sparsify's default), on the same schedule as `lr`. > 0."""
    lr_warmup_steps: int = 50
    """Linear learning-rate warm-up from 0 over this many steps. ≥ 0."""
    lr_decay: Literal["constant", "cosine", "linear"] = "cosine"
    """Learning-rate shape after warm-up: constant, or decayed to `lr_final_fraction`·lr at the last step."""
    lr_final_fraction: float = 0.05
    """Final learning rate as a fraction of `lr` when decaying, in [0, 1]."""
    l1_warmup_steps: int = 0
    """Linear ramp of α from 0 to its value over this many steps (0: the full α from the start). ≥ 0."""
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
    seed: int = 0
    """Seed of the data stream and the held-out sample."""
    device: str = "auto"
    """"auto" (cuda, then mps, then cpu) or a torch device name."""
    matmul_dtype: Literal["auto", "float32", "bfloat16"] = "auto"
    """dtype of the SAE's encoder and decoder products during training (forward and backward); the weights, Adam's
    state, the codes, the losses and every evaluation (MMCS, dead latents, FVE) stay float32. "auto": bfloat16 where
    the device multiplies it natively (x86 CPUs with AVX512-BF16 or AMX, CUDA GPUs with bf16), float32 elsewhere.
    On a 2-core CPU with AVX512-BF16 a step runs 2–2.8× faster and needs the same samples to MMCS ≥ 0.99 up to seed
    noise (README, benchmark sections 2 and 4); "float32" gives the same numbers on every CPU."""
    checkpoint_dir: str | None = None
    """Save checkpoints here and resume from one found here; None: no checkpoints."""
    checkpoint_every: int = 2000
    """Steps between checkpoints (a checkpoint is also written at the end and on Ctrl-C)."""
    progress: bool = True
    """Show a tqdm progress bar."""
    resample_every: int = 0
    """Resample dead latents (Bricken et al. 2023) every this many steps, except in the last such period. 0: never."""
    resample_pool: int = 4096
    """Inputs drawn to choose resampled directions from (∝ loss²)."""
    resample_target: Literal["input", "residual"] = "input"
    """A resampled latent's new direction: the drawn input ("input", Bricken et al. 2023) or what the SAE misses on it
    ("residual", x − x̂)."""
    track_density: bool = False
    """Record, at every eval step, latents dead over training (`SAEConfig.dead_after`) and ultra-low-density ones."""
    ultra_low_density: float = 1e-5
    """A latent that fired on a fraction of training samples in (0, this) since the last eval is ultra-low density."""

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "log_every", "mmcs_every", "eval_every", "n_eval", "checkpoint_every", "resample_pool"):
            check_positive_int(name, getattr(self, name))
        if self.optimizer not in ("adam", "muon"):
            raise ValueError(f"optimizer must be 'adam' or 'muon', got {self.optimizer!r}")
        if self.matmul_dtype not in ("auto", "float32", "bfloat16"):
            raise ValueError(f"matmul_dtype must be 'auto', 'float32' or 'bfloat16', got {self.matmul_dtype!r}")
        if self.resample_target not in ("input", "residual"):
            raise ValueError(f"resample_target must be 'input' or 'residual', got {self.resample_target!r}")
        check_range("muon_lr", self.muon_lr, 0.0, float("inf"), low_open=True, high_open=True)
        check_range("ultra_low_density", self.ultra_low_density, 0.0, 1.0, low_open=True)
        check_range("lr", self.lr, 0.0, float("inf"), low_open=True, high_open=True)
        for name in ("lr_warmup_steps", "l1_warmup_steps", "resample_every"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} must be an integer ≥ 0, got {v!r}")
        if self.lr_decay not in ("constant", "cosine", "linear"):
            raise ValueError(f"lr_decay must be 'constant', 'cosine' or 'linear', got {self.lr_decay!r}")
        check_range("lr_final_fraction", self.lr_final_fraction, 0.0, 1.0)
        if self.stop_at_mmcs is not None:
            check_range("stop_at_mmcs", self.stop_at_mmcs, 0.0, 1.0, low_open=True)
        resolve_device(self.device)

    def lr_at(self, step: int) -> float:
        """Learning rate used for optimiser step `step` (0-based)."""
        w = self.lr_warmup_steps
        if step < w:
            return self.lr * (step + 1) / w
        if self.lr_decay == "constant":
            return self.lr
        t = (step - w) / max(1, self.steps - 1 - w)
        f = self.lr_final_fraction
        shape = 0.5 * (1 + math.cos(math.pi * t)) if self.lr_decay == "cosine" else 1 - t
        return self.lr * (f + (1 - f) * shape)

    def l1_scale_at(self, step: int) -> float:
        """Fraction of α applied at step `step`."""
        return 1.0 if step >= self.l1_warmup_steps else (step + 1) / self.l1_warmup_steps


def report_train_config(**overrides) -> TrainConfig:
    """The report's replication settings: Adam, lr 1e-3 constant, batch 256, 20,000 steps, α from the start, float32."""
    base = dict(steps=20_000, batch_size=256, lr=1e-3, lr_warmup_steps=0, lr_decay="constant", lr_final_fraction=0.0,
                l1_warmup_steps=0, matmul_dtype="float32")
    return TrainConfig(**{**base, **overrides})


@dataclass
class TrainResult:
    """A trained row of SAEs and what happened during training (lists per logged step; inner lists per instance)."""

    sae: SAE
    history: dict[str, list] = field(default_factory=dict)
    """step, samples, seconds, and mse, l1, loss averaged over the last `log_every` steps; l0 of the logged step."""
    mmcs_history: dict[str, list] = field(default_factory=dict)
    """step, samples, seconds, mmcs (ground truth → learned) every `mmcs_every` steps."""
    mcs_history: dict[str, list] = field(default_factory=dict)
    """step, samples, mcs [inst][feat] every `mmcs_every` steps when `record_mcs` (else empty)."""
    eval_history: dict[str, list] = field(default_factory=dict)
    """step, dead (count), fve, mse, l0 (and mmcs) on the held-out sample every `eval_every` steps and at the end; with
    `track_density`, also dead_train (not fired for `dead_after` training samples) and ultra_low (density in (0, ε))."""
    resampled: list[list[int]] = field(default_factory=list)
    """Per resampling: [step, latents resampled in each instance…]."""
    first_reached: list[int | None] = field(default_factory=list)
    """Per instance: samples seen when MMCS first reached `stop_at_mmcs` (None if not reached or not asked)."""
    seconds: float = 0.0
    """Wall time spent training (summed over resumed parts)."""
    steps_done: int = 0
    matmul_dtype: str = "float32"
    """The dtype the training products ran in ("float32" or "bfloat16", `TrainConfig.matmul_dtype` resolved)."""

    def final(self, key: str) -> list:
        """Last recorded per-instance value of `key` (from whichever history holds it)."""
        for h in (self.eval_history, self.mmcs_history, self.history):
            if h.get(key):
                return h[key][-1]
        raise KeyError(f"{key!r} was never recorded; known: {sorted(set(self.history) | set(self.mmcs_history) | set(self.eval_history))}")


class _Batches:
    """Endless minibatches from a ToyData generator or a fixed tensor, reproducible from a torch.Generator."""

    def __init__(self, data: DataSource | torch.Tensor, batch_size: int, generator: torch.Generator) -> None:
        self.data, self.batch_size, self.g = data, batch_size, generator

    def next(self, n: int | None = None) -> torch.Tensor:
        n = n or self.batch_size
        if isinstance(self.data, DataSource):
            return self.data.sample(n, self.g)[0]
        idx = torch.randint(0, self.data.shape[0], (n,), generator=self.g, device=self.g.device)
        return self.data[idx.to(self.data.device)]


@torch.no_grad()
def evaluate(sae: SAE, x: torch.Tensor, ground_truth: torch.Tensor | None = None) -> dict[str, list]:
    """Held-out metrics per instance: dead latents (count), FVE, MSE, L0 and, with a ground truth, MMCS."""
    was_training = sae.training
    sae.eval()  # BatchTopK encodes with its threshold at evaluation
    out = sae(x)
    sae.train(was_training)
    res = {
        "dead": dead_latents(out.codes).sum(dim=-1).tolist(),
        "fve": fraction_variance_explained(x, out.x_hat).tolist(),
        "mse": out.mse.tolist(),
        "l0": out.l0.tolist(),
    }
    if ground_truth is not None:
        res["mmcs"] = mmcs(ground_truth, sae.dictionary).tolist()
    return res


def _append(h: dict[str, list], **kw) -> None:
    for k, v in kw.items():
        h.setdefault(k, []).append(v)


def train_sae(
    data: DataSource | torch.Tensor,
    sae_cfg: SAEConfig,
    cfg: TrainConfig | None = None,
    ground_truth: torch.Tensor | None = None,
    eval_data: torch.Tensor | None = None,
    init_dictionary: torch.Tensor | None = None,
) -> TrainResult:
    """Train a row of SAEs on `data`; returns the SAE and its histories.

    data: a ToyData (fresh samples every step; its features are the ground truth unless one is given) or a tensor
    [n, d]. ground_truth: [feat, d] directions for MMCS. eval_data: held-out [n_eval, d] (default: drawn from data).
    init_dictionary: [d_sae, d] or [inst, d_sae, d] starting dictionary, with `SAEConfig(decoder_init="given")`
    (e.g. `sk.weight_dictionary(...)`); "data" and "pca" inits are drawn here from the data.
    """
    cfg = cfg or TrainConfig()
    device = resolve_device(cfg.device)
    matmul_dtype = resolve_matmul_dtype(cfg.matmul_dtype, device)  # None: float32 products
    if isinstance(data, DataSource):
        if data.device != device:
            raise ValueError(f"data lives on {data.device} but TrainConfig.device is {device}; make ToyDataConfig.device match")
        d_data = data.d
        if ground_truth is None:
            ground_truth = data.features
    elif isinstance(data, torch.Tensor):
        if data.dim() != 2 or data.shape[0] < 1:
            raise ValueError(f"data must be a DataSource (e.g. ToyData) or a tensor [n, d], got shape {tuple(data.shape)}")
        d_data = data.shape[1]
    else:
        raise ValueError(f"data must be a DataSource (e.g. ToyData) or a torch.Tensor [n, d], got {type(data).__name__}")
    if d_data != sae_cfg.d:
        raise ValueError(f"SAEConfig.d={sae_cfg.d} does not match the data dimension d={d_data}")
    if ground_truth is not None and ground_truth.shape[-1] != sae_cfg.d:
        raise ValueError(f"ground_truth has d={ground_truth.shape[-1]}, SAEConfig.d={sae_cfg.d}")
    if cfg.stop_at_mmcs is not None and ground_truth is None:
        raise ValueError("stop_at_mmcs needs a ground truth (ToyData or ground_truth=)")

    if (init_dictionary is not None) != (sae_cfg.decoder_init == "given"):
        given = "a tensor" if init_dictionary is not None else None
        raise ValueError("init_dictionary goes with SAEConfig(decoder_init='given') and only with it; "
                         f"got decoder_init={sae_cfg.decoder_init!r} and init_dictionary={given}")
    sae = SAE(sae_cfg).to(device)
    if sae_cfg.decoder_init in ("data", "pca"):
        g_init = torch.Generator(device=device).manual_seed(derive_seed(cfg.seed, "init-data"))
        x_init = _Batches(data, max(4 * sae_cfg.d_sae, 4096), g_init).next()
        g_cpu = torch.Generator().manual_seed(derive_seed(sae_cfg.seed, "sae-init-data"))
        make = data_dictionary if sae_cfg.decoder_init == "data" else pca_dictionary
        init_dictionary = make(x_init, sae_cfg.d_sae, g_cpu)
    if init_dictionary is not None:
        init_dictionary_(sae, init_dictionary)
    # Adam: the fused kernel updates all parameters in one pass (several times faster than the loop of ops on CPU)
    opt = SAEOptimizer(sae, cfg.optimizer, cfg.lr, cfg.muon_lr)
    g = torch.Generator(device=device).manual_seed(derive_seed(cfg.seed, "train-data"))
    if eval_data is None:
        g_eval = torch.Generator(device=device).manual_seed(derive_seed(cfg.seed, "held-out"))
        if isinstance(data, DataSource):
            eval_data = data.sample(cfg.n_eval, g_eval)[0]
        else:
            eval_data = data[torch.randperm(data.shape[0], generator=g_eval, device=device)[: cfg.n_eval].to(data.device)]
    eval_data = eval_data.to(device)
    gt = ground_truth.to(device) if ground_truth is not None else None
    res = TrainResult(sae=sae, first_reached=[None] * sae_cfg.n_inst,
                      matmul_dtype="float32" if matmul_dtype is None else str(matmul_dtype).removeprefix("torch."))
    alpha = sae.l1_coeff.clone()  # [inst] the target α; the buffer holds the ramped value during training
    start = 0
    window = torch.zeros(3, sae_cfg.n_inst, device=device)  # mse, l1, loss summed over the log window
    n_window = 0
    firing = bool(sae_cfg.aux_k or cfg.resample_every or cfg.track_density)  # keep since_fired up to date
    fire_counts = torch.zeros(sae_cfg.n_inst, sae_cfg.d_sae + 1, device=device)  # [inst, d_sae] + samples, since last eval
    if cfg.checkpoint_dir is not None:
        start, n_window, finished = _resume(Path(cfg.checkpoint_dir), sae, opt, g, res, sae_cfg, cfg, window, fire_counts)
        if finished:  # a finished run loads instead of training again
            sae.l1_coeff.copy_(alpha)
            res.steps_done = start
            return res
    batches = _Batches(data, cfg.batch_size, g)
    t0, seconds0 = time.perf_counter(), res.seconds
    bar = progress(cfg.steps, "train SAE", enabled=cfg.progress, initial=start)

    def elapsed() -> float:
        return seconds0 + time.perf_counter() - t0

    def checkpoint(step: int, finished: bool = False) -> None:
        res.seconds = elapsed()
        _save(Path(cfg.checkpoint_dir), step, sae, opt, g, res, sae_cfg, cfg, window, n_window, finished, fire_counts)

    step = start
    try:
        while step < cfg.steps:
            lr = cfg.lr_at(step)
            opt.set_lr(lr / cfg.lr)
            sae.l1_coeff.copy_(alpha * cfg.l1_scale_at(step))
            logging = (step + 1) % cfg.log_every == 0 or step + 1 == cfg.steps
            out = sae(batches.next(), with_l0=logging, matmul_dtype=matmul_dtype)
            total = out.loss.sum()
            if not torch.isfinite(total):
                raise FloatingPointError(
                    f"loss became {total.item()} at step {step} (instances {torch.nonzero(~torch.isfinite(out.loss)).flatten().tolist()}); "
                    f"likely causes: learning rate too high (lr={lr:g}), an extreme l1_coeff, or NaN/inf in the data"
                )
            opt.zero_grad()
            total.backward()
            opt.step()
            sae.normalize_decoder_()
            counts = density_counts(out.codes) if cfg.track_density else None  # [inst, d_sae] one pass, used twice
            if firing:
                sae.record_firing_(out.codes, counts)
            if counts is not None:
                fire_counts[:, :-1] += counts
                fire_counts[:, -1] += out.codes.shape[1]
            step += 1
            if cfg.resample_every and step % cfg.resample_every == 0 and step < cfg.steps - cfg.resample_every:
                counts = resample_dead_(sae, opt, batches.next(cfg.resample_pool), sae.dead_mask(), g,
                                        target=cfg.resample_target)
                res.resampled.append([step, *counts])
            with torch.no_grad():
                window += torch.stack([out.mse, out.l1, out.loss]).detach()
            n_window += 1
            if logging:
                m = (window / n_window).tolist()
                _append(res.history, step=step, samples=step * cfg.batch_size, seconds=elapsed(),
                        mse=m[0], l1=m[1], loss=m[2], l0=out.l0.tolist())
                window.zero_()
                n_window = 0
                bar.update(step - bar.n)
            if gt is not None and (step % cfg.mmcs_every == 0 or step == cfg.steps):
                per_feature = mcs(gt, sae.dictionary)  # [inst, feat]
                values = per_feature.mean(dim=-1).tolist()
                if cfg.record_mcs:
                    _append(res.mcs_history, step=step, samples=step * cfg.batch_size, mcs=per_feature.tolist())
                _append(res.mmcs_history, step=step, samples=step * cfg.batch_size, seconds=elapsed(), mmcs=values)
                if cfg.stop_at_mmcs is not None:
                    for i, v in enumerate(values):
                        if res.first_reached[i] is None and v >= cfg.stop_at_mmcs:
                            res.first_reached[i] = step * cfg.batch_size
                    if all(r is not None for r in res.first_reached):
                        break
            if step % cfg.eval_every == 0 or step == cfg.steps:
                _append(res.eval_history, step=step, **evaluate(sae, eval_data, gt), **_density(sae, cfg, fire_counts))
            if cfg.checkpoint_dir is not None and step % cfg.checkpoint_every == 0:
                checkpoint(step)
    except KeyboardInterrupt:
        if cfg.checkpoint_dir is not None:
            checkpoint(step)
        raise
    finally:
        bar.close()
    sae.l1_coeff.copy_(alpha)
    if not res.eval_history.get("step") or res.eval_history["step"][-1] != step:
        _append(res.eval_history, step=step, **evaluate(sae, eval_data, gt), **_density(sae, cfg, fire_counts))
    res.steps_done = step
    res.seconds = elapsed()
    if cfg.checkpoint_dir is not None:
        checkpoint(step, finished=True)
    return res


def _density(sae: SAE, cfg: TrainConfig, fire_counts: torch.Tensor) -> dict[str, list]:
    """Dead-over-training and ultra-low-density counts per instance since the last eval (then the window restarts)."""
    if not cfg.track_density:
        return {}
    freq = fire_counts[:, :-1] / fire_counts[:, -1:].clamp_min(1)
    out = {"dead_train": sae.dead_mask().sum(-1).tolist(),
           "ultra_low": ((freq > 0) & (freq < cfg.ultra_low_density)).sum(-1).tolist()}
    fire_counts.zero_()
    return out


def _run_signature(sae_cfg: SAEConfig, cfg: TrainConfig) -> dict:
    """What must match for a checkpoint to be resumed (everything but bookkeeping fields)."""
    t = {k: v for k, v in asdict(cfg).items() if k not in ("checkpoint_dir", "checkpoint_every", "progress", "device")}
    if not t["record_mcs"]:
        del t["record_mcs"]  # checkpoints written before the option existed still resume
    # the dtype the products actually ran in ("auto" resolves per machine); float32 is left out, so checkpoints
    # written before the option existed (all float32) still resume
    if resolve_matmul_dtype(cfg.matmul_dtype, resolve_device(cfg.device)) is None:
        del t["matmul_dtype"]
    else:
        t["matmul_dtype"] = "bfloat16"
    return {"sae": sae_cfg.to_dict(), "train": t}


def _save(directory: Path, step: int, sae: SAE, opt: SAEOptimizer, g: torch.Generator, res: TrainResult,
          sae_cfg: SAEConfig, cfg: TrainConfig, window: torch.Tensor, n_window: int, finished: bool,
          fire_counts: torch.Tensor) -> None:
    tensors = {f"sae.{k}": v for k, v in sae.state_dict().items()}
    tensors.update({f"opt.{k}": v for k, v in opt.state_tensors().items()})
    tensors["rng.data"] = g.get_state()
    tensors["log.window"] = window
    tensors["log.fire_counts"] = fire_counts
    meta = {
        "step": step, "n_window": n_window, "finished": finished, "run": _run_signature(sae_cfg, cfg),
        "seconds": res.seconds, "first_reached": res.first_reached, "resampled": res.resampled,
        "history": res.history, "mmcs_history": res.mmcs_history, "eval_history": res.eval_history,
        "mcs_history": res.mcs_history,
    }
    io.save_checkpoint(directory, tensors, meta)


def _resume(directory: Path, sae: SAE, opt: SAEOptimizer, g: torch.Generator, res: TrainResult,
            sae_cfg: SAEConfig, cfg: TrainConfig, window: torch.Tensor, fire_counts: torch.Tensor) -> tuple[int, int, bool]:
    """Load a checkpoint into the live objects; returns (step, steps in the open log window, whether it finished)."""
    loaded = io.load_checkpoint(directory)
    if loaded is None:
        return 0, 0, False
    tensors, meta = loaded
    if io.to_jsonable(meta.get("run")) != io.to_jsonable(_run_signature(sae_cfg, cfg)):
        raise ValueError(
            f"the checkpoint in {directory} was made for another configuration "
            f"({meta.get('run')}); use another checkpoint_dir or delete it (a checkpoint from float32 products, "
            "on a machine or kit version without bfloat16 training, loads with TrainConfig(matmul_dtype='float32'))"
        )
    own = sae.state_dict()
    for k, v in own.items():
        t = tensors.get(f"sae.{k}")
        if t is None or t.shape != v.shape:
            found = "missing" if t is None else tuple(t.shape)
            raise ValueError(f"checkpoint {directory}: tensor sae.{k} is {found}, expected {tuple(v.shape)}")
    sae.load_state_dict({k: tensors[f"sae.{k}"] for k in own})
    opt.load_state_tensors({k[4:]: v for k, v in tensors.items() if k.startswith("opt.")})
    g.set_state(tensors["rng.data"])
    res.history, res.mmcs_history, res.eval_history = meta["history"], meta["mmcs_history"], meta["eval_history"]
    res.mcs_history = meta.get("mcs_history", {})
    res.first_reached = meta["first_reached"]
    res.resampled = meta.get("resampled", [])
    res.seconds = meta["seconds"]
    window.copy_(tensors["log.window"])
    fire_counts.copy_(tensors["log.fire_counts"])
    return int(meta["step"]), int(meta["n_window"]), bool(meta["finished"])

"""The one training loop: a row of SAEs (one per L1 coefficient or k) trained side by side on the same batches.

Read `train_sae` top to bottom: it sets up a run, then repeats `training_step` (schedules, forward, backward, update,
unit-norm decoder rows) and after every step calls the hooks, each a small function that does one kind of
bookkeeping and may stop the run:

    track_firing      which latents fired (for AuxK, resampling and the density figures)
    resample          restart dead latents every `resample_every` steps (Bricken et al. 2023)
    log_losses        MSE, L1 and loss averaged over `log_every` steps, L0 of the logged step → `history`
    track_mmcs        MMCS against the ground truth every `mmcs_every` steps → `mmcs_history`; early stop
    evaluate_held_out dead latents, FVE, MSE, L0 on a fixed held-out sample every `eval_every` steps → `eval_history`
    save_checkpoint   every `checkpoint_every` steps (`sae_kit.training.checkpoint`), so an interrupted run resumes exactly

Data is either a `DataSource` such as `ToyData` (fresh samples every step, as in the report) or a fixed activation
tensor [n, d] (random minibatches), on any device: batches are moved to the SAE's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from sae_kit._util import derive_seed, eval_mode, progress, resolve_device, resolve_matmul_dtype, same_device
from sae_kit.analysis.metrics import dead_latents, fraction_variance_explained, mcs, mmcs
from sae_kit.sae.architectures import BatchTopKSAE
from sae_kit.sae.base import SAE, SAEConfig, SAEOutput
from sae_kit.sae.dictionary_init import data_dictionary, init_dictionary_, pca_dictionary
from sae_kit.toy.data import DataSource
from sae_kit.training.checkpoint import save_run
from sae_kit.training.config import TrainConfig, mmcs_train_config, report_train_config, scaled_train_config
from sae_kit.training.history import TrainResult
from sae_kit.training.optim import SAEOptimizer, project_decoder_grad_
from sae_kit.training.remedies import density_counts, keep_worst_, resample_dead_, resample_to_worst_, worst_pool
from sae_kit.training.resume import resume, run_signature

__all__ = ["TrainConfig", "TrainResult", "train_sae", "training_step", "evaluate", "report_train_config", "mmcs_train_config",
           "scaled_train_config"]


class Batches:
    """Endless minibatches on `device` from a DataSource or a fixed tensor [n, d], reproducible from a torch.Generator."""

    def __init__(self, data: DataSource | torch.Tensor, batch_size: int, generator: torch.Generator,
                 device: torch.device) -> None:
        self.data, self.batch_size, self.g, self.device = data, batch_size, generator, device

    def next(self, n: int | None = None) -> torch.Tensor:
        """[n, d] (or [inst, n, d] from a source of residuals); n defaults to the batch size."""
        n = n or self.batch_size
        if isinstance(self.data, DataSource):
            return self.data.sample(n, self.g)[0]  # made on the SAE's device (train_sae checks)
        idx = torch.randint(0, self.data.shape[0], (n,), generator=self.g, device=self.g.device)
        return self.data[idx.to(self.data.device)].to(self.device)  # e.g. activations kept on the CPU, SAE on a GPU


@dataclass
class Run:
    """The live state of one training run: what `training_step` and the hooks read and update, and checkpoints save."""

    sae: SAE
    opt: SAEOptimizer
    cfg: TrainConfig
    batches: Batches
    res: TrainResult
    alpha: torch.Tensor  # [inst] the target α; sae.l1_coeff holds the ramped value during training
    penalised: bool  # some instance has α > 0 (TopK rows have none: then the square-root term is skipped)
    matmul_dtype: torch.dtype | None  # None: float32 products
    eval_data: torch.Tensor  # [n_eval, d] held out
    ground_truth: torch.Tensor | None  # [feat, d]
    step: int = 0
    window: torch.Tensor | None = None  # [3, inst] mse, l1, loss summed over the open log window
    n_window: int = 0  # steps in the open log window
    fire_counts: torch.Tensor | None = None  # [inst, d_sae + 1] firings per latent and samples, since the last eval
    x: torch.Tensor | None = None  # the step's input batch [batch, d]
    worst: torch.Tensor | None = None  # [inst, resample_pool, d] residuals of the worst-reconstructed recent inputs
    worst_loss: torch.Tensor | None = None  # [inst, resample_pool] their ‖x − x̂‖² (−inf: empty)
    targets_met: torch.Tensor | None = None  # [inst] bool: stop_at_mmcs and stop_at_min_mcs held at one check
    bar: object = None
    started: float = field(default_factory=time.perf_counter)
    seconds_before: float = 0.0  # wall time of the parts before a resume

    def elapsed(self) -> float:
        return self.seconds_before + time.perf_counter() - self.started


def train_sae(
    data: DataSource | torch.Tensor,
    sae_cfg: SAEConfig,
    cfg: TrainConfig | None = None,
    ground_truth: torch.Tensor | None = None,
    eval_data: torch.Tensor | None = None,
    init_dictionary: torch.Tensor | None = None,
) -> TrainResult:
    """Train a row of SAEs on `data`; returns the SAE (in evaluation mode) and its histories.

    data: a DataSource such as ToyData (fresh samples every step; its features are the ground truth unless one is
    given) or a tensor [n, d]. ground_truth: [feat, d] directions for MMCS. eval_data: held-out [n_eval, d] (default:
    drawn from data). init_dictionary: [d_sae, d] or [inst, d_sae, d] starting dictionary, with
    `SAEConfig(decoder_init="given")` (e.g. `sk.weight_dictionary(...)`); "data" and "pca" inits are drawn from data.
    """
    cfg = cfg or TrainConfig()
    run = _start(data, sae_cfg, cfg, ground_truth, eval_data, init_dictionary)
    if cfg.checkpoint_dir is not None and resume(run):  # a finished run loads instead of training again
        run.sae.l1_coeff.copy_(run.alpha)
        run.res.steps_done = run.step
        run.sae.eval()
        return run.res
    hooks = _hooks(run)
    run.bar = progress(cfg.steps, "train SAE", enabled=cfg.progress, initial=run.step)
    run.started, run.seconds_before = time.perf_counter(), run.res.seconds
    run.sae.train()
    try:
        while run.step < cfg.steps:
            out = training_step(run)
            run.step += 1
            if any(hook(run, out) for hook in hooks):  # a hook returns True to stop (the later ones skip this step)
                break
    except KeyboardInterrupt:
        if cfg.checkpoint_dir is not None:
            save_checkpoint(run, out=None)
        raise
    finally:
        run.bar.close()
    return _finish(run)


def training_step(run: Run) -> SAEOutput:
    """One optimiser step on a fresh batch: all of learning; everything else is bookkeeping in the hooks."""
    sae, cfg, step = run.sae, run.cfg, run.step
    lr = cfg.lr_at(step)
    run.opt.set_lr(lr / cfg.lr)  # warm-up and decay (sae_kit.training.schedule), for Adam and Muon alike
    sae.l1_coeff.copy_(run.alpha * cfg.l1_scale_at(step))  # α ramped in over l1_warmup_steps
    run.x = run.batches.next()
    out = sae(run.x, with_l0=_logs_at(cfg, step + 1), matmul_dtype=run.matmul_dtype)
    loss = out.loss  # [inst] mse + α·L1 (+ the SAE's own terms), as logged
    if (beta := cfg.sqrt_sparsity_at(step)) and run.penalised:  # the schedule's last part: α·β·Σ(√(c + ε) − √ε)
        loss = loss + sae.l1_coeff * beta * sae.sqrt_sparsity(out.codes, cfg.sqrt_sparsity_eps)
    total = loss.sum()  # instances share no parameters: the sum trains each on its own loss
    _check_finite(total, loss, step, lr)
    run.opt.zero_grad()
    total.backward()
    if cfg.project_decoder_grad:
        project_decoder_grad_(sae)
    run.opt.step()
    sae.normalize_decoder_()  # unit dictionary rows, so the L1 penalty cannot be dodged by scaling
    if isinstance(sae, BatchTopKSAE):
        sae.update_threshold_(out.codes)  # its evaluation threshold follows the smallest kept activation
    return out


# ---- hooks: hook(run, out) after each step (run.step already counts it); True stops the run
Hook = Callable[[Run, SAEOutput], bool]


def _hooks(run: Run) -> list[Hook]:
    """The hooks this configuration needs, in the order they run (resampling before MMCS and evaluation see it)."""
    cfg, sae_cfg = run.cfg, run.sae.cfg
    wanted = [(track_firing, bool(sae_cfg.aux_k or cfg.resample_every or cfg.track_density)),
              (resample, bool(cfg.resample_every)), (log_losses, True), (track_mmcs, run.ground_truth is not None),
              (evaluate_held_out, True), (save_checkpoint, cfg.checkpoint_dir is not None)]
    return [hook for hook, on in wanted if on]


def track_firing(run: Run, out: SAEOutput) -> bool:
    """Samples since each latent fired (dead latents for AuxK and resampling) and, with `track_density`, firing counts
    since the last evaluation."""
    counts = density_counts(out.codes) if run.cfg.track_density else None  # [inst, d_sae] one pass, used twice
    run.sae.record_firing_(out.codes, counts)
    if counts is not None:
        run.fire_counts[:, :-1] += counts
        run.fire_counts[:, -1] += out.codes.shape[1]
    return False


def resample(run: Run, out: SAEOutput) -> bool:
    """Keep the worst-reconstructed training inputs' residuals (with `resample_from="worst"`); every `resample_every`
    steps but in the last such period, restart the latents silent for `resample_after` samples (`sae_kit.training.remedies`)."""
    cfg, step, sae = run.cfg, run.step, run.sae
    if cfg.resample_from == "worst":
        keep_worst_(run.worst, run.worst_loss, run.x - out.x_hat.detach())
    if step % cfg.resample_every or step >= cfg.steps - cfg.resample_every:
        return False
    silent = sae.dead_mask() if cfg.resample_after is None else sae.since_fired >= cfg.resample_after
    if cfg.resample_from == "worst":
        counts = resample_to_worst_(sae, run.opt, silent, run.worst, run.worst_loss, cfg.resample_encoder_scale,
                                    cfg.resample_second_moment)
    else:
        counts = resample_dead_(sae, run.opt, run.batches.next(cfg.resample_pool), silent, run.batches.g,
                                encoder_scale=cfg.resample_encoder_scale, target=cfg.resample_target,
                                second_moment=cfg.resample_second_moment)
    run.res.resampled.append([step, *counts])
    return False


def log_losses(run: Run, out: SAEOutput) -> bool:
    """Sum the losses over the log window; every `log_every` steps record their means and the step's L0."""
    with torch.no_grad():
        run.window += torch.stack([out.mse, out.l1, out.loss]).detach()
    run.n_window += 1
    if _logs_at(run.cfg, run.step):
        m = run.window / run.n_window
        run.res.history.append(**_when(run), seconds=run.elapsed(), mse=m[0], l1=m[1], loss=m[2], l0=out.l0)
        run.window.zero_()
        run.n_window = 0
        run.bar.update(run.step - run.bar.n)
    return False


def track_mmcs(run: Run, out: SAEOutput) -> bool:
    """Every `mmcs_every` steps: MMCS, the worst feature's MCS and how many are below `found_mcs` (with `record_mcs`
    each feature's MCS); stop once every instance has met `stop_at_mmcs` and `stop_at_min_mcs` (those set) at one
    and the same check (a feature found and lost again before MMCS gets there does not count)."""
    cfg, res = run.cfg, run.res
    if run.step % cfg.mmcs_every and run.step != cfg.steps:
        return False
    per_feature = mcs(run.ground_truth, run.sae.dictionary)  # [inst, feat]
    values, worst = per_feature.mean(dim=-1), per_feature.amin(dim=-1)  # [inst]
    if cfg.record_mcs:
        res.mcs_history.append(**_when(run), mcs=per_feature)
    res.mmcs_history.append(**_when(run), seconds=run.elapsed(), mmcs=values, min_mcs=worst,
                            n_below=(per_feature < cfg.found_mcs).sum(dim=-1))
    together = torch.ones_like(values, dtype=torch.bool)  # [inst] every target set holds at this check
    for target, reached, now in ((cfg.stop_at_mmcs, res.first_reached, values),
                                 (cfg.stop_at_min_mcs, res.first_reached_min_mcs, worst)):
        if target is None:
            continue
        for i, v in enumerate(now.tolist()):
            if reached[i] is None and v >= target:
                reached[i] = run.step * cfg.batch_size
        together &= now >= target
    run.targets_met |= together  # a run stops once each instance has met every target at one and the same check
    return bool(run.targets_met.all()) and (cfg.stop_at_mmcs, cfg.stop_at_min_mcs) != (None, None)


def evaluate_held_out(run: Run, out: SAEOutput) -> bool:
    """Every `eval_every` steps and at the last: the held-out figures → `eval_history`."""
    if run.step % run.cfg.eval_every == 0 or run.step == run.cfg.steps:
        _record_eval(run)
    return False


def save_checkpoint(run: Run, out: SAEOutput | None, finished: bool = False) -> bool:
    """Every `checkpoint_every` steps (and at the end, and on Ctrl-C): weights, optimiser, random stream, histories."""
    if out is not None and run.step % run.cfg.checkpoint_every:
        return False
    res = run.res
    res.seconds = run.elapsed()
    meta = {"n_window": run.n_window, "finished": finished, "seconds": res.seconds, "first_reached": res.first_reached,
            "first_reached_min_mcs": res.first_reached_min_mcs,
            "resampled": res.resampled, "history": dict(res.history), "mmcs_history": dict(res.mmcs_history),
            "eval_history": dict(res.eval_history), "mcs_history": dict(res.mcs_history)}
    save_run(Path(run.cfg.checkpoint_dir), run.step, run_signature(run.sae.cfg, run.cfg), run.sae, "sae",
             run.opt.state_tensors(), {"rng.data": run.batches.g},
             {"log.window": run.window, "log.fire_counts": run.fire_counts,
              **({"log.worst": run.worst, "log.worst_loss": run.worst_loss} if run.worst is not None else {})}, meta)
    return False


@torch.no_grad()
def evaluate(sae: SAE, x: torch.Tensor, ground_truth: torch.Tensor | None = None) -> dict[str, list]:
    """Held-out metrics per instance: dead latents (count), FVE, MSE, L0 and, with a ground truth, MMCS."""
    with eval_mode(sae):  # BatchTopK encodes with its threshold at evaluation
        out = sae(x)
    res = {
        "dead": dead_latents(out.codes).sum(dim=-1).tolist(),
        "fve": fraction_variance_explained(x, out.x_hat).tolist(),
        "mse": out.mse.tolist(),
        "l0": out.l0.tolist(),
    }
    if ground_truth is not None:
        res["mmcs"] = mmcs(ground_truth, sae.dictionary).tolist()
    return res


# ---- setting up and finishing a run
def _start(data: DataSource | torch.Tensor, sae_cfg: SAEConfig, cfg: TrainConfig, ground_truth: torch.Tensor | None,
           eval_data: torch.Tensor | None, init_dictionary: torch.Tensor | None) -> Run:
    """Check the inputs; build the SAE (and its starting dictionary), the optimiser, the batches and the held-out set."""
    device = resolve_device(cfg.device)
    matmul_dtype = resolve_matmul_dtype(cfg.matmul_dtype, device)
    ground_truth = _check_data(data, sae_cfg, cfg, ground_truth, device)
    if (init_dictionary is not None) != (sae_cfg.decoder_init == "given"):
        given = "a tensor" if init_dictionary is not None else None
        raise ValueError("init_dictionary goes with SAEConfig(decoder_init='given') and only with it; "
                         f"got decoder_init={sae_cfg.decoder_init!r} and init_dictionary={given}")
    sae = SAE(sae_cfg).to(device)
    if sae_cfg.decoder_init in ("data", "pca"):
        g_init = torch.Generator(device=device).manual_seed(derive_seed(cfg.seed, "init-data"))
        x_init = Batches(data, max(4 * sae_cfg.d_sae, 4096), g_init, device).next()
        g_cpu = torch.Generator().manual_seed(derive_seed(sae_cfg.seed, "sae-init-data"))
        make = data_dictionary if sae_cfg.decoder_init == "data" else pca_dictionary
        init_dictionary = make(x_init, sae_cfg.d_sae, g_cpu)
    if init_dictionary is not None:
        init_dictionary_(sae, init_dictionary)
    opt = SAEOptimizer(sae, cfg.optimizer, cfg.lr, cfg.muon_lr, betas=(0.9, cfg.adam_beta2))  # Adam fused: all parameters in one pass
    g = torch.Generator(device=device).manual_seed(derive_seed(cfg.seed, "train-data"))
    if eval_data is None:
        g_eval = torch.Generator(device=device).manual_seed(derive_seed(cfg.seed, "held-out"))
        if isinstance(data, DataSource):
            eval_data = data.sample(cfg.n_eval, g_eval)[0]
        else:
            eval_data = data[torch.randperm(data.shape[0], generator=g_eval, device=device)[: cfg.n_eval].to(data.device)]
    res = TrainResult(sae=sae, first_reached=[None] * sae_cfg.n_inst, first_reached_min_mcs=[None] * sae_cfg.n_inst,
                      matmul_dtype="float32" if matmul_dtype is None else str(matmul_dtype).removeprefix("torch."))
    return Run(sae=sae, opt=opt, cfg=cfg, batches=Batches(data, cfg.batch_size, g, device), res=res,
               alpha=sae.l1_coeff.clone(), penalised=bool(sae.l1_coeff.any()), matmul_dtype=matmul_dtype,
               eval_data=eval_data.to(device),
               ground_truth=ground_truth.to(device) if ground_truth is not None else None,
               window=torch.zeros(3, sae_cfg.n_inst, device=device),
               fire_counts=torch.zeros(sae_cfg.n_inst, sae_cfg.d_sae + 1, device=device),
               targets_met=torch.zeros(sae_cfg.n_inst, dtype=torch.bool, device=device),
               **(worst_pool(sae_cfg.n_inst, cfg.resample_pool, sae_cfg.d, device)
                  if cfg.resample_every and cfg.resample_from == "worst" else {}))


def _check_data(data: DataSource | torch.Tensor, sae_cfg: SAEConfig, cfg: TrainConfig, ground_truth: torch.Tensor | None,
                device: torch.device) -> torch.Tensor | None:
    """Raise on data that cannot train this SAE; returns the ground truth (a DataSource's features by default)."""
    if isinstance(data, DataSource):
        if not same_device(data.device, device):
            raise ValueError(f"data lives on {data.device} but TrainConfig.device is {device}; make ToyDataConfig.device match "
                             "(a DataSource makes its samples, with the training run's generator, on the SAE's device)")
        d_data = data.d
        ground_truth = data.features if ground_truth is None else ground_truth
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
    for name in ("stop_at_mmcs", "stop_at_min_mcs"):
        if getattr(cfg, name) is not None and ground_truth is None:
            raise ValueError(f"{name} needs a ground truth (ToyData or ground_truth=)")
    return ground_truth


def _finish(run: Run) -> TrainResult:
    """Restore α, make sure the last step is evaluated, write the final checkpoint; the SAE goes to evaluation mode."""
    run.sae.l1_coeff.copy_(run.alpha)
    steps = run.res.eval_history.step
    if steps is None or int(steps[-1]) != run.step:
        _record_eval(run)
    run.res.steps_done = run.step
    run.res.seconds = run.elapsed()
    if run.cfg.checkpoint_dir is not None:
        save_checkpoint(run, out=None, finished=True)
    run.sae.eval()
    return run.res


def _record_eval(run: Run) -> None:
    run.res.eval_history.append(**_when(run), **evaluate(run.sae, run.eval_data, run.ground_truth), **_density(run))


def _density(run: Run) -> dict[str, list]:
    """Dead-over-training and ultra-low-density counts per instance since the last eval (then the window restarts)."""
    if not run.cfg.track_density:
        return {}
    counts = run.fire_counts
    freq = counts[:, :-1] / counts[:, -1:].clamp_min(1)
    out = {"dead_train": run.sae.dead_mask().sum(-1).tolist(),
           "ultra_low": ((freq > 0) & (freq < run.cfg.ultra_low_density)).sum(-1).tolist()}
    counts.zero_()
    return out


def _when(run: Run) -> dict[str, int]:
    return {"step": run.step, "samples": run.step * run.cfg.batch_size}


def _logs_at(cfg: TrainConfig, steps_done: int) -> bool:
    return steps_done % cfg.log_every == 0 or steps_done == cfg.steps


def _check_finite(total: torch.Tensor, losses: torch.Tensor, step: int, lr: float) -> None:
    if not torch.isfinite(total):
        raise FloatingPointError(
            f"loss became {total.item()} at step {step} (instances {torch.nonzero(~torch.isfinite(losses)).flatten().tolist()}); "
            f"likely causes: learning rate too high (lr={lr:g}), an extreme l1_coeff, or NaN/inf in the data"
        )

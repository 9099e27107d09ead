"""Resuming a training run from its checkpoint (`TrainConfig.checkpoint_dir`): what must match, and loading the
saved state back into a live run (`sae_kit.training.loop.Run`)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from sae_kit._util import resolve_device, resolve_matmul_dtype
from sae_kit.sae.config import SAEConfig
from sae_kit.training.checkpoint import load_run
from sae_kit.training.config import TrainConfig
from sae_kit.training.history import EvalHistory, LossHistory, MCSHistory, MMCSHistory

if TYPE_CHECKING:
    from sae_kit.training.loop import Run

__all__ = ["run_signature", "resume"]


_BEFORE = {"adam_beta2": 0.999, "project_decoder_grad": False, "resample_after": None, "resample_from": "fresh",
           "resample_encoder_scale": 0.2, "stop_at_min_mcs": None, "found_mcs": 0.9,
           "sqrt_sparsity": 0.0, "sqrt_sparsity_eps": 0.1, "sqrt_sparsity_from": 0.64}


def run_signature(sae_cfg: SAEConfig, cfg: TrainConfig) -> dict:
    """What must match for a checkpoint to be resumed (everything but bookkeeping fields)."""
    t = {k: v for k, v in asdict(cfg).items() if k not in ("checkpoint_dir", "checkpoint_every", "progress", "device")}
    if not t["record_mcs"]:
        del t["record_mcs"]  # checkpoints written before the option existed still resume
    t = _without_old_values(t)
    # the dtype the products actually ran in ("auto" resolves per machine); float32 is left out, so checkpoints
    # written before the option existed (all float32) still resume
    if resolve_matmul_dtype(cfg.matmul_dtype, resolve_device(cfg.device)) is None:
        del t["matmul_dtype"]
    else:
        t["matmul_dtype"] = "bfloat16"
    return {"sae": sae_cfg.to_dict(), "train": t}


def _without_old_values(train: dict) -> dict:
    """Fields added later, at the value that reproduces what came before, left out: a checkpoint written before a
    field existed, or while the kit still recorded it at that value, resumes."""
    return {k: v for k, v in train.items() if not (k in _BEFORE and v == _BEFORE[k])}


def _stored_as_now(signature: dict) -> dict:
    return {**signature, "train": _without_old_values(signature.get("train", {}))}


def resume(run: Run) -> bool:
    """Load a checkpoint (if the folder holds one) into the run; returns whether that run had finished."""
    hint = (" (a checkpoint from float32 products, on a machine or kit version without bfloat16 training, loads with "
            "TrainConfig(matmul_dtype='float32'))")
    loaded = load_run(Path(run.cfg.checkpoint_dir), run_signature(run.sae.cfg, run.cfg), run.sae, "sae",
                      {"rng.data": run.batches.g}, hint, stored_as_now=_stored_as_now)
    if loaded is None:
        return False
    opt_tensors, meta = loaded
    run.opt.load_state_tensors(opt_tensors)
    res = run.res
    res.history, res.mmcs_history = LossHistory.from_lists(meta["history"]), MMCSHistory.from_lists(meta["mmcs_history"])
    res.eval_history, res.mcs_history = EvalHistory.from_lists(meta["eval_history"]), MCSHistory.from_lists(meta.get("mcs_history", {}))
    if res.eval_history.step is not None and res.eval_history.samples is None:  # written before evals recorded samples
        res.eval_history.samples = res.eval_history.step * run.cfg.batch_size
    res.first_reached, res.resampled, res.seconds = meta["first_reached"], meta.get("resampled", []), meta["seconds"]
    res.first_reached_min_mcs = meta.get("first_reached_min_mcs", res.first_reached_min_mcs)
    run.window.copy_(meta["tensors"]["log.window"])
    run.fire_counts.copy_(meta["tensors"]["log.fire_counts"])
    if run.worst is not None and "log.worst" in meta["tensors"]:
        run.worst.copy_(meta["tensors"]["log.worst"])
        run.worst_loss.copy_(meta["tensors"]["log.worst_loss"])
    run.step, run.n_window = int(meta["step"]), int(meta["n_window"])
    return bool(meta["finished"])

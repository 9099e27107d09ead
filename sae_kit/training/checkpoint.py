"""Resumable training runs: the one checkpoint format of the SAE loop (`train_sae`) and the tiny LM's (`train_lm`).

A checkpoint is a folder with checkpoint.safetensors (the model's weights and buffers under "<prefix>.", the
optimiser's state under "opt.", the random stream that draws the batches, and whatever else the loop keeps) and
checkpoint.json (the step, the run's configuration and the history so far), written by `sae_kit.io.save_checkpoint`.
A run resumes only from a checkpoint made for the same configuration (`run`, compared as JSON), so a resumed run
ends with exactly the numbers of an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sae_kit import io

__all__ = ["save_run", "load_run", "optimizer_state_tensors", "load_optimizer_state_tensors"]


def optimizer_state_tensors(opt: torch.optim.Optimizer, names: dict[int, str]) -> dict[str, torch.Tensor]:
    """Every state tensor of a torch optimiser as "<param name>.<key>" (names: id(param) → its name)."""
    out = {}
    for group in opt.param_groups:
        for p in group["params"]:
            for k, v in opt.state.get(p, {}).items():
                out[f"{names[id(p)]}.{k}"] = v if torch.is_tensor(v) else torch.tensor(v)
    return out


def load_optimizer_state_tensors(opt: torch.optim.Optimizer, names: dict[int, str], tensors: dict[str, torch.Tensor]) -> None:
    """Inverse of `optimizer_state_tensors`: step counters stay on the CPU (as Adam keeps them), moments move to
    their parameter's device."""
    for group in opt.param_groups:
        for p in group["params"]:
            prefix = f"{names[id(p)]}."
            state = {k[len(prefix):]: (v if k.endswith(".step") else v.to(p.device))
                     for k, v in tensors.items() if k.startswith(prefix) and "." not in k[len(prefix):]}
            if state:
                opt.state[p] = state


def save_run(directory: str | Path, step: int, run: dict, model: nn.Module, prefix: str,
             optimizer: dict[str, torch.Tensor], rng: dict[str, torch.Generator],
             tensors: dict[str, torch.Tensor] | None = None, meta: dict[str, Any] | None = None) -> None:
    """Save a run at `step`: the model's state under "<prefix>.", optimiser tensors under "opt.", each generator's
    state under its key, extra `tensors` as they are, and `meta` (JSON) beside the step and the run's configuration."""
    out = {f"{prefix}.{k}": v for k, v in model.state_dict().items()}
    out.update({f"opt.{k}": v for k, v in optimizer.items()})
    out.update({k: g.get_state() for k, g in rng.items()})
    out.update(tensors or {})
    io.save_checkpoint(directory, out, {"step": step, "run": run, **(meta or {})})


def load_run(directory: str | Path, run: dict, model: nn.Module, prefix: str, rng: dict[str, torch.Generator],
             hint: str = "", stored_as_now: Callable[[dict], dict] | None = None
             ) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
    """Load a checkpoint into `model` and the generators; returns (the optimiser tensors with "opt." removed, meta),
    or None when `directory` holds no checkpoint. A checkpoint of another configuration or shape raises ValueError.
    stored_as_now: maps the stored configuration to the form `run` has today before they are compared."""
    loaded = io.load_checkpoint(directory)
    if loaded is None:
        return None
    tensors, meta = loaded
    stored = io.to_jsonable(meta.get("run"))
    if stored_as_now is not None and isinstance(stored, dict):
        stored = stored_as_now(stored)
    if stored != io.to_jsonable(run):
        raise ValueError(f"the checkpoint in {directory} was made for another configuration ({meta.get('run')}); "
                         f"use another checkpoint_dir or delete it{hint}")
    own = model.state_dict()
    for k, v in own.items():
        t = tensors.get(f"{prefix}.{k}")
        if t is None or t.shape != v.shape:
            found = "missing" if t is None else tuple(t.shape)
            raise ValueError(f"checkpoint {directory}: tensor {prefix}.{k} is {found}, expected {tuple(v.shape)}")
    model.load_state_dict({k: tensors[f"{prefix}.{k}"] for k in own})
    for k, g in rng.items():
        g.set_state(tensors[k])
    meta["tensors"] = {k: v for k, v in tensors.items() if not k.startswith(("opt.", f"{prefix}.")) and k not in rng}
    return {k[4:]: v for k, v in tensors.items() if k.startswith("opt.")}, meta

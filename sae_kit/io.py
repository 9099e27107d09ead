"""Checkpoints and results on disk: tensors as safetensors, everything else as JSON. Nothing is ever unpickled."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

__all__ = ["save_checkpoint", "load_checkpoint", "write_json", "read_json", "to_jsonable"]

TENSORS = "checkpoint.safetensors"
META = "checkpoint.json"


def to_jsonable(obj: Any) -> Any:
    """Tensors, numpy values and tuples turned into plain JSON types (NaN/inf become None)."""
    if isinstance(obj, torch.Tensor):
        obj = obj.detach().cpu().tolist()
    if hasattr(obj, "tolist") and not isinstance(obj, (list, dict, str)):
        obj = obj.tolist()
    if isinstance(obj, Mapping):  # dicts and the training histories (sae_kit.training.history)
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json(path: str | Path, obj: Any) -> Path:
    """Write `obj` as indented JSON, atomically (a temporary file, then a rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(to_jsonable(obj), indent=2) + "\n")
    os.replace(tmp, path)
    return path


def read_json(path: str | Path) -> Any:
    """Read a JSON file; a missing or malformed file raises ValueError naming it."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as e:
        raise ValueError(f"{path}: no such file") from e
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from e


def save_checkpoint(directory: str | Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> Path:
    """Save `tensors` to directory/checkpoint.safetensors and `meta` to directory/checkpoint.json.

    Both are written to temporary files first and renamed, so an interrupted save leaves the previous checkpoint
    whole. The step in `meta` is also stored in the safetensors header, so a mismatched pair is detected on load.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stamp = str(meta.get("step", ""))
    tmp = directory / (TENSORS + ".tmp")
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata={"step": stamp})
    write_json(directory / (META + ".new"), meta)
    os.replace(tmp, directory / TENSORS)
    os.replace(directory / (META + ".new"), directory / META)
    return directory


def load_checkpoint(directory: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
    """Load a checkpoint saved by `save_checkpoint`; None if the directory holds none.

    A corrupt or inconsistent checkpoint raises ValueError naming the file.
    """
    directory = Path(directory)
    tpath, mpath = directory / TENSORS, directory / META
    if not tpath.exists() and not mpath.exists():
        return None
    if not tpath.exists() or not mpath.exists():
        missing = tpath if not tpath.exists() else mpath
        raise ValueError(f"incomplete checkpoint in {directory}: {missing.name} is missing")
    meta = read_json(mpath)
    try:  # one read: the tensors and the header's step stamp
        with safe_open(str(tpath), framework="pt") as f:
            stamp = (f.metadata() or {}).get("step")
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise ValueError(f"{tpath}: corrupt or not a safetensors file ({e})") from e
    if not isinstance(meta, dict) or stamp != str(meta.get("step", "")):
        raise ValueError(f"{tpath} and {mpath.name} are from different steps ({stamp} vs {meta.get('step')}); delete the checkpoint")
    return tensors, meta

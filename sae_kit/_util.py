"""Small shared helpers: argument checks, device choice, progress bars that are safe headless."""

from __future__ import annotations

import math
import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

HEADLESS_ENV = "SAE_KIT_HEADLESS"


def check_positive_int(name: str, value: Any) -> None:
    """Raise ValueError unless `value` is an int ≥ 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer (≥ 1), got {value!r}")


MAX_TENSOR_BYTES = 8 * 2**30
"""The most memory (8 GiB) a config's main tensors may need: larger sizes are refused in `__post_init__` with the
field and the memory they would take, rather than failing deep inside the allocator."""


def check_memory(fields: dict[str, Any], n_numbers: float, what: str, bytes_per_number: int = 4) -> None:
    """Raise ValueError when `n_numbers` numbers (`what`, sized by `fields`, {name: value}) exceed MAX_TENSOR_BYTES;
    the message names the largest field (the likeliest culprit), the others beside it, and the memory needed."""
    need = float(n_numbers) * bytes_per_number
    if need > MAX_TENSOR_BYTES:
        name = max(fields, key=lambda k: fields[k])
        others = ", ".join(f"{k}={v!r}" for k, v in fields.items() if k != name)
        raise ValueError(f"{name}={fields[name]!r}{f' (with {others})' if others else ''} would need "
                         f"{need / 2**30:,.1f} GiB for {what}; the kit's limit is {MAX_TENSOR_BYTES / 2**30:g} GiB: "
                         f"choose a smaller {name}")


def check_range(name: str, value: Any, low: float, high: float, *, low_open: bool = False, high_open: bool = False) -> None:
    """Raise ValueError unless `value` is a finite number in the interval [low, high] (ends open if asked): NaN and ±inf
    are refused even when a bound is infinite."""
    lo, hi = "(" if low_open else "[", ")" if high_open else "]"
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        raise ValueError(f"{name} must be a number in {lo}{low}, {high}{hi}, got {value!r}")


def derive_seed(seed: int, purpose: str) -> int:
    """A seed for one purpose, derived from a config's seed: different purposes never share a random stream.

    (Two generators seeded alike draw the same numbers: a toy dataset and an SAE both seeded 0 would otherwise start
    the SAE's dictionary from the ground-truth features' own Gaussian draws.)
    """
    return (seed * 1_000_003 + zlib.crc32(purpose.encode())) % (2**63)


def resolve_device(device: str | torch.device) -> torch.device:
    """'auto' → the best available device (cuda, then mps, then cpu); anything else is passed to torch.device."""
    if str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got {device!r}") from e


def same_device(a: str | torch.device, b: str | torch.device) -> bool:
    """True when a and b name one device ("cuda" and "cuda:0" do when GPU 0 is the current one)."""
    a, b = torch.device(a), torch.device(b)
    if a.type != b.type:
        return False
    if a.type == "cuda" and (a.index is None or b.index is None):
        current = torch.cuda.current_device()
        return (current if a.index is None else a.index) == (current if b.index is None else b.index)
    return a.index == b.index or a.type == "cpu"


@contextmanager
def eval_mode(module: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Run a block with `module.eval()` (BatchTopK encodes with its threshold), then restore its mode."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


def native_bf16(device: torch.device) -> bool:
    """True where bfloat16 matrix products run at hardware speed: a CUDA GPU with bf16 support, or an x86 CPU with
    AVX512-BF16 or AMX (elsewhere torch converts bf16 in software, which is slower than float32)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        caps = getattr(torch.cpu, "get_capabilities", dict)()
        return bool(caps.get("avx512_bf16") or caps.get("amx_bf16"))
    return False


def resolve_matmul_dtype(name: str, device: torch.device) -> torch.dtype | None:
    """`TrainConfig.matmul_dtype` → the dtype for the SAE's products (None: float32 throughout)."""
    if name == "auto":
        return torch.bfloat16 if native_bf16(device) else None
    return torch.bfloat16 if name == "bfloat16" else None


def is_headless() -> bool:
    """True in headless runs (papermill, CI): the env var SAE_KIT_HEADLESS is set to a non-empty value other than 0."""
    return os.environ.get(HEADLESS_ENV, "") not in ("", "0")


def progress(total: int, desc: str, enabled: bool = True, initial: int = 0):
    """A tqdm bar: the notebook widget bar when interactive, plain text when headless (widgets can stall papermill)."""
    if is_headless():
        from tqdm.std import tqdm
        return tqdm(total=total, desc=desc, disable=not enabled, initial=initial, mininterval=5.0)
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, disable=not enabled, initial=initial)

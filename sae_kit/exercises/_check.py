"""The machinery every checker shares: run the learner's function and the reference on seeded cases, compare, explain.

A checker is a list of `Case`s (seeded inputs, made fresh for each call so a function that writes into its inputs
cannot spoil the next case), a reference function, the names of its outputs, and a list of `Mistake`s: typical
wrong answers, each with a hint. When the learner's output differs from the reference, the checker prints which case
and which output differ, expected against got at the worst element and the max abs error; if the output equals a known
wrong answer on that case, it prints that mistake's hint, else the checker's general hint.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

__all__ = ["Case", "Mistake", "ExerciseError", "run_checks", "as_tensor_output"]

_HERE = os.path.dirname(os.path.abspath(__file__))


class ExerciseError(AssertionError):
    """Raised by a checker called with strict=True when the function under test is wrong."""


@dataclass
class Case:
    """One input to the function under test: a description and a builder of fresh (args, kwargs)."""

    name: str
    make: Callable[[], tuple[tuple, dict]]


@dataclass
class Mistake:
    """A typical wrong answer: `fn` computes it from the same inputs as the reference; `hint` explains it."""

    hint: str
    fn: Callable


@dataclass
class Check:
    """Everything a checker needs (see `run_checks`)."""

    title: str
    reference: Callable
    outputs: Sequence[str]
    cases: Sequence[Case]
    mistakes: Sequence[Mistake] = field(default_factory=list)
    general_hint: str = ""
    atol: float = 1e-5
    rtol: float = 1e-4


def as_tensor_output(value, n_outputs: int) -> tuple[torch.Tensor, ...] | str:
    """The function's return value as a tuple of float64 tensors, or a sentence saying why it cannot be one."""
    parts = tuple(value) if n_outputs > 1 and isinstance(value, (tuple, list)) else (value,)
    if len(parts) != n_outputs:
        return f"expected {n_outputs} outputs, got {len(parts)}"
    out = []
    for p in parts:
        if isinstance(p, torch.Tensor):
            out.append(p.detach().cpu().double())
        elif isinstance(p, (int, float, np.floating, np.integer, np.ndarray)) and not isinstance(p, bool):
            out.append(torch.as_tensor(np.asarray(p, dtype=np.float64)))
        else:
            return f"expected a tensor or a number, got {type(p).__name__}"
    return tuple(out)


def _compare(got: torch.Tensor, want: torch.Tensor, atol: float, rtol: float) -> str | None:
    """None when got ≈ want (same shape, NaN where want is NaN, |got − want| ≤ atol + rtol·|want|), else what differs."""
    if want.dim() == 0 and got.numel() == 1:
        got = got.reshape(())
    if tuple(got.shape) != tuple(want.shape):
        return f"shape: expected {tuple(want.shape)}, got {tuple(got.shape)}"
    if got.numel() == 0:
        return None
    bad_nan = torch.isnan(got) != torch.isnan(want)
    if bad_nan.any():
        i = tuple(int(v) for v in torch.nonzero(bad_nan)[0])
        return f"NaN at index {list(i)}: expected {float(want[i]):.6g}, got {float(got[i]):.6g}"
    err = (got - want).abs().nan_to_num(0.0)
    tol = atol + rtol * want.abs().nan_to_num(0.0)
    if (err <= tol).all():
        return None
    i = np.unravel_index(int(torch.argmax(err - tol)), tuple(err.shape)) if err.dim() else ()
    i = tuple(int(v) for v in i)
    where = f" at index {list(i)}" if i else ""
    return (f"values differ{where}: expected {float(want[i]):.6g}, got {float(got[i]):.6g} "
            f"(max abs error {float(err.max()):.3g}, tolerance {atol:g} + {rtol:g}·|expected|)")


def _differs(got: tuple, want: tuple, check: Check) -> str | None:
    """None when every output matches, else 'output <name>: <what differs>' for the first that does not."""
    for name, g, w in zip(check.outputs, got, want, strict=True):
        why = _compare(g, w, check.atol, check.rtol)
        if why is not None:
            return f"output '{name}': {why}"
    return None


def _diagnose(check: Check, make: Callable, got: tuple) -> str:
    """The hint of the first known mistake whose answer equals the learner's on this case, else the general hint."""
    for m in check.mistakes:
        args, kwargs = make()
        try:
            wrong = as_tensor_output(m.fn(*args, **kwargs), len(check.outputs))
        except Exception:  # a mistake that cannot run on this case simply does not match
            continue
        if not isinstance(wrong, str) and _differs(got, wrong, check) is None:
            return m.hint
    return check.general_hint


def run_checks(check: Check, fn: Callable, strict: bool = False) -> bool:
    """Run `fn` and the reference on every case; print '✓ passed (N cases)' or what differs; return whether it passed.

    strict=True: raise ExerciseError with the same message instead of returning False.
    """
    if not callable(fn):
        raise TypeError(f"{check.title}: fn must be a function (your implementation), got {type(fn).__name__}")
    for n, case in enumerate(check.cases, start=1):
        args, kwargs = case.make()
        want = as_tensor_output(check.reference(*args, **kwargs), len(check.outputs))
        args, kwargs = case.make()
        head = f"✗ {check.title} failed on case {n} of {len(check.cases)} ({case.name})"
        try:
            got = as_tensor_output(fn(*args, **kwargs), len(check.outputs))
        except Exception as e:  # report the learner's error with its last frame, not the checker's traceback
            frame = _learner_frame(e)
            msg = f"{head}:\n  your function raised {type(e).__name__}: {e}"
            if frame is not None:
                msg += f"\n  (line {frame.lineno}: {frame.line})" if frame.line else f"\n  (line {frame.lineno})"
            if isinstance(e, NotImplementedError):
                msg = f"{head}:\n  your function is not written yet (it raised NotImplementedError)"
            return _fail(msg + _hint(check.general_hint), strict)
        why = got if isinstance(got, str) else _differs(got, want, check)
        if why is not None:
            hint = check.general_hint if isinstance(got, str) else _diagnose(check, case.make, got)
            return _fail(f"{head}:\n  {why}" + _hint(hint), strict)
    print(f"✓ {check.title} passed ({len(check.cases)} cases)")
    return True


def _learner_frame(e: BaseException) -> traceback.FrameSummary | None:
    """The deepest frame of the traceback in the learner's code: not in this package, torch or another library."""
    frames = traceback.extract_tb(e.__traceback__)[1:]  # [0] is run_checks itself
    mine = [f for f in frames if not f.filename.startswith(_HERE) and "site-packages" not in f.filename
            and f"{os.sep}torch{os.sep}" not in f.filename]
    return mine[-1] if mine else frames[-1] if frames else None


def _hint(hint: str) -> str:
    return f"\n  hint: {hint}" if hint else ""


def _fail(message: str, strict: bool) -> bool:
    if strict:
        raise ExerciseError(message)
    print(message)
    return False


def generator(seed: int) -> torch.Generator:
    """A CPU generator seeded with `seed` (every case draws from its own)."""
    return torch.Generator().manual_seed(seed)

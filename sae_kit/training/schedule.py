"""The learning-rate schedule of every training loop in the kit (SAEs, the toy model of superposition, the tiny LM).

    lr(step) = lr · (step + 1) / warmup                          for step < warmup (linear warm-up from 0)
             = lr · (f + (1 − f) · shape(t)),  t = (step − warmup) / (steps − 1 − warmup) ∈ [0, 1]  after it

with shape(t) = 1 ("constant"), ½ (1 + cos πt) ("cosine", Loshchilov & Hutter 2017, https://arxiv.org/abs/1608.03983)
or 1 − t ("linear"), and f the final fraction: the last step (steps − 1) runs at f · lr.
"""

from __future__ import annotations

import math
from typing import Literal

__all__ = ["lr_at", "Decay", "DECAYS"]

Decay = Literal["constant", "cosine", "linear"]
DECAYS = ("constant", "cosine", "linear")


def lr_at(step: int, lr: float, steps: int, warmup_steps: int = 0, decay: Decay = "cosine",
          final_fraction: float = 0.0) -> float:
    """Learning rate of optimiser step `step` (0-based) of `steps` (see the module docstring for the formula)."""
    if decay not in DECAYS:
        raise ValueError(f"decay must be one of {DECAYS}, got {decay!r}")
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    if decay == "constant":
        return lr
    t = (step - warmup_steps) / max(1, steps - 1 - warmup_steps)
    shape = 0.5 * (1 + math.cos(math.pi * t)) if decay == "cosine" else 1 - t
    return lr * (final_fraction + (1 - final_fraction) * shape)

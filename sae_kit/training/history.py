"""What a training run returns (`TrainResult`) and what it recorded, as tensors: one dataclass per kind of record,
every series sharing `step` and `samples`.

    result.history.mse          # tensor [rec, inst]: MSE averaged over each log window
    result.history.samples      # tensor [rec]: training samples seen at each record
    result.history["mse"]       # the same values as nested lists (JSON-ready; how results read before)
    result.eval_history.dead    # tensor [rec, inst]: dead latents on the held-out sample

Dimension names: `rec` the records (one per logged step), `inst` the SAEs of the row, `feat` ground-truth features.
A history also reads like a dict of lists (`h["mse"]`, `"mse" in h`, `h.get("mcs")`, `dict(h)`) with only the
series that were recorded as keys.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from sae_kit.sae.base import SAE

__all__ = ["History", "LossHistory", "MMCSHistory", "MCSHistory", "EvalHistory", "TrainResult"]


def _tensor(value: Any) -> torch.Tensor:
    """A CPU tensor of one record's value: tensors keep their dtype; Python ints → int64, floats → float64."""
    if torch.is_tensor(value):
        return value.detach().cpu()
    t = torch.tensor(value)
    return torch.tensor(value, dtype=torch.float64) if t.is_floating_point() else t


@dataclass(eq=False)
class History(Mapping):
    """Records of a training run: every field is a tensor whose first axis runs over the records, or None when
    that series was never recorded."""

    step: torch.Tensor | None = None
    """[rec] optimiser steps done at each record."""
    samples: torch.Tensor | None = None
    """[rec] training samples seen at each record (step · batch size)."""

    @classmethod
    def from_lists(cls, series: Mapping[str, list]) -> History:
        """From a dict of per-record lists (a checkpoint's JSON; None stands for NaN there)."""
        h = cls()
        for name, values in series.items():
            h._check_name(name)
            setattr(h, name, torch.stack([_tensor(_nan_for_none(v)) for v in values]) if values else None)
        return h

    def append(self, **record: Any) -> None:
        """Add one record: a value for `step`, `samples` and each series (scalars, lists or tensors [inst, …])."""
        for name, value in record.items():
            self._check_name(name)
            new, old = _tensor(value)[None], getattr(self, name)
            setattr(self, name, new if old is None else torch.cat([old, new.to(torch.promote_types(old.dtype, new.dtype))]))

    def _check_name(self, name: str) -> None:
        if name not in {f.name for f in fields(self)}:
            raise ValueError(f"{type(self).__name__} records {[f.name for f in fields(self)]}, not {name!r}")

    # ---- read like the dict of lists results used to hold
    def __getitem__(self, key: str) -> list:
        t = getattr(self, key, None) if key in {f.name for f in fields(self)} else None
        if t is None:
            raise KeyError(key)
        return t.tolist()

    def __iter__(self) -> Iterator[str]:
        return (f.name for f in fields(self) if getattr(self, f.name) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self) == dict(other)

    def __repr__(self) -> str:
        n = 0 if self.step is None else len(self.step)
        return f"{type(self).__name__}({n} records of {list(self)})"


def _nan_for_none(v: Any) -> Any:
    if v is None:
        return float("nan")
    return [_nan_for_none(x) for x in v] if isinstance(v, list) else v


@dataclass(eq=False, repr=False)
class LossHistory(History):
    """Training losses every `log_every` steps: mse, l1, loss averaged over the steps since the last record."""

    seconds: torch.Tensor | None = None
    """[rec] wall time since training started."""
    mse: torch.Tensor | None = None
    """[rec, inst]"""
    l1: torch.Tensor | None = None
    """[rec, inst] L1 of the codes (before α)."""
    loss: torch.Tensor | None = None
    """[rec, inst] the loss minimised."""
    l0: torch.Tensor | None = None
    """[rec, inst] active latents per sample at the recorded step (not averaged)."""


@dataclass(eq=False, repr=False)
class MMCSHistory(History):
    """MMCS (ground truth → learned) every `mmcs_every` steps."""

    seconds: torch.Tensor | None = None
    """[rec] wall time since training started."""
    mmcs: torch.Tensor | None = None
    """[rec, inst]"""
    min_mcs: torch.Tensor | None = None
    """[rec, inst] the worst-found feature's MCS: every feature is found once it reaches `TrainConfig.found_mcs`."""
    n_below: torch.Tensor | None = None
    """[rec, inst] features with MCS < `TrainConfig.found_mcs` (not yet found)."""


@dataclass(eq=False, repr=False)
class MCSHistory(History):
    """Per-feature MCS every `mmcs_every` steps (with `TrainConfig(record_mcs=True)`)."""

    mcs: torch.Tensor | None = None
    """[rec, inst, feat]"""


@dataclass(eq=False, repr=False)
class EvalHistory(History):
    """Held-out figures every `eval_every` steps and at the end."""

    dead: torch.Tensor | None = None
    """[rec, inst] latents that fire on no held-out sample."""
    fve: torch.Tensor | None = None
    """[rec, inst] fraction of variance explained."""
    mse: torch.Tensor | None = None
    """[rec, inst]"""
    l0: torch.Tensor | None = None
    """[rec, inst]"""
    mmcs: torch.Tensor | None = None
    """[rec, inst] with a ground truth."""
    dead_train: torch.Tensor | None = None
    """[rec, inst] with `track_density`: latents not fired for `SAEConfig.dead_after` training samples."""
    ultra_low: torch.Tensor | None = None
    """[rec, inst] with `track_density`: latents whose firing frequency since the last record is in (0, ε)."""


@dataclass
class TrainResult:
    """A trained row of SAEs (returned in evaluation mode) and what happened during training (`sae_kit.training.history`)."""

    sae: SAE
    history: LossHistory = field(default_factory=LossHistory)
    """step, samples, seconds, and mse, l1, loss [rec, inst] averaged over the last `log_every` steps; l0 of the step."""
    mmcs_history: MMCSHistory = field(default_factory=MMCSHistory)
    """step, samples, seconds, mmcs [rec, inst] (ground truth → learned) every `mmcs_every` steps."""
    mcs_history: MCSHistory = field(default_factory=MCSHistory)
    """step, samples, mcs [rec, inst, feat] every `mmcs_every` steps when `record_mcs` (else empty)."""
    eval_history: EvalHistory = field(default_factory=EvalHistory)
    """step, samples, dead (count), fve, mse, l0 (and mmcs) [rec, inst] on the held-out sample every `eval_every` steps
    and at the end; with `track_density`, also dead_train and ultra_low."""
    resampled: list[list[int]] = field(default_factory=list)
    """Per resampling: [step, latents resampled in each instance…]."""
    first_reached: list[int | None] = field(default_factory=list)
    """Per instance: samples seen when MMCS first reached `stop_at_mmcs` (None if not reached or not asked)."""
    first_reached_min_mcs: list[int | None] = field(default_factory=list)
    """Per instance: samples seen when min MCS first reached `stop_at_min_mcs`, every feature found (None if not
    reached or not asked)."""
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

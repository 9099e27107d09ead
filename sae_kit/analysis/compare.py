"""Side-by-side comparison of SAE recipes (architecture × optimiser × init × remedy) at matched sparsity.

A recipe is an `SAEConfig` and a `TrainConfig`. Its row of instances usually sweeps the sparsity knob (α for L1, k for
TopK); `compare_recipes` trains every recipe on the same data and, for each, keeps the instance whose held-out L0 is
closest to a target, so recipes are compared at matched L0 (Gao et al. 2024 compare at matched k the same way).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from sae_kit.analysis.metrics import mcs
from sae_kit.sae.base import SAEConfig
from sae_kit.toy.data import DataSource
from sae_kit.training.loop import TrainConfig, TrainResult, train_sae

__all__ = ["Recipe", "RecipeResult", "compare_recipes", "samples_to_mmcs", "frontier_gap", "recommend"]


@dataclass
class Recipe:
    """One way to train an SAE; `sae` sets the architecture and init, `train` the optimiser and remedies."""

    name: str
    """Row label."""
    sae: SAEConfig
    """The SAE row (instances usually sweep α or k)."""
    train: TrainConfig
    """Training (optimiser, remedies, length)."""
    source: str = ""
    """Where the idea comes from."""
    init_dictionary: torch.Tensor | None = None
    """A starting dictionary [d_sae, d] or [inst, d_sae, d] for decoder_init="given"."""
    instance_names: list[str] | None = None
    """Report every instance as its own row under these names (e.g. one init per instance) instead of the one
    nearest the target L0."""


@dataclass
class RecipeResult:
    """The instance of a recipe closest to the target L0, with the figures the comparison reports."""

    name: str
    source: str
    instance: int
    """Which instance of the row was kept (closest held-out L0 to the target)."""
    knob: float
    """Its α (L1) or k (TopK, BatchTopK)."""
    figures: dict[str, float | int | None] = field(default_factory=dict)
    """l0, fve, dead_fraction, mse, seconds, and with a ground truth mmcs, mcc and samples_to_0.99."""
    result: TrainResult | None = field(default=None, repr=False)


def samples_to_mmcs(result: TrainResult, threshold: float = 0.99) -> list[int | None]:
    """Per instance: training samples seen when MMCS first reached `threshold` (None: never)."""
    h = result.mmcs_history
    out: list[int | None] = [None] * result.sae.n_inst
    for samples, values in zip(h.get("samples", []), h.get("mmcs", [])):
        for i, v in enumerate(values):
            if out[i] is None and v >= threshold:
                out[i] = samples
    return out


def frontier_gap(l0_ref: list[float], fve_ref: list[float], l0: list[float], fve: list[float]) -> float | None:
    """Mean FVE above the reference's L0–FVE frontier (linear in log L0) over the points inside its L0 range.

    > 0: the points reconstruct better than the reference at the same sparsity (Gao et al. 2024 compare
    architectures on this frontier). None when no point lies inside the reference's L0 range.
    """
    pts = sorted(zip(l0_ref, fve_ref))
    gaps = []
    for a, f in zip(l0, fve):
        for (a0, f0), (a1, f1) in zip(pts, pts[1:]):
            if a0 <= a <= a1 and a0 > 0:
                t = 0.0 if a1 == a0 else (math.log(a) - math.log(a0)) / (math.log(a1) - math.log(a0))
                gaps.append(f - (f0 + t * (f1 - f0)))
                break
    return sum(gaps) / len(gaps) if gaps else None


def compare_recipes(data: DataSource | torch.Tensor, recipes: list[Recipe], target_l0: float,
                    ground_truth: torch.Tensor | None = None, cache_dir: str | Path | None = None,
                    mcc_fn=None, eval_data: torch.Tensor | None = None) -> list[RecipeResult]:
    """Train each recipe on `data` and report its instance nearest `target_l0` (checkpoints in cache_dir/<name>).

    mcc_fn(reference [feat, d], learned [d_sae, d]) -> float adds MCC (one-to-one matching) when given.
    eval_data: held-out [n, d] for the figures (default: train_sae's — drawn from `data`).
    """
    if target_l0 <= 0:
        raise ValueError(f"target_l0 must be > 0, got {target_l0}")
    names = [r.name for r in recipes]
    if len(set(names)) != len(names):
        raise ValueError(f"recipe names must be unique, got {names}")
    if ground_truth is None and isinstance(data, DataSource):
        ground_truth = data.features
    for r in recipes:
        if r.instance_names is not None and len(r.instance_names) != r.sae.n_inst:
            raise ValueError(f"recipe {r.name!r}: {len(r.instance_names)} instance_names for n_inst={r.sae.n_inst}")
    out = []
    for r in recipes:
        cfg = r.train if cache_dir is None else replace(r.train, checkpoint_dir=str(Path(cache_dir) / _slug(r.name)))
        res = train_sae(data, r.sae, cfg, ground_truth=ground_truth, eval_data=eval_data, init_dictionary=r.init_dictionary)
        l0 = res.final("l0")
        if r.instance_names is not None:
            picks = list(enumerate(r.instance_names))
        else:
            picks = [(min(range(len(l0)), key=lambda j: abs(l0[j] - target_l0)), r.name)]
        for i, name in picks:
            out.append(_figures(res, r, i, name, ground_truth, mcc_fn))
    return out


def _figures(res: TrainResult, r: Recipe, i: int, name: str, ground_truth: torch.Tensor | None, mcc_fn) -> RecipeResult:
    knob = r.sae.ks[i] if r.sae.ks else r.sae.l1_coeffs[i]
    fig = {
        "l0": res.final("l0")[i], "fve": res.final("fve")[i], "mse": res.final("mse")[i],
        "dead_fraction": res.final("dead")[i] / r.sae.d_sae, "seconds": res.seconds,
    }
    if ground_truth is not None:
        learned = res.sae.dictionary[i]
        fig["mmcs"] = float(mcs(ground_truth.to(learned.device), learned).mean())
        fig["samples_to_0.99"] = samples_to_mmcs(res, 0.99)[i]
        if mcc_fn is not None:
            fig["mcc"] = float(mcc_fn(ground_truth.to(learned.device), learned))
    if "ultra_low" in res.eval_history:
        fig["ultra_low_fraction"] = res.eval_history["ultra_low"][-1][i] / r.sae.d_sae
    return RecipeResult(name, r.source, i, float(knob), fig, res)


def recommend(sections: dict[str, list[RecipeResult]], key: str = "mmcs") -> list[dict]:
    """Per question (section), the recipe with the best `key` (ties: fewer dead latents), and the runner-up."""
    rows = []
    for question, results in sections.items():
        ranked = sorted(results, key=lambda r: (-(r.figures.get(key) or float("-inf")), r.figures["dead_fraction"]))
        best = ranked[0]
        rows.append({
            "question": question, "best": best.name, "source": best.source, key: best.figures.get(key),
            "dead_fraction": best.figures["dead_fraction"],
            "runner_up": ranked[1].name if len(ranked) > 1 else None,
            f"runner_up_{key}": ranked[1].figures.get(key) if len(ranked) > 1 else None,
        })
    return rows


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_").lower()

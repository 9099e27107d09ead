"""The report's grid: L1 coefficient α × dictionary size, one batched run per dictionary size.

Every row (one dictionary size) is a single `train_sae` call whose instance axis holds all the α values, so the
whole grid is `len(d_sae_values)` batched runs. With `results_dir` each row checkpoints to its own folder: an
interrupted sweep resumes where it stopped, and finished rows load instead of training again. On a fixed tensor,
`eval_data` (tokens never trained on, e.g. `sk.split_by_story`'s held-out side) is where every final figure is
measured, with the number of latents that sample leaves unseen by chance beside the dead count (`sae_kit.lm.heldout`).

Dimension names: `size` dictionary sizes (ascending), `alpha` L1 coefficients, `d_sae`, `feat`, `d`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch

from sae_kit._util import derive_seed
from sae_kit.analysis.metrics import dictionary_mmcs, mcs
from sae_kit.lm.heldout import evaluate_heldout, expected_unseen, firing_counts
from sae_kit.sae.base import SAEConfig
from sae_kit.toy.data import DataSource
from sae_kit.training.loop import TrainConfig, TrainResult, train_sae

__all__ = ["GridResult", "train_grid", "report_alphas", "report_sizes", "goldilocks_zone"]


def report_alphas(e_min: int = -8, e_max: int = 8, e_step: int = 1) -> list[float]:
    """The report's L1 coefficients α = 10^(e/4) for e = e_min…e_max (default −8…8: 0.01 to 100)."""
    return [10 ** (e / 4) for e in range(e_min, e_max + 1, e_step)]


def report_sizes(n_features: int, e_min: int = -2, e_max: int = 5) -> list[int]:
    """The report's dictionary sizes G·2^e for e = e_min…e_max (default −2…5: 0.25× to 32× the features)."""
    return [int(n_features * 2.0**e) for e in range(e_min, e_max + 1)]


@dataclass
class GridResult:
    """Final metrics of an α × dictionary-size grid. Tensors are [size, alpha] unless noted."""

    d_sae_values: list[int]
    alphas: list[float]
    mmcs: torch.Tensor | None
    """Ground truth → learned MMCS (None without a ground truth)."""
    dead: torch.Tensor
    """Dead latents (count) on the held-out sample."""
    dead_fraction: torch.Tensor
    l0: torch.Tensor
    mse: torch.Tensor
    """Held-out reconstruction MSE."""
    l1: torch.Tensor
    """Training L1 (configured convention, before α) averaged over the last log window."""
    fve: torch.Tensor
    dictionary_mmcs: torch.Tensor
    """[size − 1, alpha]: MMCS of each dictionary against the next larger one with the same α."""
    mcs: list[torch.Tensor] | None
    """Per size: [alpha, feat] best cosine of each ground-truth feature (None without a ground truth)."""
    runs: list[TrainResult]
    """The training result of each row (SAE and histories)."""
    seconds: float
    dead_chance: torch.Tensor | None = None
    """With `eval_data`: latents a held-out sample of `n_eval` tokens is expected to leave unseen even if none were dead,
    Σ_j (1 − p_j)^n_eval over the latents that fire on the training tensor at rates p_j (`sk.expected_unseen`)."""
    dead_train: torch.Tensor | None = None
    """With `eval_data`: latents that never fire on the whole training tensor."""
    n_eval: int | None = None
    """With `eval_data`: the held-out tokens dead, l0, mse and fve were measured on (None: `train_sae`'s sample)."""


def train_grid(
    data: DataSource | torch.Tensor,
    d_sae_values: list[int],
    alphas: list[float],
    train_cfg: TrainConfig,
    sae_cfg: SAEConfig | None = None,
    ground_truth: torch.Tensor | None = None,
    results_dir: str | Path | None = None,
    eval_data: torch.Tensor | None = None,
) -> GridResult:
    """Train one row of SAEs per dictionary size (all α in one batched run each) and collect the grid's metrics.

    sae_cfg: a template for everything but d_sae and l1_coeff (default: SAEConfig's defaults). results_dir: resume
    and keep each row's checkpoint in results_dir/d_sae_<size>. eval_data: held-out rows [tok, d] for a tensor `data`;
    training monitors a seeded sample of `train_cfg.n_eval` of them, and the final dead, l0, mse and fve are measured
    on all of them, beside `dead_chance` and `dead_train` (without it: `train_sae`'s sample drawn from `data`).
    """
    if not d_sae_values or not alphas:
        raise ValueError("d_sae_values and alphas must be non-empty lists")
    monitor = _monitor_sample(data, eval_data, train_cfg)
    sizes = sorted(d_sae_values)
    if sizes != list(d_sae_values) or len(set(sizes)) != len(sizes):
        raise ValueError(f"d_sae_values must be distinct and ascending, got {d_sae_values}")
    d = data.d if isinstance(data, DataSource) else data.shape[-1]
    template = sae_cfg or SAEConfig(d=d, d_sae=sizes[0])
    if isinstance(data, DataSource) and ground_truth is None:
        ground_truth = data.features
    runs = []
    for size in sizes:
        cfg_row = replace(template, d=d, d_sae=size, l1_coeff=list(alphas), n_inst=len(alphas))
        ckpt = None if results_dir is None else str(Path(results_dir) / f"d_sae_{size}")
        runs.append(train_sae(data, cfg_row, replace(train_cfg, checkpoint_dir=ckpt), ground_truth=ground_truth,
                              eval_data=monitor))

    def final(key: str) -> torch.Tensor:
        return torch.tensor([r.final(key) for r in runs])

    held = None if eval_data is None else _heldout_tables(runs, data, eval_data)
    dead = final("dead").float() if held is None else held["dead"]
    gt = None if ground_truth is None else ground_truth.to(runs[0].sae.dictionary.device)
    return GridResult(
        d_sae_values=sizes,
        alphas=list(alphas),
        mmcs=None if gt is None else final("mmcs"),
        dead=dead,
        dead_fraction=dead / torch.tensor(sizes, dtype=torch.float32)[:, None],
        l0=final("l0") if held is None else held["l0"],
        mse=final("mse") if held is None else held["mse"],
        l1=torch.tensor([r.history["l1"][-1] for r in runs]),
        fve=final("fve") if held is None else held["fve"],
        dictionary_mmcs=torch.stack(
            [torch.as_tensor(dictionary_mmcs(a.sae.dictionary, b.sae.dictionary)) for a, b in zip(runs, runs[1:])]
        ) if len(runs) > 1 else torch.empty(0, len(alphas)),
        mcs=None if gt is None else [mcs(gt, r.sae.dictionary).cpu() for r in runs],
        runs=runs,
        seconds=sum(r.seconds for r in runs),
        dead_chance=None if held is None else held["chance"],
        dead_train=None if held is None else held["dead_train"],
        n_eval=None if eval_data is None else len(eval_data),
    )


def _monitor_sample(data: DataSource | torch.Tensor, eval_data: torch.Tensor | None, cfg: TrainConfig) -> torch.Tensor | None:
    """The seeded sample of `cfg.n_eval` held-out rows that training evaluates on as it goes (None without eval_data)."""
    if eval_data is None:
        return None
    if isinstance(data, DataSource):
        raise ValueError("eval_data is for a fixed tensor of data; a DataSource draws fresh held-out samples itself")
    if not isinstance(eval_data, torch.Tensor) or eval_data.dim() != 2 or eval_data.shape[1] != data.shape[-1] or len(eval_data) < 1:
        raise ValueError(f"eval_data must be a tensor [tok, d={data.shape[-1]}] with at least one row, "
                         f"got {getattr(eval_data, 'shape', type(eval_data).__name__)}")
    g = torch.Generator().manual_seed(derive_seed(cfg.seed, "held-out"))
    return eval_data[torch.randperm(len(eval_data), generator=g)[: cfg.n_eval]]


def _heldout_tables(runs: list[TrainResult], data: torch.Tensor, eval_data: torch.Tensor) -> dict[str, torch.Tensor]:
    """[size, alpha] tables over all of eval_data (dead, l0, mse, fve), the chance count of unseen latents and the
    latents dead on the whole training tensor."""
    rows = [evaluate_heldout(r.sae, eval_data) for r in runs]
    train_fires = [firing_counts(r.sae, data) for r in runs]  # [inst, d_sae] per size
    out = {k: torch.stack([row[k] for row in rows]).float() for k in ("dead", "l0", "mse", "fve")}
    out["chance"] = torch.stack([expected_unseen(f.double() / len(data), len(eval_data)) for f in train_fires]).float()
    out["dead_train"] = torch.stack([(f == 0).sum(-1) for f in train_fires]).float()
    return out


def goldilocks_zone(grid: GridResult, threshold: float = 0.95) -> dict:
    """Where the grid's MMCS (truth → learned) reaches `threshold`: per size, the α range inside the zone.

    Returns {"threshold", "cells": [[d_sae, α, mmcs], …], "by_size": {d_sae: [α_min, α_max]}, "best": [d_sae, α, mmcs],
    "summary": a sentence}.
    """
    if grid.mmcs is None:
        raise ValueError("goldilocks_zone needs a grid trained with a ground truth (grid.mmcs is None)")
    m = grid.mmcs
    cells = [[s, a, float(m[i, j])] for i, s in enumerate(grid.d_sae_values) for j, a in enumerate(grid.alphas)
             if m[i, j] >= threshold]
    by_size: dict[int, list[float]] = {}
    for s, a, _ in cells:
        lo, hi = by_size.get(s, [a, a])
        by_size[s] = [min(lo, a), max(hi, a)]
    i, j = divmod(int(m.argmax()), m.shape[1])
    best = [grid.d_sae_values[i], grid.alphas[j], float(m[i, j])]
    if cells:
        parts = [f"d_sae={s}: α {lo:.2g}–{hi:.2g}" for s, (lo, hi) in by_size.items()]
        summary = f"MMCS ≥ {threshold} in {len(cells)} of {m.numel()} cells — " + "; ".join(parts)
    else:
        summary = f"no cell reaches MMCS ≥ {threshold}"
    summary += f". Best: MMCS {best[2]:.3f} at d_sae={best[0]}, α={best[1]:.2g}."
    return {"threshold": threshold, "cells": cells, "by_size": by_size, "best": best, "summary": summary}

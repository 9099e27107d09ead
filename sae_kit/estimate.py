"""How many features are there, without ground truth? The report's dictionary-size heuristics made into one rule.

Sharkey, Braun & Millidge (2022) train dictionaries of growing size with the same α on the same data and read two
signals (RESEARCH.md §1):
- dictionary-to-dictionary MMCS (each dictionary's elements matched in the next larger one) rises while the smaller
  dictionary is short of features, and stops rising once it holds them all: "the number of features is estimated
  where it stops rising";
- dead latents appear once the dictionary is larger than the number of features (with α large enough).
The L1 and reconstruction (MSE) losses against size are kept beside them as evidence (the report's "loss
stickiness" combined them; its authors later deprecated it, so they stay separate here).

`estimate_n_features` turns this into a stated rule (see its docstring) and returns the evidence with the estimate, so
a reader can see which signal decided and overrule it. Its resolution is the spacing of the sizes tried (a factor of 2
on the report's grid). Dimension names: `size` dictionary sizes (ascending), `alpha` L1 coefficients.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch

from sae_kit._util import check_range
from sae_kit.metrics import dictionary_mmcs
from sae_kit.sweep import GridResult
from sae_kit.train import TrainResult

__all__ = ["FeatureCountEstimate", "estimate_n_features"]


@dataclass
class FeatureCountEstimate:
    """An estimate of the number of features and the evidence behind it (lists run over the sizes tried)."""

    estimate: int
    """The estimated number of features (one of the sizes tried)."""
    rule: str
    """Which signal decided: "dictionary_mmcs" (where it stops rising) or "dead_onset" (the largest size without dead latents)."""
    explanation: str
    """The decision in a sentence."""
    alpha: float
    """The L1 coefficient whose row of dictionaries was used."""
    d_sae_values: list[int]
    dictionary_mmcs: list[float]
    """[size − 1] MMCS of each dictionary against the next larger one."""
    dead_fraction: list[float]
    alive: list[int]
    """Latents that fire on the held-out sample."""
    mse: list[float]
    l1: list[float]
    d2d_size: int | None
    """The size where dictionary-to-dictionary MMCS stops rising (None when it never rises by `rise`)."""
    dead_onset_size: int | None
    """The size just below the first one with dead fraction ≥ `dead_threshold` (None when the smallest has them)."""

    @property
    def interval(self) -> tuple[int | None, int | None]:
        """Where the number of features lies, at the resolution of the sizes tried: from the estimate to the next size
        tried (None at an open end: no next size when the estimate is a lower bound, no lower end when every size
        already has dead latents and the estimate is an upper bound)."""
        i = self.d_sae_values.index(self.estimate)
        if self.rule == "dead_onset" and self.dead_onset_size is None:
            return None, self.estimate
        return self.estimate, self.d_sae_values[i + 1] if i + 1 < len(self.d_sae_values) else None

    def to_dict(self) -> dict:
        return {**asdict(self), "interval": list(self.interval)}


def _evidence(sae_sets: GridResult | Sequence[TrainResult]) -> dict:
    """Sizes, α values and [size, alpha] tables from a GridResult or from rows trained with the same α list."""
    if isinstance(sae_sets, GridResult):
        g = sae_sets
        return dict(sizes=list(g.d_sae_values), alphas=list(g.alphas), d2d=g.dictionary_mmcs, dead=g.dead, mse=g.mse, l1=g.l1)
    runs = sorted(sae_sets, key=lambda r: r.sae.cfg.d_sae)
    if len(runs) < 2 or not all(isinstance(r, TrainResult) for r in runs):
        raise ValueError("sae_sets must be a GridResult or a list of at least 2 TrainResults of different sizes")
    sizes = [r.sae.cfg.d_sae for r in runs]
    alphas = list(runs[0].sae.cfg.l1_coeffs)
    if len(set(sizes)) != len(sizes) or any(list(r.sae.cfg.l1_coeffs) != alphas for r in runs):
        raise ValueError(f"sae_sets must have distinct sizes and the same α list, got sizes {sizes}")
    d2d = torch.stack([torch.as_tensor(dictionary_mmcs(a.sae.dictionary, b.sae.dictionary)).cpu()
                       for a, b in zip(runs, runs[1:])])
    return dict(sizes=sizes, alphas=alphas, d2d=d2d, dead=torch.tensor([r.final("dead") for r in runs]).float(),
                mse=torch.tensor([r.final("mse") for r in runs]), l1=torch.tensor([r.history["l1"][-1] for r in runs]))


def estimate_n_features(
    sae_sets: GridResult | Sequence[TrainResult],
    alpha: float | None = None,
    rise: float = 0.05,
    plateau: float = 0.02,
    dead_threshold: float = 0.05,
) -> FeatureCountEstimate:
    """Estimate the number of features from dictionaries of several sizes trained on the same data with the same α.

    The rule (the report's heuristic, Sharkey, Braun & Millidge 2022, made explicit; the thresholds are the kit's):
    1. α: the given one, else the largest α at which the smallest dictionary has no dead latents (dead fraction <
       `dead_threshold`): the report reads the heuristic at an α large enough for dead latents to appear in large
       dictionaries, but not so large that codes die in small ones. Needs no ground truth.
    2. If the dictionary-to-dictionary MMCS curve m_i = MMCS(D_i → D_{i+1}) rises (max_i m_i − m_0 ≥ `rise`), the
       estimate is the first size s_i with m_i ≥ max m − `plateau`: where the curve stops rising.
    3. Otherwise the dead-latent onset decides: the size just below the first size whose dead fraction is ≥
       `dead_threshold` (dead latents appear above it; no size with dead latents → the largest size, a lower bound;
       dead latents from the smallest size on → the smallest size, an upper bound).
    sae_sets: a GridResult (`sk.train_grid`) or a list of TrainResults of different sizes with the same α list.
    """
    ev = _evidence(sae_sets)
    sizes, alphas = ev["sizes"], ev["alphas"]
    if len(sizes) < 2:
        raise ValueError(f"estimate_n_features needs at least 2 dictionary sizes, got {sizes}")
    for name, v in (("rise", rise), ("plateau", plateau), ("dead_threshold", dead_threshold)):
        check_range(name, v, 0.0, 1.0)
    d2d_all = ev["d2d"].float()  # [size − 1, alpha]
    sizes_t = torch.tensor(sizes, dtype=torch.float32)
    if alpha is None:
        alive_small = [k for k in range(len(alphas)) if float(ev["dead"][0, k]) / sizes[0] < dead_threshold]
        j = max(alive_small, key=lambda k: alphas[k]) if alive_small else min(range(len(alphas)), key=lambda k: alphas[k])
    else:
        close = [k for k, a in enumerate(alphas) if abs(a - alpha) <= 1e-9 * max(1.0, abs(a))]
        if not close:
            raise ValueError(f"alpha must be one of the trained values {alphas}, got {alpha}")
        j = close[0]
    d2d = d2d_all[:, j].tolist()
    dead_frac = (ev["dead"][:, j] / sizes_t).tolist()
    alive = [int(s - round(float(n))) for s, n in zip(sizes, ev["dead"][:, j].tolist())]

    d2d_size = None
    if max(d2d) - d2d[0] >= rise:
        top = max(d2d)
        d2d_size = sizes[next(i for i, m in enumerate(d2d) if m >= top - plateau)]
    first_dead = next((i for i, f in enumerate(dead_frac) if f >= dead_threshold), None)
    dead_onset_size = sizes[first_dead - 1] if first_dead else (sizes[-1] if first_dead is None else None)
    if d2d_size is not None:
        rule, est = "dictionary_mmcs", d2d_size
        why = f"dictionary-to-dictionary MMCS rises from {d2d[0]:.2f} and stops rising at d_sae={d2d_size} ({max(d2d):.2f} at most)"
    else:
        rule = "dead_onset"
        est = dead_onset_size if dead_onset_size is not None else sizes[0]
        why = f"dictionary-to-dictionary MMCS does not rise by {rise} (from {d2d[0]:.2f} to at most {max(d2d):.2f}); "
        if first_dead is None:
            why += f"no size has ≥ {dead_threshold:.0%} dead latents, so the features number at least {sizes[-1]}"
        elif first_dead == 0:
            why += f"every size has dead latents, so the features number at most {sizes[0]}"
        else:
            why += f"dead latents appear above d_sae={est} ({dead_frac[first_dead]:.0%} at {sizes[first_dead]})"
    return FeatureCountEstimate(
        estimate=int(est), rule=rule, explanation=f"at α={alphas[j]:.3g}: {why}", alpha=float(alphas[j]),
        d_sae_values=list(sizes), dictionary_mmcs=d2d, dead_fraction=dead_frac, alive=alive,
        mse=ev["mse"][:, j].tolist(), l1=ev["l1"][:, j].tolist(), d2d_size=d2d_size, dead_onset_size=dead_onset_size,
    )

"""The α collapse law: how the L1 coefficient at which an SAE collapses scales with the dictionary size.

The report (Sharkey, Braun & Millidge 2022,
https://www.alignmentforum.org/posts/z6QQJbtpkEAX3Aojj/interim-research-report-taking-features-out-of-superposition)
divides the L1 penalty by the dictionary size: L1 = mean_batch (1/d_sae) Σ_j |c_j| (`SAEConfig.l1_convention="mean"`),
and its author later called that a mistake ("you want more penalty as you scale", Sharkey's comment on the report).
Under that convention each latent feels the penalty α/d_sae, so if an SAE collapses at a fixed per-latent penalty
λ*, the collapse coefficient grows as α* ≈ λ* · d_sae: slope ≈ 1 of log α* against log d_sae. Under the sum
convention (L1 = mean_batch Σ_j |c_j|) the per-latent penalty is α itself, and the slope is ≈ 0.

Collapse α*: on a grid α_k = 10^(e_k/4) (the report's), above the α of the best MMCS, the first grid point where
MMCS < `mmcs_threshold` (0.8) or fewer latents stay alive than half the G features (`CollapseConfig.alive_features`:
a dead fraction above 1 − G/(2 d_sae), ½ at d_sae = G; counted against the features, not the dictionary, because
an SAE of 8G latents that has found every feature leaves 7/8 of them idle and has not collapsed). Between that
point α_k and the one before it, α_{k−1}, α* is interpolated linearly in log α at the crossing of the criterion
that failed (of the earliest crossing when both fail): log α* = log α_{k−1} + t (log α_k − log α_{k−1}),
t = (m_{k−1} − 0.8)/(m_{k−1} − m_k) for MMCS m, t = (q* − q_{k−1})/(q_k − q_{k−1}) for the dead fraction q and its
threshold q*.
(Counting from the best MMCS: at tiny α an SAE is not sparse and its MMCS is low too, but that is no collapse.)

Fit: least squares of log α* on log d_sae, pooled over seeds; the confidence interval is a t interval over the
per-seed slopes, mean ± t_{0.975, n−1} · sd/√n (n seeds). With a fixed step budget a larger dictionary peaks at a
lower MMCS, so it crosses 0.8 sooner: finite training biases both slopes down (the seed-to-seed CI does not cover
that systematic error).
Dimension names: `conv` conventions, `seed`, `size` dictionary sizes, `alpha` grid points.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from scipy import stats

from sae_kit._util import check_positive_int, check_range
from sae_kit.sae.base import SAEConfig
from sae_kit.toy.data import ToyData, ToyDataConfig
from sae_kit.training.loop import mmcs_train_config
from sae_kit.training.sweep import GridResult, train_grid

__all__ = ["collapse_alpha", "PowerLawFit", "fit_power_law", "CollapseConfig", "CollapseResult", "run_collapse"]


def collapse_alpha(alphas: Sequence[float], mmcs: Sequence[float], dead_fraction: Sequence[float] | None = None,
                   mmcs_threshold: float = 0.8, dead_threshold: float | None = 0.5) -> float:
    """α* of one dictionary size (module docstring): alphas ascending [alpha], mmcs [alpha], dead_fraction [alpha].

    NaN when no grid point above the best MMCS fails (collapse beyond the grid) or when the best MMCS itself fails
    (no working α on the grid: it collapsed below it).
    """
    a = torch.as_tensor(alphas, dtype=torch.float64)
    m = torch.as_tensor(mmcs, dtype=torch.float64)
    q = torch.zeros_like(m) if dead_fraction is None else torch.as_tensor(dead_fraction, dtype=torch.float64)
    if a.dim() != 1 or a.numel() < 2 or m.shape != a.shape or q.shape != a.shape:
        raise ValueError(f"alphas, mmcs and dead_fraction must be 1-D of equal length ≥ 2, got {tuple(a.shape)}, "
                         f"{tuple(m.shape)}, {tuple(q.shape)}")
    if not (a > 0).all() or not (a[1:] > a[:-1]).all():
        raise ValueError(f"alphas must be positive and strictly ascending, got {a.tolist()}")
    check_range("mmcs_threshold", mmcs_threshold, 0.0, 1.0, low_open=True)
    use_dead = dead_threshold is not None and dead_fraction is not None
    if dead_threshold is not None:
        check_range("dead_threshold", dead_threshold, 0.0, 1.0, low_open=True, high_open=True)
    fail = (m < mmcs_threshold) | ((q > dead_threshold) if use_dead else torch.zeros_like(m, dtype=torch.bool))
    peak = int(m.argmax())
    if fail[peak]:
        return math.nan
    later = torch.nonzero(fail[peak:]).flatten()
    if later.numel() == 0:
        return math.nan
    k = peak + int(later[0])
    ts = []
    if m[k] < mmcs_threshold:
        ts.append(float((m[k - 1] - mmcs_threshold) / (m[k - 1] - m[k])))
    if use_dead and q[k] > dead_threshold:
        ts.append(float((dead_threshold - q[k - 1]) / (q[k] - q[k - 1])))
    la, lb = math.log(a[k - 1]), math.log(a[k])
    return math.exp(la + min(ts) * (lb - la))


@dataclass
class PowerLawFit:
    """log α* = intercept + slope · log d_sae, pooled over seeds; CI from the per-seed slopes (t interval)."""

    slope: float
    intercept: float
    ci_low: float
    ci_high: float
    seed_slopes: list[float]
    n_points: int


def _ols(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    xm, ym = x.mean(), y.mean()
    slope = float(((x - xm) * (y - ym)).sum() / (x - xm).pow(2).sum())
    return slope, float(ym - slope * xm)


def fit_power_law(d_sae_values: Sequence[int], alpha_star: torch.Tensor, level: float = 0.95) -> PowerLawFit:
    """Fit log α* against log d_sae: alpha_star [seed, size] (NaN entries are left out; a seed needs ≥ 2 finite
    sizes to have a slope). CI: mean ± t_{(1+level)/2, n−1} · sd/√n over n ≥ 2 seed slopes (else NaN)."""
    check_range("level", level, 0.0, 1.0, low_open=True, high_open=True)
    s = torch.as_tensor(d_sae_values, dtype=torch.float64)
    a = torch.as_tensor(alpha_star, dtype=torch.float64)
    if a.dim() == 1:
        a = a[None]
    if a.dim() != 2 or a.shape[1] != s.numel():
        raise ValueError(f"alpha_star must be [seed, size={s.numel()}], got {tuple(a.shape)}")
    x = s.log().expand_as(a)
    ok = torch.isfinite(a) & (a > 0)
    if int(ok.sum()) < 2 or len(set(x[ok].tolist())) < 2:
        raise ValueError(f"need finite α* at ≥ 2 distinct sizes to fit a slope, got α* = {a.tolist()}")
    slope, intercept = _ols(x[ok], a[ok].log())
    seed_slopes = [_ols(x[i][ok[i]], a[i][ok[i]].log())[0] for i in range(a.shape[0]) if int(ok[i].sum()) >= 2]
    n = len(seed_slopes)
    if n >= 2:
        t = torch.tensor(seed_slopes, dtype=torch.float64)
        half = float(stats.t.ppf((1 + level) / 2, n - 1) * t.std() / math.sqrt(n))
        centre = float(t.mean())
        lo, hi = centre - half, centre + half
    else:
        lo = hi = math.nan
    return PowerLawFit(slope=slope, intercept=intercept, ci_low=lo, ci_high=hi, seed_slopes=seed_slopes,
                       n_points=int(ok.sum()))


@dataclass
class CollapseConfig:
    """The collapse-law experiment: toy data, dictionary sizes, α grids per convention, seeds, training."""

    n_features: int = 32
    """G, ground-truth features of the toy data (`ToyData`, all equally frequent)."""
    d: int = 16
    """Data dimension."""
    avg_active: float = 2.0
    """Mean active features per sample."""
    d_sae_values: Sequence[int] = (32, 64, 128)
    """Dictionary sizes (ascending). At 600 steps a 256-latent dictionary of this toy never reaches MMCS 0.8 (its α*
    is NaN): larger dictionaries need longer training."""
    alpha_exponents: dict = field(default_factory=lambda: {"mean": (-4, 8), "sum": (-14, -2)})
    """Per L1 convention, the grid α = 10^(e/4) for e = lo…hi (the report's quarter-decade steps). The sum
    convention's α is per latent, d_sae times smaller than the mean convention's at the same penalty."""
    seeds: int = 3
    """Seeds 0…seeds−1; each seeds the toy data's directions, the SAEs' initialisation and the data stream."""
    steps: int = 600
    batch_size: int = 256
    lr: float = 1e-2
    mmcs_threshold: float = 0.8
    """Collapse when MMCS falls below this."""
    alive_features: float | None = 0.5
    """Collapse when fewer latents stay alive than this fraction of the G features: a dead fraction above
    1 − alive_features · G / d_sae (½ at d_sae = G). Counted against the features, not the dictionary: an SAE of
    8G latents that has found every feature leaves 7/8 of them idle without having collapsed. None: only MMCS
    defines collapse."""
    device: str = "cpu"

    def __post_init__(self) -> None:
        for name in ("n_features", "d", "seeds", "steps", "batch_size"):
            check_positive_int(name, getattr(self, name))
        sizes = list(self.d_sae_values)
        if len(sizes) < 2 or sizes != sorted(set(sizes)) or any(not isinstance(s, int) or s < 1 for s in sizes):
            raise ValueError(f"d_sae_values must be ≥ 2 distinct ascending positive integers, got {self.d_sae_values!r}")
        if not self.alpha_exponents or set(self.alpha_exponents) - {"mean", "sum"}:
            raise ValueError(f"alpha_exponents must map 'mean' and/or 'sum' to (lo, hi), got {self.alpha_exponents!r}")
        for conv, (lo, hi) in self.alpha_exponents.items():
            if not (isinstance(lo, int) and isinstance(hi, int) and hi - lo >= 1):
                raise ValueError(f"alpha_exponents[{conv!r}] must be integers lo < hi, got {(lo, hi)!r}")
        check_range("mmcs_threshold", self.mmcs_threshold, 0.0, 1.0, low_open=True)
        if self.alive_features is not None:
            check_range("alive_features", self.alive_features, 0.0, 1.0, low_open=True)
            if sizes[0] <= self.alive_features * self.n_features:
                raise ValueError(f"alive_features={self.alive_features} needs every d_sae above alive_features · "
                                 f"n_features = {self.alive_features * self.n_features:g} (a dictionary that small is "
                                 f"'collapsed' from the start); got d_sae_values={self.d_sae_values!r}")

    def dead_threshold(self, d_sae: int) -> float | None:
        """The dead fraction above which a dictionary of `d_sae` latents counts as collapsed (None: MMCS alone)."""
        return None if self.alive_features is None else 1 - self.alive_features * self.n_features / d_sae

    def alphas(self, convention: str) -> list[float]:
        lo, hi = self.alpha_exponents[convention]
        return [10 ** (e / 4) for e in range(lo, hi + 1)]


@dataclass
class CollapseResult:
    """α* per convention, seed and size, the power-law fits, and the grids behind them."""

    d_sae_values: list[int]
    alpha_star: dict[str, torch.Tensor]
    """Per convention: [seed, size] (NaN: no collapse inside the grid)."""
    fits: dict[str, PowerLawFit]
    grids: dict[str, list[GridResult]]
    """Per convention: one grid per seed."""
    cfg: CollapseConfig


def run_collapse(cfg: CollapseConfig) -> CollapseResult:
    """One `train_grid` per convention and seed (every size's α values batched on the instance axis); α* and fits."""
    stars, fits, grids = {}, {}, {}
    for conv in cfg.alpha_exponents:
        alphas, rows, per_seed = cfg.alphas(conv), [], []
        for seed in range(cfg.seeds):
            data = ToyData(ToyDataConfig(n_features=cfg.n_features, d=cfg.d, avg_active=cfg.avg_active, decay=1.0,
                                         seed=seed, device=cfg.device))
            train = mmcs_train_config(steps=cfg.steps, batch_size=cfg.batch_size, lr=cfg.lr, seed=seed, device=cfg.device,
                                progress=False, eval_every=cfg.steps, mmcs_every=cfg.steps, matmul_dtype="float32")
            sae = SAEConfig(d=cfg.d, d_sae=cfg.d_sae_values[0], l1_convention=conv, seed=seed)
            grid = train_grid(data, list(cfg.d_sae_values), alphas, train, sae)
            per_seed.append(grid)
            rows.append([collapse_alpha(alphas, grid.mmcs[i], grid.dead_fraction[i], cfg.mmcs_threshold,
                                        cfg.dead_threshold(size)) for i, size in enumerate(cfg.d_sae_values)])
        stars[conv] = torch.tensor(rows, dtype=torch.float64)
        grids[conv] = per_seed
        try:
            fits[conv] = fit_power_law(cfg.d_sae_values, stars[conv])
        except ValueError:
            fits[conv] = PowerLawFit(math.nan, math.nan, math.nan, math.nan, [], 0)
    return CollapseResult(list(cfg.d_sae_values), stars, fits, grids, cfg)

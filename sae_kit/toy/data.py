"""Sharkey, Braun & Millidge (2022) toy data: sparse combinations of known feature directions.

A sample is x = Σ_i c_i f_i over G ground-truth feature directions f_i ∈ R^d (unit vectors drawn uniformly on the
hypersphere). Feature i is active with probability p_i ∝ λ^i, rescaled so that on average m features are active;
an active feature's coefficient is drawn from U[0, 1) (times an optional per-feature scale).

Correlated variant: a correlation matrix Σ = (1 − s) I + s C is drawn once (C: a random rank-4 correlation matrix,
so pairs of features correlate at |C_ij| of order 1/2; s: `correlation_strength`); for every *sample* a correlated
Gaussian z ~ N(0, Σ) is drawn, and feature i is active when Φ(z_i) < p_i (Φ the standard normal CDF: a Gaussian
copula). Each feature keeps its probability p_i exactly, so the mean active count stays m, while features whose z
correlate switch on together. (The report's variant drew u_i = Φ(z_i) and switched feature i on with probability
2·u_i·p_i: for sparse features that caps the co-activation correlation at about p·ρ/3, at the noise floor of any
sample we can afford. Earlier re-implementations drew one z per *batch*, which makes features independent inside a
batch; we draw one per sample.)

Dimension names: `batch` samples, `feat` ground-truth features, `d` data dimension.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

from sae_kit._util import check_memory, check_positive_int, check_range, derive_seed, resolve_device, same_device

__all__ = ["DataSource", "ToyDataConfig", "ToyData", "activation_probabilities", "toy_data_stats", "coactivation_correlation"]


@runtime_checkable
class DataSource(Protocol):
    """What the training loop needs of a generator of fresh samples with known features (ToyData, a TMS source, …)."""

    d: int
    """Data dimension."""
    device: torch.device
    """Where samples are made."""

    features: torch.Tensor
    """[feat, d] the ground-truth directions (unit rows)."""

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """x [batch, d] and the coefficients [batch, feat] that made it."""
        ...


@dataclass
class ToyDataConfig:
    """Configuration of the Sharkey toy-data generator (defaults are the report's)."""

    n_features: int = 512
    """G, number of ground-truth features (the report: 512)."""
    d: int = 256
    """Data dimension (the report: 256). G/d is the superposition ratio (the report: 2)."""
    avg_active: float = 5.0
    """m, mean number of active features per sample (the report: 5). At most `n_features`."""
    decay: float = 0.99
    """λ in p_i ∝ λ^i: how fast activation probability falls with feature index, in (0, 1] (1 = all equal)."""
    correlated: bool = False
    """Use the correlated variant (a correlated Gaussian per sample decides which features fire together)."""
    correlation_strength: float = 0.8
    """s in [0, 1): the weight of the random rank-4 correlation matrix in Σ = (1 − s) I + s C (0: independent
    features; used only when `correlated`)."""
    magnitude_decay: float = 1.0
    """Per-feature coefficient scale s_i = magnitude_decay^i, in (0, 1] (1 = all features on the same scale)."""
    seed: int = 0
    """Seed for the feature directions and the correlation matrix (samples take their own generator)."""
    device: str = "auto"
    """Where the features live and samples are made: "cpu", "cuda", … or "auto" (the best available)."""

    def __post_init__(self) -> None:
        check_positive_int("n_features", self.n_features)
        check_positive_int("d", self.d)
        check_range("avg_active", self.avg_active, 0.0, float(self.n_features), low_open=True)
        check_range("decay", self.decay, 0.0, 1.0, low_open=True)
        check_range("magnitude_decay", self.magnitude_decay, 0.0, 1.0, low_open=True)
        check_range("correlation_strength", self.correlation_strength, 0.0, 1.0, high_open=True)
        if not isinstance(self.seed, int):
            raise ValueError(f"seed must be an int, got {self.seed!r}")
        check_memory({"n_features": self.n_features, "d": self.d}, self.n_features * self.d, "the [feat, d] feature directions")
        if self.correlated:
            check_memory({"n_features": self.n_features}, 3 * self.n_features**2, "the correlated variant's [feat, feat] "
                         "correlation matrix and its Cholesky factor", bytes_per_number=8)
        p_max = float(activation_probabilities(self.n_features, self.avg_active, self.decay).max())
        if p_max > 1.0:
            raise ValueError(
                f"avg_active={self.avg_active} with decay={self.decay} gives the first feature probability "
                f"{p_max:.3f} > 1; lower avg_active or raise decay towards 1"
            )


def activation_probabilities(n_features: int, avg_active: float, decay: float) -> torch.Tensor:
    """p_i = m · λ^i / Σ_j λ^j, so that Σ_i p_i = m (float64, [feat])."""
    p = decay ** torch.arange(n_features, dtype=torch.float64)
    return p * (avg_active / p.sum())


def random_correlation_matrix(n: int, generator: torch.Generator, strength: float = 1.0, rank: int = 4) -> torch.Tensor:
    """Σ = (1 − strength) I + strength C, C = normalised A Aᵀ with A ~ N(0, 1) of shape [feat, rank] (a random
    low-rank correlation matrix: |C_ij| of order 1/√2 for rank 4). Positive definite for strength < 1 ([feat, feat], float64)."""
    a = torch.randn(n, rank, generator=generator, dtype=torch.float64)
    c = a @ a.T
    std = c.diagonal().sqrt()
    c = c / std[:, None] / std[None, :]
    return (1 - strength) * torch.eye(n, dtype=torch.float64) + strength * c


class ToyData:
    """Generator of toy samples with known ground-truth features (see the module docstring)."""

    def __init__(self, cfg: ToyDataConfig | None = None) -> None:
        self.cfg = cfg = cfg or ToyDataConfig()
        self.device = resolve_device(cfg.device)
        g = torch.Generator().manual_seed(derive_seed(cfg.seed, "toy-data"))
        features = torch.randn(cfg.n_features, cfg.d, generator=g)
        self.features = (features / features.norm(dim=1, keepdim=True)).to(self.device)  # [feat, d], unit rows
        self.probabilities = activation_probabilities(cfg.n_features, cfg.avg_active, cfg.decay).float().to(self.device)  # [feat]
        self.scales = (cfg.magnitude_decay ** torch.arange(cfg.n_features, dtype=torch.float32)).to(self.device)  # [feat]
        self.correlation: torch.Tensor | None = None  # [feat, feat]
        self._chol: torch.Tensor | None = None
        if cfg.correlated:
            corr = random_correlation_matrix(cfg.n_features, g, cfg.correlation_strength)
            self.correlation = corr.float().to(self.device)
            self._chol = torch.linalg.cholesky(corr + 1e-9 * torch.eye(cfg.n_features, dtype=torch.float64)).float().to(self.device)

    def __repr__(self) -> str:
        return f"ToyData({self.cfg})"

    @property
    def n_features(self) -> int:
        return self.cfg.n_features

    @property
    def d(self) -> int:
        return self.cfg.d

    def sample_coefficients(self, batch_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Coefficients c [batch, feat]: 0 where inactive, s_i · U[0, 1) where active."""
        return self._draw(batch_size, generator)[0]

    def _draw(self, batch_size: int, generator: torch.Generator | None
              ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """c [batch, feat] and its drawn entries (sample index [n_active], feature index [n_active], value [n_active])."""
        check_positive_int("batch_size", batch_size)
        if generator is not None and not same_device(generator.device, self.device):
            raise ValueError(f"generator lives on {generator.device} but the samples are made on {self.device} "
                             "(ToyDataConfig.device): create it with torch.Generator(device=data.device)")
        shape = (batch_size, self.cfg.n_features)
        kw = dict(generator=generator, device=self.device)
        if self._chol is None:
            active = torch.rand(shape, **kw) < self.probabilities  # [batch, feat]
        else:
            z = torch.randn(shape, **kw) @ self._chol.T  # [batch, feat], one correlated draw per sample
            active = torch.special.ndtr(z) < self.probabilities  # P(active) = p_i exactly; co-activation from Σ
        b, f = active.nonzero(as_tuple=True)  # [n_active] each: only the active ones draw a coefficient
        values = torch.rand(b.shape[0], **kw) * self.scales[f]
        c = torch.zeros(shape, device=self.device)
        c[b, f] = values
        return c, (b, f, values)

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw `batch_size` samples: (x [batch, d], coefficients [batch, feat]) with x = coefficients @ features."""
        c, entries = self._draw(batch_size, generator)
        return sparse_combination(c, self.features, entries), c


def sparse_combination(c: torch.Tensor, features: torch.Tensor,
                       entries: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """x = c @ features [batch, d] for coefficients c [batch, feat], summing only the nonzero terms on a CPU when at
    most a tenth of c is nonzero (the toy data's m of G: 5 of 512), which is several times faster than the dense
    product there; the dense product elsewhere (on a GPU the sum of scattered terms would not be deterministic).
    entries: (sample index, feature index, value) of c's nonzero terms where the caller has them (saves a pass over c;
    a term whose value is 0 adds nothing)."""
    if c.device.type != "cpu" or c.dim() != 2:
        return c @ features
    b, f, values = entries if entries is not None else (*c.nonzero(as_tuple=True), None)  # [nnz] each
    if 10 * b.shape[0] > c.numel():
        return c @ features
    values = c[b, f] if values is None else values
    terms = values[:, None] * features.index_select(0, f)  # [nnz, d]
    return torch.zeros(c.shape[0], features.shape[1], dtype=c.dtype).index_add_(0, b, terms)


def toy_data_stats(data: ToyData, n_samples: int = 20_000, seed: int = 0) -> dict[str, object]:
    """Empirical statistics of a sample: mean active count, mean active coefficient, per-feature frequencies.

    Returns {"mean_active", "mean_coefficient", "observed_frequency" [feat], "expected_frequency" [feat],
    "coactivation" (`coactivation_correlation` of the sample)}.
    """
    check_positive_int("n_samples", n_samples)
    g = torch.Generator(device=data.device).manual_seed(seed)
    c = data.sample_coefficients(n_samples, g)
    active = c > 0
    return {
        "mean_active": active.sum(dim=1).float().mean().item(),
        "mean_coefficient": (c[active] / data.scales.expand_as(c)[active]).mean().item(),
        "observed_frequency": active.float().mean(dim=0).cpu().tolist(),
        "expected_frequency": data.probabilities.cpu().tolist(),
        "coactivation": coactivation_correlation(active),
    }


def coactivation_correlation(active: torch.Tensor, min_count: int = 30) -> float:
    """Mean |Pearson correlation| between the on/off indicators of two features, over the pairs of features that fire
    at least `min_count` times in the sample (active [batch, feat] bool). Independent features give the noise floor,
    about √(2/π)/√batch."""
    a = active.float()
    a = a[:, a.sum(0) >= min_count]  # [batch, kept]
    if a.shape[1] < 2:
        return float("nan")
    corr = torch.corrcoef(a.T)  # [kept, kept]
    off = ~torch.eye(a.shape[1], dtype=torch.bool, device=a.device)
    return float(corr[off].abs().mean())

"""Sharkey, Braun & Millidge (2022) toy data: sparse combinations of known feature directions.

A sample is x = Σ_i c_i f_i over G ground-truth feature directions f_i ∈ R^d (unit vectors drawn uniformly on the
hypersphere). Feature i is active with probability p_i ∝ λ^i, rescaled so that on average m features are active;
an active feature's coefficient is drawn from U[0, 1) (times an optional per-feature scale).

Correlated variant (the report's): a random correlation matrix Σ is drawn once; for every *sample* a correlated
Gaussian z ~ N(0, Σ) is drawn and mapped through the standard normal CDF Φ, so u_i = Φ(z_i) is U[0, 1) for each
feature but correlated across features. Feature i is then active with probability 2·u_i·p_i, whose mean is p_i, so
the mean active count stays m. (Earlier re-implementations drew one z per *batch*; that makes features independent
inside a batch. We draw one per sample.)

Dimension names: `batch` samples, `feat` ground-truth features, `d` data dimension.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

from sae_kit._util import check_positive_int, check_range, derive_seed, resolve_device, same_device

__all__ = ["DataSource", "ToyDataConfig", "ToyData", "activation_probabilities", "toy_data_stats"]


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
    """Use the report's correlated variant (a correlated Gaussian per sample through Φ)."""
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
        if not isinstance(self.seed, int):
            raise ValueError(f"seed must be an int, got {self.seed!r}")
        p_max = float(activation_probabilities(self.n_features, self.avg_active, self.decay).max())
        limit = 0.5 if self.correlated else 1.0
        if p_max > limit:
            where = " in the correlated variant, where it is doubled" if self.correlated else ""
            raise ValueError(
                f"avg_active={self.avg_active} with decay={self.decay} gives the first feature probability "
                f"{p_max:.3f} > {limit} (the largest allowed{where}); lower avg_active or raise decay towards 1"
            )


def activation_probabilities(n_features: int, avg_active: float, decay: float) -> torch.Tensor:
    """p_i = m · λ^i / Σ_j λ^j, so that Σ_i p_i = m (float64, [feat])."""
    p = decay ** torch.arange(n_features, dtype=torch.float64)
    return p * (avg_active / p.sum())


def random_correlation_matrix(n: int, generator: torch.Generator) -> torch.Tensor:
    """A random positive-definite correlation matrix: normalised A Aᵀ + εI with A ~ N(0, 1/n) ([feat, feat], float64)."""
    a = torch.randn(n, n, generator=generator, dtype=torch.float64) / math.sqrt(n)
    cov = a @ a.T + 1e-3 * torch.eye(n, dtype=torch.float64)
    std = cov.diagonal().sqrt()
    return cov / std[:, None] / std[None, :]


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
            self.correlation = random_correlation_matrix(cfg.n_features, g).float().to(self.device)
            self._chol = torch.linalg.cholesky(self.correlation.double()).float()

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
        check_positive_int("batch_size", batch_size)
        if generator is not None and not same_device(generator.device, self.device):
            raise ValueError(f"generator lives on {generator.device} but the samples are made on {self.device} "
                             "(ToyDataConfig.device): create it with torch.Generator(device=data.device)")
        shape = (batch_size, self.cfg.n_features)
        kw = dict(generator=generator, device=self.device)
        if self._chol is None:
            p = self.probabilities  # [feat]
        else:
            z = torch.randn(shape, **kw) @ self._chol.T  # [batch, feat], one correlated draw per sample
            p = 2.0 * self.probabilities * torch.special.ndtr(z)
        active = torch.rand(shape, **kw) < p  # [batch, feat]
        b, f = active.nonzero(as_tuple=True)  # [n_active] each: only the active ones draw a coefficient
        c = torch.zeros(shape, device=self.device)
        c[b, f] = torch.rand(b.shape[0], **kw) * self.scales[f]
        return c

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw `batch_size` samples: (x [batch, d], coefficients [batch, feat]) with x = coefficients @ features."""
        c = self.sample_coefficients(batch_size, generator)
        return sparse_combination(c, self.features), c


def sparse_combination(c: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    """x = c @ features [batch, d] for coefficients c [batch, feat], summing only the nonzero terms on a CPU when at
    most a tenth of c is nonzero (the toy data's m of G: 5 of 512), which is several times faster than the dense
    product there; the dense product elsewhere (on a GPU the sum of scattered terms would not be deterministic)."""
    if c.device.type != "cpu" or c.dim() != 2:
        return c @ features
    b, f = c.nonzero(as_tuple=True)  # [nnz] each
    if 10 * b.shape[0] > c.numel():
        return c @ features
    return torch.zeros(c.shape[0], features.shape[1], dtype=c.dtype).index_add_(0, b, c[b, f, None] * features[f])


def toy_data_stats(data: ToyData, n_samples: int = 20_000, seed: int = 0) -> dict[str, object]:
    """Empirical statistics of a sample: mean active count, mean active coefficient, per-feature frequencies.

    Returns {"mean_active", "mean_coefficient", "observed_frequency" [feat], "expected_frequency" [feat]}.
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
    }

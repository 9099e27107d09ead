"""Hierarchical toy features: parents with mutually exclusive children, plus independent features.

The setting in which sparse autoencoders *absorb* features (Chanin et al. 2024, "A is for Absorption",
https://arxiv.org/abs/2409.14507): a child feature only fires with its parent, so an L1-penalised SAE saves a
latent activation by folding the parent's direction into the child's latent and switching the parent latent off
whenever the child is on. Default: Nabeshima's 20-feature tree (https://sparselatents.com/matryoshka.html, the
`tree.json` of github.com/noanabeshima/matryoshka-saes):

    3 parents,  each active with p = 0.15
      3 mutually exclusive children each, p = 0.2 given the parent (0.4: no child); a child never fires alone
    8 independent features, p = 0.05
    d = 20, the 20 feature directions orthonormal; an active feature has coefficient 1 (binary features)

Feature order: parents 0…P−1, then the children parent by parent, then the independent features.
Dimension names: `batch`, `feat` ground-truth features, `d` data dimension.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sae_kit._util import check_positive_int, check_range, derive_seed, resolve_device

__all__ = ["HierarchyConfig", "HierarchyData"]


@dataclass
class HierarchyConfig:
    """A tree of binary features (defaults: Nabeshima's 20-feature toy)."""

    n_parents: int = 3
    """Parent features."""
    n_children: int = 3
    """Mutually exclusive children per parent (≥ 0)."""
    parent_p: float = 0.15
    """Probability that a parent is active, in (0, 1]."""
    child_p: float = 0.2
    """Probability of each child given its parent, in (0, 1]; n_children · child_p ≤ 1 (the rest: no child)."""
    n_independent: int = 8
    """Features outside the tree (≥ 0)."""
    independent_p: float = 0.05
    """Probability of each independent feature, in (0, 1]."""
    d: int = 20
    """Data dimension, ≥ the number of features (the directions are orthonormal)."""
    seed: int = 0
    """Seed of the feature directions."""
    device: str = "cpu"
    """Where samples are made."""

    def __post_init__(self) -> None:
        check_positive_int("n_parents", self.n_parents)
        for name in ("n_children", "n_independent"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} must be an integer ≥ 0, got {v!r}")
        for name in ("parent_p", "child_p", "independent_p"):
            check_range(name, getattr(self, name), 0.0, 1.0, low_open=True)
        if self.n_children * self.child_p > 1 + 1e-9:
            raise ValueError(f"n_children · child_p must be ≤ 1 (mutually exclusive children), got "
                             f"{self.n_children} · {self.child_p} = {self.n_children * self.child_p:g}")
        check_positive_int("d", self.d)
        if self.d < self.n_features:
            raise ValueError(f"d must be ≥ the number of features ({self.n_features}) for orthonormal directions, got {self.d}")
        if not isinstance(self.seed, int):
            raise ValueError(f"seed must be an int, got {self.seed!r}")
        resolve_device(self.device)

    @property
    def n_features(self) -> int:
        return self.n_parents * (1 + self.n_children) + self.n_independent


class HierarchyData:
    """Samples of the feature tree (see the module docstring). Follows the `DataSource` protocol.

    `parent_of` [feat]: the parent of each child, −1 for parents and independent features; `parents` and
    `children[p]` list the indices.
    """

    def __init__(self, cfg: HierarchyConfig | None = None) -> None:
        self.cfg = cfg = cfg or HierarchyConfig()
        self.device = resolve_device(cfg.device)
        g = torch.Generator().manual_seed(derive_seed(cfg.seed, "hierarchy"))
        q, _ = torch.linalg.qr(torch.randn(cfg.d, cfg.d, generator=g, dtype=torch.float64))
        self.features = q.T[: cfg.n_features].float().contiguous().to(self.device)  # [feat, d] orthonormal rows
        P, C = cfg.n_parents, cfg.n_children
        self.parents = list(range(P))
        self.children = [list(range(P + p * C, P + (p + 1) * C)) for p in range(P)]
        self.independent = list(range(P * (1 + C), cfg.n_features))
        self.parent_of = torch.full((cfg.n_features,), -1, dtype=torch.long)
        for p, kids in enumerate(self.children):
            self.parent_of[kids] = p

    @property
    def d(self) -> int:
        return self.cfg.d

    @property
    def n_features(self) -> int:
        return self.cfg.n_features

    def sample_coefficients(self, batch_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """c [batch, feat] in {0, 1}: parents ~ Bernoulli(parent_p); given an active parent, child j with probability
        child_p each (at most one); independent features ~ Bernoulli(independent_p)."""
        check_positive_int("batch_size", batch_size)
        cfg = self.cfg
        if generator is None:
            generator = torch.Generator(device=self.device).manual_seed(0)
        kw = dict(generator=generator, device=self.device)
        P, C = cfg.n_parents, cfg.n_children
        c = torch.zeros(batch_size, cfg.n_features, device=self.device)
        parent_on = torch.rand(batch_size, P, **kw) < cfg.parent_p  # [batch, P]
        c[:, :P] = parent_on.float()
        if C:
            u = torch.rand(batch_size, P, **kw)  # one uniform picks the child: child j when j·p ≤ u < (j+1)·p
            pick = (u / cfg.child_p).floor().long()  # [batch, P]; ≥ C: no child
            onehot = (pick[..., None] == torch.arange(C, device=self.device)) & parent_on[..., None]  # [batch, P, C]
            c[:, P : P * (1 + C)] = onehot.reshape(batch_size, P * C).float()
        if self.independent:
            c[:, P * (1 + C):] = (torch.rand(batch_size, cfg.n_independent, **kw) < cfg.independent_p).float()
        return c

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """x [batch, d] = c @ features and the coefficients c [batch, feat]."""
        c = self.sample_coefficients(batch_size, generator)
        return c @ self.features, c

    def __repr__(self) -> str:
        c = self.cfg
        return f"HierarchyData({c.n_parents} parents × {c.n_children} children + {c.n_independent} independent, d={c.d})"

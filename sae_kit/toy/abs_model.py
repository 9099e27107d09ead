"""Computation in superposition: the absolute-value toy model (Elhage et al. 2022), many trained at once.

    h = ReLU(W₁ x)                  W₁ [d_hidden, feat]: the hidden layer of ReLU neurons
    y = ReLU(W₂ h + b)              W₂ [feat, d_hidden], b [feat]
    L = mean_batch mean_i I_i (y_i − |x_i|)²,   I_i = importance^i

The model must *compute* |x_i| = ReLU(x_i) + ReLU(−x_i), so its hidden ReLUs are needed, unlike the plain toy model
(`sae_kit.toy.tms`) that only stores x. Data: x_i = 0 with probability S = 1 − p, else U[−1, 1]. Defaults follow
Elhage et al. and ARENA's replication (`NeuronComputationModel`): 100 features → 40 neurons, importance 0.8^i,
feature probabilities p over a sparsity sweep (1, 0.3, 0.1, 0.03, …), Adam lr 1e-3, batch 1024.
Source: https://transformer-circuits.pub/2022/toy_model/index.html#computation

Dimension names: `inst` settings (one feature probability each), `batch`, `feat` (n), `d_hidden` (m), `dir` known
directions of the hidden layer (a feature's positive and negative part), `d_sae`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from sae_kit._util import check_positive_int, check_range, derive_seed, resolve_device

__all__ = ["AbsModelConfig", "AbsModelResult", "train_abs_model", "sample_abs_batch", "abs_forward", "abs_loss",
           "neuron_motifs"]


@dataclass
class AbsModelConfig:
    """A row of absolute-value models, one per feature probability, trained side by side."""

    n_features: int = 100
    """n, input features (Elhage et al.: 100)."""
    d_hidden: int = 40
    """m, hidden ReLU neurons (Elhage et al.: 40)."""
    feature_probability: float | Sequence[float] = (1.0, 0.3, 0.1, 0.03, 0.01)
    """p = 1 − S per instance, each in (0, 1]; one instance per value."""
    importance: float = 0.8
    """Importance decay: I_i = importance^i, > 0 (Elhage et al.: 0.8)."""
    steps: int = 3000
    """Optimiser steps."""
    batch_size: int = 1024
    """Samples per step per instance."""
    lr: float = 1e-3
    """Adam's peak learning rate (cosine decay to 0). > 0."""
    n_eval: int = 8192
    """Held-out samples per instance for the final loss."""
    seed: int = 0
    """Seed of the initialisation and the data stream."""
    device: str = "cpu"
    """"cpu", "cuda", … or "auto". These small models train fastest on the CPU."""

    def __post_init__(self) -> None:
        for name in ("n_features", "d_hidden", "steps", "batch_size", "n_eval"):
            check_positive_int(name, getattr(self, name))
        check_range("importance", self.importance, 0.0, math.inf, low_open=True, high_open=True)
        check_range("lr", self.lr, 0.0, math.inf, low_open=True, high_open=True)
        if not isinstance(self.seed, int):
            raise ValueError(f"seed must be an int, got {self.seed!r}")
        resolve_device(self.device)
        self.probabilities()

    @property
    def n_instances(self) -> int:
        return len(self.probabilities())

    def probabilities(self) -> torch.Tensor:
        """[inst] feature probability per instance (validated)."""
        p = torch.as_tensor(self.feature_probability, dtype=torch.float32).reshape(-1)
        if p.numel() == 0 or not ((p > 0) & (p <= 1)).all():
            raise ValueError(f"feature_probability must be one value or a non-empty list, each in (0, 1], got {self.feature_probability!r}")
        return p

    def importances(self) -> torch.Tensor:
        """[feat] I_i = importance^i."""
        return self.importance ** torch.arange(self.n_features, dtype=torch.float32)


@dataclass
class AbsModelResult:
    """Trained absolute-value models (one per feature probability)."""

    W1: torch.Tensor
    """[inst, d_hidden, feat]"""
    W2: torch.Tensor
    """[inst, feat, d_hidden]"""
    b: torch.Tensor
    """[inst, feat]"""
    loss: torch.Tensor
    """[inst] held-out loss."""
    loss_history: torch.Tensor
    """[logged, inst] training loss every `steps // 50` steps."""
    cfg: AbsModelConfig
    seconds: float

    @property
    def feature_probability(self) -> torch.Tensor:
        """[inst]"""
        return self.cfg.probabilities()


def sample_abs_batch(probability: torch.Tensor, n_features: int, batch_size: int, generator: torch.Generator) -> torch.Tensor:
    """x [inst, batch, feat]: x_i = 0 with probability 1 − p (per instance), else U[−1, 1)."""
    u = torch.rand(probability.shape[0], batch_size, n_features, generator=generator, device=probability.device)
    p = probability[:, None, None]
    # one uniform per entry: active when u < p, and then 2u/p − 1 is U[−1, 1)
    return torch.where(u < p, 2 * u / p - 1, torch.zeros((), device=u.device))


def abs_forward(W1: torch.Tensor, W2: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(h, y): h = ReLU(W₁ x) [inst, batch, d_hidden] and y = ReLU(W₂ h + b) [inst, batch, feat] for x [inst, batch, feat]."""
    h = torch.relu(torch.bmm(x, W1.transpose(1, 2)))
    return h, torch.relu(torch.baddbmm(b[:, None, :], h, W2.transpose(1, 2)))


def abs_loss(W1: torch.Tensor, W2: torch.Tensor, b: torch.Tensor, x: torch.Tensor, importance: torch.Tensor) -> torch.Tensor:
    """Per-instance loss mean_batch mean_i I_i (y_i − |x_i|)²: x [inst, batch, feat], importance [feat] → [inst]."""
    y = abs_forward(W1, W2, b, x)[1]
    return (importance * (y - x.abs()).pow(2)).mean(dim=(1, 2))


def train_abs_model(cfg: AbsModelConfig) -> AbsModelResult:
    """Train one absolute-value model per feature probability in one batched run (Adam, cosine decay)."""
    device = resolve_device(cfg.device)
    n, m = cfg.n_features, cfg.d_hidden
    p = cfg.probabilities().to(device)
    n_inst = p.shape[0]
    imp = cfg.importances().to(device)
    g_init = torch.Generator().manual_seed(derive_seed(cfg.seed, "abs-init"))
    std = math.sqrt(2.0 / (m + n))  # xavier normal, as ARENA's replication
    W1 = (torch.randn(n_inst, m, n, generator=g_init) * std).to(device).requires_grad_()
    W2 = (torch.randn(n_inst, n, m, generator=g_init) * std).to(device).requires_grad_()
    b = torch.zeros(n_inst, n, device=device, requires_grad=True)
    opt = torch.optim.Adam([W1, W2, b], lr=cfg.lr)
    g = torch.Generator(device=device).manual_seed(derive_seed(cfg.seed, "abs-data"))
    log_every = max(1, cfg.steps // 50)
    history = []
    t0 = time.perf_counter()
    for step in range(cfg.steps):
        for group in opt.param_groups:
            group["lr"] = cfg.lr * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))
        loss = abs_loss(W1, W2, b, sample_abs_batch(p, n, cfg.batch_size, g), imp)  # [inst]
        opt.zero_grad()
        loss.sum().backward()
        opt.step()
        if (step + 1) % log_every == 0:
            history.append(loss.detach())
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        g_eval = torch.Generator(device=device).manual_seed(derive_seed(cfg.seed, "abs-eval"))
        final = abs_loss(W1, W2, b, sample_abs_batch(p, n, cfg.n_eval, g_eval), imp)
    hist = torch.stack(history) if history else torch.empty(0, n_inst)
    return AbsModelResult(W1=W1.detach().cpu(), W2=W2.detach().cpu(), b=b.detach().cpu(), loss=final.cpu(),
                          loss_history=hist.cpu(), cfg=cfg, seconds=seconds)


def neuron_motifs(W1: torch.Tensor, W2: torch.Tensor, threshold: float = 0.2) -> dict[str, torch.Tensor]:
    """Which features each hidden neuron serves, and whether it serves several with opposite signs.

    Neuron j carries feature i on the path x_i → h_j → y_i with strength s_ji = |W₁[j, i]| · ReLU(W₂[i, j]) (only a
    positive read-out adds to y_i = |x_i|). Neuron j *serves* feature i when s_ji ≥ threshold · max_i' s_ji'. A
    neuron serving ≥ 2 features is polysemantic; it shows the *asymmetric superposition* motif of Elhage et al. 2022
    (https://transformer-circuits.pub/2022/toy_model/index.html#computation) when the features it serves enter with
    opposite signs in W₁ (it fires for x_a > 0 and for x_b < 0), so one ReLU computes parts of two absolute values.
    A neuron whose strongest path is below 1e-3 is unused. W1 [(inst,) d_hidden, feat], W2 [(inst,) feat, d_hidden]
    → counts per instance: "used", "polysemantic", "asymmetric" (each [(inst,)]), and fractions of used neurons
    "polysemantic_fraction", "asymmetric_fraction".
    """
    check_range("threshold", threshold, 0.0, 1.0, low_open=True)
    if W1.shape[-2:] != W2.shape[-2:][::-1]:
        raise ValueError(f"W1 must be [d_hidden, feat] and W2 [feat, d_hidden], got {tuple(W1.shape)} and {tuple(W2.shape)}")
    s = W1.abs() * torch.relu(W2.transpose(-1, -2))  # [(inst,) d_hidden, feat]
    top = s.amax(dim=-1, keepdim=True)  # [(inst,) d_hidden, 1]
    used = top[..., 0] > 1e-3
    serves = (s >= threshold * top) & used[..., None]
    n_served = serves.sum(dim=-1)
    pos = (serves & (W1 > 0)).any(dim=-1)
    neg = (serves & (W1 < 0)).any(dim=-1)
    poly = n_served >= 2
    out = {"used": used.sum(-1), "polysemantic": poly.sum(-1), "asymmetric": (poly & pos & neg).sum(-1)}
    n_used = out["used"].clamp_min(1).float()
    out["polysemantic_fraction"] = out["polysemantic"] / n_used
    out["asymmetric_fraction"] = out["asymmetric"] / n_used
    return out

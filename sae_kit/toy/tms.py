"""Toy models of superposition (Elhage et al. 2022), many trained at once along an instance axis.

    h  = W x                      W [d_hidden, feat]: each column W_i is feature i's direction in the hidden space
    x' = ReLU(Wᵀ W x + b)         (linear control: x' = Wᵀ W x + b)
    L  = mean_batch mean_i I_i (x_i − x'_i)²

Data: x_i = 0 with probability S = 1 − p, else U[0, 1) (p: the feature probability, "density"). I_i: importance.
Training as in Elhage et al.'s notebook (AdamW, torch's default weight decay 0.01, batch 1024, W xavier-normal,
b = 0), except the defaults' learning rate: 1e-2 with a cosine decay over 3,000 steps reaches their published
geometries (n = 5, m = 2: two orthogonal features when dense, a pentagon when sparse; n = 20, m = 5: more features as
sparsity grows) from a single seed, where their lr 1e-3 needs ~10,000 steps (tested in tests/test_tms.py).
The instance axis holds one model per *setting* (its own feature probability and importance) times `n_seeds` seeds;
after training, the seed with the lowest held-out loss is kept for every setting (at lr 1e-3 and in harder
settings a single run can stall in a worse local optimum).

Dimension names: `inst` settings (instances), `seed`, `batch`, `feat` (n), `d_hidden` (m).
The geometry metrics (dimensionality, D*, interference) live in `sae_kit.toy.geometry`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from sae_kit._util import check_memory, check_positive_int, check_range, derive_seed, progress, resolve_device
from sae_kit.training.schedule import lr_at

__all__ = ["TMSConfig", "TMSResult", "train_tms", "sample_tms_batch", "tms_loss", "tms_loss_and_grad", "TMSData", "check_superposition"]

Values = float | Sequence[float] | torch.Tensor


@dataclass
class TMSConfig:
    """A batch of toy models of superposition: `n_instances` settings × `n_seeds` seeds trained in one run."""

    n_features: int = 5
    """n, number of input features."""
    d_hidden: int = 2
    """m, hidden dimensions."""
    n_instances: int = 1
    """Number of settings (each its own feature probability and importance)."""
    feature_probability: Values = 0.1
    """p = 1 − S, in (0, 1]: one value for every instance, or a list/tensor with one per instance."""
    importance: Values = 1.0
    """I_i = importance^i (a decay; 1: all equal): one value, or one per instance; or an explicit [inst, feat]
    tensor/nested list of importances. Every importance must be > 0 (a decay may exceed 1: the n=2 phase
    diagram's second feature is up to 10× as important as the first)."""
    n_seeds: int = 1
    """Seeds per setting, trained side by side; the lowest-loss one is kept."""
    linear: bool = False
    """Drop the ReLU (the linear control model, which keeps the top m features by importance)."""
    steps: int = 3000
    """Optimiser steps."""
    batch_size: int = 1024
    """Samples per step per instance (Elhage et al.: 1024)."""
    lr: float = 1e-2
    """AdamW learning rate, > 0 (Elhage et al.: 1e-3 over 10,000 steps; 1e-2 with the cosine schedule reaches the
    same geometries in 3,000)."""
    lr_decay: str = "cosine"
    """"constant" (Elhage et al.'s default) or "cosine" (decays to 0; a cleaner geometry in fewer steps)."""
    weight_decay: float = 0.01
    """AdamW weight decay (torch's default, as Elhage et al.'s notebook used). ≥ 0."""
    n_eval: int = 8192
    """Held-out samples per instance for the final loss that chooses the best seed."""
    seed: int = 0
    """Seed of the initialisation and of the data stream."""
    device: str = "cpu"
    """Where to train: "cpu", "cuda", … or "auto". Tiny models train fastest on the CPU."""
    progress: bool = False
    """Show a progress bar."""

    def __post_init__(self) -> None:
        for name in ("n_features", "d_hidden", "n_instances", "n_seeds", "steps", "batch_size", "n_eval"):
            check_positive_int(name, getattr(self, name))
        check_range("lr", self.lr, 0.0, math.inf, low_open=True, high_open=True)
        check_range("weight_decay", self.weight_decay, 0.0, math.inf, high_open=True)
        if self.lr_decay not in ("constant", "cosine"):
            raise ValueError(f"lr_decay must be 'constant' or 'cosine', got {self.lr_decay!r}")
        if not isinstance(self.seed, int):
            raise ValueError(f"seed must be an int, got {self.seed!r}")
        resolve_device(self.device)
        sizes = {k: getattr(self, k) for k in ("n_features", "d_hidden", "n_instances", "n_seeds", "batch_size", "n_eval")}
        check_memory(sizes, self.n_instances * self.n_seeds * self.n_features * max(self.batch_size, self.n_eval, self.d_hidden),
                     "a [inst·seed, batch, feat] batch of inputs (or the [inst·seed, d_hidden, feat] weights)")
        self.probabilities()
        self.importances()

    def probabilities(self) -> torch.Tensor:
        """Feature probability per instance [inst] (validated)."""
        p = _per_instance("feature_probability", self.feature_probability, self.n_instances)
        if not ((p > 0) & (p <= 1)).all():
            raise ValueError(f"feature_probability must lie in (0, 1], got {p.tolist()}")
        return p

    def importances(self) -> torch.Tensor:
        """Importance of every feature of every instance [inst, feat] (validated)."""
        v = torch.as_tensor(self.importance, dtype=torch.float32)
        if v.dim() == 2:
            if tuple(v.shape) != (self.n_instances, self.n_features):
                raise ValueError(f"importance as a matrix must be [n_instances={self.n_instances}, n_features={self.n_features}], "
                                 f"got {tuple(v.shape)}")
            imp = v
        else:
            decay = _per_instance("importance", self.importance, self.n_instances)
            imp = decay[:, None] ** torch.arange(self.n_features, dtype=torch.float32)
        if not (torch.isfinite(imp).all() and (imp > 0).all()):
            raise ValueError("importance must be finite and > 0 (a decay > 0, or a positive [inst, feat] matrix)")
        return imp


def _per_instance(name: str, value: Values, n_instances: int) -> torch.Tensor:
    """One float per instance [inst] from a scalar or a list/tensor whose length must be n_instances."""
    v = torch.as_tensor(value, dtype=torch.float32)
    if v.dim() == 0:
        return v.expand(n_instances).clone()
    if v.dim() != 1 or v.shape[0] != n_instances:
        raise ValueError(f"{name} must be one number or one per instance (n_instances={n_instances}), got shape {tuple(v.shape)}")
    if not torch.isfinite(v).all():
        raise ValueError(f"{name} must be finite, got {v.tolist()}")
    return v


def check_superposition(n_features: int, d_hidden: int) -> None:
    """Raise ValueError unless there are more features than dimensions (superposition needs n > m)."""
    check_positive_int("n_features", n_features)
    check_positive_int("d_hidden", d_hidden)
    if d_hidden >= n_features:
        raise ValueError(f"superposition needs d_hidden < n_features, got d_hidden={d_hidden}, n_features={n_features}")


@dataclass
class TMSResult:
    """Trained toy models: the best seed of every setting, and what training did."""

    W: torch.Tensor
    """[inst, d_hidden, feat] the kept (lowest-loss) seed per setting."""
    b: torch.Tensor
    """[inst, feat]"""
    loss: torch.Tensor
    """[inst] held-out loss of the kept seed."""
    seed_losses: torch.Tensor
    """[inst, seed] held-out loss of every seed."""
    loss_history: torch.Tensor
    """[logged, inst] training loss of the best seed (every `steps // 50` steps)."""
    W_history: torch.Tensor
    """[logged, inst, d_hidden, feat] W of the best seed at the same steps as `loss_history` (the geometry forming)."""
    cfg: TMSConfig
    seconds: float

    @property
    def feature_probability(self) -> torch.Tensor:
        """[inst]"""
        return self.cfg.probabilities()

    @property
    def importance(self) -> torch.Tensor:
        """[inst, feat]"""
        return self.cfg.importances()


def sample_tms_batch(probability: torch.Tensor, n_features: int, shape: tuple[int, ...],
                     generator: torch.Generator) -> torch.Tensor:
    """x [*shape, inst, batch, feat] for shape = (*lead, batch): x_i is 0 with probability 1 − p (per instance), else U[0, 1)."""
    *lead, batch = shape
    full = (*lead, probability.shape[0], batch, n_features)
    u = torch.rand(full, generator=generator, device=probability.device)
    p = probability[:, None, None]
    # one uniform per entry: active when u < p, and then u / p is again U[0, 1)
    return torch.where(u < p, u / p, torch.zeros((), device=u.device))


def tms_forward(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor, linear: bool = False) -> torch.Tensor:
    """x' = ReLU(Wᵀ W x + b): W [inst, d_hidden, feat], b [inst, feat], x [inst, batch, feat] → [inst, batch, feat]."""
    h = torch.bmm(x, W.transpose(1, 2))  # [inst, batch, d_hidden]
    out = torch.baddbmm(b[:, None, :], h, W)  # [inst, batch, feat]
    return out if linear else torch.relu(out)


def tms_loss(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor, importance: torch.Tensor, linear: bool = False) -> torch.Tensor:
    """Per-instance loss mean_batch mean_i I_i (x_i − x'_i)²: x [inst, batch, feat], importance [inst, feat] → [inst]."""
    return (importance[:, None, :] * (x - tms_forward(W, b, x, linear)).pow(2)).mean(dim=(1, 2))


def tms_loss_and_grad(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor, importance: torch.Tensor,
                      linear: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The loss [inst] and its gradients with respect to W and b, written out by hand (about twice as fast as autograd
    for these tiny matrices; tested against it)."""
    h = torch.bmm(x, W.transpose(1, 2))  # [inst, batch, d_hidden]
    z = torch.baddbmm(b[:, None, :], h, W)  # [inst, batch, feat]
    r = (z if linear else torch.relu(z)) - x  # [inst, batch, feat]
    w = importance[:, None, :]
    loss = (w * r * r).mean(dim=(1, 2))
    g = r * w * (2.0 / (x.shape[1] * x.shape[2]))  # dL/dx'
    if not linear:
        g = g.masked_fill_(z <= 0, 0.0)  # dL/dz
    db = g.sum(dim=1)
    dW = torch.bmm(h.transpose(1, 2), g) + torch.bmm(torch.bmm(g, W.transpose(1, 2)).transpose(1, 2), x)
    return loss, dW, db


def train_tms(cfg: TMSConfig) -> TMSResult:
    """Train `n_instances × n_seeds` toy models in one batched run and keep the lowest-loss seed of each setting."""
    device = resolve_device(cfg.device)
    n, m, S = cfg.n_features, cfg.d_hidden, cfg.n_seeds
    n_inst = cfg.n_instances * S  # internal instances: setting-major, seed-minor
    p = cfg.probabilities().repeat_interleave(S).to(device)  # [n_inst]
    imp = cfg.importances().repeat_interleave(S, dim=0).to(device)  # [n_inst, feat]
    g_init = torch.Generator().manual_seed(derive_seed(cfg.seed, "tms-init"))
    W = (torch.randn(n_inst, m, n, generator=g_init) * math.sqrt(2.0 / (m + n))).to(device)  # xavier normal
    b = torch.zeros(n_inst, n, device=device)
    opt = torch.optim.AdamW([W, b], lr=cfg.lr, weight_decay=cfg.weight_decay, fused=device.type in ("cpu", "cuda"))
    g = torch.Generator(device=device).manual_seed(derive_seed(cfg.seed, "tms-data"))
    # sample many steps' batches at once (one call instead of one per step), keeping each chunk ≲ 8M numbers
    chunk = max(1, min(cfg.steps, 8_000_000 // (cfg.batch_size * n_inst * n)))
    log_every = max(1, cfg.steps // 50)
    history, W_history = [], []
    bar = progress(cfg.steps, "train TMS", enabled=cfg.progress)
    t0 = time.perf_counter()
    xs = None
    for step in range(cfg.steps):  # gradients by hand (tms_loss_and_grad): no autograd graph per step
        if step % chunk == 0:
            xs = sample_tms_batch(p, n, (min(chunk, cfg.steps - step), cfg.batch_size), g)  # [chunk, n_inst, batch, feat]
        if cfg.lr_decay == "cosine":  # decays to 0 one step after the last (steps + 1 in sae_kit.training.schedule's terms)
            for group in opt.param_groups:
                group["lr"] = lr_at(step, cfg.lr, cfg.steps + 1, decay="cosine")
        loss, W.grad, b.grad = tms_loss_and_grad(W, b, xs[step % chunk], imp, cfg.linear)  # [n_inst]
        opt.step()
        if (step + 1) % log_every == 0:
            history.append(loss.detach())
            W_history.append(W.detach().clone())
            bar.update(log_every)
    bar.close()
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        g_eval = torch.Generator(device=device).manual_seed(derive_seed(cfg.seed, "tms-eval"))
        x_eval = sample_tms_batch(p, n, (cfg.n_eval,), g_eval)  # [n_inst, n_eval, feat]
        seed_losses = tms_loss(W, b, x_eval, imp, cfg.linear).view(cfg.n_instances, S)  # [inst, seed]
        best = seed_losses.argmin(dim=1)  # [inst]
        pick = torch.arange(cfg.n_instances, device=device) * S + best  # [inst] index into the internal instances
        hist = torch.stack(history)[:, pick] if history else torch.empty(0, cfg.n_instances)
        W_hist = torch.stack(W_history)[:, pick] if W_history else torch.empty(0, cfg.n_instances, m, n)
    return TMSResult(
        W=W[pick].cpu(), b=b[pick].cpu(), loss=seed_losses.gather(1, best[:, None])[:, 0].cpu(),
        seed_losses=seed_losses.cpu(), loss_history=hist.cpu(),
        W_history=W_hist.cpu(), cfg=cfg, seconds=seconds,
    )


class TMSData:
    """SAE training data made by a trained toy model: sparse x over n features, h = W x in d_hidden dimensions.

    The ground-truth features are the learned directions Ŵ_i (unit columns of W) of the *represented* features,
    those with ‖W_i‖ ≥ `norm_threshold`. A dropped feature (‖W_i‖ ≈ 0) still fires in x, but it adds (almost)
    nothing to h, so no autoencoder could find it: it is left out of `features` and listed in `dropped`. The
    coefficients returned with a sample are c_i ‖W_i‖ of the represented features, so h ≈ c @ features.
    Follows the `DataSource` protocol; `d` = d_hidden.
    """

    def __init__(self, result: TMSResult, instance: int = 0, feature_probability: float | None = None,
                 norm_threshold: float = 0.5, device: str = "cpu") -> None:
        n_inst = result.W.shape[0]
        if not isinstance(instance, int) or not 0 <= instance < n_inst:
            raise ValueError(f"instance must be an int in [0, {n_inst - 1}], got {instance!r}")
        p = float(result.feature_probability[instance]) if feature_probability is None else feature_probability
        check_range("feature_probability", p, 0.0, 1.0, low_open=True)
        check_range("norm_threshold", norm_threshold, 0.0, math.inf, low_open=True, high_open=True)
        self.device = resolve_device(device)
        self.W = result.W[instance].to(self.device)  # [d_hidden, feat]
        norms = self.W.norm(dim=0)  # [feat]
        self.kept = torch.nonzero(norms >= norm_threshold).flatten()  # [kept]
        self.dropped = torch.nonzero(norms < norm_threshold).flatten().tolist()
        self.norms = norms[self.kept]  # [kept]
        self.features = (self.W[:, self.kept] / self.norms).T.contiguous()  # [kept, d_hidden], unit rows
        self.probability = torch.tensor([p], device=self.device)
        self.n_features = self.W.shape[1]

    @property
    def d(self) -> int:
        return self.W.shape[0]

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """h [batch, d_hidden] = W x, and the represented features' coefficients c_i ‖W_i‖ [batch, kept]."""
        check_positive_int("batch_size", batch_size)
        if generator is None:
            generator = torch.Generator(device=self.device).manual_seed(0)
        x = sample_tms_batch(self.probability, self.n_features, (batch_size,), generator)[0]  # [batch, feat]
        return x @ self.W.T, x[:, self.kept] * self.norms

    def __repr__(self) -> str:
        return f"TMSData(d={self.d}, {len(self.kept)} of {self.n_features} features represented)"

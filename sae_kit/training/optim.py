"""Optimisers for a row of SAEs: Adam for everything, or Muon for the weight matrices and Adam for the rest.

Muon (Jordan et al. 2024, https://kellerjordan.github.io/posts/muon/; `torch.optim.Muon`) replaces each matrix's
momentum-averaged gradient by its nearest semi-orthogonal matrix (a Newton–Schulz iteration) before the step.
EleutherAI's sparsify (https://github.com/EleutherAI/sparsify) trains SAEs with it: Muon for parameters with ndim ≥ 2,
Adam for biases, lr 2e-3. `torch.optim.Muon` takes 2-D parameters only; the kit's weights carry an instance axis
[inst, d_sae, d], so each instance's matrix is handed to `torch.optim.Muon` as its own 2-D view of the weight's storage
(a detached slice): the update is torch's, written in place into the row.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from sae_kit.training.checkpoint import load_optimizer_state_tensors, optimizer_state_tensors

__all__ = ["SAEOptimizer", "OptimizerName", "project_decoder_grad_"]

OptimizerName = Literal["adam", "muon"]


class SAEOptimizer:
    """One object the training loop steps: Adam (fused where available), or torch's Muon on every instance's matrices.

    betas: Adam's (β₁, β₂) (`TrainConfig.adam_beta2` sets β₂). Learning rates follow one schedule: `set_lr(scale)`
    sets Adam's lr to `lr · scale` and Muon's to `muon_lr · scale`.
    """

    def __init__(self, model: nn.Module, name: OptimizerName, lr: float, muon_lr: float = 2e-3, muon_momentum: float = 0.95,
                 muon_weight_decay: float = 0.0, betas: tuple[float, float] = (0.9, 0.999)) -> None:
        if name not in ("adam", "muon"):
            raise ValueError(f"optimizer must be 'adam' or 'muon', got {name!r}")
        self.name, self.lr, self.muon_lr = name, lr, muon_lr
        params = dict(model.named_parameters())
        device = next(iter(params.values())).device
        fused = device.type in ("cpu", "cuda")
        self.matrices: dict[str, nn.Parameter] = {}
        self.views: dict[str, list[torch.Tensor]] = {}
        if name == "muon":
            if not hasattr(torch.optim, "Muon"):
                raise ValueError(f"optimizer='muon' needs torch.optim.Muon (torch ≥ 2.9); this is torch {torch.__version__}")
            self.matrices = {n: p for n, p in params.items() if p.ndim == 3}  # [inst, rows, cols]
            self.views = {n: [p.detach()[i] for i in range(p.shape[0])] for n, p in self.matrices.items()}
            flat = [v for vs in self.views.values() for v in vs]
            self.muon = torch.optim.Muon(flat, lr=muon_lr, momentum=muon_momentum, weight_decay=muon_weight_decay)
        rest = [p for n, p in params.items() if n not in self.matrices]
        self.adam = torch.optim.Adam(rest, lr=lr, betas=betas, fused=fused) if rest else None
        self._names = {id(p): n for n, p in params.items()}
        self._params = list(params.values())

    def set_lr(self, scale: float) -> None:
        """Scale both learning rates by the schedule's factor for this step."""
        if self.adam is not None:
            for group in self.adam.param_groups:
                group["lr"] = self.lr * scale
        if self.matrices:
            for group in self.muon.param_groups:
                group["lr"] = self.muon_lr * scale

    def zero_grad(self) -> None:
        for p in self._params:  # what torch's zero_grad(set_to_none=True) does, without its per-call profiler hooks
            p.grad = None

    def step(self) -> None:
        for n, p in self.matrices.items():
            if p.grad is not None:
                for i, v in enumerate(self.views[n]):
                    v.grad = p.grad[i]
        if self.matrices:
            self.muon.step()
        if self.adam is not None:
            self.adam.step()

    # ---- state, by name (for checkpoints and for resets of single rows)
    def state_tensors(self) -> dict[str, torch.Tensor]:
        """Every state tensor under a stable name: "<param>.<key>" for Adam, "<param>.<inst>.<key>" for Muon."""
        out = optimizer_state_tensors(self.adam, self._names) if self.adam is not None else {}
        for n, vs in self.views.items():
            for i, v in enumerate(vs):
                for k, t in self.muon.state.get(v, {}).items():
                    out[f"{n}.{i}.{k}"] = t if torch.is_tensor(t) else torch.tensor(t)
        return out

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        """Inverse of `state_tensors` (Adam's step counters stay on the CPU; moments move to their parameter)."""
        if self.adam is not None:
            load_optimizer_state_tensors(self.adam, self._names, tensors)
        for n, vs in self.views.items():
            for i, v in enumerate(vs):
                state = {k.rsplit(".", 1)[1]: t.to(v.device) for k, t in tensors.items() if k.startswith(f"{n}.{i}.")}
                if state:
                    self.muon.state[v] = state

    @torch.no_grad()
    def reset_rows_(self, param: str, mask: torch.Tensor, second_moment: str = "zero") -> None:
        """Reset the optimiser state of the rows `mask` [inst, rows] of parameter `param` (e.g. resampled latents).

        Momentum (Adam's first moment, Muon's buffer) is zeroed. second_moment: "zero" also zeroes Adam's second
        moment; "mean" sets it to its mean over the instance's other rows. With a zero second moment Adam's next steps
        on the row are sign-like (every coordinate moves by about lr, whatever its gradient), which throws a restarted
        latent off the direction it was given; from the other rows' level its steps have their usual size.
        """
        if second_moment not in ("zero", "mean"):
            raise ValueError(f"second_moment must be 'zero' or 'mean', got {second_moment!r}")
        if param in self.matrices:
            for i, v in enumerate(self.views[param]):
                buf = self.muon.state.get(v, {}).get("momentum_buffer")
                if buf is not None:
                    buf[mask[i]] = 0
            return
        p = dict((self._names[id(q)], q) for g in self.adam.param_groups for q in g["params"])[param]
        state = self.adam.state.get(p, {})
        for name, v in state.items():
            if not (torch.is_tensor(v) and v.shape == p.shape):  # the moments only (not the step counter)
                continue
            if name == "exp_avg_sq" and second_moment == "mean":
                for i in range(v.shape[0]):
                    if mask[i].any() and not mask[i].all():
                        v[i][mask[i]] = v[i][~mask[i]].mean(dim=0)
                    elif mask[i].any():
                        v[i][mask[i]] = 0
            else:
                v[mask] = 0


@torch.no_grad()
def project_decoder_grad_(sae: nn.Module) -> None:
    """g_j ← g_j − (g_j · w_j) w_j for every decoder row w_j (unit norm): the part of the gradient along the row
    only changes the row's length, which `normalize_decoder_` undoes, but it would still feed Adam's moments."""
    W, g = sae.W_dec, sae.W_dec.grad  # [inst, d_sae, d]
    if g is not None:
        g.sub_((g * W).sum(dim=-1, keepdim=True) * W)

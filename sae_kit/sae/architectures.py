"""One class per SAE architecture; they differ only in how codes are made from the pre-activations.

    "l1"         c = ReLU(pre)                                   (Sharkey, Braun & Millidge 2022, with an L1 penalty)
    "topk"       c = ReLU(TopK_k(pre)), the k largest per sample  (Gao et al. 2024, https://arxiv.org/abs/2406.04093)
    "batchtopk"  training: the k·batch largest over the batch;    (Bussmann et al. 2024, https://arxiv.org/abs/2412.06410)
                 evaluation: c = pre · [pre > θ]
    "matryoshka" c = ReLU(pre) (or TopK with k); the loss makes every (Nabeshima 2024, https://sparselatents.com/matryoshka.html;
                 nested prefix reconstruct x on its own              Bussmann et al. 2025, https://arxiv.org/abs/2503.17547)

A new architecture (e.g. a Matryoshka SAE) is a subclass of `SAE` with an `activate` (and, if it needs one, its own
`codes_and_reconstruction`), registered under its name with `@register("name")`; `SAEConfig.architecture` lists the
names it accepts. Pre-activations `pre` are [inst, batch, d_sae]; `k` is always a count of active latents per sample.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from sae_kit.analysis.absorption import matryoshka_loss
from sae_kit.sae.base import REGISTRY, SAE, SAEConfig, SAEOutput, sparse_decode

__all__ = ["L1SAE", "TopKSAE", "BatchTopKSAE", "MatryoshkaSAE", "register"]


def register(name: str) -> Callable[[type[SAE]], type[SAE]]:
    """Class decorator: `SAE(cfg)` and `make_sae(cfg)` build this class for `cfg.architecture == name`."""
    def add(cls: type[SAE]) -> type[SAE]:
        cls.architecture = name
        REGISTRY[name] = cls
        return cls
    return add


@register("l1")
class L1SAE(SAE):
    """The report's SAE: c = ReLU(pre); sparsity comes from the L1 penalty α · L1(c) in the loss."""

    def activate(self, pre: torch.Tensor) -> torch.Tensor:
        return torch.relu(pre)


def _keep_first(vals: torch.Tensor, ks: list[int], per: int = 1) -> torch.Tensor:
    """Zero all but the first ks[i]·per of the sorted values of instance i: vals [inst, …, k_max·per] (instances with
    different k share one topk call of the largest k)."""
    if len(set(ks)) == 1:
        return vals
    keep = torch.arange(vals.shape[-1], device=vals.device) < torch.tensor(ks, device=vals.device)[:, None] * per
    return vals * (keep[:, None, :] if vals.dim() == 3 else keep)


@register("topk")
class TopKSAE(SAE):
    """c = ReLU(TopK_k(pre)): the k largest pre-activations of each sample, zeros elsewhere (k may differ per instance)."""

    def top_latents(self, pre: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The active latents' values and indices, both [inst, batch, k_max] (values 0 beyond instance i's k_i)."""
        ks = self.cfg.ks
        vals, idx = pre.topk(max(ks), dim=-1, sorted=len(set(ks)) > 1)  # sorted only when some k_i < k_max
        return _keep_first(torch.relu(vals), ks), idx

    def activate(self, pre: torch.Tensor) -> torch.Tensor:
        vals, idx = self.top_latents(pre)
        return torch.zeros_like(pre).scatter(-1, idx, vals)

    def codes_and_reconstruction(self, pre: torch.Tensor, matmul_dtype: torch.dtype | None = None
                                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """As the base, but with `cfg.sparse_decode` x̂ is gathered from the k active rows (`sparse_decode`)."""
        vals, idx = self.top_latents(pre)
        codes = torch.zeros_like(pre).scatter(-1, idx, vals)
        if not self.cfg.sparse_decode:
            return codes, self.decode(codes, matmul_dtype)
        x_hat = sparse_decode(self.W_dec, vals, idx)
        return codes, x_hat if self.b_dec is None else x_hat + self.b_dec[:, None, :]


@register("batchtopk")
class BatchTopKSAE(SAE):
    """Training (module in train mode): the k·batch largest pre-activations of each instance over the whole batch, so a
    sample may use more or fewer than k latents. Evaluation (`sae.eval()`): c = pre · [pre > θ], with θ the running
    mean of the smallest kept activation, which the training step updates by calling `update_threshold_`."""

    def __init__(self, cfg: SAEConfig) -> None:
        super().__init__(cfg)
        self.register_buffer("threshold", torch.zeros(cfg.n_inst))  # [inst] θ, the evaluation threshold

    def activate(self, pre: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return pre * (pre > self.threshold[:, None, None])
        n, batch, d_sae = pre.shape
        flat = pre.reshape(n, batch * d_sae)
        ks = self.cfg.ks
        vals, idx = flat.topk(min(max(ks) * batch, batch * d_sae), dim=-1, sorted=len(set(ks)) > 1)  # [inst, k_max·batch]
        vals = _keep_first(torch.relu(vals), ks, per=batch)
        return torch.zeros_like(flat).scatter(-1, idx, vals).view(n, batch, d_sae)

    @torch.no_grad()
    def update_threshold_(self, codes: torch.Tensor, rate: float = 0.01) -> None:
        """θ ← (1 − rate) · θ + rate · (smallest positive code of the batch), per instance; codes
        [inst, batch, d_sae] from a training-mode forward. An instance with no positive code keeps its θ."""
        smallest = torch.where(codes > 0, codes, torch.inf).amin(dim=(1, 2))  # [inst]
        smallest = torch.where(torch.isfinite(smallest), smallest, self.threshold)
        self.threshold.mul_(1 - rate).add_(rate * smallest)


@register("matryoshka")
class MatryoshkaSAE(SAE):
    """A Matryoshka SAE: the dictionary's first m₁ < m₂ < … < d_sae latents (`cfg.prefixes`) must each reconstruct x
    on their own, so the first latents learn general (parent) features whole instead of leaving them to be absorbed:

        loss = (1/|M|) Σ_{m ∈ M} mean_{batch, d} (x − c_{:m} W_dec[:m] (− b_dec))²  +  α · L1(c)

    (`sae_kit.analysis.absorption.matryoshka_loss`; Nabeshima 2024, https://sparselatents.com/matryoshka.html; Bussmann et al.
    2025, https://arxiv.org/abs/2503.17547, who use BatchTopK codes). Codes: c = ReLU(pre) with the L1 penalty, or
    the k largest per sample when `cfg.k` is set. At inference it is a plain L1 (or TopK) SAE: the nesting only
    shapes training. `SAEOutput.mse` stays the whole dictionary's MSE; `loss` holds the nested term.
    """

    def activate(self, pre: torch.Tensor) -> torch.Tensor:
        if not self.cfg.ks:
            return torch.relu(pre)
        ks = self.cfg.ks
        vals, idx = pre.topk(max(ks), dim=-1, sorted=len(set(ks)) > 1)
        return torch.zeros_like(pre).scatter(-1, idx, _keep_first(torch.relu(vals), ks))

    def forward(self, x: torch.Tensor, with_l0: bool = True, matmul_dtype: torch.dtype | None = None) -> SAEOutput:
        """As `SAE.forward`, with the whole-dictionary MSE in the loss replaced by the mean over nested prefixes."""
        out = super().forward(x, with_l0, matmul_dtype)
        nested = matryoshka_loss(out.codes, self.W_dec, x, self.cfg.prefixes, self.b_dec)  # [inst]
        return out._replace(loss=out.loss - out.mse + nested)

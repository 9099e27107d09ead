"""Deep SAEs: non-sparse MLP layers before and after the sparse layer (Abraham 2025).

Armaan A. Abraham, "Deep sparse autoencoders yield interpretable features too" (LW, 2025-02-23,
https://www.lesswrong.com/posts/tLCBJn3NcSNzi5xng/deep-sparse-autoencoders-yield-interpretable-features-too), sandwiches
the sparse layer between non-sparse, lower-dimensional layers; depth improved the reconstruction–sparsity frontier,
auto-interpretability scores held up, and dead latents were a problem. Here, with σ the hidden non-linearity:

    encoder   h = σ(A_m … σ(A_1 x + a_1) … + a_m)                  hidden widths `encoder_hidden` (may be empty)
    sparse    pre = W_enc h + b_enc,  c = TopK_k(pre) or ReLU(pre)  codes [inst=1, batch, d_sae]
    decoder   x̂ = B_n σ(… σ(W_dec c + b_1) …) + b_n                 hidden widths `decoder_hidden` (may be empty)
    loss      = MSE(x, x̂) + α · mean_j c_j + preact_std_coeff · std_latents(pre)

The columns of W_dec (one per latent, the sparse layer's output weights) are kept at unit norm, as the kit's SAEs do, so
the L1 penalty cannot be dodged by shrinking codes. With no hidden layers this is exactly the kit's TopK/L1 SAE with a
decoder bias (the tests check it). Abraham's reply in the comments suggests a small penalty on the std of the
pre-activations against dead latents (`preact_std_coeff`). When the decoder has hidden layers, a latent no longer has one
direction in activation space: MMCS against a ground truth is then undefined (`dictionary` raises).

`forward` returns the kit's `SAEOutput` with an instance axis of 1. `train_deep_sae` is a minimal loop over a tensor
or a `DataSource` using `TrainConfig`'s steps, batch size, learning-rate schedule, seed and device.
Dimension names: `batch`, `d`, `d_sae`, `inst` (always 1 here).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from sae_kit._util import check_positive_int, check_range, derive_seed, resolve_device
from sae_kit.analysis.metrics import fraction_variance_explained
from sae_kit.sae.base import SAEOutput
from sae_kit.toy.data import DataSource
from sae_kit.training.loop import TrainConfig

__all__ = ["DeepSAEConfig", "DeepSAE", "DeepSAEResult", "train_deep_sae"]


@dataclass
class DeepSAEConfig:
    """Shape and loss of a deep SAE."""

    d: int
    """Input (activation) width."""
    d_sae: int
    """Latents in the sparse layer."""
    encoder_hidden: Sequence[int] = ()
    """Widths of the non-sparse layers between the input and the sparse layer (Abraham: lower than d)."""
    decoder_hidden: Sequence[int] = ()
    """Widths of the non-sparse layers between the sparse layer and the output."""
    architecture: Literal["topk", "l1"] = "topk"
    """"topk": the k largest pre-activations per sample; "l1": ReLU with an L1 penalty."""
    k: int | None = None
    """Active latents per sample for "topk", 1 ≤ k ≤ d_sae."""
    l1_coeff: float = 0.0
    """α of the L1 penalty (mean over latents, as the kit's default convention). ≥ 0."""
    activation: Literal["relu", "gelu"] = "relu"
    """Non-linearity of the hidden layers."""
    preact_std_coeff: float = 0.0
    """Weight of the penalty on the std over latents of the pre-activations (against dead latents). ≥ 0."""
    seed: int = 0
    """Seed of the initialisation."""
    hidden: tuple[tuple[int, ...], tuple[int, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        check_positive_int("d", self.d)
        check_positive_int("d_sae", self.d_sae)
        for name in ("encoder_hidden", "decoder_hidden"):
            for i, w in enumerate(getattr(self, name)):
                check_positive_int(f"{name}[{i}]", w)
        if self.architecture not in ("topk", "l1"):
            raise ValueError(f"architecture must be 'topk' or 'l1', got {self.architecture!r}")
        if self.architecture == "topk" and (self.k is None or not 1 <= self.k <= self.d_sae):
            raise ValueError(f"architecture='topk' needs k with 1 ≤ k ≤ d_sae={self.d_sae}, got {self.k!r}")
        if self.activation not in ("relu", "gelu"):
            raise ValueError(f"activation must be 'relu' or 'gelu', got {self.activation!r}")
        check_range("l1_coeff", self.l1_coeff, 0.0, float("inf"), high_open=True)
        check_range("preact_std_coeff", self.preact_std_coeff, 0.0, float("inf"), high_open=True)
        self.hidden = (tuple(self.encoder_hidden), tuple(self.decoder_hidden))


def _mlp(widths: list[int], g: torch.Generator) -> nn.ModuleList:
    """Linear layers widths[0] → … → widths[-1] with nn.Linear's default init drawn from `g`."""
    layers = nn.ModuleList()
    for a, b in zip(widths, widths[1:]):
        lin = nn.Linear(a, b)
        with torch.no_grad():
            lin.weight.copy_((torch.rand(b, a, generator=g) * 2 - 1) / a**0.5)
            lin.bias.copy_((torch.rand(b, generator=g) * 2 - 1) / a**0.5)
        layers.append(lin)
    return layers


class DeepSAE(nn.Module):
    """A deep SAE (module docstring): encoder MLP → sparse layer → decoder MLP."""

    def __init__(self, cfg: DeepSAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        g = torch.Generator().manual_seed(derive_seed(cfg.seed, "deep-sae-init"))
        enc, dec = cfg.hidden
        self.encoder = _mlp([cfg.d, *enc, cfg.d_sae], g)  # last layer: the sparse layer's W_enc, b_enc
        self.decoder = _mlp([cfg.d_sae, *dec, cfg.d], g)  # first layer: W_dec [out, d_sae], one column per latent
        self.act = F.relu if cfg.activation == "relu" else F.gelu
        self.normalize_decoder_()

    @torch.no_grad()
    def normalize_decoder_(self) -> None:
        """Rescale each latent's column of the sparse layer's output weights to unit norm."""
        w = self.decoder[0].weight  # [out, d_sae]
        w /= w.norm(dim=0, keepdim=True).clamp_min(1e-12)

    @property
    def dictionary(self) -> torch.Tensor:
        """[d_sae, d] one direction per latent; only defined when the decoder is linear (no `decoder_hidden`)."""
        if self.cfg.hidden[1]:
            raise ValueError("a decoder with hidden layers has no linear dictionary (decoder_hidden must be empty)")
        return self.decoder[0].weight.detach().T

    def preactivations(self, x: torch.Tensor) -> torch.Tensor:
        """pre [batch, d_sae] of x [batch, d]."""
        if x.dim() != 2 or x.shape[1] != self.cfg.d:
            raise ValueError(f"x must be [batch, d={self.cfg.d}], got shape {tuple(x.shape)}")
        h = x
        for lin in self.encoder[:-1]:
            h = self.act(lin(h))
        return self.encoder[-1](h)

    def codes(self, pre: torch.Tensor) -> torch.Tensor:
        """Sparse codes [batch, d_sae]: ReLU of the k largest pre-activations ("topk") or ReLU of all ("l1")."""
        if self.cfg.architecture == "l1":
            return torch.relu(pre)
        vals, idx = pre.topk(self.cfg.k, dim=-1)
        return torch.zeros_like(pre).scatter(-1, idx, torch.relu(vals))

    def decode(self, c: torch.Tensor) -> torch.Tensor:
        """x̂ [batch, d] of codes [batch, d_sae]."""
        h = c
        for lin in self.decoder[:-1]:
            h = self.act(lin(h))
        return self.decoder[-1](h)

    def forward(self, x: torch.Tensor) -> SAEOutput:
        """The kit's SAEOutput with inst = 1: x̂ [1, batch, d], codes [1, batch, d_sae], losses [1]."""
        pre = self.preactivations(x)
        c = self.codes(pre)
        x_hat = self.decode(c)
        mse = (x_hat - x).pow(2).mean()
        l1 = c.sum(-1).mean() / self.cfg.d_sae
        l0 = (c.detach() > 0).sum(-1).float().mean()
        std = pre.std(dim=-1).mean()
        loss = mse + self.cfg.l1_coeff * l1 + self.cfg.preact_std_coeff * std
        return SAEOutput(x_hat[None], c[None], mse[None], l1[None], l0[None], loss[None], None, std[None])


@dataclass
class DeepSAEResult:
    """A trained deep SAE and its history (lists per logged step)."""

    model: DeepSAE
    history: dict[str, list] = field(default_factory=dict)
    """step, mse and l0 (means over the log window), and at each eval step fve and dead_fraction on held-out data
    (latents that fire on none of its samples)."""


def _sampler(data: DataSource | torch.Tensor, g: torch.Generator):
    if isinstance(data, DataSource):
        return lambda n: data.sample(n, g)[0]
    if not isinstance(data, torch.Tensor) or data.dim() != 2:
        raise ValueError(f"data must be a DataSource (e.g. ToyData) or a tensor [n, d], got {getattr(data, 'shape', type(data))}")
    return lambda n: data[torch.randint(0, len(data), (n,), generator=g, device=g.device).to(data.device)]


def train_deep_sae(data: DataSource | torch.Tensor, cfg: DeepSAEConfig, train_cfg: TrainConfig | None = None) -> DeepSAEResult:
    """Adam on `cfg`'s loss with `train_cfg`'s steps, batch size, lr schedule (`lr_at`), seed and device; the decoder
    columns renormalised after every step; held-out FVE and dead fraction every `eval_every` steps and at the end."""
    tc = train_cfg or TrainConfig()
    device = resolve_device(tc.device)
    model = DeepSAE(cfg).to(device)
    g = torch.Generator(device=device).manual_seed(derive_seed(tc.seed, "train-data"))
    draw = _sampler(data, g)
    x_eval = _sampler(data, torch.Generator(device=device).manual_seed(derive_seed(tc.seed, "held-out")))(tc.n_eval).to(device)
    if x_eval.shape[1] != cfg.d:
        raise ValueError(f"DeepSAEConfig.d={cfg.d} does not match the data dimension d={x_eval.shape[1]}")
    opt = torch.optim.Adam(model.parameters(), lr=tc.lr)
    hist: dict[str, list] = {"step": [], "mse": [], "l0": [], "eval_step": [], "fve": [], "dead_fraction": []}
    window = torch.zeros(2)
    for step in range(tc.steps):
        for group in opt.param_groups:
            group["lr"] = tc.lr_at(step)
        out = model(draw(tc.batch_size).to(device))
        opt.zero_grad(set_to_none=True)
        out.loss.sum().backward()
        opt.step()
        model.normalize_decoder_()
        window += torch.stack([out.mse.detach().sum(), out.l0.sum()]).cpu()
        if (step + 1) % tc.log_every == 0:
            hist["step"].append(step + 1)
            hist["mse"].append(float(window[0]) / tc.log_every)
            hist["l0"].append(float(window[1]) / tc.log_every)
            window.zero_()
        if (step + 1) % tc.eval_every == 0 or step + 1 == tc.steps:
            with torch.no_grad():
                ev = model(x_eval)
            hist["eval_step"].append(step + 1)
            hist["fve"].append(float(fraction_variance_explained(x_eval, ev.x_hat[0])))
            hist["dead_fraction"].append(float((~(ev.codes[0] > 0).any(0)).float().mean()))
    return DeepSAEResult(model, hist)

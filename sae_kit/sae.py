"""The report's sparse autoencoder (Sharkey, Braun & Millidge 2022), with an instance axis.

    c = ReLU(W_enc (x − b_dec) + b_enc)          codes        [inst, batch, d_sae]
    x̂ = W_decᵀ c (+ b_dec)                        reconstruction [inst, batch, d]
    loss = MSE(x, x̂) + α · L1(c)

Untied weights; the encoder has a bias; the decoder has none unless `decoder_bias=True` (then the input is centred
by it when `centre_input=True`, as in Bricken et al. 2023). The decoder's rows (dictionary elements, [d_sae, d])
are renormalised to unit norm after every optimiser step, so the L1 penalty cannot be dodged by shrinking codes
and growing the decoder.

L1 convention (it changes what α means):
- "mean" (the report's author's choice, default): L1 = mean over batch of (1/d_sae) Σ_j |c_j|, so α is comparable
  across dictionary sizes;
- "sum": L1 = mean over batch of Σ_j |c_j|.
MSE is the mean over batch and data dimension of (x − x̂)².

The instance axis `inst` holds independent SAEs of the same shape, usually one per L1 coefficient, that see the
same batch: the encoder of all of them is then one matrix product.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import torch
from torch import nn

from sae_kit._util import check_positive_int, check_range, derive_seed

__all__ = ["SAEConfig", "SAE", "SAEOutput", "report_sae_config"]

L1Convention = Literal["mean", "sum"]
DecoderInit = Literal["orthogonal", "random"]
EncoderInit = Literal["kaiming", "transpose"]


@dataclass
class SAEConfig:
    """Shape and loss of a row of `n_inst` sparse autoencoders."""

    d: int
    """Input (data) dimension."""
    d_sae: int
    """Dictionary size (number of latents)."""
    l1_coeff: float | Sequence[float] = 0.3
    """α: one value for every instance, or one per instance (then `n_inst` defaults to its length). ≥ 0."""
    n_inst: int | None = None
    """Number of SAEs trained side by side. None: the length of `l1_coeff` if it is a list, else 1."""
    l1_convention: L1Convention = "mean"
    """"mean" over the dictionary (α comparable across sizes; the report's author's choice) or "sum"."""
    decoder_init: DecoderInit = "orthogonal"
    """"orthogonal" (the replication code's: orthogonal matrix, rows then unit-normed) or "random" (Gaussian unit rows)."""
    encoder_init: EncoderInit = "transpose"
    """"transpose": W_enc = encoder_scale · W_dec, b_enc = 0 (Gao et al. 2024; the kit's default, it recovers features
    several times faster), or "kaiming": torch.nn.Linear's default, the report's."""
    encoder_scale: float = 1.0
    """Scale of the encoder rows when `encoder_init="transpose"`. > 0."""
    decoder_bias: bool = False
    """Add a learned b_dec to the reconstruction (the report: no)."""
    centre_input: bool = False
    """Subtract b_dec from the input before encoding (Bricken et al. 2023). Needs `decoder_bias=True`."""
    seed: int = 0
    """Seed of the initialisation."""
    l1_coeffs: list[float] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        check_positive_int("d", self.d)
        check_positive_int("d_sae", self.d_sae)
        coeffs = [self.l1_coeff] if isinstance(self.l1_coeff, (int, float)) else list(self.l1_coeff)
        if not coeffs:
            raise ValueError("l1_coeff must be a number or a non-empty list of numbers ≥ 0, got an empty list")
        for i, a in enumerate(coeffs):
            check_range(f"l1_coeff[{i}]" if len(coeffs) > 1 else "l1_coeff", a, 0.0, float("inf"), high_open=True)
        if self.n_inst is None:
            self.n_inst = len(coeffs)
        check_positive_int("n_inst", self.n_inst)
        if len(coeffs) == 1:
            coeffs = coeffs * self.n_inst
        if len(coeffs) != self.n_inst:
            raise ValueError(f"l1_coeff has {len(coeffs)} values but n_inst={self.n_inst}; give one value or n_inst values")
        self.l1_coeffs = [float(a) for a in coeffs]
        if self.l1_convention not in ("mean", "sum"):
            raise ValueError(f"l1_convention must be 'mean' or 'sum', got {self.l1_convention!r}")
        if self.decoder_init not in ("orthogonal", "random"):
            raise ValueError(f"decoder_init must be 'orthogonal' or 'random', got {self.decoder_init!r}")
        if self.encoder_init not in ("kaiming", "transpose"):
            raise ValueError(f"encoder_init must be 'kaiming' or 'transpose', got {self.encoder_init!r}")
        check_range("encoder_scale", self.encoder_scale, 0.0, float("inf"), low_open=True, high_open=True)
        if self.centre_input and not self.decoder_bias:
            raise ValueError("centre_input=True needs decoder_bias=True (the input is centred by b_dec)")

    def to_dict(self) -> dict:
        """JSON-ready fields (what `SAEConfig(**d)` accepts)."""
        return {
            "d": self.d, "d_sae": self.d_sae, "l1_coeff": list(self.l1_coeffs), "n_inst": self.n_inst,
            "l1_convention": self.l1_convention, "decoder_init": self.decoder_init,
            "encoder_init": self.encoder_init, "encoder_scale": self.encoder_scale,
            "decoder_bias": self.decoder_bias, "centre_input": self.centre_input, "seed": self.seed,
        }


def report_sae_config(d: int, d_sae: int, l1_coeff: float | Sequence[float] = 0.3, **overrides) -> SAEConfig:
    """The report's autoencoder: orthogonal decoder, nn.Linear (kaiming) encoder, no decoder bias, mean L1."""
    base = dict(decoder_init="orthogonal", encoder_init="kaiming", decoder_bias=False, centre_input=False, l1_convention="mean")
    return SAEConfig(d=d, d_sae=d_sae, l1_coeff=l1_coeff, **{**base, **overrides})


class SAEOutput(NamedTuple):
    """What `SAE.forward` returns; per-instance losses are means over the batch."""

    x_hat: torch.Tensor  # [inst, batch, d] reconstruction
    codes: torch.Tensor  # [inst, batch, d_sae] latent activations c
    mse: torch.Tensor  # [inst] mean over batch and d of (x − x̂)²
    l1: torch.Tensor  # [inst] L1 of the codes in the configured convention (before α)
    l0: torch.Tensor  # [inst] mean number of active latents per sample
    loss: torch.Tensor  # [inst] mse + α · l1


class SAE(nn.Module):
    """A row of `n_inst` independent L1 sparse autoencoders (see the module docstring)."""

    def __init__(self, cfg: SAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        n, k, d = cfg.n_inst, cfg.d_sae, cfg.d
        g = torch.Generator().manual_seed(derive_seed(cfg.seed, "sae-init"))
        W_dec, W_enc, b_enc = torch.empty(n, k, d), torch.empty(n, k, d), torch.zeros(n, k)
        for i in range(n):  # instance by instance, so instance i's init does not depend on n_inst
            if cfg.decoder_init == "orthogonal":
                nn.init.orthogonal_(W_dec[i], generator=g)
            else:
                W_dec[i] = torch.randn(k, d, generator=g)
            W_dec[i] /= W_dec[i].norm(dim=-1, keepdim=True)
            if cfg.encoder_init == "transpose":
                W_enc[i] = cfg.encoder_scale * W_dec[i]
            else:  # nn.Linear's default: U(−1/√d, 1/√d) for weight and bias
                W_enc[i] = (torch.rand(k, d, generator=g) * 2 - 1) / d**0.5
                b_enc[i] = (torch.rand(k, generator=g) * 2 - 1) / d**0.5
        self.W_enc = nn.Parameter(W_enc)  # [inst, d_sae, d] encoder rows
        self.b_enc = nn.Parameter(b_enc)  # [inst, d_sae]
        self.W_dec = nn.Parameter(W_dec)  # [inst, d_sae, d] dictionary elements, unit rows
        self.b_dec = nn.Parameter(torch.zeros(n, d)) if cfg.decoder_bias else None  # [inst, d]
        self.register_buffer("l1_coeff", torch.tensor(cfg.l1_coeffs))  # [inst]

    @property
    def n_inst(self) -> int:
        return self.cfg.n_inst

    @property
    def dictionary(self) -> torch.Tensor:
        """The learned dictionary [inst, d_sae, d] (unit rows), detached."""
        return self.W_dec.detach()

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Codes c = ReLU(W_enc (x − b_dec) + b_enc): x [batch, d] (shared) or [inst, batch, d] → [inst, batch, d_sae].

        For shared x the result is a transposed view of a [batch, inst, d_sae] tensor (one matrix product for the
        whole row); reductions over d_sae are fastest on `.transpose(0, 1)` of it.
        """
        n, k, d = self.cfg.n_inst, self.cfg.d_sae, self.cfg.d
        self._check_input(x)
        b = self.b_enc
        if self.b_dec is not None and self.cfg.centre_input:
            b = b - torch.einsum("ikd,id->ik", self.W_enc, self.b_dec)  # W(x − b_dec) = Wx − W b_dec
        if x.dim() == 2:
            pre = torch.addmm(b.reshape(-1), x, self.W_enc.reshape(n * k, d).T)  # [batch, inst·d_sae]
            return torch.relu(pre).view(x.shape[0], n, k).transpose(0, 1)
        return torch.relu(torch.baddbmm(b[:, None, :], x, self.W_enc.transpose(1, 2)))

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """x̂ = c W_dec (+ b_dec): codes [inst, batch, d_sae] → [inst, batch, d]."""
        x_hat = torch.bmm(codes, self.W_dec)
        return x_hat if self.b_dec is None else x_hat + self.b_dec[:, None, :]

    def forward(self, x: torch.Tensor, with_l0: bool = True) -> SAEOutput:
        """Encode, decode and the loss terms; x is [batch, d] (shared by all instances) or [inst, batch, d].

        with_l0=False skips counting active latents (a full pass over the codes) and returns l0 as NaN.
        """
        codes = self.encode(x)
        x_hat = self.decode(codes)
        mse = (x_hat - x).pow(2).mean(dim=(-2, -1))
        # reduce over d_sae in memory order: for shared x, codes is a transposed view of [batch, inst, d_sae]
        flat = codes.transpose(0, 1) if x.dim() == 2 else codes  # [batch, inst, d_sae] or [inst, batch, d_sae]
        b_axis = 0 if x.dim() == 2 else 1
        l1 = flat.sum(dim=-1).mean(dim=b_axis)  # codes ≥ 0, so |c| = c
        if self.cfg.l1_convention == "mean":
            l1 = l1 / self.cfg.d_sae
        if with_l0:
            l0 = flat.detach().sign().sum(dim=-1).mean(dim=b_axis)
        else:
            l0 = torch.full_like(mse, float("nan"))
        return SAEOutput(x_hat, codes, mse, l1, l0, mse + self.l1_coeff * l1)

    @torch.no_grad()
    def normalize_decoder_(self) -> None:
        """Rescale every dictionary element (row of W_dec) to unit norm (zero rows stay zero)."""
        self.W_dec /= self.W_dec.norm(dim=-1, keepdim=True).clamp_min(1e-12)

    def _check_input(self, x: torch.Tensor) -> None:
        d, n = self.cfg.d, self.cfg.n_inst
        if x.dim() not in (2, 3) or x.shape[-1] != d or (x.dim() == 3 and x.shape[0] != n):
            raise ValueError(
                f"x must be [batch, d={d}] or [inst={n}, batch, d={d}], got shape {tuple(x.shape)}: "
                f"the data dimension must match SAEConfig.d"
            )

    def extra_repr(self) -> str:
        c = self.cfg
        return f"n_inst={c.n_inst}, d={c.d}, d_sae={c.d_sae}, l1_convention={c.l1_convention!r}"

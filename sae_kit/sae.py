"""Sparse autoencoders with an instance axis: the report's L1 SAE (Sharkey, Braun & Millidge 2022), TopK and BatchTopK.

    pre = W_enc (x − b_dec) + b_enc              pre-activations [inst, batch, d_sae]
    c   = ReLU(pre)                 "l1"         codes           [inst, batch, d_sae]
        = ReLU(TopK_k(pre))         "topk"       (Gao et al. 2024: the k largest per sample, zeros elsewhere)
        = ReLU(TopK_{k·batch}(pre)) "batchtopk"  (Bussmann et al. 2024: the k·batch largest over the whole batch;
                                                  at evaluation a learned threshold θ: c = pre · [pre > θ])
    x̂ = W_decᵀ c (+ b_dec)                        reconstruction  [inst, batch, d]
    loss = MSE(x, x̂) + α · L1(c) + aux_coeff · AuxK + preact_std_coeff · std_latents(pre)

AuxK (Gao et al. 2024) reconstructs the residual e = x − x̂ from the `aux_k` largest pre-activations among the dead
latents (those that have not fired for `dead_after` samples): AuxK = ‖e − W_decᵀ c_aux‖² / ‖e‖², e held fixed; it
is exactly zero when nothing is dead. The pre-activation spread penalty is the standard deviation over latents of
each sample's pre-activations, averaged over the batch (our reading of a remedy for dead TopK latents, RESEARCH §5).

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
import torch.nn.functional as F
from torch import nn

from sae_kit._util import check_memory, check_positive_int, check_range, derive_seed

__all__ = ["SAEConfig", "SAE", "SAEOutput", "report_sae_config"]

L1Convention = Literal["mean", "sum"]
Architecture = Literal["l1", "topk", "batchtopk"]
DecoderInit = Literal["orthogonal", "random", "noised_unit", "data", "pca", "given"]
DATA_INITS = ("data", "pca", "given")  # set by train_sae from data samples or a given dictionary (sae_kit.dictionary_init)
EncoderInit = Literal["kaiming", "transpose"]


@dataclass
class SAEConfig:
    """Shape and loss of a row of `n_inst` sparse autoencoders."""

    d: int
    """Input (data) dimension."""
    d_sae: int
    """Dictionary size (number of latents)."""
    l1_coeff: float | Sequence[float] | None = None
    """α: one value for every instance, or one per instance (then `n_inst` defaults to its length). ≥ 0.
    None: 0.3 for "l1", 0 for TopK and BatchTopK (they need no penalty)."""
    n_inst: int | None = None
    """Number of SAEs trained side by side. None: the length of `l1_coeff` or `k` if one is a list, else 1."""
    architecture: Architecture = "l1"
    """"l1" (the report's), "topk" (k largest per sample) or "batchtopk" (k·batch largest per batch)."""
    k: int | Sequence[int] | None = None
    """Active latents per sample for TopK/BatchTopK: one value or one per instance, 1 ≤ k ≤ d_sae. Unused by "l1"."""
    aux_k: int = 0
    """AuxK: dead latents used to model the residual (Gao et al. use d/2). 0: no AuxK loss."""
    aux_coeff: float = 1 / 32
    """Weight of the AuxK loss (Gao et al.: 1/32). ≥ 0."""
    dead_after: int = 100_000
    """A latent that has not fired for this many training samples counts as dead (for AuxK and resampling)."""
    preact_std_coeff: float = 0.0
    """Weight of the penalty on the spread (std over latents) of the encoder pre-activations. ≥ 0."""
    sparse_decode: bool | None = None
    """TopK only: decode with a gather of the k active rows (embedding_bag) instead of a dense matmul.
    None: sparse when k ≤ d_sae / 8 (faster on CPU there; see the benchmark)."""
    l1_convention: L1Convention = "mean"
    """"mean" over the dictionary (α comparable across sizes; the report's author's choice) or "sum"."""
    decoder_init: DecoderInit = "orthogonal"
    """"orthogonal" (the replication code's: orthogonal matrix, rows then unit-normed), "random" (Gaussian unit rows),
    "noised_unit" (standard basis vectors plus N(0, 0.1²) noise), or set from data by `train_sae`: "data" (random data
    samples), "pca" (principal components), "given" (a dictionary passed as `init_dictionary`, e.g. the singular
    vectors of a layer's weights). See sae_kit.dictionary_init."""
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
    ks: list[int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        check_positive_int("d", self.d)
        check_positive_int("d_sae", self.d_sae)
        if self.architecture not in ("l1", "topk", "batchtopk"):
            raise ValueError(f"architecture must be 'l1', 'topk' or 'batchtopk', got {self.architecture!r}")
        topk = self.architecture != "l1"
        if self.l1_coeff is None:
            self.l1_coeff = 0.0 if topk else 0.3
        coeffs = [self.l1_coeff] if isinstance(self.l1_coeff, (int, float)) else list(self.l1_coeff)
        if not coeffs:
            raise ValueError("l1_coeff must be a number or a non-empty list of numbers ≥ 0, got an empty list")
        for i, a in enumerate(coeffs):
            check_range(f"l1_coeff[{i}]" if len(coeffs) > 1 else "l1_coeff", a, 0.0, float("inf"), high_open=True)
        if topk and self.k is None:
            raise ValueError(f"architecture={self.architecture!r} needs k (active latents per sample, 1 ≤ k ≤ d_sae)")
        ks = [] if self.k is None else [self.k] if isinstance(self.k, int) else list(self.k)
        for i, k in enumerate(ks):
            check_positive_int(f"k[{i}]" if len(ks) > 1 else "k", k)
            if k > self.d_sae:
                raise ValueError(f"k must be ≤ d_sae={self.d_sae}, got {k}")
        if self.n_inst is None:
            self.n_inst = max(len(coeffs), len(ks))
        check_positive_int("n_inst", self.n_inst)
        if len(coeffs) == 1:
            coeffs = coeffs * self.n_inst
        if len(coeffs) != self.n_inst:
            raise ValueError(f"l1_coeff has {len(coeffs)} values but n_inst={self.n_inst}; give one value or n_inst values")
        if len(ks) == 1:
            ks = ks * self.n_inst
        if ks and len(ks) != self.n_inst:
            raise ValueError(f"k has {len(ks)} values but n_inst={self.n_inst}; give one value or n_inst values")
        check_memory(dict(d_sae=self.d_sae, d=self.d, n_inst=self.n_inst), 2 * self.n_inst * self.d * self.d_sae, "W_enc, W_dec")
        self.l1_coeffs = [float(a) for a in coeffs]
        self.ks = [int(k) for k in ks]
        if isinstance(self.aux_k, bool) or not isinstance(self.aux_k, int) or not 0 <= self.aux_k <= self.d_sae:
            raise ValueError(f"aux_k must be an integer in [0, d_sae={self.d_sae}], got {self.aux_k!r}")
        if self.aux_k and not topk:
            raise ValueError("aux_k > 0 needs architecture 'topk' or 'batchtopk' (AuxK is a TopK remedy)")
        check_range("aux_coeff", self.aux_coeff, 0.0, float("inf"), high_open=True)
        check_positive_int("dead_after", self.dead_after)
        check_range("preact_std_coeff", self.preact_std_coeff, 0.0, float("inf"), high_open=True)
        if self.sparse_decode is None:
            self.sparse_decode = self.architecture == "topk" and max(self.ks) * 8 <= self.d_sae
        if self.sparse_decode and self.architecture != "topk":
            raise ValueError("sparse_decode=True needs architecture 'topk' (a fixed number of active latents per sample)")
        if self.l1_convention not in ("mean", "sum"):
            raise ValueError(f"l1_convention must be 'mean' or 'sum', got {self.l1_convention!r}")
        if self.decoder_init not in ("orthogonal", "random", "noised_unit", "data", "pca", "given"):
            raise ValueError(
                f"decoder_init must be one of 'orthogonal', 'random', 'noised_unit', 'data', 'pca', 'given', got {self.decoder_init!r}"
            )
        if self.encoder_init not in ("kaiming", "transpose"):
            raise ValueError(f"encoder_init must be 'kaiming' or 'transpose', got {self.encoder_init!r}")
        check_range("encoder_scale", self.encoder_scale, 0.0, float("inf"), low_open=True, high_open=True)
        if self.centre_input and not self.decoder_bias:
            raise ValueError("centre_input=True needs decoder_bias=True (the input is centred by b_dec)")

    def to_dict(self) -> dict:
        """JSON-ready fields (what `SAEConfig(**d)` accepts)."""
        return {
            "d": self.d, "d_sae": self.d_sae, "l1_coeff": list(self.l1_coeffs), "n_inst": self.n_inst,
            "architecture": self.architecture, "k": list(self.ks) or None, "aux_k": self.aux_k,
            "aux_coeff": self.aux_coeff, "dead_after": self.dead_after, "preact_std_coeff": self.preact_std_coeff,
            "sparse_decode": self.sparse_decode, "l1_convention": self.l1_convention, "decoder_init": self.decoder_init,
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
    loss: torch.Tensor  # [inst] mse + α · l1 + aux_coeff · aux + preact_std_coeff · preact_std
    aux: torch.Tensor | None = None  # [inst] AuxK loss (0 when nothing is dead or AuxK is off)
    preact_std: torch.Tensor | None = None  # [inst] mean over batch of the std over latents of the pre-activations


class SAE(nn.Module):
    """A row of `n_inst` independent sparse autoencoders of one architecture (see the module docstring)."""

    def __init__(self, cfg: SAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        n, k, d = cfg.n_inst, cfg.d_sae, cfg.d
        g = torch.Generator().manual_seed(derive_seed(cfg.seed, "sae-init"))
        W_dec, W_enc, b_enc = torch.empty(n, k, d), torch.empty(n, k, d), torch.zeros(n, k)
        for i in range(n):  # instance by instance, so instance i's init does not depend on n_inst
            if cfg.decoder_init == "orthogonal":
                nn.init.orthogonal_(W_dec[i], generator=g)
            elif cfg.decoder_init == "noised_unit":  # e_(j mod d) + noise
                W_dec[i] = torch.eye(d).repeat(-(-k // d), 1)[:k] + 0.1 * torch.randn(k, d, generator=g)
            else:  # random; the data inits start from it and are overwritten by train_sae
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
        self.register_buffer("since_fired", torch.zeros(n, k))  # [inst, d_sae] training samples since each latent fired
        if cfg.architecture == "batchtopk":  # [inst] evaluation threshold: running mean of the smallest kept activation
            self.register_buffer("threshold", torch.zeros(n))

    @property
    def n_inst(self) -> int:
        return self.cfg.n_inst

    @property
    def dictionary(self) -> torch.Tensor:
        """The learned dictionary [inst, d_sae, d] (unit rows), detached."""
        return self.W_dec.detach()

    def preactivations(self, x: torch.Tensor, matmul_dtype: torch.dtype | None = None) -> torch.Tensor:
        """pre = W_enc (x − b_dec) + b_enc: x [batch, d] (shared) or [inst, batch, d] → [inst, batch, d_sae].

        For shared x the result is a transposed view of a [batch, inst, d_sae] tensor (one matrix product for the
        whole row); reductions over d_sae are fastest on `.transpose(0, 1)` of it. `matmul_dtype` (e.g. bfloat16):
        the matrix product runs in it, the bias is added and the result returned in float32 (see `_mm`).
        """
        n, k, d = self.cfg.n_inst, self.cfg.d_sae, self.cfg.d
        self._check_input(x)
        b = self.b_enc
        if self.b_dec is not None and self.cfg.centre_input:
            b = b - torch.einsum("ikd,id->ik", self.W_enc, self.b_dec)  # W(x − b_dec) = Wx − W b_dec
        if x.dim() == 2:
            if matmul_dtype is None:
                pre = torch.addmm(b.reshape(-1), x, self.W_enc.reshape(n * k, d).T)  # [batch, inst·d_sae]
            else:
                pre = _mm(x, self.W_enc.reshape(n * k, d).T, matmul_dtype) + b.reshape(-1)
            return pre.view(x.shape[0], n, k).transpose(0, 1)
        if matmul_dtype is None:
            return torch.baddbmm(b[:, None, :], x, self.W_enc.transpose(1, 2))
        return _mm(x, self.W_enc.transpose(1, 2), matmul_dtype) + b[:, None, :]

    def instance_preactivations(self, x: torch.Tensor, inst: int, latents: torch.Tensor | None = None) -> torch.Tensor:
        """Pre-activations of one instance only, x [batch, d] → [batch, d_sae], or [batch, len(latents)] for the given
        latent indices (one small product where a dashboard needs a few latents of a large dictionary)."""
        if not 0 <= inst < self.cfg.n_inst:
            raise ValueError(f"inst must be in [0, {self.cfg.n_inst}), got {inst}")
        W, b = self.W_enc[inst], self.b_enc[inst]  # [d_sae, d], [d_sae]
        if latents is not None:
            W, b = W[latents], b[latents]
        if self.b_dec is not None and self.cfg.centre_input:
            b = b - W @ self.b_dec[inst]
        return torch.addmm(b, x, W.T)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Codes [inst, batch, d_sae] of x [batch, d] or [inst, batch, d] (ReLU, TopK or BatchTopK of the pre-activations)."""
        return self._codes(self.preactivations(x))[0]

    def _codes(self, pre: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None]:
        """Codes from pre-activations, and for TopK the (values, indices) [inst, batch, k] of the active ones."""
        arch = self.cfg.architecture
        if arch == "l1":
            return torch.relu(pre), None
        if arch == "topk":
            kmax = max(self.cfg.ks)
            vals, idx = pre.topk(kmax, dim=-1, sorted=len(set(self.cfg.ks)) > 1)  # [inst, batch, kmax]
            vals = torch.relu(vals)
            if len(set(self.cfg.ks)) > 1:  # fewer than kmax active in some instances: keep the top k_i
                keep = torch.arange(kmax, device=pre.device) < torch.tensor(self.cfg.ks, device=pre.device)[:, None]
                vals = vals * keep[:, None, :]
            return torch.zeros_like(pre).scatter(-1, idx, vals), (vals, idx)
        # batchtopk: the k·batch largest per instance over the whole batch (training), or the threshold (evaluation)
        n, batch, d_sae = pre.shape
        if not self.training:
            return pre * (pre > self.threshold[:, None, None]), None
        flat = pre.reshape(n, batch * d_sae)
        kmax = min(max(self.cfg.ks) * batch, batch * d_sae)
        vals, idx = flat.topk(kmax, dim=-1, sorted=len(set(self.cfg.ks)) > 1)
        vals = torch.relu(vals)
        if len(set(self.cfg.ks)) > 1:
            keep = torch.arange(kmax, device=pre.device) < torch.tensor(self.cfg.ks, device=pre.device)[:, None] * batch
            vals = vals * keep
        with torch.no_grad():  # θ ← running mean of the smallest positive kept activation (its eval threshold)
            smallest = torch.where(vals > 0, vals, torch.inf).amin(dim=-1)
            smallest = torch.where(torch.isfinite(smallest), smallest, self.threshold)
            self.threshold.mul_(0.99).add_(0.01 * smallest)
        return torch.zeros_like(flat).scatter(-1, idx, vals).view(n, batch, d_sae), None

    def decode(self, codes: torch.Tensor, matmul_dtype: torch.dtype | None = None) -> torch.Tensor:
        """x̂ = c W_dec (+ b_dec): codes [inst, batch, d_sae] → [inst, batch, d] (product in `matmul_dtype`, see `_mm`)."""
        x_hat = torch.bmm(codes, self.W_dec) if matmul_dtype is None else _mm(codes, self.W_dec, matmul_dtype)
        return x_hat if self.b_dec is None else x_hat + self.b_dec[:, None, :]

    def decode_sparse(self, vals: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """x̂ from the active latents only: vals, idx [inst, batch, k] → [inst, batch, d] (one embedding_bag gather)."""
        n, batch, k = idx.shape
        offsets = torch.arange(n, device=idx.device)[:, None, None] * self.cfg.d_sae
        x_hat = F.embedding_bag((idx + offsets).reshape(n * batch, k), self.W_dec.reshape(-1, self.cfg.d),
                                per_sample_weights=vals.reshape(n * batch, k), mode="sum").view(n, batch, -1)
        return x_hat if self.b_dec is None else x_hat + self.b_dec[:, None, :]

    def dead_mask(self) -> torch.Tensor:
        """[inst, d_sae] latents that have not fired for `dead_after` training samples (see `record_firing_`)."""
        return self.since_fired >= self.cfg.dead_after

    @torch.no_grad()
    def record_firing_(self, codes: torch.Tensor, counts: torch.Tensor | None = None) -> None:
        """Update the samples-since-fired counter from a training batch's codes [inst, batch, d_sae] (or from its
        per-latent firing counts [inst, d_sae] when they are already computed, saving a pass over the codes)."""
        fired = (counts > 0) if counts is not None else codes.amax(dim=1) > 0  # [inst, d_sae]
        self.since_fired.add_(codes.shape[1]).masked_fill_(fired, 0)

    def forward(self, x: torch.Tensor, with_l0: bool = True, matmul_dtype: torch.dtype | None = None) -> SAEOutput:
        """Encode, decode and the loss terms; x is [batch, d] (shared by all instances) or [inst, batch, d].

        with_l0=False skips counting active latents (a full pass over the codes) and returns l0 as NaN.
        matmul_dtype (training's `TrainConfig.matmul_dtype`): the encoder and decoder products run in this dtype
        (weights, codes, losses and gradients stay float32); None: float32 throughout.
        """
        cfg = self.cfg
        pre = self.preactivations(x, matmul_dtype)
        codes, active = self._codes(pre)
        if active is not None and cfg.sparse_decode:
            x_hat = self.decode_sparse(*active)
        else:
            x_hat = self.decode(codes, matmul_dtype)
        mse = (x_hat - x).pow(2).mean(dim=(-2, -1))
        # reduce over d_sae in memory order: for shared x, codes is a transposed view of [batch, inst, d_sae]
        flat = codes.transpose(0, 1) if x.dim() == 2 else codes  # [batch, inst, d_sae] or [inst, batch, d_sae]
        b_axis = 0 if x.dim() == 2 else 1
        l1 = flat.sum(dim=-1).mean(dim=b_axis)  # codes ≥ 0, so |c| = c
        if cfg.l1_convention == "mean":
            l1 = l1 / cfg.d_sae
        if with_l0:
            l0 = flat.detach().sign().sum(dim=-1).mean(dim=b_axis)
        else:
            l0 = torch.full_like(mse, float("nan"))
        loss = mse + self.l1_coeff * l1
        aux = preact_std = None
        if cfg.aux_k:
            aux = self._aux_loss(x, x_hat, pre)
            loss = loss + cfg.aux_coeff * aux
        if cfg.preact_std_coeff:
            preact_std = pre.std(dim=-1).mean(dim=-1)
            loss = loss + cfg.preact_std_coeff * preact_std
        return SAEOutput(x_hat, codes, mse, l1, l0, loss, aux, preact_std)

    def _aux_loss(self, x: torch.Tensor, x_hat: torch.Tensor, pre: torch.Tensor) -> torch.Tensor:
        """AuxK = ‖e − W_decᵀ TopK_aux(pre restricted to dead latents)‖² / ‖e‖², e = x − x̂ held fixed; [inst]."""
        dead = self.dead_mask()  # [inst, d_sae]
        n_dead = int(dead.sum(dim=-1).max())
        if n_dead == 0:
            return torch.zeros(self.cfg.n_inst, device=pre.device)
        e = (x - x_hat).detach()  # [inst, batch, d]
        cols = torch.nonzero(dead.any(dim=0)).flatten()  # latents dead in some instance: usually few, so gather them
        masked = pre.index_select(-1, cols).masked_fill(~dead[:, None, cols], -torch.inf)  # [inst, batch, n_cols]
        vals, j = masked.topk(min(self.cfg.aux_k, n_dead), dim=-1)  # [inst, batch, k_aux]
        idx = cols[j]
        vals = torch.relu(vals)  # instances with fewer dead latents pick some −inf: ReLU makes them 0
        offsets = torch.arange(self.cfg.n_inst, device=idx.device)[:, None, None] * self.cfg.d_sae
        n, batch, ka = idx.shape
        e_hat = F.embedding_bag((idx + offsets).reshape(n * batch, ka), self.W_dec.reshape(-1, self.cfg.d),
                                per_sample_weights=vals.reshape(n * batch, ka), mode="sum").view(n, batch, -1)
        per_sample = (e_hat - e).pow(2).sum(-1) / e.pow(2).sum(-1).clamp_min(1e-12)
        return per_sample.mean(dim=-1) * dead.any(dim=-1)

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
        arch = f"k={c.ks}" if c.ks else f"l1_convention={c.l1_convention!r}"
        return f"{c.architecture}, n_inst={c.n_inst}, d={c.d}, d_sae={c.d_sae}, {arch}"


def _mm(a: torch.Tensor, b: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """a @ b (2-D or batched) with both factors rounded to `dtype` and the product returned as float32.

    For bfloat16, CPUs with AVX512-BF16 (or AMX) accumulate in float32 and round the result to bfloat16 (8 bits of
    mantissa, a relative error ≤ 2⁻⁹), at about 2.5× the float32 rate; autograd runs the backward products in the same
    dtype and hands float32 gradients to the float32 parameters."""
    return torch.matmul(a.to(dtype), b.to(dtype)).float()

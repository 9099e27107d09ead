"""Sparse autoencoders with an instance axis: the shared base of every architecture (Sharkey, Braun & Millidge 2022).

    pre = W_enc (x − b_dec) + b_enc          pre-activations  [inst, batch, d_sae]
    c   = activate(pre)                      codes            [inst, batch, d_sae]   (one rule per architecture)
    x̂   = W_decᵀ c (+ b_dec)                 reconstruction   [inst, batch, d]
    loss = MSE(x, x̂) + α · L1(c) + aux_coeff · AuxK + preact_std_coeff · std_latents(pre)

The architectures (`sae_kit.sae.architectures`) differ only in `activate`: ReLU ("l1", the report's), TopK (Gao et al.
2024) and BatchTopK (Bussmann et al. 2024). `SAE(cfg)` builds the class `cfg.architecture` names (`make_sae` does
the same), so `sk.SAE(sk.SAEConfig(..., architecture="topk", k=4))` is a `TopKSAE`.

AuxK (Gao et al. 2024, https://arxiv.org/abs/2406.04093) reconstructs the residual e = x − x̂ from the `aux_k`
largest pre-activations among the dead latents (not fired for `dead_after` samples): AuxK = ‖e − W_decᵀ c_aux‖² / ‖e‖²,
e held fixed; exactly zero when nothing is dead. The pre-activation spread penalty is the standard deviation over
latents of each sample's pre-activations, averaged over the batch (our reading of a remedy for dead TopK latents
discussed around EleutherAI's sparsify, https://github.com/EleutherAI/sparsify).

Untied weights; the encoder has a bias; the decoder has none unless `decoder_bias=True` (then the input is centred
by it when `centre_input=True`, as in Bricken et al. 2023). The decoder's rows (dictionary elements, [d_sae, d]) are
renormalised to unit norm after every optimiser step, so the L1 penalty cannot be dodged by shrinking codes and
growing the decoder.

L1 convention (it changes what α means): "mean" (the report's author's choice, default): L1 = mean over batch of
(1/d_sae) Σ_j |c_j|, so α is comparable across dictionary sizes; "sum": mean over batch of Σ_j |c_j|. MSE is the
mean over batch and data dimension of (x − x̂)².

The instance axis `inst` holds independent SAEs of the same shape, usually one per L1 coefficient, that see the same
batch: the encoder of all of them is then one matrix product.

Two fast paths, each behind one marked function: `lowp_matmul` (products in bfloat16) and `sparse_decode` (a gather
of the active dictionary rows instead of a dense product).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from sae_kit._util import derive_seed
from sae_kit.sae.config import SAEConfig, report_sae_config

__all__ = ["SAEConfig", "SAE", "SAEOutput", "report_sae_config", "make_sae", "load_sae", "lowp_matmul", "sparse_decode"]

REGISTRY: dict[str, type[SAE]] = {}
"""architecture name → class; filled by `sae_kit.sae.architectures` (imported at the bottom of this module)."""


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


def make_sae(cfg: SAEConfig) -> SAE:
    """The SAE class of `cfg.architecture` (L1SAE, TopKSAE, BatchTopKSAE), built from `cfg`."""
    return REGISTRY[cfg.architecture](cfg)


class SAE(nn.Module):
    """A row of `n_inst` independent SAEs: what every architecture shares (see the module docstring).

    `SAE(cfg)` returns an instance of the architecture's class (like `pathlib.Path` returning a PosixPath)."""

    architecture: str = ""

    def __new__(cls, cfg: SAEConfig | None = None, *args, **kwargs):  # cfg None: copy.deepcopy and pickle's protocol
        if cls is SAE and cfg is not None:  # the base class called directly: build the architecture's class instead
            cls = REGISTRY[cfg.architecture]
        return super().__new__(cls)

    def __init__(self, cfg: SAEConfig) -> None:
        super().__init__()
        if cfg.architecture != self.architecture:
            raise ValueError(f"{type(self).__name__} needs architecture={self.architecture!r}, got {cfg.architecture!r}")
        self.cfg = cfg
        n, d_sae, d = cfg.n_inst, cfg.d_sae, cfg.d
        W_enc, b_enc, W_dec = _initial_weights(cfg)
        self.W_enc = nn.Parameter(W_enc)  # [inst, d_sae, d] encoder rows
        self.b_enc = nn.Parameter(b_enc)  # [inst, d_sae]
        self.W_dec = nn.Parameter(W_dec)  # [inst, d_sae, d] dictionary elements, unit rows
        self.b_dec = nn.Parameter(torch.zeros(n, d)) if cfg.decoder_bias else None  # [inst, d]
        self.register_buffer("l1_coeff", torch.tensor(cfg.l1_coeffs))  # [inst] α (the training loop ramps it)
        self.register_buffer("since_fired", torch.zeros(n, d_sae))  # [inst, d_sae] training samples since each fired

    @property
    def n_inst(self) -> int:
        return self.cfg.n_inst

    @property
    def dictionary(self) -> torch.Tensor:
        """The learned dictionary [inst, d_sae, d] (unit rows), detached."""
        return self.W_dec.detach()

    # ---- encode and decode
    def preactivations(self, x: torch.Tensor, matmul_dtype: torch.dtype | None = None) -> torch.Tensor:
        """pre = W_enc (x − b_dec) + b_enc: x [batch, d] (shared) or [inst, batch, d] → [inst, batch, d_sae].

        For shared x the result is a transposed view of a [batch, inst, d_sae] tensor (one matrix product for the
        whole row); reductions over d_sae are fastest on `.transpose(0, 1)` of it. `matmul_dtype` (e.g. bfloat16): the
        product runs in it (`lowp_matmul`), the bias is added and the result returned in float32.
        """
        n, d_sae, d = self.cfg.n_inst, self.cfg.d_sae, self.cfg.d
        self._check_input(x)
        b = self.b_enc
        if self.b_dec is not None and self.cfg.centre_input:
            b = b - torch.einsum("ikd,id->ik", self.W_enc, self.b_dec)  # W(x − b_dec) = Wx − W b_dec
        if x.dim() == 2:
            W = self.W_enc.reshape(n * d_sae, d).T  # [d, inst·d_sae]
            pre = torch.addmm(b.reshape(-1), x, W) if matmul_dtype is None else lowp_matmul(x, W, matmul_dtype) + b.reshape(-1)
            return pre.view(x.shape[0], n, d_sae).transpose(0, 1)
        if matmul_dtype is None:
            return torch.baddbmm(b[:, None, :], x, self.W_enc.transpose(1, 2))
        return lowp_matmul(x, self.W_enc.transpose(1, 2), matmul_dtype) + b[:, None, :]

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

    def activate(self, pre: torch.Tensor) -> torch.Tensor:
        """Codes [inst, batch, d_sae] from pre-activations [inst, batch, d_sae]: the architecture's rule."""
        raise NotImplementedError

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Codes [inst, batch, d_sae] of x [batch, d] or [inst, batch, d]."""
        return self.activate(self.preactivations(x))

    def decode(self, codes: torch.Tensor, matmul_dtype: torch.dtype | None = None) -> torch.Tensor:
        """x̂ = c W_dec (+ b_dec): codes [inst, batch, d_sae] → [inst, batch, d] (product in `matmul_dtype`)."""
        x_hat = torch.bmm(codes, self.W_dec) if matmul_dtype is None else lowp_matmul(codes, self.W_dec, matmul_dtype)
        return x_hat if self.b_dec is None else x_hat + self.b_dec[:, None, :]

    def codes_and_reconstruction(self, pre: torch.Tensor, matmul_dtype: torch.dtype | None = None
                                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """(codes [inst, batch, d_sae], x̂ [inst, batch, d]) from pre-activations; TopK overrides it to decode sparsely."""
        codes = self.activate(pre)
        return codes, self.decode(codes, matmul_dtype)

    # ---- the loss
    def forward(self, x: torch.Tensor, with_l0: bool = True, matmul_dtype: torch.dtype | None = None) -> SAEOutput:
        """Encode, decode and the loss terms; x is [batch, d] (shared by all instances) or [inst, batch, d].

        with_l0=False skips counting active latents (a full pass over the codes) and returns l0 as NaN.
        matmul_dtype (training's `TrainConfig.matmul_dtype`): the encoder and decoder products run in this dtype
        (weights, codes, losses and gradients stay float32); None: float32 throughout. No state changes here: the
        training step updates what training tracks (firing counters, BatchTopK's threshold) by explicit calls.
        """
        cfg = self.cfg
        pre = self.preactivations(x, matmul_dtype)
        codes, x_hat = self.codes_and_reconstruction(pre, matmul_dtype)
        mse = (x_hat - x).pow(2).mean(dim=(-2, -1))
        l1 = self.per_sample_penalty(codes)  # codes ≥ 0, so |c| = c
        l0 = codes.detach().sign().sum(dim=-1).mean(dim=-1) if with_l0 else torch.full_like(mse, float("nan"))  # a count
        loss = mse + self.l1_coeff * l1
        aux = preact_std = None
        if cfg.aux_k:
            aux = self.aux_loss(x, x_hat, pre)
            loss = loss + cfg.aux_coeff * aux
        if cfg.preact_std_coeff:
            preact_std = pre.std(dim=-1).mean(dim=-1)
            loss = loss + cfg.preact_std_coeff * preact_std
        return SAEOutput(x_hat, codes, mse, l1, l0, loss, aux, preact_std)

    def per_sample_penalty(self, terms: torch.Tensor) -> torch.Tensor:
        """Σ_j terms_j per sample, averaged over the batch, in the L1 convention ("mean" divides by d_sae):
        terms [inst, batch, d_sae] → [inst]. L1 is this of the codes, the square-root term of √(c + ε) − √ε."""
        if terms.stride(0) < terms.stride(1):  # a transposed view of [batch, inst, d_sae] (shared x): reduce in memory order
            per_sample = terms.transpose(0, 1).sum(dim=-1).mean(dim=0)  # [inst]
        else:
            per_sample = terms.sum(dim=-1).mean(dim=-1)
        return per_sample / self.cfg.d_sae if self.cfg.l1_convention == "mean" else per_sample

    def sqrt_sparsity(self, codes: torch.Tensor, eps: float) -> torch.Tensor:
        """Σ_j (√(c_j + ε) − √ε) per sample, averaged over the batch, in the L1 convention: codes [inst, batch, d_sae] →
        [inst] (training's square-root term, `TrainConfig.sqrt_sparsity`; 0 for codes that are all 0)."""
        return self.per_sample_penalty((codes + eps).sqrt() - eps**0.5)

    def aux_loss(self, x: torch.Tensor, x_hat: torch.Tensor, pre: torch.Tensor) -> torch.Tensor:
        """AuxK = ‖e − W_decᵀ TopK_aux(pre restricted to dead latents)‖² / ‖e‖², e = x − x̂ held fixed; [inst]."""
        dead = self.dead_mask()  # [inst, d_sae]
        n_dead = int(dead.sum(dim=-1).max())
        if n_dead == 0:
            return torch.zeros(self.cfg.n_inst, device=pre.device)
        e = (x - x_hat).detach()  # [inst, batch, d]
        cols = torch.nonzero(dead.any(dim=0)).flatten()  # latents dead in some instance: usually few, so gather them
        masked = pre.index_select(-1, cols).masked_fill(~dead[:, None, cols], -torch.inf)  # [inst, batch, n_cols]
        vals, j = masked.topk(min(self.cfg.aux_k, n_dead), dim=-1)  # [inst, batch, aux_k]
        vals = torch.relu(vals)  # instances with fewer dead latents pick some −inf: ReLU makes them 0
        e_hat = sparse_decode(self.W_dec, vals, cols[j])  # [inst, batch, d]
        per_sample = (e_hat - e).pow(2).sum(-1) / e.pow(2).sum(-1).clamp_min(1e-12)
        return per_sample.mean(dim=-1) * dead.any(dim=-1)

    # ---- what training maintains between steps
    def dead_mask(self) -> torch.Tensor:
        """[inst, d_sae] latents that have not fired for `dead_after` training samples (see `record_firing_`)."""
        return self.since_fired >= self.cfg.dead_after

    @torch.no_grad()
    def record_firing_(self, codes: torch.Tensor, counts: torch.Tensor | None = None) -> None:
        """Update the samples-since-fired counter from a training batch's codes [inst, batch, d_sae] (or from its
        per-latent firing counts [inst, d_sae] when they are already computed, saving a pass over the codes)."""
        fired = (counts > 0) if counts is not None else codes.amax(dim=1) > 0  # [inst, d_sae]
        self.since_fired.add_(codes.shape[1]).masked_fill_(fired, 0)

    @torch.no_grad()
    def normalize_decoder_(self) -> None:
        """Rescale every dictionary element (row of W_dec) to unit norm (zero rows stay zero)."""
        self.W_dec /= self.W_dec.norm(dim=-1, keepdim=True).clamp_min(1e-12)

    # ---- on disk: cfg.json + sae.safetensors (like EleutherAI's sparsify; nothing is pickled)
    def save(self, path: str | Path) -> Path:
        """Write the row to the folder `path`: cfg.json (`SAEConfig.to_dict()`) and sae.safetensors (every parameter
        and buffer). `sk.load_sae(path)` reads it back."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / "cfg.json").write_text(json.dumps(self.cfg.to_dict(), indent=2) + "\n")
        save_file({k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}, str(path / "sae.safetensors"))
        return path

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
        return f"n_inst={c.n_inst}, d={c.d}, d_sae={c.d_sae}, {arch}"


def load_sae(path: str | Path, device: str | torch.device = "cpu") -> SAE:
    """Read a row saved by `SAE.save` (cfg.json + sae.safetensors) onto `device`."""
    path = Path(path)
    for name in ("cfg.json", "sae.safetensors"):
        if not (path / name).exists():
            raise ValueError(f"{path} is not a saved SAE: {name} is missing (write one with sae.save(path))")
    try:
        cfg = SAEConfig(**json.loads((path / "cfg.json").read_text()))
    except (json.JSONDecodeError, TypeError) as e:
        raise ValueError(f"{path / 'cfg.json'}: not an SAEConfig ({e})") from e
    sae = make_sae(cfg)
    with safe_open(str(path / "sae.safetensors"), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    own = sae.state_dict()
    if set(tensors) != set(own) or any(tensors[k].shape != v.shape for k, v in own.items()):
        raise ValueError(f"{path / 'sae.safetensors'} does not match cfg.json: tensors "
                         f"{ {k: tuple(v.shape) for k, v in tensors.items()} }, expected { {k: tuple(v.shape) for k, v in own.items()} }")
    sae.load_state_dict(tensors)
    return sae.to(device)


def _initial_weights(cfg: SAEConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """W_enc [inst, d_sae, d], b_enc [inst, d_sae], W_dec [inst, d_sae, d] (unit rows) from the config's inits."""
    n, d_sae, d = cfg.n_inst, cfg.d_sae, cfg.d
    g = torch.Generator().manual_seed(derive_seed(cfg.seed, "sae-init"))
    W_dec, W_enc, b_enc = torch.empty(n, d_sae, d), torch.empty(n, d_sae, d), torch.zeros(n, d_sae)
    for i in range(n):  # instance by instance, so instance i's init does not depend on n_inst
        if cfg.decoder_init == "orthogonal":
            nn.init.orthogonal_(W_dec[i], generator=g)
        elif cfg.decoder_init == "noised_unit":  # e_(j mod d) + noise
            W_dec[i] = torch.eye(d).repeat(-(-d_sae // d), 1)[:d_sae] + 0.1 * torch.randn(d_sae, d, generator=g)
        else:  # random; the data inits start from it and are overwritten by train_sae (sae_kit.sae.dictionary_init)
            W_dec[i] = torch.randn(d_sae, d, generator=g)
        W_dec[i] /= W_dec[i].norm(dim=-1, keepdim=True)
        if cfg.encoder_init == "transpose":
            W_enc[i] = cfg.encoder_scale * W_dec[i]
        else:  # nn.Linear's default: U(−1/√d, 1/√d) for weight and bias
            W_enc[i] = (torch.rand(d_sae, d, generator=g) * 2 - 1) / d**0.5
            b_enc[i] = (torch.rand(d_sae, generator=g) * 2 - 1) / d**0.5
    return W_enc, b_enc, W_dec


# ---- fast path 1 of 2: products in low precision
def lowp_matmul(a: torch.Tensor, b: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """a @ b (2-D or batched) with both factors rounded to `dtype` and the product returned as float32.

    For bfloat16, CPUs with AVX512-BF16 (or AMX) accumulate in float32 and round the result to bfloat16 (8 bits of
    mantissa, a relative error ≤ 2⁻⁹), at about 2.5× the float32 rate; autograd runs the backward products in the same
    dtype and hands float32 gradients to the float32 parameters."""
    return torch.matmul(a.to(dtype), b.to(dtype)).float()


# ---- fast path 2 of 2: decode from the active latents only
def sparse_decode(W_dec: torch.Tensor, vals: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Σ_j vals_j · W_dec[idx_j] per sample: W_dec [inst, d_sae, d], vals and idx [inst, batch, k] → [inst, batch, d].

    One `embedding_bag` gather of k rows per sample instead of a dense [batch, d_sae] × [d_sae, d] product: faster on a
    CPU when k ≪ d_sae (TopK's decoder and AuxK's residual model; no decoder bias added here)."""
    n, batch, k = idx.shape
    d_sae, d = W_dec.shape[1:]
    offsets = torch.arange(n, device=idx.device)[:, None, None] * d_sae  # row i·d_sae + j of the flattened dictionary
    return F.embedding_bag((idx + offsets).reshape(n * batch, k), W_dec.reshape(-1, d),
                           per_sample_weights=vals.reshape(n * batch, k), mode="sum").view(n, batch, -1)


from sae_kit.sae import architectures  # noqa: E402,F401  (fills REGISTRY; it imports SAE from here, so it comes last)

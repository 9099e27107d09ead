"""Feature absorption against ground truth, the Matryoshka loss, and a tiny toy SAE to show both.

Absorption (Chanin et al. 2024, https://arxiv.org/abs/2409.14507; Chanin's LessWrong post "Toy Models of Feature
Absorption in SAEs", 2024): with a parent feature P and a child C that only fires with P, a sparse code spends one
activation instead of two by letting C's latent reconstruct P + C and switching P's latent off whenever C is on.
Measured on `sae_kit.toy.hierarchy` data, with f_P, f_C the true directions and latents matched by decoder cosine
(ℓ(P) = argmax_j cos(W_dec_j, f_P), ℓ(C) likewise):

    (a) recall_C   = #{samples with C active and c_ℓ(P) > 0} / #{samples with C active}
        absorption = 1 − mean_C recall_C                          (0: the parent latent always fires with its child)
    (b) share_C    = max(0, cos(W_dec_ℓ(C), f_P))                  (the parent direction carried by the child latent;
                                                                    1/√2 ≈ 0.71 for a child latent P + C)

Matryoshka SAEs (Nabeshima 2024, https://sparselatents.com/matryoshka.html; Bussmann et al. 2025,
https://arxiv.org/abs/2503.17547) make every prefix of the dictionary reconstruct x on its own, so the first
latents must learn the general (parent) features whole. Tying encoder and decoder also removes absorption in the
toy (Chanin's post): a parent latent whose encoder is its decoder f_P cannot learn to ignore the child.

`ToySAE` and `train_toy_sae` are a minimal self-contained L1 SAE (flat, Matryoshka or tied) to show this on the
toy. The kit's own Matryoshka SAE (`SAEConfig(architecture="matryoshka", prefixes=…)`, `sae_kit.sae.architectures`)
trains with `train_sae` on `matryoshka_loss`; `ToySAE` remains for the tied SAE, which the kit's classes (separate
W_enc and W_dec parameters) cannot express. Dimension names: `inst`, `batch`, `d_sae`, `d`,
`feat`, `prefix`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from sae_kit._util import check_positive_int, check_range, derive_seed, resolve_device
from sae_kit.analysis.metrics import cosine_matrix
from sae_kit.toy.hierarchy import HierarchyData

__all__ = ["matryoshka_loss", "check_prefixes", "ToySAEConfig", "ToySAE", "ToySAEResult", "train_toy_sae",
           "AbsorptionScore", "absorption_scores"]


def check_prefixes(prefixes: Sequence[int], d_sae: int) -> list[int]:
    """Validate nested prefix sizes: strictly ascending integers in [1, d_sae] ending at d_sae."""
    p = list(prefixes)
    if not p or any(isinstance(m, bool) or not isinstance(m, int) for m in p) or p != sorted(set(p)) \
            or p[0] < 1 or p[-1] != d_sae:
        raise ValueError(f"prefixes must be strictly ascending integers in [1, d_sae={d_sae}] ending at d_sae, got {prefixes!r}")
    return p


def matryoshka_loss(codes: torch.Tensor, decoder: torch.Tensor, x: torch.Tensor, prefixes: Sequence[int],
                    b_dec: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over nested prefixes of the reconstruction MSE of each prefix alone:

        L = (1/|M|) Σ_{m ∈ M} mean_{batch, d} (x − c_{:m} W_dec[:m] − b_dec)²

    (Bussmann et al. 2025 average the prefix losses; the kit's MSE is a mean over batch and d). With M = [d_sae] it
    is the plain MSE. codes [inst, batch, d_sae], decoder [inst, d_sae, d], x [batch, d] or [inst, batch, d],
    b_dec [inst, d] or None → [inst]. Computed from block reconstructions and a cumulative sum.
    """
    if codes.dim() != 3 or decoder.dim() != 3 or codes.shape[0] != decoder.shape[0] or codes.shape[2] != decoder.shape[1]:
        raise ValueError(f"codes must be [inst, batch, d_sae] and decoder [inst, d_sae, d], got {tuple(codes.shape)} "
                         f"and {tuple(decoder.shape)}")
    if x.shape[-1] != decoder.shape[-1] or x.shape[-2] != codes.shape[1]:
        raise ValueError(f"x must be [batch={codes.shape[1]}, d={decoder.shape[-1]}] (or with inst), got {tuple(x.shape)}")
    bounds = [0, *check_prefixes(prefixes, decoder.shape[1])]
    blocks = torch.stack([torch.bmm(codes[:, :, a:b], decoder[:, a:b]) for a, b in zip(bounds, bounds[1:])])
    recon = blocks.cumsum(dim=0)  # [prefix, inst, batch, d]
    if b_dec is not None:
        recon = recon + b_dec[None, :, None, :]
    return (recon - x).pow(2).mean(dim=(2, 3)).mean(dim=0)


@dataclass
class ToySAEConfig:
    """A row of small L1 SAEs for the absorption toy (one per L1 coefficient)."""

    d: int = 20
    """Data dimension."""
    d_sae: int = 20
    """Latents (Nabeshima's toy: 20, one per true feature)."""
    l1_coeff: float | Sequence[float] = 0.01
    """α per instance (L1 = mean over batch of Σ_j c_j). ≥ 0. On the default tree the flat SAE absorbs at 0.005–0.03
    and every latent dies at 0.1."""
    prefixes: Sequence[int] | None = None
    """Matryoshka prefix sizes (ascending, ending at d_sae); None: a flat SAE."""
    tied: bool = False
    """Encoder = decoder (W_enc ≡ W_dec) as in Chanin's toy remedy."""
    steps: int = 1500
    batch_size: int = 256
    lr: float = 1e-2
    """Adam's peak learning rate (cosine decay to 5 %). > 0."""
    seed: int = 0
    """Seed of the initialisation and the data stream."""
    device: str = "cpu"
    l1_coeffs: list[float] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("d", "d_sae", "steps", "batch_size"):
            check_positive_int(name, getattr(self, name))
        coeffs = [self.l1_coeff] if isinstance(self.l1_coeff, (int, float)) else list(self.l1_coeff)
        if not coeffs:
            raise ValueError("l1_coeff must be a number or a non-empty list")
        for a in coeffs:
            check_range("l1_coeff", a, 0.0, math.inf, high_open=True)
        self.l1_coeffs = [float(a) for a in coeffs]
        if self.prefixes is not None:
            self.prefixes = check_prefixes(self.prefixes, self.d_sae)
        check_range("lr", self.lr, 0.0, math.inf, low_open=True, high_open=True)
        resolve_device(self.device)


class ToySAE(nn.Module):
    """codes c = ReLU(W_enc x + b_enc) [inst, batch, d_sae]; x̂ = c W_dec + b_dec; unit-norm decoder rows."""

    def __init__(self, cfg: ToySAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        n = len(cfg.l1_coeffs)
        g = torch.Generator().manual_seed(derive_seed(cfg.seed, "toy-sae-init"))
        W = torch.randn(n, cfg.d_sae, cfg.d, generator=g)
        self.W_dec = nn.Parameter(W / W.norm(dim=-1, keepdim=True))  # [inst, d_sae, d]
        self.W_enc = None if cfg.tied else nn.Parameter(self.W_dec.detach().clone())  # [inst, d_sae, d]
        self.b_enc = nn.Parameter(torch.zeros(n, cfg.d_sae))
        self.b_dec = nn.Parameter(torch.zeros(n, cfg.d))
        self.register_buffer("l1_coeff", torch.tensor(cfg.l1_coeffs))

    @property
    def encoder(self) -> torch.Tensor:
        """[inst, d_sae, d]"""
        return self.W_dec if self.W_enc is None else self.W_enc

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x [batch, d] → codes [inst, batch, d_sae]."""
        return torch.relu(torch.einsum("bd,ikd->ibk", x, self.encoder) + self.b_enc[:, None, :])

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """[inst] reconstruction (Matryoshka: mean over prefixes) + α · mean_batch Σ_j c_j."""
        c = self.encode(x)
        prefixes = self.cfg.prefixes or [self.cfg.d_sae]
        return matryoshka_loss(c, self.W_dec, x, prefixes, self.b_dec) + self.l1_coeff * c.sum(-1).mean(-1)


@dataclass
class ToySAEResult:
    sae: ToySAE
    loss_history: torch.Tensor
    """[logged, inst] training loss every `steps // 50` steps."""


def train_toy_sae(data: HierarchyData, cfg: ToySAEConfig) -> ToySAEResult:
    """Train a row of `ToySAE`s on fresh samples (Adam, cosine decay, decoder rows renormalised every step)."""
    if data.d != cfg.d:
        raise ValueError(f"ToySAEConfig.d={cfg.d} does not match the data dimension d={data.d}")
    device = resolve_device(cfg.device)
    sae = ToySAE(cfg).to(device)
    opt = torch.optim.Adam(sae.parameters(), lr=cfg.lr)
    g = torch.Generator(device=device).manual_seed(derive_seed(cfg.seed, "toy-sae-data"))
    log_every, history = max(1, cfg.steps // 50), []
    for step in range(cfg.steps):
        for group in opt.param_groups:
            group["lr"] = cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / cfg.steps)))
        loss = sae.loss(data.sample(cfg.batch_size, g)[0])
        opt.zero_grad()
        loss.sum().backward()
        opt.step()
        with torch.no_grad():
            sae.W_dec /= sae.W_dec.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        if (step + 1) % log_every == 0:
            history.append(loss.detach())
    return ToySAEResult(sae=sae, loss_history=torch.stack(history) if history else torch.empty(0, len(cfg.l1_coeffs)))


@dataclass
class AbsorptionScore:
    """Absorption of every parent by its children (see the module docstring), per SAE instance."""

    parent_latent: torch.Tensor
    """[inst, parent] latent matched to each parent (best decoder cosine)."""
    parent_cos: torch.Tensor
    """[inst, parent] that cosine."""
    recall_child: torch.Tensor
    """[inst, child] P(parent latent fires | child active), children in feature order (parent by parent)."""
    recall_parent_only: torch.Tensor
    """[inst, parent] P(parent latent fires | parent active, no child): the control (high in every SAE)."""
    share: torch.Tensor
    """[inst, child] max(0, cos(W_dec of the child's latent, f_parent))."""
    encoder_child_cos: torch.Tensor
    """[inst, child] cos(W_enc of the parent latent, f_child): negative when the parent latent learns to stay off."""
    absorption: torch.Tensor
    """[inst] 1 − mean recall_child."""
    mean_share: torch.Tensor
    """[inst] mean share."""


def absorption_scores(data: HierarchyData, codes: torch.Tensor, coefficients: torch.Tensor, decoder: torch.Tensor,
                      encoder: torch.Tensor) -> AbsorptionScore:
    """Measures (a) and (b) of the module docstring for SAE instances on a sample of `data`.

    codes [(inst,) batch, d_sae] of the sample, coefficients [batch, feat] its true features, decoder and encoder
    [(inst,) d_sae, d] (encoder rows: the directions the latents read).
    """
    codes, decoder, encoder = (t[None] if t.dim() == nd else t for t, nd in ((codes, 2), (decoder, 2), (encoder, 2)))
    if coefficients.shape != (codes.shape[1], data.n_features):
        raise ValueError(f"coefficients must be [batch={codes.shape[1]}, feat={data.n_features}], got {tuple(coefficients.shape)}")
    if decoder.shape != encoder.shape or decoder.shape[:2] != (codes.shape[0], codes.shape[2]):
        raise ValueError(f"decoder and encoder must both be [inst={codes.shape[0]}, d_sae={codes.shape[2]}, d], got "
                         f"{tuple(decoder.shape)} and {tuple(encoder.shape)}")
    f = data.features.to(decoder.device)
    cos_dec = cosine_matrix(decoder, f)  # [inst, d_sae, feat]
    kids = [c for cs in data.children for c in cs]
    if not kids:
        raise ValueError("the hierarchy has no children (n_children=0): absorption is undefined")
    par = data.parent_of[kids]  # [child]
    p_cos, p_lat = cos_dec[:, :, data.parents].max(dim=1)  # [inst, parent]
    c_lat = cos_dec[:, :, kids].argmax(dim=1)  # [inst, child]
    fires = codes > 0  # [inst, batch, d_sae]
    active = coefficients > 0  # [batch, feat]
    inst = torch.arange(codes.shape[0])[:, None]
    parent_fires = fires.permute(0, 2, 1)[inst, p_lat].float()  # [inst, parent, batch]
    child_on = active[:, kids].T.float()  # [child, batch]
    recall_child = (parent_fires[:, par] * child_on).sum(-1) / child_on.sum(-1).clamp_min(1)  # [inst, child]
    alone = (active[:, data.parents] & ~active[:, kids].reshape(-1, len(data.parents), len(data.children[0])).any(-1)).T.float()
    recall_alone = (parent_fires * alone).sum(-1) / alone.sum(-1).clamp_min(1)  # [inst, parent]
    share = torch.relu(cos_dec[inst, c_lat, par[None, :].expand_as(c_lat)])  # [inst, child]
    cos_enc = cosine_matrix(encoder, f)  # [inst, d_sae, feat]
    enc_child = cos_enc[inst, p_lat[:, par], torch.tensor(kids)[None, :].expand_as(c_lat)]  # [inst, child]
    return AbsorptionScore(parent_latent=p_lat, parent_cos=p_cos, recall_child=recall_child,
                           recall_parent_only=recall_alone, share=share, encoder_child_cos=enc_child,
                           absorption=1 - recall_child.mean(-1), mean_share=share.mean(-1))

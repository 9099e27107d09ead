"""Attention-output SAEs: direct feature attribution (DFA) of each latent to the attention heads.

Kissane, Krzyzanowski, Bloom, Conmy & Nanda (2024, https://arxiv.org/abs/2406.17759; their LW posts, starting with
"Sparse Autoencoders Work on Attention Layer Outputs", https://www.lesswrong.com/s/FzGeLpkzDgzGhigLm) train SAEs on
`blocks.L.attn.hook_z` [batch, pos, head, d_head] flattened to head·d_head values per token. The encoder is linear
before its non-linearity, so a latent's pre-activation splits exactly into one term per head:

    pre_f = Σ_h (z_h − b_dec,h) · W_enc[f, h-slice] + b_enc,f,      DFA_h,f = (z_h − b_dec,h) · W_enc[f, h-slice]

(b_dec subtracted only when the SAE centres its input). The caveat (a commenter on the LW post): the code is
ReLU(pre) (or TopK of it), so the heads decompose the pre-activation, not whether or how much the latent fires; a
head can push a latent up while the bias keeps it off. `dfa_summary` measures how often that happens. A second,
weight-based attribution is the per-head norm of the decoder row, ‖W_dec[f, h-slice]‖.

A control with a known answer: `planted_heads` writes features into single heads' slices of a fake z; an SAE trained on
it must attribute each feature to its head (`head_recovery`, `recovers_heads`).

Dimension names: `tok` token positions, `head`, `d_head`, `d` = head·d_head, `d_sae`, `feat` planted features.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sae_kit._util import check_positive_int, check_range, derive_seed
from sae_kit.analysis.metrics import cosine_matrix
from sae_kit.sae.base import SAE

__all__ = ["flatten_heads", "direct_feature_attribution", "decoder_head_norms", "DFASummary", "dfa_summary",
           "PlantedHeads", "planted_heads", "head_recovery", "recovers_heads"]


def flatten_heads(z: torch.Tensor) -> torch.Tensor:
    """hook_z [batch, pos, head, d_head] → [tok, head·d_head] (head-major: head h is columns h·d_head … (h+1)·d_head − 1),
    the flattening of SAELens and SAEBench (`flatten(-2, -1)`)."""
    if z.dim() != 4:
        raise ValueError(f"z must be hook_z [batch, pos, head, d_head], got shape {tuple(z.shape)}")
    return z.reshape(-1, z.shape[2] * z.shape[3])


def _check(sae: SAE, n_heads: int, inst: int) -> int:
    check_positive_int("n_heads", n_heads)
    if sae.cfg.d % n_heads:
        raise ValueError(f"SAEConfig.d={sae.cfg.d} must be n_heads·d_head; n_heads={n_heads} does not divide it")
    if not 0 <= inst < sae.cfg.n_inst:
        raise ValueError(f"inst must be in [0, {sae.cfg.n_inst}), got {inst}")
    return sae.cfg.d // n_heads


@torch.no_grad()
def direct_feature_attribution(sae: SAE, x: torch.Tensor, n_heads: int, inst: int = 0,
                               features: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """DFA [tok, d_sae, head] (or [tok, len(features), head]) and the bias [d_sae] of instance `inst` on flattened
    z x [tok, head·d_head]: Σ_h DFA[:, f, h] + bias[f] = pre_f (module docstring)."""
    d_head = _check(sae, n_heads, inst)
    W, b = sae.W_enc[inst], sae.b_enc[inst]  # [d_sae, d], [d_sae]
    if features is not None:
        W, b = W[features], b[features]
    if sae.b_dec is not None and sae.cfg.centre_input:
        x = x - sae.b_dec[inst]
    xh = x.reshape(len(x), n_heads, d_head)  # [tok, head, d_head]
    Wh = W.reshape(len(W), n_heads, d_head)  # [d_sae, head, d_head]
    return torch.einsum("thk,fhk->tfh", xh, Wh), b.clone()


@torch.no_grad()
def decoder_head_norms(sae: SAE, n_heads: int, inst: int = 0) -> torch.Tensor:
    """‖W_dec[f, h-slice]‖ [d_sae, head]: the weight-based attribution of each latent's output to each head."""
    d_head = _check(sae, n_heads, inst)
    return sae.W_dec[inst].reshape(sae.cfg.d_sae, n_heads, d_head).norm(dim=-1)


@dataclass
class DFASummary:
    """Per-latent head attribution over the tokens where each latent fires, and the ReLU caveat measured."""

    abs_dfa: torch.Tensor  # [d_sae, head] Σ over firing tokens of |DFA_h|
    fires: torch.Tensor  # [d_sae] tokens the latent fires on
    sign_gap: float
    """P(fires ≠ [Σ_h DFA_h > 0]) over all (token, latent) pairs: how often the heads' sum alone mispredicts firing."""
    off_given_positive: float
    """P(not firing | Σ_h DFA_h > 0): the heads push the latent up but the bias (or TopK) keeps it off."""
    on_given_nonpositive: float
    """P(firing | Σ_h DFA_h ≤ 0): the bias alone turns it on."""

    @property
    def top_head(self) -> torch.Tensor:
        """[d_sae] the head with the largest total |DFA| while the latent fires."""
        return self.abs_dfa.argmax(-1)

    @property
    def top_share(self) -> torch.Tensor:
        """[d_sae] the top head's share of |DFA|, max_h A_h / Σ_h A_h (1: one head; 1/n_heads: spread evenly); NaN for
        latents that never fire."""
        total = self.abs_dfa.sum(-1)
        return torch.where(self.fires > 0, self.abs_dfa.amax(-1) / total.clamp_min(1e-30), torch.nan)


@torch.no_grad()
def dfa_summary(sae: SAE, x: torch.Tensor, n_heads: int, inst: int = 0, batch_size: int = 4096) -> DFASummary:
    """`DFASummary` of instance `inst` on flattened z x [tok, head·d_head], encoded `batch_size` tokens at a time
    (the SAE in eval mode, so a latent fires where its code is positive, whatever the architecture)."""
    _check(sae, n_heads, inst)
    check_positive_int("batch_size", batch_size)
    was_training = sae.training
    sae.eval()
    d_sae = sae.cfg.d_sae
    abs_dfa = torch.zeros(d_sae, n_heads, dtype=torch.float64)
    fires = torch.zeros(d_sae, dtype=torch.long)
    n = dict(gap=0, pos=0, off_pos=0, nonpos=0, on_nonpos=0)
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size]
        dfa, _ = direct_feature_attribution(sae, xb, n_heads, inst)  # [tok, d_sae, head]
        on = sae.encode(xb)[inst] > 0  # [tok, d_sae]
        pos = dfa.sum(-1) > 0
        abs_dfa += (dfa.abs() * on[..., None]).sum(0).double()
        fires += on.sum(0)
        n["gap"] += int((on != pos).sum())
        n["pos"] += int(pos.sum())
        n["off_pos"] += int((pos & ~on).sum())
        n["nonpos"] += int((~pos).sum())
        n["on_nonpos"] += int((~pos & on).sum())
    sae.train(was_training)
    ratio = lambda a, b: n[a] / n[b] if n[b] else float("nan")  # noqa: E731
    return DFASummary(abs_dfa.float(), fires, n["gap"] / (len(x) * d_sae), ratio("off_pos", "pos"),
                      ratio("on_nonpos", "nonpos"))


@dataclass
class PlantedHeads:
    """A fake hook_z with features planted in known heads."""

    z: torch.Tensor  # [tok, head, d_head]
    features: torch.Tensor  # [feat, head·d_head] unit directions, each zero outside its head's slice
    head: torch.Tensor  # [feat] the head each feature lives in


def planted_heads(n_heads: int = 4, d_head: int = 4, n_feat: int = 8, n_tok: int = 20_000, p_fire: float = 0.05,
                  noise: float = 0.0, seed: int = 0) -> PlantedHeads:
    """z = Σ_f a_f · u_f (+ N(0, noise²)), u_f a random unit vector in head (f mod n_heads)'s slice, a_f = U(0, 1) with
    probability p_fire else 0 (the report's toy sparsity, per head). Seeded."""
    for name, v in (("n_heads", n_heads), ("d_head", d_head), ("n_feat", n_feat), ("n_tok", n_tok)):
        check_positive_int(name, v)
    check_range("p_fire", p_fire, 0.0, 1.0, low_open=True)
    check_range("noise", noise, 0.0, float("inf"), high_open=True)
    g = torch.Generator().manual_seed(derive_seed(seed, "planted-heads"))
    head = torch.arange(n_feat) % n_heads
    feats = torch.zeros(n_feat, n_heads, d_head)
    feats[torch.arange(n_feat), head] = torch.randn(n_feat, d_head, generator=g)
    feats = feats.reshape(n_feat, -1)
    feats /= feats.norm(dim=-1, keepdim=True)
    a = torch.rand(n_tok, n_feat, generator=g) * (torch.rand(n_tok, n_feat, generator=g) < p_fire)
    z = a @ feats + noise * torch.randn(n_tok, n_heads * d_head, generator=g)
    return PlantedHeads(z.reshape(n_tok, n_heads, d_head), feats, head)


def head_recovery(top_head: torch.Tensor, dictionary: torch.Tensor, planted: PlantedHeads) -> float:
    """Share of planted features f whose best-matching latent j* = argmax_j cos(u_f, W_dec[j]) has top_head[j*] equal
    to f's head. top_head [d_sae] (e.g. `DFASummary.top_head`), dictionary [d_sae, d]."""
    if top_head.shape[0] != dictionary.shape[0]:
        raise ValueError(f"top_head has {top_head.shape[0]} latents, the dictionary {dictionary.shape[0]}")
    match = cosine_matrix(planted.features, dictionary).argmax(-1)  # [feat]
    return float((top_head[match] == planted.head).float().mean())


def recovers_heads(recovery: float, threshold: float = 0.9) -> bool:
    """Criterion: DFA names the planted head of at least `threshold` of the planted features (chance: 1/n_heads)."""
    check_range("threshold", threshold, 0.0, 1.0)
    return recovery >= threshold

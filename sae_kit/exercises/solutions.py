"""Reference solutions of the exercises: what `check_<name>` compares your function with.

Each is written to be read: one formula, the kit's shapes and conventions. Notebooks run them in CI, e.g.
`sk.exercises.check_tms_forward(sk.exercises.solutions.tms_forward)`. tests/test_exercises.py checks that each
agrees with the kit's own implementation (sk.SAE, sk.mmcs, sk.mcc, sk.feature_dimensionality, the toy model's loss).

Dimension names: `inst` independent models, `batch` samples, `feat` features (n), `d_hidden` (m), `d` data dimension,
`d_sae` latents, `ref` ground-truth features.
"""

from __future__ import annotations

import torch
from scipy.optimize import linear_sum_assignment

__all__ = ["tms_forward", "tms_loss", "dimensionality", "sae_forward", "l1_loss", "decoder_renorm", "mmcs", "mcc",
           "topk", "auxk_loss", "matryoshka_loss"]


def tms_forward(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """x' = ReLU(Wᵀ W x + b), the toy model of superposition (Elhage et al. 2022,
    https://transformer-circuits.pub/2022/toy_model/index.html).

    W [inst, d_hidden, feat], b [inst, feat], x [inst, batch, feat] → x' [inst, batch, feat].
    """
    h = torch.einsum("ihf,ibf->ibh", W, x)  # [inst, batch, d_hidden]: h = W x
    return torch.relu(torch.einsum("ihf,ibh->ibf", W, h) + b[:, None, :])  # Wᵀ h + b


def tms_loss(x: torch.Tensor, x_hat: torch.Tensor, importance: torch.Tensor) -> torch.Tensor:
    """L = mean_batch mean_feat I_i (x_i − x'_i)², one loss per instance.

    The paper writes Σ_i I_i (x_i − x'_i)² summed over the data; its notebook, and the kit, average over the batch and
    over the features (a constant factor n = feat, which rescales the gradient but not the optimum).
    x, x_hat [inst, batch, feat], importance [inst, feat] → [inst].
    """
    return (importance[:, None, :] * (x - x_hat).pow(2)).mean(dim=(1, 2))


def dimensionality(W: torch.Tensor) -> torch.Tensor:
    """Feature dimensionality D_i = ‖W_i‖² / Σ_j (Ŵ_i · W_j)², Ŵ_i = W_i / ‖W_i‖ (Elhage et al. 2022, "Feature
    dimensionality"); D_i = 0 for a feature that is not represented (W_i = 0).

    W [inst, d_hidden, feat] (column W_i: feature i's direction) → D [inst, feat].
    """
    norms = W.norm(dim=1)  # [inst, feat]
    W_hat = W / norms.clamp_min(1e-8)[:, None, :]  # unit columns; a zero column stays zero
    proj = torch.einsum("ihf,ihg->ifg", W_hat, W)  # [inst, feat, feat]: Ŵ_i · W_j
    D = norms.pow(2) / proj.pow(2).sum(dim=-1).clamp_min(1e-30)
    return torch.where(norms > 1e-6, D, torch.zeros_like(D))


def sae_forward(x: torch.Tensor, W_enc: torch.Tensor, b_enc: torch.Tensor,
                W_dec: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The report's L1 SAE (Sharkey, Braun & Millidge 2022): codes c = ReLU(W_enc x + b_enc), x̂ = W_decᵀ c.

    The encoder has a bias, the decoder none (the kit's default, `SAEConfig(decoder_bias=False)`). Rows of W_enc and
    W_dec are latents (the kit's layout: `sae.W_enc`, `sae.W_dec`).
    x [batch, d] (shared by every instance), W_enc [inst, d_sae, d], b_enc [inst, d_sae], W_dec [inst, d_sae, d]
    → (x_hat [inst, batch, d], codes [inst, batch, d_sae]).
    """
    codes = torch.relu(torch.einsum("bd,isd->ibs", x, W_enc) + b_enc[:, None, :])  # [inst, batch, d_sae]
    x_hat = torch.einsum("ibs,isd->ibd", codes, W_dec)  # [inst, batch, d]
    return x_hat, codes


def l1_loss(x: torch.Tensor, x_hat: torch.Tensor, codes: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """loss = MSE + α · L1 with the kit's (and the report's author's) "mean" convention:

        MSE = mean_batch mean_d (x − x̂)²,    L1 = mean_batch (1/d_sae) Σ_j |c_j|

    so α is comparable across dictionary sizes (the per-latent penalty is α/d_sae).
    x [batch, d], x_hat [inst, batch, d], codes [inst, batch, d_sae], alpha [inst] → [inst].
    """
    mse = (x - x_hat).pow(2).mean(dim=(1, 2))  # [inst]
    l1 = codes.abs().mean(dim=(1, 2))  # [inst]: mean over batch of the mean over latents
    return mse + alpha * l1


def decoder_renorm(W_dec: torch.Tensor) -> torch.Tensor:
    """Every dictionary element (row of W_dec) rescaled to unit norm; a zero row stays zero.

    Done after every optimiser step, so the L1 penalty cannot be dodged by shrinking the codes and growing the decoder.
    W_dec [inst, d_sae, d] → [inst, d_sae, d].
    """
    return W_dec / W_dec.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def mmcs(truth: torch.Tensor, learned: torch.Tensor) -> float:
    """MMCS(truth → learned) = (1/n_ref) Σ_i max_j cos(truth_i, learned_j), the report's recovery metric.

    Signed cosines (no |·|): a learned element pointing opposite a feature does not count as finding it.
    truth [ref, d], learned [d_sae, d] → a number.
    """
    t = truth / truth.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    l_ = learned / learned.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    return float((t @ l_.T).amax(dim=1).mean())


def mcc(truth: torch.Tensor, learned: torch.Tensor) -> float:
    """MCC: mean |cos| over a one-to-one matching of truth and learned rows that maximises the sum (Hungarian).

    MCC = (1/N) Σ_{(i, j) ∈ M} |cos(truth_i, learned_j)|, N = min(n_ref, d_sae) = |M| (SAELens' convention, the kit's
    default). Each learned row may be matched once, so copying one feature many times earns nothing.
    truth [ref, d], learned [d_sae, d] → a number.
    """
    t = truth / truth.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    l_ = learned / learned.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    sims = (t @ l_.T).abs().double().numpy()  # [ref, d_sae]
    rows, cols = linear_sum_assignment(sims, maximize=True)
    return float(sims[rows, cols].mean())


def topk(pre: torch.Tensor, k: int) -> torch.Tensor:
    """TopK activation (Gao et al. 2024, https://arxiv.org/abs/2406.04093): per sample, keep the k largest
    pre-activations, ReLU them, zero the rest.  pre [inst, batch, d_sae] → codes [inst, batch, d_sae]."""
    vals, idx = pre.topk(k, dim=-1)
    return torch.zeros_like(pre).scatter(-1, idx, torch.relu(vals))


def auxk_loss(x: torch.Tensor, x_hat: torch.Tensor, pre: torch.Tensor, W_dec: torch.Tensor, dead: torch.Tensor,
              aux_k: int) -> torch.Tensor:
    """AuxK (Gao et al. 2024): model the residual e = x − x̂ with the aux_k largest pre-activations among dead latents.

        ê = W_decᵀ ReLU(TopK_aux_k(pre restricted to dead latents))      (fewer dead latents than aux_k: all of them)
        AuxK = mean_batch ‖e − ê‖² / ‖e‖²                                 (0 for an instance with no dead latent)

    x [batch, d], x_hat [inst, batch, d], pre [inst, batch, d_sae], W_dec [inst, d_sae, d], dead bool [inst, d_sae]
    → [inst].
    """
    e = x - x_hat  # [inst, batch, d]
    out = []
    for i in range(pre.shape[0]):  # instance by instance: each has its own number of dead latents
        cols = torch.nonzero(dead[i]).flatten()  # [n_dead]
        if len(cols) == 0:
            out.append(torch.zeros((), dtype=pre.dtype))
            continue
        vals, j = pre[i][:, cols].topk(min(aux_k, len(cols)), dim=-1)  # [batch, k_aux]
        e_hat = torch.einsum("bk,bkd->bd", torch.relu(vals), W_dec[i][cols[j]])  # [batch, d]
        out.append(((e[i] - e_hat).pow(2).sum(-1) / e[i].pow(2).sum(-1).clamp_min(1e-12)).mean())
    return torch.stack(out)


def matryoshka_loss(codes: torch.Tensor, W_dec: torch.Tensor, x: torch.Tensor, prefixes: list[int]) -> torch.Tensor:
    """Matryoshka loss (Nabeshima 2024, https://sparselatents.com/matryoshka.html): every nested prefix of the
    dictionary reconstructs x on its own, and the loss is the mean over prefixes of each prefix's MSE:

        L = (1/|M|) Σ_{m ∈ M} mean_{batch, d} (x − c_{:m} W_dec[:m])²

    codes [inst, batch, d_sae], W_dec [inst, d_sae, d], x [batch, d], prefixes ascending, the last = d_sae → [inst]."""
    terms = [(x - torch.bmm(codes[:, :, :m], W_dec[:, :m])).pow(2).mean(dim=(1, 2)) for m in prefixes]
    return torch.stack(terms).mean(dim=0)

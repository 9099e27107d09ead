"""Dead-latent remedies that act during training (AuxK and the pre-activation penalty are loss terms in sae/base.py).

Bricken et al. 2023: https://transformer-circuits.pub/2023/monosemantic-features

Resampling (Bricken et al. 2023, "Towards Monosemanticity"): at fixed steps, every latent that has not fired for
`dead_after` samples is restarted on an input the SAE reconstructs badly —
- inputs are drawn with probability ∝ (their reconstruction loss)²;
- the decoder row becomes the drawn input (centred by b_dec when there is one), normalised;
- the encoder row becomes the same direction scaled to 0.2 × the mean norm of the alive encoder rows; its bias 0;
- the optimiser state of those rows is reset (Adam moments, Muon momentum), and their dead counter restarts.
With `target="residual"` (`TrainConfig(resample_target="residual")`) the new direction is the drawn input's residual
x − x̂ instead of the input: what the SAE misses there, which on toy data is mostly the features no latent has
learned yet (the rarest ones, under the λ^i decay).

`resample_to_worst_` (`TrainConfig(resample_from="worst")`, the kit's default) needs no extra forward pass: during
training `keep_worst_` keeps the residuals x − x̂ of the `resample_pool` worst-reconstructed training inputs since the
last resampling, and each silent latent takes one of them, worst first. On the toy data an input is reconstructed
badly when it holds a feature no latent has learned yet, so its residual points at that feature.
"""

from __future__ import annotations

import torch

from sae_kit._util import eval_mode
from sae_kit.sae.base import SAE
from sae_kit.training.optim import SAEOptimizer

__all__ = ["resample_dead_", "resample_to_worst_", "keep_worst_", "worst_pool", "density_counts"]


@torch.no_grad()
def resample_dead_(sae: SAE, opt: SAEOptimizer | None, x: torch.Tensor, dead: torch.Tensor,
                   generator: torch.Generator, encoder_scale: float = 0.2, target: str = "input",
                   second_moment: str = "zero") -> list[int]:
    """Resample the latents `dead` [inst, d_sae] from inputs x [pool, d]; returns how many per instance.

    target: "input" (Bricken et al. 2023: the drawn input's direction) or "residual" (the direction of what the SAE
    misses on the drawn input, x − x̂: on toy data that is mostly the features no latent has learned yet).
    second_moment: how Adam's second moment of the restarted rows is reset (`SAEOptimizer.reset_rows_`)."""
    if target not in ("input", "residual"):
        raise ValueError(f"target must be 'input' or 'residual', got {target!r}")
    n, d_sae = sae.cfg.n_inst, sae.cfg.d_sae
    if dead.shape != (n, d_sae):
        raise ValueError(f"dead must be a mask [inst={n}, d_sae={d_sae}], got {tuple(dead.shape)}")
    if x.dim() != 2 or x.shape[-1] != sae.cfg.d:
        raise ValueError(f"x must be [pool, d={sae.cfg.d}], got {tuple(x.shape)}")
    with eval_mode(sae):  # BatchTopK encodes with its threshold
        err = x - sae(x, with_l0=False).x_hat  # [inst, pool, d]
    loss = err.pow(2).sum(-1)  # [inst, pool]
    counts = []
    for i in range(n):
        idx = torch.nonzero(dead[i]).flatten()
        counts.append(int(idx.numel()))
        if not idx.numel():
            continue
        w = loss[i].pow(2)
        w = w if w.sum() > 0 else torch.ones_like(w)
        pick = torch.multinomial(w, idx.numel(), replacement=bool(w.count_nonzero() < idx.numel()), generator=generator)
        v = err[i, pick] if target == "residual" else x[pick] - (sae.b_dec[i] if sae.b_dec is not None else 0)
        v = v / v.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        alive = ~dead[i]
        scale = sae.W_enc[i][alive].norm(dim=-1).mean() if alive.any() else torch.tensor(1.0)
        sae.W_dec[i, idx] = v
        sae.W_enc[i, idx] = v * encoder_scale * scale
        sae.b_enc[i, idx] = 0
    sae.since_fired.masked_fill_(dead, 0)
    if opt is not None:
        for name in ("W_enc", "W_dec", "b_enc"):
            opt.reset_rows_(name, dead, second_moment)
    return counts


def worst_pool(n_inst: int, pool: int, d: int, device: torch.device) -> dict[str, torch.Tensor]:
    """An empty pool for `keep_worst_`: worst [inst, pool, d] residuals and their worst_loss ‖e‖² [inst, pool] (−inf)."""
    return {"worst": torch.zeros(n_inst, pool, d, device=device),
            "worst_loss": torch.full((n_inst, pool), -torch.inf, device=device)}


@torch.no_grad()
def keep_worst_(worst: torch.Tensor, worst_loss: torch.Tensor, err: torch.Tensor) -> None:
    """Merge a batch's residuals err [inst, batch, d] into the kept worst ones, worst [inst, pool, d] and their
    squared norms worst_loss [inst, pool] (−inf where empty), in place: the pool largest ‖e‖² are kept. The pool is
    unordered: a newcomer takes the slot of a residual it pushed out (a few per step), so the pool is not rewritten."""
    loss = err.pow(2).sum(-1)  # [inst, batch]
    pool = worst_loss.shape[1]
    top = torch.cat([worst_loss, loss], 1).topk(pool, dim=1).indices  # [inst, pool] of pool slots, then the batch
    kept = torch.zeros(loss.shape[0], pool + loss.shape[1], dtype=torch.bool, device=loss.device).scatter_(1, top, True)
    out, new = ~kept[:, :pool], kept[:, pool:]  # as many pushed out as came in, per instance: row-major order pairs them
    worst_loss[out], worst[out] = loss[new], err[new]


@torch.no_grad()
def resample_to_worst_(sae: SAE, opt: SAEOptimizer | None, silent: torch.Tensor, worst: torch.Tensor,
                       worst_loss: torch.Tensor, encoder_scale: float = 0.2, second_moment: str = "zero") -> list[int]:
    """Restart the latents `silent` [inst, d_sae] on the kept residuals worst [inst, pool, d] (`keep_worst_`), the
    worst-reconstructed first, one residual per latent; returns how many per instance. Each restarted latent: decoder
    row = e/‖e‖, encoder row = that times encoder_scale × the mean alive encoder-row norm, bias 0, momentum 0 and
    Adam's second moment per `second_moment` (`SAEOptimizer.reset_rows_`). The pool is emptied (worst_loss = −inf)
    for the next period."""
    n, d_sae = sae.cfg.n_inst, sae.cfg.d_sae
    if silent.shape != (n, d_sae):
        raise ValueError(f"silent must be a mask [inst={n}, d_sae={d_sae}], got {tuple(silent.shape)}")
    counts, done = [], torch.zeros_like(silent)
    for i in range(n):
        idx = torch.nonzero(silent[i]).flatten()
        order = worst_loss[i].argsort(descending=True)
        order = order[torch.isfinite(worst_loss[i, order]) & (worst_loss[i, order] > 0)]
        idx = idx[: order.numel()]
        counts.append(int(idx.numel()))
        if not idx.numel():
            continue
        v = worst[i, order[: idx.numel()]]
        v = v / v.norm(dim=-1, keepdim=True)
        alive = ~silent[i]
        scale = sae.W_enc[i][alive].norm(dim=-1).mean() if alive.any() else torch.tensor(1.0)
        sae.W_dec[i, idx], sae.W_enc[i, idx], sae.b_enc[i, idx] = v, v * encoder_scale * scale, 0
        done[i, idx] = True
    sae.since_fired.masked_fill_(done, 0)
    worst_loss.fill_(-torch.inf)
    if opt is not None:
        for name in ("W_enc", "W_dec", "b_enc"):
            opt.reset_rows_(name, done, second_moment)
    return counts


def density_counts(codes: torch.Tensor) -> torch.Tensor:
    """How many samples of the batch each latent fired on: codes [inst, batch, d_sae] → [inst, d_sae]."""
    return (codes.detach() > 0).sum(dim=1)

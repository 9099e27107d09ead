"""Dead-latent remedies that act during training (AuxK and the pre-activation penalty are loss terms in sae.py).

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
"""

from __future__ import annotations

import torch

from sae_kit._util import eval_mode
from sae_kit.optim import SAEOptimizer
from sae_kit.sae import SAE

__all__ = ["resample_dead_", "density_counts"]


@torch.no_grad()
def resample_dead_(sae: SAE, opt: SAEOptimizer | None, x: torch.Tensor, dead: torch.Tensor,
                   generator: torch.Generator, encoder_scale: float = 0.2, target: str = "input") -> list[int]:
    """Resample the latents `dead` [inst, d_sae] from inputs x [pool, d]; returns how many per instance.

    target: "input" (Bricken et al. 2023: the drawn input's direction) or "residual" (the direction of what the SAE
    misses on the drawn input, x − x̂: on toy data that is mostly the features no latent has learned yet)."""
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
            opt.reset_rows_(name, dead)
    return counts


def density_counts(codes: torch.Tensor) -> torch.Tensor:
    """How many samples of the batch each latent fired on: codes [inst, batch, d_sae] → [inst, d_sae]."""
    return (codes.detach() > 0).sum(dim=1)

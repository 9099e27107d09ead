"""A plain float32 PyTorch SAE training loop, tuned by hand to find every feature of the toy data: the bar that the
kit's defaults are measured against in `bench_every_feature.py`.

Nothing here imports the kit's model or training loop (only its toy data, so both see the same kind of samples). It is
written out as one would by hand, with the ingredients that matter on the default toy data (G = 512 features in
d = 256, the rarest firing once in ~3,300 samples):

- an L1 SAE, loss = ‖x − x̂‖²/d + α · Σ|c|/d_sae, decoder rows unit norm, encoder initialised as the decoder
  (Gao et al. 2024, https://arxiv.org/abs/2406.04093), Adam (β₂ = 0.99) at lr 1e-2 with a 50-step warm-up and cosine
  decay, batch 64 (more, smaller steps per sample), α ramped in linearly over the first steps;
- the component of each decoder row's gradient along the row is removed before Adam's step (the row is re-normalised
  afterwards anyway, so that component only moves Adam's state);
- every `resample_every` steps, latents silent for `silent_steps` steps are restarted on the residuals x − x̂ of the
  worst-reconstructed training inputs since the last restart (the `pool` largest ‖x − x̂‖², kept as training goes;
  Bricken et al. 2023, https://transformer-circuits.pub/2023/monosemantic-features, with the residual instead of the
  input): decoder row = the residual's direction, encoder row = that direction times
  `enc_scale` × the mean alive encoder-row norm, bias 0, Adam moments of those rows zeroed.

`train_reference(seed)` stops when MMCS ≥ 0.99 and min MCS ≥ 0.9 (every feature found) and returns the samples and
seconds at which each criterion was first met, and the learned dictionary [d_sae, d].
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch

import sae_kit as sk


@dataclass(frozen=True)
class RefSettings:
    """The hand-tuned recipe (each field one knob)."""

    d_sae: int = 1024
    l1_coeff: float = 0.3
    batch: int = 64
    lr: float = 1e-2
    warmup: int = 50
    steps: int = 4000  # the cosine schedule's length
    final_fraction: float = 0.05
    beta2: float = 0.99
    l1_warmup: int = 300
    project_grad: bool = True
    silent_steps: int = 300  # a latent not fired for this many steps is restarted
    resample_every: int = 100
    pool: int = 256  # the worst residuals kept between restarts
    enc_scale: float = 0.2
    check_every: int = 25  # MCS against the ground truth every this many steps
    mmcs_target: float = 0.99
    min_target: float = 0.9


def train_reference(seed: int, s: RefSettings = RefSettings(), data: sk.ToyData | None = None,
                    max_samples: int | None = None) -> dict:
    """Train one SAE by hand on the default toy data; samples and seconds to MMCS ≥ 0.99 and to min MCS ≥ 0.9."""
    data = data or sk.ToyData(sk.ToyDataConfig(device="cpu"))
    d, truth = data.d, data.features
    g_init, g = torch.Generator().manual_seed(1000 + seed), torch.Generator().manual_seed(seed)
    W_dec = torch.empty(s.d_sae, d)
    torch.nn.init.orthogonal_(W_dec, generator=g_init)
    W_dec /= W_dec.norm(dim=1, keepdim=True)
    W_dec.requires_grad_()
    W_enc = W_dec.detach().clone().requires_grad_()
    b_enc = torch.zeros(s.d_sae, requires_grad=True)
    opt = torch.optim.Adam([W_enc, b_enc, W_dec], lr=s.lr, betas=(0.9, s.beta2))
    silent = torch.zeros(s.d_sae, dtype=torch.long)
    worst, worst_loss = torch.zeros(s.pool, d), torch.full((s.pool,), -torch.inf)
    truth_unit = truth / truth.norm(dim=1, keepdim=True)
    out = {"seed": seed, "mmcs_samples": None, "mmcs_seconds": None, "all_samples": None, "all_seconds": None}
    t0 = time.perf_counter()
    for step in range(s.steps):
        lr = s.lr * (step + 1) / s.warmup if step < s.warmup else s.lr * (
            s.final_fraction + (1 - s.final_fraction) * 0.5 * (1 + math.cos(math.pi * (step - s.warmup) / (s.steps - 1 - s.warmup))))
        for group in opt.param_groups:
            group["lr"] = lr
        x = data.sample(s.batch, g)[0]
        c = torch.relu(x @ W_enc.T + b_enc)
        x_hat = c @ W_dec
        err = x - x_hat
        alpha = s.l1_coeff * min(1.0, (step + 1) / s.l1_warmup) if s.l1_warmup else s.l1_coeff
        loss = err.pow(2).mean() + alpha * c.sum(1).mean() / s.d_sae
        opt.zero_grad(set_to_none=True)
        loss.backward()
        with torch.no_grad():
            if s.project_grad:  # drop the part of each decoder row's gradient along the row
                W_dec.grad -= (W_dec.grad * W_dec).sum(1, keepdim=True) * W_dec
            opt.step()
            W_dec /= W_dec.norm(dim=1, keepdim=True)
            fired = (c > 0).any(0)
            silent += 1
            silent[fired] = 0
            all_err = torch.cat([worst, err])
            all_loss = torch.cat([worst_loss, err.pow(2).sum(1)])
            top = all_loss.topk(s.pool).indices
            worst, worst_loss = all_err[top], all_loss[top]
            if (step + 1) % s.resample_every == 0 and step < s.steps - s.resample_every:
                _restart(W_enc, b_enc, W_dec, opt, silent, worst[torch.isfinite(worst_loss)], s)
                worst_loss.fill_(-torch.inf)
            if (step + 1) % s.check_every == 0:
                m = (truth_unit @ W_dec.T).amax(1)
                samples, sec = (step + 1) * s.batch, time.perf_counter() - t0
                if out["mmcs_samples"] is None and m.mean() >= s.mmcs_target:
                    out["mmcs_samples"], out["mmcs_seconds"] = samples, sec
                if out["all_samples"] is None and m.mean() >= s.mmcs_target and m.min() >= s.min_target:
                    out["all_samples"], out["all_seconds"] = samples, sec
                    break
                if max_samples is not None and samples >= max_samples:
                    break
    m = (truth_unit @ W_dec.detach().T).amax(1)
    out.update(final_mmcs=float(m.mean()), final_min=float(m.min()), n_below=int((m < s.min_target).sum()),
               dictionary=W_dec.detach(),
               steps_done=step + 1, seconds=time.perf_counter() - t0)
    return out


def _restart(W_enc, b_enc, W_dec, opt, silent, err, s: RefSettings) -> None:
    """Restart latents silent for `silent_steps` on the kept residuals err [n, d] (worst first), one each."""
    dead = torch.nonzero(silent >= s.silent_steps).flatten()
    if not dead.numel():
        return
    dead = dead[: err.shape[0]]  # err: the kept residuals, worst first
    v = err[: dead.numel()] / err[: dead.numel()].norm(dim=1, keepdim=True).clamp_min(1e-12)
    alive = silent < s.silent_steps
    scale = W_enc[alive].norm(dim=1).mean() if alive.any() else 1.0
    W_dec[dead] = v
    W_enc[dead] = v * s.enc_scale * scale
    b_enc[dead] = 0
    silent[dead] = 0
    for p in (W_enc, b_enc, W_dec):
        for t in opt.state[p].values():
            if torch.is_tensor(t) and t.shape == p.shape:
                t[dead] = 0

"""Checkers for sparse autoencoders: the L1 SAE's forward pass and loss (Sharkey, Braun & Millidge 2022,
https://www.lesswrong.com/posts/z6QQJbtpkEAX3Aojj/interim-research-report-taking-features-out-of-superposition),
decoder renormalisation, and TopK with its AuxK loss (Gao et al. 2024, https://arxiv.org/abs/2406.04093)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from sae_kit.exercises import solutions as sol
from sae_kit.exercises._check import Case, Check, Mistake, generator, run_checks

__all__ = ["check_sae_forward", "check_l1_loss", "check_decoder_renorm", "check_topk", "check_auxk_loss"]

_SHAPES = [  # (name, inst, batch, d, d_sae)
    ("inst=1, batch=5, d=4, d_sae=8", 1, 5, 4, 8),
    ("inst=3, batch=6, d=6, d_sae=12", 3, 6, 6, 12),
    ("batch of one: inst=2, d=5, d_sae=10", 2, 1, 5, 10),
    ("a dictionary smaller than d: inst=2, batch=4, d=8, d_sae=3", 2, 4, 8, 3),
]


def _unit_rows(W: torch.Tensor) -> torch.Tensor:
    return W / W.norm(dim=-1, keepdim=True)


def _sae_params(seed: int, inst: int, batch: int, d: int, d_sae: int):
    """(x [batch, d], W_enc [inst, d_sae, d], b_enc [inst, d_sae] of both signs, W_dec [inst, d_sae, d] unit rows)."""
    g = generator(seed)
    x = torch.randn(batch, d, generator=g)
    W_enc = torch.randn(inst, d_sae, d, generator=g) / d**0.5
    b_enc = 0.3 * torch.randn(inst, d_sae, generator=g)
    return x, W_enc, b_enc, _unit_rows(torch.randn(inst, d_sae, d, generator=g))


def _forward(x, W_enc, b_enc, W_dec, relu=True, bias=True, decoder=None):
    pre = torch.einsum("bd,isd->ibs", x, W_enc) + (b_enc[:, None, :] if bias else 0)
    codes = torch.relu(pre) if relu else pre
    return torch.einsum("ibs,isd->ibd", codes, W_enc if decoder == "enc" else W_dec), codes


def check_sae_forward(fn: Callable, strict: bool = False, seed: int = 0) -> bool:
    """Check `fn(x, W_enc, b_enc, W_dec) → (x_hat, codes)`: c = ReLU(W_enc x + b_enc), x̂ = W_decᵀ c (no decoder bias,
    the kit's default). x [batch, d], W_enc [inst, d_sae, d], b_enc [inst, d_sae], W_dec [inst, d_sae, d]
    → (x_hat [inst, batch, d], codes [inst, batch, d_sae]). Returns whether it passed (strict: raises instead)."""
    cases = [Case(s[0], lambda n=n, s=s: (_sae_params(seed + 300 + n, *s[1:]), {})) for n, s in enumerate(_SHAPES)]
    check = Check(
        "check_sae_forward", sol.sae_forward, ["x_hat [inst, batch, d]", "codes [inst, batch, d_sae]"], cases,
        mistakes=[
            Mistake("the codes go through a ReLU: c = ReLU(W_enc x + b_enc)", lambda *a: _forward(*a, relu=False)),
            Mistake("the encoder has a bias: c = ReLU(W_enc x + b_enc)", lambda *a: _forward(*a, bias=False)),
            Mistake("decode with W_dec, not W_enc: the kit's SAE has untied weights",
                    lambda *a: _forward(*a, decoder="enc")),
            Mistake("add b_enc before the ReLU, not after it",
                    lambda x, W_enc, b_enc, W_dec: (lambda c: (torch.einsum("ibs,isd->ibd", c, W_dec), c))(
                        _forward(x, W_enc, b_enc, W_dec, bias=False)[1] + b_enc[:, None, :])),
        ],
        general_hint="rows of W_enc and W_dec are latents: pre = einsum('bd,isd->ibs', x, W_enc) + b_enc[:, None, :], "
                     "codes = ReLU(pre), x_hat = einsum('ibs,isd->ibd', codes, W_dec); return (x_hat, codes)",
    )
    return run_checks(check, fn, strict)


def _loss_inputs(seed: int, inst: int, batch: int, d: int, d_sae: int, dead_inst: bool = False):
    g = generator(seed)
    x = torch.randn(batch, d, generator=g)
    x_hat = x + 0.5 * torch.randn(inst, batch, d, generator=g)
    codes = torch.relu(torch.randn(inst, batch, d_sae, generator=g) - 0.5)
    if dead_inst:
        codes[0] = 0.0
    alpha = torch.tensor([0.03, 0.3, 1.0, 0.0])[:inst]
    return (x, x_hat, codes, alpha), {}


def check_l1_loss(fn: Callable, strict: bool = False, seed: int = 0) -> bool:
    """Check `fn(x, x_hat, codes, alpha) → loss`: MSE + α · L1 per instance, in the kit's "mean" convention:
    MSE = mean_batch mean_d (x − x̂)², L1 = mean_batch (1/d_sae) Σ_j |c_j|.
    x [batch, d], x_hat [inst, batch, d], codes [inst, batch, d_sae] (≥ 0), alpha [inst] → [inst]."""
    cases = [Case(s[0], lambda n=n, s=s: _loss_inputs(seed + 400 + n, *s[1:])) for n, s in enumerate(_SHAPES)]
    cases.append(Case("instance 0 has no active latent, instance 3 has α = 0: inst=4, batch=5, d=4, d_sae=16",
                      lambda: _loss_inputs(seed + 410, 4, 5, 4, 16, dead_inst=True)))
    mse = lambda x, x_hat: (x - x_hat).pow(2).mean(dim=(1, 2))  # noqa: E731
    check = Check(
        "check_l1_loss", sol.l1_loss, ["loss [inst]"], cases,
        mistakes=[
            Mistake("you summed the L1 over latents; the kit's L1 is the mean over latents, (1/d_sae) Σ_j |c_j| "
                    "(averaged over the batch), so α is comparable across dictionary sizes (SAEConfig(l1_convention='mean'))",
                    lambda x, x_hat, c, a: mse(x, x_hat) + a * c.abs().sum(-1).mean(-1)),
            Mistake("the MSE is the mean over batch and d of (x − x̂)²; you summed over d",
                    lambda x, x_hat, c, a: (x - x_hat).pow(2).sum(-1).mean(-1) + a * c.abs().mean(dim=(1, 2))),
            Mistake("α multiplies the L1 term only: loss = MSE + α · L1",
                    lambda x, x_hat, c, a: a * (mse(x, x_hat) + c.abs().mean(dim=(1, 2)))),
            Mistake("the penalty is the L1 norm of the codes (|c|), not their squares",
                    lambda x, x_hat, c, a: mse(x, x_hat) + a * c.pow(2).mean(dim=(1, 2))),
            Mistake("you left out α: loss = MSE + α · L1", lambda x, x_hat, c, a: mse(x, x_hat) + c.abs().mean(dim=(1, 2))),
            Mistake("one loss per instance: do not average over the inst axis",
                    lambda x, x_hat, c, a: sol.l1_loss(x, x_hat, c, a).mean()),
        ],
        general_hint="loss[i] = ((x − x_hat[i])²).mean() + alpha[i] · codes[i].abs().mean(); "
                     "broadcast alpha [inst] against per-instance terms [inst]",
    )
    return run_checks(check, fn, strict)


def _renorm_cases(seed: int) -> list[Case]:
    def make(n, inst, d_sae, d, zero_row=False, unit=False):
        W = torch.randn(inst, d_sae, d, generator=generator(seed + 500 + n)) * 3.0
        if zero_row:
            W[0, 1] = 0.0
        return ((_unit_rows(W) if unit else W),), {}
    settings = [
        ("inst=2, d_sae=6, d=4", (0, 2, 6, 4)),
        ("d_sae < d: inst=1, d_sae=3, d=5", (1, 1, 3, 5)),
        ("rows already of unit norm (must stay as they are): inst=2, d_sae=8, d=4", (2, 2, 8, 4, False, True)),
        ("latent 1 of instance 0 is a zero row (must stay zero): inst=2, d_sae=5, d=3", (3, 2, 5, 3, True)),
    ]
    return [Case(name, lambda a=a: make(*a)) for name, a in settings]


def _returned_or_inplace(fn: Callable) -> Callable:
    """The learner may renormalise in place and return nothing: then the (modified) input is the answer."""
    def wrapped(W_dec):
        out = fn(W_dec)
        return W_dec if out is None else out
    return wrapped


def check_decoder_renorm(fn: Callable, strict: bool = False, seed: int = 0) -> bool:
    """Check `fn(W_dec) → W_dec'`: every dictionary element (row) rescaled to unit norm, a zero row left zero.
    W_dec [inst, d_sae, d] → [inst, d_sae, d]; renormalising in place and returning None is accepted."""
    check = Check(
        "check_decoder_renorm", sol.decoder_renorm, ["W_dec [inst, d_sae, d]"], _renorm_cases(seed),
        mistakes=[
            Mistake("the rows are unchanged: you forgot to renormalise (or to return / write the result)", lambda W: W),
            Mistake("dictionary elements are the rows of W_dec [inst, d_sae, d]: normalise over d (dim=-1), not over "
                    "d_sae", lambda W: W / W.norm(dim=-2, keepdim=True)),
            Mistake("normalise every row on its own, not the whole matrix", lambda W: W / W.norm(dim=(-2, -1), keepdim=True)),
            Mistake("divide by the norm, not the squared norm", lambda W: W / W.pow(2).sum(-1, keepdim=True)),
            Mistake("a zero row must stay zero: your 0/0 gives NaN (clamp the norm, e.g. .clamp_min(1e-12))",
                    lambda W: W / W.norm(dim=-1, keepdim=True)),
        ],
        general_hint="W_dec / W_dec.norm(dim=-1, keepdim=True).clamp_min(1e-12)",
    )
    return run_checks(check, _returned_or_inplace(fn), strict)


def _topk_cases(seed: int) -> list[Case]:
    def make(n, inst, batch, d_sae, k, shift=0.0):
        pre = torch.randn(inst, batch, d_sae, generator=generator(seed + 600 + n)) + shift
        return (pre, k), {}
    settings = [
        ("k=3: inst=2, batch=5, d_sae=10", (0, 2, 5, 10, 3)),
        ("k=1: inst=1, batch=4, d_sae=6", (1, 1, 4, 6, 1)),
        ("k = d_sae: every latent kept, then ReLU: inst=2, batch=3, d_sae=5", (2, 2, 3, 5, 5)),
        ("mostly negative pre-activations, k=4: inst=3, batch=6, d_sae=8", (3, 3, 6, 8, 4, -1.5)),
    ]
    return [Case(name, lambda a=a: make(*a)) for name, a in settings]


def _topk_wrong(pre, k, relu=True, dim=-1):
    vals, idx = pre.topk(k, dim=dim)
    return torch.zeros_like(pre).scatter(dim, idx, torch.relu(vals) if relu else vals)


def check_topk(fn: Callable, strict: bool = False, seed: int = 0) -> bool:
    """Check `fn(pre, k) → codes`: per sample, the k largest pre-activations through a ReLU, zeros elsewhere
    (Gao et al. 2024). pre [inst, batch, d_sae], k int → codes [inst, batch, d_sae]."""
    check = Check(
        "check_topk", sol.topk, ["codes [inst, batch, d_sae]"], _topk_cases(seed),
        mistakes=[
            Mistake("TopK keeps the k largest pre-activations and then applies a ReLU: a negative one among them "
                    "becomes 0", lambda pre, k: _topk_wrong(pre, k, relu=False)),
            Mistake("keep exactly k latents per sample: you kept k − 1", lambda pre, k: _topk_wrong(pre, k - 1)),
            Mistake("keep exactly k latents per sample: you kept k + 1", lambda pre, k: _topk_wrong(pre, k + 1)),
            Mistake("TopK is per sample: take the k largest along the latent axis (dim=-1), not across the batch",
                    lambda pre, k: _topk_wrong(pre, min(k, pre.shape[1]), dim=1)),
            Mistake("zero every latent outside the k largest (you applied only the ReLU)", lambda pre, k: torch.relu(pre)),
            Mistake("the k largest values, not the k largest in absolute value",
                    lambda pre, k: torch.zeros_like(pre).scatter(-1, pre.abs().topk(k, dim=-1)[1],
                                                                 torch.relu(pre.gather(-1, pre.abs().topk(k, dim=-1)[1])))),
        ],
        general_hint="vals, idx = pre.topk(k, dim=-1); codes = zeros_like(pre).scatter(-1, idx, vals.relu())",
    )
    return run_checks(check, fn, strict)


def _auxk_inputs(seed: int, inst: int, batch: int, d: int, d_sae: int, aux_k: int, n_dead: list[int]):
    g = generator(seed)
    x = torch.randn(batch, d, generator=g)
    x_hat = x + 0.5 * torch.randn(inst, batch, d, generator=g)
    pre = torch.randn(inst, batch, d_sae, generator=g)
    W_dec = _unit_rows(torch.randn(inst, d_sae, d, generator=g))
    dead = torch.zeros(inst, d_sae, dtype=torch.bool)
    for i, n in enumerate(n_dead):
        dead[i, torch.randperm(d_sae, generator=g)[:n]] = True
    return (x, x_hat, pre, W_dec, dead, aux_k), {}


def _auxk_variant(x, x_hat, pre, W_dec, dead, aux_k, relu=True, norm="sample", no_dead=0.0):
    """AuxK written out per instance, with a switch for each typical mistake (the defaults give the reference):
    relu=False keeps negative pre-activations; norm "sample" (‖e − ê‖² / ‖e‖² per sample, then the mean), "batch"
    (Σ_b ‖e − ê‖² / Σ_b ‖e‖²) or "none"; no_dead: the value for an instance without dead latents."""
    e = x - x_hat  # [inst, batch, d]
    out = []
    for i in range(pre.shape[0]):
        cols = torch.nonzero(dead[i]).flatten()  # [n_dead]
        if len(cols) == 0:
            out.append(torch.tensor(no_dead, dtype=pre.dtype))
            continue
        vals, j = pre[i][:, cols].topk(min(aux_k, len(cols)), dim=-1)  # [batch, k_aux]
        e_hat = torch.einsum("bk,bkd->bd", vals.relu() if relu else vals, W_dec[i][cols[j]])  # [batch, d]
        r = (e[i] - e_hat).pow(2).sum(-1)  # [batch]
        scale = {"sample": e[i].pow(2).sum(-1), "batch": e[i].pow(2).sum(-1).mean(), "none": 1.0}[norm]
        out.append((r / scale).mean())
    return torch.stack(out)


def check_auxk_loss(fn: Callable, strict: bool = False, seed: int = 0) -> bool:
    """Check `fn(x, x_hat, pre, W_dec, dead, aux_k) → aux`: AuxK = mean_batch ‖e − ê‖² / ‖e‖², e = x − x̂,
    ê = W_decᵀ ReLU(TopK_aux_k(pre over the dead latents only)), 0 for an instance with no dead latent (Gao et al.
    2024; the kit's `SAEConfig(aux_k=...)`). x [batch, d], x_hat [inst, batch, d], pre [inst, batch, d_sae],
    W_dec [inst, d_sae, d], dead bool [inst, d_sae], aux_k int → [inst]."""
    settings = [  # (name, inst, batch, d, d_sae, aux_k, dead per instance)
        ("aux_k=2, 4 and 6 dead latents: inst=2, batch=5, d=4, d_sae=12", 2, 5, 4, 12, 2, [4, 6]),
        ("instance 1 has no dead latent (AuxK = 0): inst=2, batch=4, d=3, d_sae=8, aux_k=3", 2, 4, 3, 8, 3, [5, 0]),
        ("fewer dead latents (2) than aux_k=4: inst=1, batch=6, d=5, d_sae=10", 1, 6, 5, 10, 4, [2]),
        ("aux_k=1: inst=3, batch=3, d=6, d_sae=16", 3, 3, 6, 16, 1, [3, 8, 1]),
    ]
    cases = [Case(s[0], lambda n=n, s=s: _auxk_inputs(seed + 700 + n, *s[1:])) for n, s in enumerate(settings)]
    check = Check(
        "check_auxk_loss", sol.auxk_loss, ["aux [inst]"], cases,
        mistakes=[
            Mistake("normalise by the residual's size: ‖e − ê‖² / ‖e‖² per sample",
                    lambda *a: _auxk_variant(*a, norm="none")),
            Mistake("normalise each sample by its own ‖e‖², then average over the batch "
                    "(not Σ‖e − ê‖² / Σ‖e‖² over the batch)", lambda *a: _auxk_variant(*a, norm="batch")),
            Mistake("only dead latents may model the residual: restrict pre to the dead latents before the TopK",
                    lambda x, x_hat, pre, W_dec, dead, k: _auxk_variant(x, x_hat, pre, W_dec, torch.ones_like(dead), k)),
            Mistake("the residual is e = x − x̂ (what the SAE missed), not x̂ − x",
                    lambda x, x_hat, *a: _auxk_variant(x_hat, x, *a)),
            Mistake("an instance with no dead latent has AuxK = 0", lambda *a: _auxk_variant(*a, no_dead=1.0)),
            Mistake("apply a ReLU to the kept pre-activations of the dead latents",
                    lambda *a: _auxk_variant(*a, relu=False)),
        ],
        general_hint="per instance i: cols = dead[i].nonzero(); vals, j = pre[i][:, cols].topk(min(aux_k, len(cols))); "
                     "e_hat = Σ_k relu(vals) · W_dec[i][cols[j]]; aux[i] = mean_b ‖e − e_hat‖² / ‖e‖²",
    )
    return run_checks(check, fn, strict)

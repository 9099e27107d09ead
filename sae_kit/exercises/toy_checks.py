"""Checkers for the toy model of superposition (Elhage et al. 2022, https://transformer-circuits.pub/2022/toy_model/index.html):
its forward pass, its importance-weighted loss and the feature dimensionality of its weights."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from sae_kit.exercises import solutions as sol
from sae_kit.exercises._check import Case, Check, Mistake, generator, run_checks

__all__ = ["check_tms_forward", "check_tms_loss", "check_dimensionality"]


def _tms_inputs(seed: int, inst: int, batch: int, feat: int, d_hidden: int, p: float = 0.3, zero_x: bool = False):
    """(W [inst, d_hidden, feat], b [inst, feat], x [inst, batch, feat]): sparse x in [0, 1), b of both signs."""
    g = generator(seed)
    W = torch.randn(inst, d_hidden, feat, generator=g) * math.sqrt(2.0 / (d_hidden + feat))
    b = 0.3 * torch.randn(inst, feat, generator=g)
    x = torch.rand(inst, batch, feat, generator=g) * (torch.rand(inst, batch, feat, generator=g) < p)
    return W, b, torch.zeros_like(x) if zero_x else x


def _tms_cases(seed: int) -> list[Case]:
    shapes = [  # (name, inst, batch, feat, d_hidden, p, zero_x)
        ("Elhage et al.'s 5 features in 2 dimensions, inst=1, batch=8", 1, 8, 5, 2, 0.3, False),
        ("inst=3, batch=7, feat=20, d_hidden=5", 3, 7, 20, 5, 0.3, False),
        ("batch of one, d_hidden=1: inst=2, feat=3", 2, 1, 3, 1, 1.0, False),
        ("dense x (every feature active): inst=2, batch=5, feat=6, d_hidden=3", 2, 5, 6, 3, 1.0, False),
        ("x = 0 (the output is ReLU(b)): inst=2, batch=4, feat=6, d_hidden=3", 2, 4, 6, 3, 0.3, True),
    ]
    return [Case(s[0], lambda s=s, n=n: (_tms_inputs(seed + n, *s[1:]), {})) for n, s in enumerate(shapes)]


def _fwd(W, b, x, relu=True, bias="before"):
    out = torch.einsum("ihf,ibh->ibf", W, torch.einsum("ihf,ibf->ibh", W, x))
    if bias == "before":
        out = out + b[:, None, :]
    out = torch.relu(out) if relu else out
    return out + b[:, None, :] if bias == "after" else out


def check_tms_forward(fn: Callable, strict: bool = False, seed: int = 0) -> bool:
    """Check `fn(W, b, x) → x'`, the toy model's forward pass x' = ReLU(Wᵀ W x + b), on seeded cases.

    W [inst, d_hidden, feat], b [inst, feat], x [inst, batch, feat] → x' [inst, batch, feat]. Prints '✓ passed' or
    what differs; returns whether it passed (strict=True: raises ExerciseError instead of returning False).
    """
    check = Check(
        "check_tms_forward", sol.tms_forward, ["x_prime [inst, batch, feat]"], _tms_cases(seed),
        mistakes=[
            Mistake("the output goes through a ReLU: x' = ReLU(Wᵀ W x + b) (without it you have the linear model)",
                    lambda W, b, x: _fwd(W, b, x, relu=False)),
            Mistake("add the bias b before the ReLU: ReLU(Wᵀ W x + b), not ReLU(Wᵀ W x) + b",
                    lambda W, b, x: _fwd(W, b, x, bias="after")),
            Mistake("you left out the bias b: x' = ReLU(Wᵀ W x + b)", lambda W, b, x: _fwd(W, b, x, bias="none")),
            Mistake("every instance has its own W and b: instance i uses W[i], b[i] on x[i] (you used instance 0's)",
                    lambda W, b, x: _fwd(W[:1].expand_as(W), b[:1].expand_as(b), x)),
        ],
        general_hint="per instance, h = W x [inst, batch, d_hidden] (e.g. torch.einsum('ihf,ibf->ibh', W, x)), then "
                     "x' = ReLU(Wᵀ h + b) with b broadcast over the batch (b[:, None, :])",
    )
    return run_checks(check, fn, strict)


def _loss_cases(seed: int) -> list[Case]:
    def make(n, inst, batch, feat, importance):
        g = generator(seed + 100 + n)
        x = torch.rand(inst, batch, feat, generator=g) * (torch.rand(inst, batch, feat, generator=g) < 0.4)
        x_hat = torch.relu(x + 0.3 * torch.randn(inst, batch, feat, generator=g))
        imp = importance(inst, feat, g)
        return (x, x_hat, imp), {}
    decay = lambda inst, feat, g: torch.tensor([0.9, 0.7, 1.0][:inst])[:, None] ** torch.arange(feat)  # noqa: E731
    settings = [
        ("importance 0.9^i, 0.7^i, 1: inst=3, batch=8, feat=5", 3, 8, 5, decay),
        ("random importances: inst=2, batch=6, feat=7", 2, 6, 7, lambda i, f, g: 0.1 + torch.rand(i, f, generator=g)),
        ("batch of one, one feature: inst=2", 2, 1, 1, lambda i, f, g: torch.tensor([[2.0], [0.5]])),
        ("importance 0.7^i: inst=1, batch=16, feat=20", 1, 16, 20, decay),
    ]
    return [Case(s[0], lambda n=n, s=s: make(n, *s[1:])) for n, s in enumerate(settings)]


def check_tms_loss(fn: Callable, strict: bool = False, seed: int = 0) -> bool:
    """Check `fn(x, x_hat, importance) → loss`, the importance-weighted loss, one number per instance.

    Convention (Elhage et al.'s notebook and the kit's `train_tms`): L = mean_batch mean_feat I_i (x_i − x'_i)²,
    the mean over batch *and* features (the paper's Σ_i differs by the constant factor feat).
    x, x_hat [inst, batch, feat], importance [inst, feat] → [inst].
    """
    err = lambda x, x_hat: (x - x_hat).pow(2)  # noqa: E731
    check = Check(
        "check_tms_loss", sol.tms_loss, ["loss [inst]"], _loss_cases(seed),
        mistakes=[
            Mistake("weight each feature's squared error by its importance I_i (you left importance out)",
                    lambda x, x_hat, imp: err(x, x_hat).mean(dim=(1, 2))),
            Mistake("you summed over features; the convention here averages over batch and features "
                    "(mean_batch mean_feat, as Elhage et al.'s notebook does): divide by feat",
                    lambda x, x_hat, imp: (imp[:, None] * err(x, x_hat)).sum(-1).mean(-1)),
            Mistake("you summed over the batch; average over it", lambda x, x_hat, imp: (imp[:, None] * err(x, x_hat)).sum(1).mean(-1)),
            Mistake("I_i multiplies the squared error, it does not go inside the square",
                    lambda x, x_hat, imp: (imp[:, None] * (x - x_hat)).pow(2).mean(dim=(1, 2))),
            Mistake("one loss per instance: do not average over the inst axis",
                    lambda x, x_hat, imp: (imp[:, None] * err(x, x_hat)).mean()),
        ],
        general_hint="loss[i] = mean over batch and features of importance[i, f] · (x[i, b, f] − x_hat[i, b, f])²; "
                     "broadcast importance over the batch with importance[:, None, :]",
    )
    return run_checks(check, fn, strict)


def _dim_cases(seed: int) -> list[Case]:
    def polygon(k, scale):  # k unit vectors at equal angles in the plane, scaled: [1, 2, k]
        a = torch.arange(k) * 2 * math.pi / k
        return torch.stack([a.cos(), a.sin()])[None] * scale

    def random(n, inst, d_hidden, feat, zero_cols=()):
        g = generator(seed + 200 + n)
        W = torch.randn(inst, d_hidden, feat, generator=g) * (0.5 + torch.rand(inst, 1, feat, generator=g))
        W[..., list(zero_cols)] = 0.0
        return W
    cases = [
        ("random W: inst=2, d_hidden=3, feat=7, norms in [0.5, 1.5)", lambda: random(0, 2, 3, 7)),
        ("a pentagon of norm-0.8 features (every D_i = 2/5)", lambda: polygon(5, 0.8)),
        ("an antipodal pair of norms 1.3 and 0.7 (D ≈ 0.78, 0.22; equal norms give 1/2 each)",
         lambda: polygon(2, torch.tensor([1.3, 0.7]))),
        ("feature 2 not represented (W_2 = 0, so D_2 = 0): inst=1, d_hidden=2, feat=4", lambda: random(3, 1, 2, 4, (2,))),
        ("more dimensions than features: inst=3, d_hidden=6, feat=4", lambda: random(4, 3, 6, 4)),
    ]
    return [Case(name, lambda m=m: ((m(),), {})) for name, m in cases]


def _dim_wrong(W, unit=True, num_pow=2, den_pow=2):
    norms = W.norm(dim=1)
    W_hat = W / norms[:, None, :] if unit else W
    proj = torch.einsum("ihf,ihg->ifg", W_hat, W)
    return norms.pow(num_pow) / proj.abs().pow(den_pow).sum(-1)


def check_dimensionality(fn: Callable, strict: bool = False, seed: int = 0) -> bool:
    """Check `fn(W) → D`, feature dimensionality D_i = ‖W_i‖² / Σ_j (Ŵ_i · W_j)² with Ŵ_i = W_i / ‖W_i‖ (Elhage et
    al. 2022), and D_i = 0 for a feature that is not represented (W_i = 0).

    W [inst, d_hidden, feat] (column W_i of W[inst] is feature i's direction) → D [inst, feat].
    """
    check = Check(
        "check_dimensionality", sol.dimensionality, ["D [inst, feat]"], _dim_cases(seed),
        mistakes=[
            Mistake("Ŵ_i is the unit vector W_i / ‖W_i‖: normalise W_i in the denominator's dot products "
                    "(without it D_i is divided by ‖W_i‖²)", lambda W: _dim_wrong(W, unit=False)),
            Mistake("a feature with W_i = 0 is not represented and has D_i = 0; your 0/0 gives NaN "
                    "(clamp ‖W_i‖ away from 0, or torch.where on the norm)", lambda W: _dim_wrong(W)),
            Mistake("the numerator is the squared norm ‖W_i‖², not ‖W_i‖", lambda W: _dim_wrong(W, num_pow=1)),
            Mistake("square the projections: Σ_j (Ŵ_i · W_j)², not Σ_j |Ŵ_i · W_j|", lambda W: _dim_wrong(W, den_pow=1)),
            Mistake("features are the columns of W [inst, d_hidden, feat]: take norms and dot products over d_hidden "
                    "(dim 1), not over feat", lambda W: _dim_wrong(W.transpose(1, 2))),
        ],
        general_hint="norms = W.norm(dim=1) [inst, feat]; W_hat = W / norms[:, None, :]; "
                     "proj = einsum('ihf,ihg->ifg', W_hat, W); D = norms² / (proj²).sum(-1), 0 where the norm is 0",
        atol=1e-4, rtol=1e-4,
    )
    return run_checks(check, fn, strict)

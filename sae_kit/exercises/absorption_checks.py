"""Checker for the Matryoshka SAE's loss (Nabeshima 2024, https://sparselatents.com/matryoshka.html; Bussmann et al.
2025, https://arxiv.org/abs/2503.17547): each nested prefix of the dictionary reconstructs the input on its own."""

from __future__ import annotations

from collections.abc import Callable

import torch

from sae_kit.exercises import solutions as sol
from sae_kit.exercises._check import Case, Check, Mistake, generator, run_checks

__all__ = ["check_matryoshka_loss"]


def _cases(seed: int) -> list[Case]:
    def make(n, inst, batch, d, d_sae, prefixes):
        g = generator(seed + 900 + n)
        codes = torch.relu(torch.randn(inst, batch, d_sae, generator=g))
        W_dec = torch.randn(inst, d_sae, d, generator=g)
        W_dec = W_dec / W_dec.norm(dim=-1, keepdim=True)
        return (codes, W_dec, torch.randn(batch, d, generator=g), list(prefixes)), {}
    settings = [
        ("prefixes [2, 5, 8]: inst=2, batch=6, d=4, d_sae=8", (0, 2, 6, 4, 8, [2, 5, 8])),
        ("one prefix (a plain SAE's MSE): inst=1, batch=5, d=3, d_sae=6", (1, 1, 5, 3, 6, [6])),
        ("prefixes [1, 2, 3, 4]: inst=3, batch=4, d=5, d_sae=4", (2, 3, 4, 5, 4, [1, 2, 3, 4])),
    ]
    return [Case(name, lambda a=a: make(*a)) for name, a in settings]


def _blocks(codes, W_dec, x, prefixes):
    """Each block between two prefix bounds reconstructs x alone (not the prefix up to it)."""
    bounds = [0, *prefixes]
    terms = [(x - torch.bmm(codes[:, :, a:b], W_dec[:, a:b])).pow(2).mean(dim=(1, 2)) for a, b in zip(bounds, bounds[1:])]
    return torch.stack(terms).mean(dim=0)


def check_matryoshka_loss(fn: Callable, strict: bool = False, seed: int = 0) -> bool:
    """Check `fn(codes, W_dec, x, prefixes) → [inst]`: the mean over nested prefixes m of the MSE of x against the
    reconstruction from the first m latents alone. codes [inst, batch, d_sae], W_dec [inst, d_sae, d], x [batch, d]."""
    check = Check(
        "check_matryoshka_loss", sol.matryoshka_loss, ["loss [inst]"], _cases(seed),
        mistakes=[
            Mistake("average the prefixes' losses (you summed them)",
                    lambda c, W, x, p: sol.matryoshka_loss(c, W, x, p) * len(p)),
            Mistake("every prefix counts, not only the whole dictionary (you returned the plain MSE)",
                    lambda c, W, x, p: sol.matryoshka_loss(c, W, x, p[-1:])),
            Mistake("a prefix is the first m latents, from latent 0: you reconstructed from each block between two "
                    "prefix bounds alone", _blocks),
        ],
        general_hint="for m in prefixes: x_hat_m = bmm(codes[:, :, :m], W_dec[:, :m]); mean over (batch, d); then the "
                     "mean over prefixes",
    )
    return run_checks(check, fn, strict)

"""Ways to start a dictionary (the follow-up's question: does the init matter?), beside the SAE's own
"orthogonal", "random" and "noised_unit".

Each function returns unit rows [d_sae, d]; `init_dictionary_` writes them into an SAE (every instance) and, with
`encoder_init="transpose"`, sets the encoder to the decoder's transpose as well.
- from data samples: the dictionary starts as normalised random inputs (features mixed as the data mixes them);
- from principal components: the top directions of variance, cycled with random signs and noise when d_sae > d;
- from a layer's weights: the singular vectors of a weight matrix that live in the SAE's input space (e.g. the MLP
  input weights for an SAE on MLP activations).
"""

from __future__ import annotations

import torch

from sae_kit.sae.base import SAE, SAEConfig

__all__ = ["data_dictionary", "pca_dictionary", "weight_dictionary", "init_dictionary_", "make_dictionary", "INITS"]

INITS = ("orthogonal", "random", "noised_unit", "data", "pca")


def _unit(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def _cycle(directions: torch.Tensor, d_sae: int, generator: torch.Generator, noise: float) -> torch.Tensor:
    """Rows j = ±directions[j mod r] (+ noise for the repeats), unit norm: directions [r, d] → [d_sae, d]."""
    r, d = directions.shape
    idx = torch.arange(d_sae) % r
    out = directions[idx].clone()
    repeat = torch.arange(d_sae) >= r
    if repeat.any():
        sign = torch.randint(0, 2, (int(repeat.sum()), 1), generator=generator).float() * 2 - 1
        out[repeat] = sign * out[repeat] + noise * torch.randn(int(repeat.sum()), d, generator=generator) / d**0.5
    return _unit(out)


def data_dictionary(x: torch.Tensor, d_sae: int, generator: torch.Generator) -> torch.Tensor:
    """d_sae normalised inputs drawn from x [n, d] (without replacement when n ≥ d_sae); zero inputs are skipped."""
    x = x.detach().float().cpu()
    nonzero = x[x.norm(dim=-1) > 0]
    if nonzero.shape[0] == 0:
        raise ValueError("data_dictionary: every input is zero; there is nothing to start the dictionary from")
    n = nonzero.shape[0]
    idx = torch.randperm(n, generator=generator)[:d_sae] if n >= d_sae else torch.randint(0, n, (d_sae,), generator=generator)
    return _unit(nonzero[idx])


def pca_dictionary(x: torch.Tensor, d_sae: int, generator: torch.Generator, noise: float = 0.5) -> torch.Tensor:
    """The principal directions of x [n, d] (centred), strongest first, cycled with random signs and noise."""
    x = x.detach().float().cpu()
    _, s, vh = torch.linalg.svd(x - x.mean(dim=0), full_matrices=False)
    rank = int((s > s[0] * 1e-6).sum()) if s.numel() and s[0] > 0 else 0
    if rank == 0:
        raise ValueError("pca_dictionary: the data has no variance")
    return _cycle(vh[:rank], d_sae, generator, noise)


def weight_dictionary(weight: torch.Tensor, d: int, d_sae: int, generator: torch.Generator, noise: float = 0.5) -> torch.Tensor:
    """The singular vectors of `weight` [a, b] that live in R^d (left if a = d, right if b = d), cycled with noise."""
    if weight.dim() != 2 or d not in weight.shape:
        raise ValueError(f"weight must be a matrix with a side of length d={d}, got shape {tuple(weight.shape)}")
    w = weight.detach().float().cpu()
    u, s, vh = torch.linalg.svd(w, full_matrices=False)
    vectors = vh if w.shape[1] == d else u.T  # [rank, d]
    return _cycle(vectors, d_sae, generator, noise)


@torch.no_grad()
def init_dictionary_(sae: SAE, dictionary: torch.Tensor) -> None:
    """Write `dictionary` [d_sae, d] (every instance) or [inst, d_sae, d] into the SAE; rows are unit-normed."""
    n, d_sae, d = sae.cfg.n_inst, sae.cfg.d_sae, sae.cfg.d
    if dictionary.shape not in ((d_sae, d), (n, d_sae, d)):
        raise ValueError(f"dictionary must be [d_sae={d_sae}, d={d}] or [inst={n}, d_sae={d_sae}, d={d}], got {tuple(dictionary.shape)}")
    sae.W_dec.copy_(_unit(dictionary.to(sae.W_dec)).expand(n, d_sae, d))
    if sae.cfg.encoder_init == "transpose":
        sae.W_enc.copy_(sae.cfg.encoder_scale * sae.W_dec)
        sae.b_enc.zero_()


def make_dictionary(kind: str, d: int, d_sae: int, x: torch.Tensor | None = None, seed: int = 0) -> torch.Tensor:
    """A starting dictionary [d_sae, d] of one of `INITS` (x [n, d]: data for "data" and "pca"), seeded.

    Stack several into [inst, d_sae, d] and pass them as `init_dictionary` (decoder_init="given") to compare inits
    side by side in one batched run.
    """
    if kind not in INITS:
        raise ValueError(f"kind must be one of {INITS}, got {kind!r}")
    g = torch.Generator().manual_seed(seed)
    if kind in ("data", "pca"):
        if x is None:
            raise ValueError(f"kind={kind!r} needs data x [n, d]")
        return (data_dictionary if kind == "data" else pca_dictionary)(x, d_sae, g)
    return SAE(SAEConfig(d=d, d_sae=d_sae, decoder_init=kind, seed=seed)).dictionary[0].clone()  # the SAE's own inits

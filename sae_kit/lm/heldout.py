"""Held-out evaluation on a fixed tensor of activations: a split by story, metrics over every held-out token, and how
many latents a held-out sample of finite size leaves unseen by chance.

An SAE trained on a fixed tensor (notebook 05: one layer's activations over a corpus) can only be judged on tokens it
never trained on. Tokens of one story are not independent (the same names, places and quotes recur), so the split
is by **story**: whole stories go to the training side or to the held-out side, never both.

"Dead" is then read against chance. A latent that fires on a fraction p_j of tokens shows no firing in N independent
held-out tokens with probability (1 − p_j)^N, so even a dictionary without any dead latent leaves

    E[unseen] = Σ_j (1 − p_j)^N        (sum over the latents that fire, at their firing rates p_j)

latents unseen in a held-out sample of N tokens. It is a reference level, not an exact one, and two effects pull
against each other: firing rates measured on a finite training sample are noisy, and as (1 − p)^N is convex in p the
noise raises the sum (a random N-token subsample of the training tokens leaves fewer latents unseen); firing is bursty
within a story, which raises the true chance of a miss (N contiguous training tokens leave more unseen).
(Dead latents counted on a held-out sample: Sharkey, Braun & Millidge 2022,
https://www.lesswrong.com/posts/z6QQJbtpkEAX3Aojj; firing densities: Bricken et al. 2023,
https://transformer-circuits.pub/2023/monosemantic-features.)

Dimension names: `tok` token positions, `d` activation width, `inst` SAE instances, `d_sae` latents, `story`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sae_kit._util import check_positive_int
from sae_kit.lm.corpus import Corpus
from sae_kit.sae.base import SAE

__all__ = ["StorySplit", "story_bounds", "split_by_story", "evaluate_heldout", "firing_counts", "expected_unseen"]

STORY_SEPARATOR = "\n\n"
"""Stories are stretches of text between blank lines (`generate_stories` and `load_hf_dataset` join with one)."""


@dataclass
class StorySplit:
    """A corpus split by story into a training part and a held-out part (each a Corpus with its own spans)."""

    train: Corpus
    heldout: Corpus
    train_stories: list[int]
    """Indices (into `story_bounds` of the original text) of the stories on the training side, in text order."""
    heldout_stories: list[int]
    """Indices of the held-out stories, in text order; disjoint from `train_stories`."""


def story_bounds(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of every story: the stretches between blank lines that hold some text."""
    bounds, start = [], 0
    while start <= len(text):
        end = text.find(STORY_SEPARATOR, start)
        end = len(text) if end < 0 else end
        if text[start:end].strip():
            bounds.append((start, end))
        start = end + len(STORY_SEPARATOR)
    return bounds


def split_by_story(corpus: Corpus, heldout_fraction: float = 0.2, seed: int = 0) -> StorySplit:
    """Send round(heldout_fraction · n_stories) stories, drawn with `seed`, to the held-out side; the rest train.

    Each side keeps its stories in text order, joined by blank lines, with the latent-variable spans that start inside
    them (cut at the story's end). The same corpus, fraction and seed always give the same split.
    """
    if not 0.0 < heldout_fraction < 1.0:
        raise ValueError(f"heldout_fraction must be in (0, 1), got {heldout_fraction}")
    bounds = story_bounds(corpus.text)
    n_held = round(heldout_fraction * len(bounds))
    if not 1 <= n_held <= len(bounds) - 1:
        raise ValueError(f"heldout_fraction={heldout_fraction} of {len(bounds)} stories leaves {n_held} held out; "
                         "both sides need at least one story (more stories or another fraction)")
    perm = torch.randperm(len(bounds), generator=torch.Generator().manual_seed(seed))
    held = sorted(perm[:n_held].tolist())
    train = sorted(perm[n_held:].tolist())
    return StorySplit(train=_sub_corpus(corpus, bounds, train, "train"),
                      heldout=_sub_corpus(corpus, bounds, held, "held-out"), train_stories=train, heldout_stories=held)


def _sub_corpus(corpus: Corpus, bounds: list[tuple[int, int]], keep: list[int], side: str) -> Corpus:
    """The stories `keep` joined by blank lines, with their spans moved to the new offsets."""
    parts, new_start, n = [], [], 0
    for i in keep:
        s, e = bounds[i]
        new_start.append(n)
        parts.append(corpus.text[s:e])
        n += e - s + len(STORY_SEPARATOR)
    spans = []
    if corpus.spans:
        starts = torch.tensor([bounds[i][0] for i in keep])  # [story] ascending
        span = torch.tensor(corpus.spans, dtype=torch.long)  # [n_spans, 3] start, end, label
        k = torch.searchsorted(starts, span[:, 0].contiguous(), right=True) - 1  # the kept story a span may start in
        ok = k >= 0
        ends = torch.tensor([bounds[i][1] for i in keep])
        ok &= span[:, 0] < ends[k.clamp_min(0)]
        k, span = k[ok], span[ok]
        shift = torch.tensor(new_start)[k] - starts[k]
        spans = [tuple(r) for r in torch.stack([span[:, 0] + shift, torch.minimum(span[:, 1], ends[k]) + shift,
                                                span[:, 2]], 1).tolist()]
    return Corpus(text=STORY_SEPARATOR.join(parts), spans=spans, labels=corpus.labels,
                  source=f"{corpus.source}: {side} split ({len(keep)} stories)")


@torch.no_grad()
def evaluate_heldout(sae: SAE, x: torch.Tensor, batch_size: int = 2048) -> dict[str, torch.Tensor]:
    """Per-instance metrics over every row of x [tok, d], a batch at a time (memory of one batch of codes).

    The numbers `sk.evaluate` gives on the whole tensor at once: "dead" [inst] latents with no code > 0, "fve" [inst]
    1 − Σ‖x − x̂‖² / Σ‖x − x̄‖², "mse" [inst] mean over tokens and d of (x − x̂)², "l0" [inst] mean number of nonzero
    codes, plus "fires" [inst, d_sae] the number of tokens on which each latent fires.
    """
    x = _check_x(sae, x, batch_size)
    device = sae.W_enc.device
    was_training = sae.training
    sae.eval()  # BatchTopK encodes with its threshold at evaluation
    n_inst = sae.cfg.n_inst
    resid, nonzero = torch.zeros(n_inst, dtype=torch.float64), torch.zeros(n_inst, dtype=torch.float64)
    fires = torch.zeros(n_inst, sae.cfg.d_sae, dtype=torch.long)
    mean = x.double().mean(0)  # [d]
    total = float((x.double() - mean).pow(2).sum())
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size].to(device)
        out = sae(xb)
        resid += (out.x_hat - xb).double().pow(2).sum(dim=(-2, -1)).cpu()
        nonzero += (out.codes != 0).sum(dim=(-2, -1)).double().cpu()
        fires += (out.codes > 0).sum(dim=-2).cpu()
    sae.train(was_training)
    return {"dead": (fires == 0).sum(-1), "fve": (1.0 - resid / total).float(), "mse": (resid / x.numel()).float(),
            "l0": (nonzero / len(x)).float(), "fires": fires}


@torch.no_grad()
def firing_counts(sae: SAE, x: torch.Tensor, batch_size: int = 2048) -> torch.Tensor:
    """[inst, d_sae] the number of rows of x [tok, d] on which each latent's code is > 0 (encoder only, in batches)."""
    x = _check_x(sae, x, batch_size)
    was_training = sae.training
    sae.eval()
    fires = torch.zeros(sae.cfg.n_inst, sae.cfg.d_sae, dtype=torch.long)
    for i in range(0, len(x), batch_size):
        fires += (sae.encode(x[i:i + batch_size].to(sae.W_enc.device)) > 0).sum(dim=-2).cpu()
    sae.train(was_training)
    return fires


def _check_x(sae: SAE, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    check_positive_int("batch_size", batch_size)
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[0] < 1 or x.shape[1] != sae.cfg.d:
        raise ValueError(f"x must be a tensor [tok, d={sae.cfg.d}] with at least one row, got {getattr(x, 'shape', type(x))}")
    return x


def expected_unseen(rates: torch.Tensor, n_tokens: int) -> torch.Tensor:
    """Σ_j (1 − p_j)^N over the latents with p_j > 0: how many latents that do fire, at rates p_j [..., d_sae], a sample
    of N = n_tokens independent tokens is expected to leave unseen. [..., d_sae] → [...].

    Computed as exp(N · log1p(−p_j)), which stays accurate for small p_j and large N."""
    check_positive_int("n_tokens", n_tokens)
    if not torch.is_floating_point(rates) or rates.numel() == 0 or bool(((rates < 0) | (rates > 1) | rates.isnan()).any()):
        raise ValueError("rates must be a non-empty float tensor of firing rates in [0, 1]")
    p = rates.double()
    unseen = torch.exp(n_tokens * torch.log1p(-p)) * (p > 0)  # p = 1: log1p(−1) = −inf, exp → 0
    return unseen.sum(-1).to(rates.dtype)

"""Interpretability scores without an LLM: delphi's detection scoring with the corpus's known variables as the judge.

EleutherAI's delphi (https://github.com/EleutherAI/delphi; Paulo et al. 2024, https://arxiv.org/abs/2410.13928)
shows an LLM an explanation of a latent and a mix of activating examples (drawn from activation quantiles) and
non-activating ones (drawn at random, or from contexts where "neighbouring" latents fire), asks which examples activate,
and scores the answers. Here the explanation is the latent's best annotation among the corpus generator's latent
variables (and, optionally, "the token is t"), chosen on one half of the tokens, and the judge predicts "activates"
exactly where that annotation holds, on examples from the other half. For latent j with annotation a, on the sample:

    precision = TP / (TP + FP),   recall = TP / (TP + FN),   F1 = 2PR / (P + R),   balanced accuracy = (recall + TNR)/2

TP: activating examples where a holds; FN: activating where it does not; FP: non-activating where it holds. With
delphi's balanced sample (as many non-activating as activating examples) precision is a property of the sample, not
P(a | j fires) over the corpus; sampling every held-out token gives the corpus values (the tests check this).
- Negatives: "random" (non-firing tokens) or "neighbours": tokens where one of j's `n_neighbours` co-occurrence
  neighbours fires and j does not; neighbours are the latents with the highest Jaccard overlap of firing sets,
  |F_j ∩ F_k| / |F_j ∪ F_k| (delphi's default `neighbours_type`), topped up at random if the pool is short.
- Per quantile: the activating examples are split into `n_quantiles` bins of equal count by activation (bin 0 the
  weakest) and the recall is read per bin: does the annotation hold on weak firings as well as strong ones?
- Summaries: mean F1; frequency-weighted F1 = Σ_j n_j F1_j / Σ_j n_j with n_j held-out firings (delphi's
  `result_analysis`); the share of latents scored perfect, F1 = 1 on the held-out sample (every sampled activating
  example carries the annotation and no sampled non-activating one does); each with and without single-token
  detectors (latents whose best annotation is "token == t").

Dimension names: `tok` token positions (flattened windows), `d_sae` latents, `label` annotations, `quantile`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch

from sae_kit._util import check_positive_int, check_range, derive_seed
from sae_kit.lm.analysis import label_features, token_labels

__all__ = ["ScoringConfig", "ScoringResult", "score_latents", "jaccard_neighbours", "with_token_labels"]


@dataclass
class ScoringConfig:
    """How examples are drawn and which latents are scored (defaults: delphi's, except `min_examples`, sized for a
    small corpus)."""

    n_activating: int = 50
    """Activating examples per latent, spread evenly over the quantiles (delphi: n_examples_test 50). ≥ 1."""
    n_non_activating: int = 50
    """Non-activating examples per latent (delphi: n_non_activating 50). ≥ 1."""
    n_quantiles: int = 10
    """Activation quantiles the activating examples are drawn from (delphi: 10). ≥ 1."""
    negatives: Literal["random", "neighbours"] = "random"
    """Where non-activating examples come from (delphi's `non_activating_source`)."""
    n_neighbours: int = 10
    """Co-occurrence neighbours whose firing tokens form the "neighbours" pool. ≥ 1."""
    min_examples: int = 20
    """Latents firing fewer times on the held-out tokens are not scored (delphi: 200 over 10M tokens). ≥ 1."""
    holdout_fraction: float = 0.5
    """The last fraction of the tokens is held out for scoring; the annotation is chosen on the rest. In (0, 1)."""
    seed: int = 0
    """Seed of the example draws."""

    def __post_init__(self) -> None:
        for name in ("n_activating", "n_non_activating", "n_quantiles", "n_neighbours", "min_examples"):
            check_positive_int(name, getattr(self, name))
        if self.negatives not in ("random", "neighbours"):
            raise ValueError(f"negatives must be 'random' or 'neighbours', got {self.negatives!r}")
        check_range("holdout_fraction", self.holdout_fraction, 0.0, 1.0, low_open=True, high_open=True)


@dataclass
class ScoringResult:
    """Per-latent detection scores (NaN where a latent was not scored) and their summaries."""

    label_names: list[str]
    best_label: torch.Tensor  # [d_sae] index of the annotation chosen on the selection split
    token_detector: torch.Tensor  # [d_sae] bool: the best annotation is "token == t"
    scored: torch.Tensor  # [d_sae] bool: fired ≥ min_examples times on the held-out tokens
    n_fires: torch.Tensor  # [d_sae] held-out firings
    precision: torch.Tensor  # [d_sae]
    recall: torch.Tensor  # [d_sae]
    f1: torch.Tensor  # [d_sae]
    balanced_accuracy: torch.Tensor  # [d_sae]
    quantile_recall: torch.Tensor  # [d_sae, quantile] recall among activating examples of each activation quantile
    negatives: str

    def n_well_scored(self, min_f1: float = 0.8, exclude_token_detectors: bool = False) -> int:
        """Scored latents whose held-out F1 is ≥ min_f1 (without the single-token detectors if asked)."""
        check_range("min_f1", min_f1, 0.0, 1.0)
        keep = self.scored & ~self.token_detector if exclude_token_detectors else self.scored
        return int((keep & (self.f1 >= min_f1)).sum())

    def summary(self, exclude_token_detectors: bool = False) -> dict:
        """Mean precision, recall, F1, frequency-weighted F1, share perfect and mean recall per quantile over the scored
        latents (without the single-token detectors if asked)."""
        keep = self.scored & ~self.token_detector if exclude_token_detectors else self.scored
        n = int(keep.sum())
        if n == 0:
            return {"n_scored": 0}
        f1, w = self.f1[keep], self.n_fires[keep].double()
        return {"n_scored": n, "precision": float(self.precision[keep].mean()), "recall": float(self.recall[keep].mean()),
                "f1": float(f1.mean()), "f1_weighted": float((w * f1.double()).sum() / w.sum()),
                "perfect": float((f1 == 1).float().mean()),
                "balanced_accuracy": float(self.balanced_accuracy[keep].mean()),
                "quantile_recall": self.quantile_recall[keep].nanmean(0).tolist(),
                "token_detectors": int((self.scored & self.token_detector).sum())}


def with_token_labels(labels: torch.Tensor, label_names: Sequence[str], tokens: torch.Tensor,
                      token_strings: Sequence[str], min_count: int = 20) -> tuple[torch.Tensor, list[str], torch.Tensor]:
    """The corpus annotations [tok, label] plus "token == t" for every token seen ≥ min_count times
    (`lm_analysis.token_labels`): labels [tok, label'], names, and is_token [label'] bool."""
    tok_lab, tok_names = token_labels(tokens, token_strings, min_count)
    is_token = torch.cat([torch.zeros(labels.shape[1], dtype=torch.bool), torch.ones(len(tok_names), dtype=torch.bool)])
    return torch.cat([labels.bool(), tok_lab], 1), [*label_names, *tok_names], is_token


@torch.no_grad()
def jaccard_neighbours(fires: torch.Tensor, k: int, chunk: int = 65_536) -> torch.Tensor:
    """The k latents with the highest Jaccard overlap of firing sets, |F_i ∩ F_j| / |F_i ∪ F_j|, for each latent (itself
    excluded): fires bool [tok, d_sae] → [d_sae, k] indices, most similar first."""
    d_sae = fires.shape[1]
    check_positive_int("k", k)
    if k >= d_sae:
        raise ValueError(f"k must be < d_sae={d_sae} (neighbours exclude the latent itself), got {k}")
    inter = torch.zeros(d_sae, d_sae, dtype=torch.float64)
    for i in range(0, len(fires), chunk):
        f = fires[i:i + chunk].double()
        inter += f.T @ f
    count = inter.diagonal().clone()
    jac = inter / (count[:, None] + count[None] - inter).clamp_min(1)
    jac.fill_diagonal_(-1.0)
    return jac.topk(k, dim=1).indices


def _draw(pool: torch.Tensor, n: int, g: torch.Generator) -> torch.Tensor:
    """Up to n indices drawn without replacement from the index tensor `pool`."""
    return pool[torch.randperm(len(pool), generator=g)[:n]]


def _activating(values: torch.Tensor, idx: torch.Tensor, cfg: ScoringConfig, g: torch.Generator) -> list[torch.Tensor]:
    """Activating examples per quantile: idx (firing positions) sorted by value, cut into equal-count bins, each drawn
    n_activating // n_quantiles (at least 1) times."""
    order = idx[values[idx].argsort(stable=True)]
    per = max(1, cfg.n_activating // cfg.n_quantiles)
    return [_draw(b, per, g) for b in torch.tensor_split(order, cfg.n_quantiles)]


def _negatives(j: int, fires: torch.Tensor, nbrs: torch.Tensor | None, cfg: ScoringConfig, g: torch.Generator) -> torch.Tensor:
    """Non-activating examples of latent j: from its neighbours' firings if asked (topped up at random), else random."""
    off = ~fires[:, j]
    picked = torch.empty(0, dtype=torch.long)
    if nbrs is not None:
        picked = _draw(torch.nonzero(fires[:, nbrs[j]].any(1) & off).flatten(), cfg.n_non_activating, g)
    if len(picked) < cfg.n_non_activating:
        rest = off.clone()
        rest[picked] = False
        picked = torch.cat([picked, _draw(torch.nonzero(rest).flatten(), cfg.n_non_activating - len(picked), g)])
    return picked


def _best_labels(codes: torch.Tensor, labels: torch.Tensor, names: Sequence[str]) -> torch.Tensor:
    """[d_sae] index of the annotation with the highest F1 against each latent's firing (on the given tokens)."""
    return label_features(codes, labels, names).best


@torch.no_grad()
def score_latents(codes: torch.Tensor, labels: torch.Tensor, label_names: Sequence[str], cfg: ScoringConfig | None = None,
                  is_token: torch.Tensor | None = None) -> ScoringResult:
    """Detection scores of every latent (module docstring). codes [tok, d_sae] (e.g. `lm_analysis.sae_codes`), labels
    bool [tok, label]; is_token [label] marks single-token annotations (default: names starting with "token ")."""
    cfg = cfg or ScoringConfig()
    if codes.dim() != 2 or labels.dim() != 2 or len(codes) != len(labels) or labels.shape[1] != len(label_names):
        raise ValueError(f"codes [tok, d_sae] {tuple(codes.shape)}, labels [tok, label] {tuple(labels.shape)} and "
                         f"{len(label_names)} label names do not match")
    if is_token is None:
        is_token = torch.tensor([n.startswith("token ") for n in label_names], dtype=torch.bool)
    is_token = torch.as_tensor(is_token, dtype=torch.bool)
    if is_token.shape != (len(label_names),):
        raise ValueError(f"is_token must be bool [label] with one entry per label name ({len(label_names)}), "
                         f"got shape {tuple(is_token.shape)}")
    n_sel = int(round(len(codes) * (1 - cfg.holdout_fraction)))
    if n_sel < 1 or n_sel >= len(codes):
        raise ValueError(f"holdout_fraction={cfg.holdout_fraction} leaves no tokens on one side of {len(codes)}")
    labels = labels.bool()
    best = _best_labels(codes[:n_sel], labels[:n_sel], label_names)
    held, lab_h = codes[n_sel:], labels[n_sel:]
    fires = held > 0  # [tok_held, d_sae]
    d_sae = codes.shape[1]
    nbrs = jaccard_neighbours(codes[:n_sel] > 0, min(cfg.n_neighbours, d_sae - 1)) if cfg.negatives == "neighbours" and d_sae > 1 else None
    # separate streams: the activating examples do not depend on how the negatives are drawn, so "random" and
    # "neighbours" runs with one seed score the same activating examples (a paired comparison)
    g_pos = torch.Generator().manual_seed(derive_seed(cfg.seed, "scoring-activating"))
    g_neg = torch.Generator().manual_seed(derive_seed(cfg.seed, "scoring-non-activating"))
    nan = torch.full((d_sae,), float("nan"))
    prec, rec, f1, acc = nan.clone(), nan.clone(), nan.clone(), nan.clone()
    q_rec = torch.full((d_sae, cfg.n_quantiles), float("nan"))
    n_fires = fires.sum(0)
    scored = n_fires >= cfg.min_examples
    for j in torch.nonzero(scored).flatten().tolist():
        a = lab_h[:, best[j]]  # [tok_held] the judge's prediction
        bins = _activating(held[:, j], torch.nonzero(fires[:, j]).flatten(), cfg, g_pos)
        pos = torch.cat(bins)
        neg = _negatives(j, fires, nbrs, cfg, g_neg)
        tp, fn, fp = int(a[pos].sum()), int((~a[pos]).sum()), int(a[neg].sum())
        tn = len(neg) - fp
        prec[j] = tp / (tp + fp) if tp + fp else 0.0
        rec[j] = tp / (tp + fn)
        f1[j] = 2 * tp / (2 * tp + fp + fn)
        acc[j] = (rec[j] + (tn / len(neg) if len(neg) else float("nan"))) / 2
        q_rec[j] = torch.tensor([float(a[b].float().mean()) if len(b) else float("nan") for b in bins])
    return ScoringResult(list(label_names), best, is_token[best], scored, n_fires, prec, rec, f1, acc, q_rec, cfg.negatives)

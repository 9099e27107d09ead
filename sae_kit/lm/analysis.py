"""Reading SAE features of a language model: activation statistics, labels, top contexts, logit effects.

The follow-up to Sharkey, Braun & Millidge (2022) trained SAEs on the layer-3 MLP of a tiny LM and called about 600
features "easy to label". Here a label is checked automatically against the corpus generator's latent variables and
the identity of the token: for feature j and label ℓ, over every token position t,

    precision(j, ℓ) = P(ℓ holds at t | feature j fires at t),   recall(j, ℓ) = P(feature j fires at t | ℓ holds at t).

Dimension names: `tok` token positions (flattened windows), `d` activation width, `d_sae`, `label`, `batch`, `pos`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from sae_kit.sae.base import SAE

__all__ = ["activation_summary", "sae_codes", "token_labels", "LabelResult",
           "label_features", "label_sae", "top_contexts", "feature_logit_effect"]


def activation_summary(x: torch.Tensor, active_threshold: float = 0.0, max_corr_samples: int = 20_000) -> dict:
    """How a set of activations [tok, d] compares with the toy data's assumptions (sparse, non-negative, independent).

    Returns per-dimension firing frequencies (fraction > active_threshold), the mean number of active dimensions,
    the fraction of negative values, quantiles of the values, and the mean |correlation| between dimensions.
    """
    if x.dim() != 2 or x.shape[0] < 2:
        raise ValueError(f"x must be [tok, d] with at least 2 rows, got {tuple(x.shape)}")
    active = x > active_threshold  # [tok, d]
    xs = x[: max_corr_samples].double()
    corr = torch.corrcoef(xs.T).nan_to_num(0.0)
    off = corr[~torch.eye(corr.shape[0], dtype=torch.bool)].abs()
    q = torch.tensor([0.01, 0.1, 0.5, 0.9, 0.99], dtype=x.dtype)
    return {
        "frequency": active.float().mean(0).tolist(),  # [d]
        "mean_active": float(active.float().sum(1).mean()),
        "fraction_active": float(active.float().mean()),
        "fraction_negative": float((x < 0).float().mean()),
        "quantiles": dict(zip(["q01", "q10", "q50", "q90", "q99"], torch.quantile(x.flatten()[:1_000_000], q).tolist())),
        "mean_abs_corr": float(off.mean()),
        "abs_corr": off.float(),
    }


@torch.no_grad()
def sae_codes(sae: SAE, x: torch.Tensor, inst: int = 0, batch_size: int = 8192,
              features: Sequence[int] | None = None) -> torch.Tensor:
    """The codes of one instance of an SAE row for activations x [tok, d]: [tok, d_sae], or [tok, len(features)] for
    the given latents only (what a dashboard needs: a [tok, d_sae] tensor of a large dictionary over a long text takes
    gigabytes). Encoded in batches of `batch_size` tokens into one preallocated tensor."""
    if not 0 <= inst < sae.cfg.n_inst:
        raise ValueError(f"inst must be in [0, {sae.cfg.n_inst}), got {inst}")
    cols = None if features is None else torch.as_tensor(list(features), dtype=torch.long)
    if cols is not None and (cols.numel() == 0 or int(cols.min()) < 0 or int(cols.max()) >= sae.cfg.d_sae):
        raise ValueError(f"features must be a non-empty list of latent indices in [0, {sae.cfg.d_sae}), got {list(features)}")
    out = torch.empty(len(x), sae.cfg.d_sae if cols is None else len(cols))
    for start, codes in _code_batches(sae, x, inst, batch_size, cols):
        out[start:start + len(codes)] = codes
    return out


def _code_batches(sae: SAE, x: torch.Tensor, inst: int, batch_size: int, cols: torch.Tensor | None = None):
    """Yield (start, codes [n, d_sae] or [n, len(cols)]) of one instance over x [tok, d] in batches of `batch_size`
    tokens. An L1 SAE's latents are independent (ReLU of their own pre-activation), so only that instance and those
    latents are encoded; TopK and BatchTopK choose among all latents, so the whole row is encoded."""
    device = sae.W_enc.device
    cols_d = None if cols is None else cols.to(device)
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size].to(device)
        if sae.cfg.architecture == "l1":
            codes = torch.relu(sae.instance_preactivations(xb, inst, cols_d))
        else:
            codes = sae.encode(xb)[inst]
            codes = codes if cols_d is None else codes[:, cols_d]
        yield i, codes.cpu()


def token_labels(tokens: torch.Tensor, token_strings: Sequence[str], min_count: int = 20) -> tuple[torch.Tensor, list[str]]:
    """"The token is X" labels for every token id seen ≥ min_count times: bool [tok, label] and names like "token ' Smith'"."""
    tokens = tokens.flatten()
    counts = torch.bincount(tokens, minlength=len(token_strings))
    keep = torch.nonzero(counts >= min_count).flatten()
    return tokens[:, None] == keep[None], [f"token {token_strings[int(i)]!r}" for i in keep]


@dataclass
class LabelResult:
    """Precision and recall of every feature against every label, and each feature's best label (by F1)."""

    precision: torch.Tensor  # [d_sae, label]
    recall: torch.Tensor  # [d_sae, label]
    label_names: list[str]
    fires: torch.Tensor  # [d_sae] token positions where the feature fires
    best: torch.Tensor  # [d_sae] index of the best label (highest F1)
    best_precision: torch.Tensor  # [d_sae]
    best_recall: torch.Tensor  # [d_sae]

    def good(self, min_precision: float = 0.8, min_fires: int = 10) -> torch.Tensor:
        """[d_sae] bool: the feature fires ≥ min_fires times and its best label holds on ≥ min_precision of them."""
        return (self.fires >= min_fires) & (self.best_precision >= min_precision)

    def find(self, label: str) -> dict:
        """The feature with the highest F1 for `label`, with its precision and recall."""
        if label not in self.label_names:
            raise ValueError(f"unknown label {label!r}; e.g. {self.label_names[:8]}")
        k = self.label_names.index(label)
        p, r = self.precision[:, k], self.recall[:, k]
        f1 = 2 * p * r / (p + r).clamp_min(1e-12)
        j = int(f1.argmax())
        return {"feature": j, "label": label, "precision": float(p[j]), "recall": float(r[j]), "f1": float(f1[j]),
                "fires": int(self.fires[j])}


@torch.no_grad()
def label_features(codes: torch.Tensor, labels: torch.Tensor, label_names: Sequence[str], rel_threshold: float = 0.0,
                   chunk: int = 65_536) -> LabelResult:
    """Precision and recall of each feature against each label, over all token positions.

    A feature fires where its code exceeds rel_threshold × its largest code (0: wherever it is positive).
    codes: [tok, d_sae]; labels: bool [tok, label]. Counts are one matrix product per chunk of tokens
    (fires[tok, d_sae]ᵀ · labels). For a large dictionary over a long text, `label_sae` encodes as it counts instead.
    """
    batches = lambda: ((i, codes[i:i + chunk]) for i in range(0, len(codes), chunk))  # noqa: E731
    return _label(batches, codes.shape, labels, label_names, rel_threshold)


@torch.no_grad()
def label_sae(sae: SAE, x: torch.Tensor, labels: torch.Tensor, label_names: Sequence[str], inst: int = 0,
              rel_threshold: float = 0.0, batch_size: int = 8192) -> LabelResult:
    """`label_features` of one instance's codes on activations x [tok, d], encoding batch by batch: memory stays at a
    batch of codes, never [tok, d_sae] (two passes over x when rel_threshold > 0: the largest codes, then the counts)."""
    if not 0 <= inst < sae.cfg.n_inst:
        raise ValueError(f"inst must be in [0, {sae.cfg.n_inst}), got {inst}")
    return _label(lambda: _code_batches(sae, x, inst, batch_size), (len(x), sae.cfg.d_sae), labels, label_names, rel_threshold)


def _label(batches, shape: tuple[int, int], labels: torch.Tensor, label_names: Sequence[str], rel_threshold: float) -> LabelResult:
    """The counts behind `label_features`; batches() yields (start, codes [n, d_sae]) covering all tokens in order."""
    if not 0.0 <= rel_threshold < 1.0:
        raise ValueError(f"rel_threshold must be in [0, 1), got {rel_threshold}")
    n_tok, d_sae = shape
    if n_tok != labels.shape[0] or labels.shape[1] != len(label_names):
        raise ValueError(f"codes {tuple(shape)}, labels {tuple(labels.shape)} and {len(label_names)} label names do not match")
    threshold = torch.zeros(d_sae)  # [d_sae]
    if rel_threshold > 0:
        for _, c in batches():
            threshold = torch.maximum(threshold, rel_threshold * c.amax(0))
    both = torch.zeros(d_sae, labels.shape[1], dtype=torch.float64)  # [d_sae, label] fires and label holds
    fires = torch.zeros(d_sae, dtype=torch.long)  # [d_sae]
    for i, c in batches():
        on = (c > threshold).float()  # [n, d_sae]
        both += (on.T @ labels[i:i + len(c)].float()).double()
        fires += on.sum(0).long()
    n_label = labels.sum(0)  # [label]
    precision = (both / fires.clamp_min(1)[:, None]).float()
    recall = (both / n_label.clamp_min(1)[None]).float()
    f1 = 2 * precision * recall / (precision + recall).clamp_min(1e-12)
    best = f1.argmax(1)
    idx = torch.arange(len(best))
    return LabelResult(precision, recall, list(label_names), fires, best, precision[idx, best], recall[idx, best])


def top_contexts(feature_codes: torch.Tensor, windows: torch.Tensor, token_strings: Sequence[str], k: int = 8,
                 before: int = 12, after: int = 3) -> list[dict]:
    """The k token positions where one feature fires most, each with its surrounding text.

    feature_codes: [batch·pos] codes of one feature over flattened windows [batch, pos]. Returns dicts with
    "window", "pos", "value", "left" (text before), "token" (the firing token) and "right" (text after).
    """
    n_ctx = windows.shape[1]
    if feature_codes.shape[0] != windows.numel():
        raise ValueError(f"feature_codes has {feature_codes.shape[0]} values but the windows hold {windows.numel()} tokens")
    values, flat = feature_codes.topk(min(k, len(feature_codes)))
    out = []
    for v, f in zip(values.tolist(), flat.tolist()):
        if v <= 0:
            break
        w, p = divmod(f, n_ctx)
        row = windows[w].tolist()
        out.append({"window": w, "pos": p, "value": v,
                    "left": "".join(token_strings[t] for t in row[max(0, p - before):p]),
                    "token": token_strings[row[p]],
                    "right": "".join(token_strings[t] for t in row[p + 1:p + 1 + after])})
    return out


@torch.no_grad()
def feature_logit_effect(model, hook_name: str, direction: torch.Tensor, windows: torch.Tensor, contexts: list[dict],
                         k: int = 8) -> dict:
    """Which next tokens a feature promotes through the rest of the model: remove it and see what the logits lose.

    At each context's firing position, the feature's contribution value·direction is subtracted from the activation
    at `hook_name`, and the change of the log-probabilities at that position (clean − ablated) is averaged.
    Returns {"boosted": [(token id, Δ)], "suppressed": [(token id, Δ)]} with the k largest and smallest changes.
    """
    if not contexts:
        return {"boosted": [], "suppressed": []}
    idx = torch.tensor([c["window"] for c in contexts])
    pos = torch.tensor([c["pos"] for c in contexts])
    val = torch.tensor([c["value"] for c in contexts])
    x = windows[idx]  # [batch, pos]
    rows = torch.arange(len(idx))
    d = direction.to(torch.float32)

    def ablate(a: torch.Tensor) -> torch.Tensor:
        a = a.clone()
        a[rows, pos] -= val[:, None] * d
        return a

    clean = torch.log_softmax(model(x)[0][rows, pos], -1)  # [batch, vocab]
    ablated = torch.log_softmax(model(x, hooks={hook_name: ablate})[0][rows, pos], -1)
    delta = (clean - ablated).mean(0)  # [vocab]
    top, bottom = delta.topk(k), (-delta).topk(k)
    return {"boosted": list(zip(top.indices.tolist(), top.values.tolist())),
            "suppressed": list(zip(bottom.indices.tolist(), (-bottom.values).tolist()))}

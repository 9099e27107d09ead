"""The core metrics of an SAE on a language model, SAEBench-style: sparsity, reconstruction, and what splicing the
reconstruction into the model does to its next-token predictions.

For one SAE (one instance of a row) reading the activation x at a hook, over token positions t (windows [batch, pos]):

    L0            = mean_t ‖c_t‖₀
    FVE (pooled)  = 1 − Σ_t ‖x_t − x̂_t‖² / Σ_t ‖x_t − x̄‖²                  (the kit's `fraction_variance_explained`)
    FVE (per tok) = mean_t [1 − ‖x_t − x̂_t‖² / ‖x_t − x̄‖²]                 (SAEBench's `explained_variance`, legacy)
    cos           = mean_t cos(x_t, x̂_t);   l2 ratio = mean_t ‖x̂_t‖ / ‖x_t‖
    CE recovered  = (H_abl − H_SAE) / (H_abl − H_clean)
    KL score      = (KL_abl − KL_SAE) / KL_abl,    KL_• = mean_t KL(p_clean,t ‖ p_•,t)

x̄ is the mean activation over all evaluated tokens. The headline FVE is the pooled one: the per-token form divides by
each token's own distance to the mean, so a few tokens close to x̄ can drag it far below zero (SAEBench computes x̄ per
batch; newer versions keep the per-token form as `explained_variance_legacy`). H is the mean next-token
cross-entropy (nats) of the model with x replaced by x̂ (SAE), by 0 (zero ablation, SAEBench's `ce_loss_score`) or by
x̄ (mean ablation), or left alone (clean). A perfect reconstruction scores 1, one no better than the ablation 0.
Latent densities (the fraction of tokens each latent fires on) give `frac_alive` and the log₁₀ histogram.
Source: SAEBench core eval, https://github.com/adamkarvonen/SAEBench (`sae_bench/evals/core/main.py`).

The model is a `TinyLM` or a TransformerLens HookedTransformer (directly or in `TransformerLensAdapter`): splicing
uses `model(tokens, hooks=…)` on the first and `run_with_hooks(tokens, fwd_hooks=…)` on the second. Activations at
`attn.hook_z` [batch, pos, head, d_head] are flattened over heads, as the attention-output SAEs of Kissane et al.
(2024, https://arxiv.org/abs/2406.17759) read them.

Dimension names: `batch`, `pos`, `tok` (flattened positions), `d` (the SAE's input width), `d_sae`, `vocab`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from sae_kit._util import check_positive_int
from sae_kit.lm.model import TinyLM, TransformerLensAdapter, check_tokens
from sae_kit.sae.base import SAE

__all__ = ["CoreMetrics", "core_metrics", "logits_with_replacement", "recovered_score", "log10_density", "recovers_loss"]


@dataclass
class CoreMetrics:
    """SAEBench-style core metrics of one SAE at one hook (see the module docstring for every formula)."""

    hook_name: str
    inst: int
    n_tokens: int
    l0: float
    """Mean number of active latents per token."""
    fve: float
    """Pooled fraction of variance explained, 1 − Σ RSS / Σ TSS (the headline)."""
    fve_per_token: float
    """SAEBench's per-token form, mean_t (1 − RSS_t / TSS_t)."""
    mse: float
    """Mean over tokens and dimensions of (x − x̂)²."""
    cossim: float
    l2_ratio: float
    ce_clean: float
    ce_sae: float
    ce_zero: float
    ce_mean: float
    ce_recovered_zero: float
    """(H_zero − H_SAE) / (H_zero − H_clean), SAEBench's `ce_loss_score`."""
    ce_recovered_mean: float
    """(H_mean − H_SAE) / (H_mean − H_clean): the harder baseline (x̄ already restores much of the loss)."""
    kl_sae: float
    kl_zero: float
    kl_mean: float
    kl_score: float
    """(KL_zero − KL_SAE) / KL_zero, SAEBench's `kl_div_score`."""
    frac_alive: float
    """Latents that fire on at least one evaluated token."""
    density: torch.Tensor = field(repr=False)  # [d_sae] fraction of tokens each latent fires on

    @property
    def freq_over_1_percent(self) -> float:
        return float((self.density > 0.01).float().mean())

    @property
    def freq_over_10_percent(self) -> float:
        return float((self.density > 0.10).float().mean())

    def to_dict(self) -> dict:
        """JSON-ready scalars (the density as a list)."""
        out = {k: v for k, v in self.__dict__.items() if k != "density"}
        return {**out, "freq_over_1_percent": self.freq_over_1_percent,
                "freq_over_10_percent": self.freq_over_10_percent, "density": self.density.tolist()}


def recovered_score(h_ablated: float, h_sae: float, h_clean: float) -> float:
    """(H_abl − H_SAE) / (H_abl − H_clean): 1 when splicing the SAE costs nothing, 0 when it is as bad as the ablation.

    NaN when the ablation does not change the loss (H_abl = H_clean): the score is undefined there, not 0 or 1.
    """
    gap = h_ablated - h_clean
    return float("nan") if gap == 0 else (h_ablated - h_sae) / gap


def recovers_loss(metrics: CoreMetrics, threshold: float = 0.8, baseline: str = "zero") -> bool:
    """Criterion: the spliced SAE recovers at least `threshold` of the loss against the `baseline` ablation ("zero" or
    "mean"). Kissane et al. report often over 80% against zero ablation across GPT-2 Small's layers (LW "Attention SAEs
    Scale to GPT-2 Small", https://www.lesswrong.com/s/FzGeLpkzDgzGhigLm). A NaN score (no gap) fails."""
    if baseline not in ("zero", "mean"):
        raise ValueError(f"baseline must be 'zero' or 'mean', got {baseline!r}")
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    score = metrics.ce_recovered_zero if baseline == "zero" else metrics.ce_recovered_mean
    return bool(score >= threshold)


def log10_density(density: torch.Tensor, floor: float = 1e-7) -> torch.Tensor:
    """log₁₀ of each latent's firing density [d_sae], dead latents shown at log₁₀(floor) (a histogram's left edge)."""
    if not 0 < floor < 1:
        raise ValueError(f"floor must be in (0, 1), got {floor}")
    return density.clamp_min(floor).log10()


def _unwrap(model):
    """('tiny', TinyLM) or ('tl', HookedTransformer-like); anything else raises."""
    if isinstance(model, TinyLM):
        return "tiny", model
    inner = model.model if isinstance(model, TransformerLensAdapter) else model
    if callable(getattr(inner, "run_with_hooks", None)) and hasattr(inner, "cfg"):
        return "tl", inner
    raise ValueError(f"model must be a TinyLM or a TransformerLens HookedTransformer (with run_with_hooks), got "
                     f"{type(model).__name__}")


def _device(m) -> torch.device:
    """Where the model's weights live (tokens are moved there)."""
    p = next(iter(m.parameters()), None) if callable(getattr(m, "parameters", None)) else None
    return torch.device("cpu") if p is None else p.device


def _hook_names(kind: str, m) -> list[str]:
    return m.hook_names if kind == "tiny" else list(m.hook_dict)


@torch.no_grad()
def logits_with_replacement(model, tokens: torch.Tensor, hook_name: str | None = None,
                            replace: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """Logits [batch, pos, vocab] with the activation at `hook_name` replaced by replace(activation) (None: clean)."""
    kind, m = _unwrap(model)
    if hook_name is None:
        return m(tokens)[0] if kind == "tiny" else m(tokens)
    if kind == "tiny":
        return m(tokens, hooks={hook_name: replace})[0]
    return m.run_with_hooks(tokens, fwd_hooks=[(hook_name, lambda act, hook: replace(act))])


def _ce(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Summed next-token cross-entropy (nats) over positions 0…pos−2 predicting tokens 1…pos−1."""
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]).float(), tokens[:, 1:].reshape(-1), reduction="sum")


def _kl(logp_clean: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Σ over positions of KL(p_clean ‖ p) (nats); logp_clean [batch, pos, vocab] log-probabilities."""
    logp = torch.log_softmax(logits.float(), -1)
    return (logp_clean.exp() * (logp_clean - logp)).sum()


def _mean_activation(model, tokens: torch.Tensor, hook_name: str, batch_size: int) -> torch.Tensor:
    """x̄ [d…]: the mean activation at the hook over every position of every window (float64)."""
    kind, m = _unwrap(model)
    runner = m if kind == "tiny" else TransformerLensAdapter(m)
    total, n = None, 0
    for i in range(0, len(tokens), batch_size):
        a = runner.run_with_cache(tokens[i:i + batch_size].to(_device(m)), [hook_name])[hook_name].double()  # [batch, pos, d…]
        s = a.sum(dim=(0, 1))
        total = s if total is None else total + s
        n += a.shape[0] * a.shape[1]
    return total / n


class _Splice:
    """The SAE replacement at a hook: encodes x [batch, pos, d…] flattened to [tok, d], records statistics, returns x̂."""

    def __init__(self, sae: SAE, inst: int, x_bar: torch.Tensor, scale: float = 1.0) -> None:
        self.sae, self.inst, self.x_bar, self.scale = sae, inst, x_bar.reshape(-1), scale  # x_bar [d]
        d_sae = sae.cfg.d_sae
        self.fires = torch.zeros(d_sae, dtype=torch.float64)
        self.sums = dict(n=0.0, l0=0.0, rss=0.0, tss=0.0, fve_tok=0.0, sq=0.0, cos=0.0, l2=0.0)

    def __call__(self, act: torch.Tensor) -> torch.Tensor:
        x = act.reshape(-1, self.sae.cfg.d).float()  # [tok, d]
        out = self.sae(x / self.scale)
        x_hat, c = out.x_hat[self.inst] * self.scale, out.codes[self.inst]  # [tok, d], [tok, d_sae]
        xd, xh = x.double(), x_hat.double()
        rss = (xd - xh).pow(2).sum(-1)  # [tok]
        tss = (xd - self.x_bar.to(xd)).pow(2).sum(-1)  # [tok]
        s = self.sums
        s["n"] += len(x)
        s["l0"] += float((c != 0).sum())
        s["rss"] += float(rss.sum())
        s["tss"] += float(tss.sum())
        s["fve_tok"] += float((1 - rss / tss.clamp_min(1e-30)).sum())
        s["cos"] += float(F.cosine_similarity(xd, xh, dim=-1, eps=1e-12).sum())
        s["l2"] += float((xh.norm(dim=-1) / xd.norm(dim=-1).clamp_min(1e-30)).sum())
        self.fires += (c > 0).sum(0).double().cpu()
        return x_hat.to(act.dtype).reshape(act.shape)


@torch.no_grad()
def _check_core_inputs(kind: str, m, sae: SAE, tokens: torch.Tensor, hook_name: str, inst: int, batch_size: int,
                       scale: float) -> float:
    """Refuse what `core_metrics` cannot measure, naming the argument; returns `scale` as a float."""
    if hook_name not in _hook_names(kind, m):
        raise ValueError(f"unknown hook_name {hook_name!r}; e.g. 'blocks.0.mlp.hook_post' or 'blocks.0.attn.hook_z'")
    if not 0 <= inst < sae.cfg.n_inst:
        raise ValueError(f"inst must be in [0, {sae.cfg.n_inst}) (the SAE row's instances), got {inst}")
    check_positive_int("batch_size", batch_size)
    scale = float(scale)
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a finite number > 0 (what the training activations were divided by), got {scale}")
    n_ctx, vocab = (m.cfg.n_ctx, m.cfg.vocab_size) if kind == "tiny" else (m.cfg.n_ctx, m.cfg.d_vocab)
    check_tokens(tokens, vocab, n_ctx)
    if tokens.shape[1] < 2:
        raise ValueError(f"tokens must hold windows of at least 2 positions (next-token loss), got {tuple(tokens.shape)}")
    return scale


def core_metrics(model, sae: SAE, tokens: torch.Tensor, hook_name: str, inst: int = 0, batch_size: int = 32,
                 mean_activation: torch.Tensor | None = None, scale: float = 1.0) -> CoreMetrics:
    """The core metrics of instance `inst` of `sae` spliced into `model` at `hook_name`, over windows `tokens` [batch, pos].

    Five forward passes per batch of windows: the mean activation x̄ (one pass over all windows first, unless
    `mean_activation` [d…] is given), clean, SAE-spliced, zero- and mean-ablated. The SAE runs in eval mode
    (BatchTopK with its threshold). Formulas in the module docstring. scale: the SAE was trained on activations divided
    by `scale` (e.g. to unit mean square); it reads x / scale and its reconstruction is multiplied back, x̂ = scale ·
    SAE(x / scale), so every metric is on the model's own activations.
    """
    kind, m = _unwrap(model)
    scale = _check_core_inputs(kind, m, sae, tokens, hook_name, inst, batch_size, scale)
    x_bar = _mean_activation(model, tokens, hook_name, batch_size) if mean_activation is None else mean_activation.double()
    if x_bar.numel() != sae.cfg.d:
        raise ValueError(f"the activation at {hook_name} has {x_bar.numel()} values per token but SAEConfig.d={sae.cfg.d}")
    was_training = sae.training
    sae.eval()
    splice = _Splice(sae, inst, x_bar, scale)
    h = dict(clean=0.0, sae=0.0, zero=0.0, mean=0.0)
    kl = dict(sae=0.0, zero=0.0, mean=0.0)
    n_pred, n_pos = 0, 0
    for i in range(0, len(tokens), batch_size):
        tb = tokens[i:i + batch_size].to(_device(m))
        clean = logits_with_replacement(model, tb)
        logp_clean = torch.log_softmax(clean.float(), -1)
        runs = {"sae": logits_with_replacement(model, tb, hook_name, splice),
                "zero": logits_with_replacement(model, tb, hook_name, torch.zeros_like),
                "mean": logits_with_replacement(model, tb, hook_name,
                                                lambda a: x_bar.to(a.dtype).reshape(a.shape[2:]).expand_as(a))}
        h["clean"] += float(_ce(clean, tb))
        for k, logits in runs.items():
            h[k] += float(_ce(logits, tb))
            kl[k] += float(_kl(logp_clean, logits))
        n_pred += tb.shape[0] * (tb.shape[1] - 1)
        n_pos += tb.numel()
    sae.train(was_training)
    h = {k: v / n_pred for k, v in h.items()}
    kl = {k: v / n_pos for k, v in kl.items()}
    s, n = splice.sums, splice.sums["n"]
    density = (splice.fires / n).float()
    return CoreMetrics(
        hook_name=hook_name, inst=inst, n_tokens=int(n), l0=s["l0"] / n, fve=1 - s["rss"] / s["tss"],
        fve_per_token=s["fve_tok"] / n, mse=s["rss"] / (n * sae.cfg.d), cossim=s["cos"] / n, l2_ratio=s["l2"] / n,
        ce_clean=h["clean"], ce_sae=h["sae"], ce_zero=h["zero"], ce_mean=h["mean"],
        ce_recovered_zero=recovered_score(h["zero"], h["sae"], h["clean"]),
        ce_recovered_mean=recovered_score(h["mean"], h["sae"], h["clean"]),
        kl_sae=kl["sae"], kl_zero=kl["zero"], kl_mean=kl["mean"],
        kl_score=(kl["zero"] - kl["sae"]) / kl["zero"] if kl["zero"] > 0 else math.nan,
        frac_alive=float((density > 0).float().mean()), density=density,
    )

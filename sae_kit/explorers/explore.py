"""What the notebooks' explorers compute: small, fast, cached snapshots of one setting each.

Each function takes plain settings (numbers and strings), trains or measures what one widget position shows, and
returns a small dataclass; the figures are drawn by `sae_kit.explorers.plots` and the widgets in `sae_kit.explorers.widgets` only
wire the two. A snapshot is cached by its settings (`functools.lru_cache`), so moving a slider back is instant and a
notebook can warm the cache for the positions a reader will try first (`warm_ratio_snapshots`).

- `ratio_snapshot` (notebook 02): n = ratio · d features placed at random or by a trained toy model of superposition
  (Elhage et al. 2022, https://transformer-circuits.pub/2022/toy_model/index.html), their interference, and a quick
  SAE's per-feature recovery beside a random dictionary's (Sharkey, Braun & Millidge 2022,
  https://www.lesswrong.com/posts/z6QQJbtpkEAX3Aojj/interim-research-report-taking-features-out-of-superposition).
- `sae_toy_snapshot` (notebook 03): a handful of features in 2 or 3 dimensions, an L1 SAE trained on them, and its
  decoder directions beside the true ones.

Dimension names: `feat` ground-truth features, `d` data dimensions, `d_sae` latents.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch

from sae_kit._util import check_positive_int, check_range
from sae_kit.analysis.metrics import mcs
from sae_kit.sae.base import SAEConfig
from sae_kit.toy.data import ToyData, ToyDataConfig
from sae_kit.toy.geometry import interference_stats, random_directions
from sae_kit.toy.tms import TMSConfig, TMSData, train_tms
from sae_kit.training.loop import mmcs_train_config, train_sae

__all__ = ["TMSRun", "tms_run", "RatioSnapshot", "ratio_snapshot", "warm_ratio_snapshots", "SAEToySnapshot", "sae_toy_snapshot",
           "LatentDashboards", "HeadAttribution", "RATIO_PLACEMENTS", "MAX_EXPLORER_FEATURES"]

RATIO_PLACEMENTS = ("random", "tms")
"""How the ratio explorer places features: random unit directions, or where a trained toy model puts them."""
MAX_EXPLORER_FEATURES = 256
"""Largest n an explorer trains on: beyond it one position takes more than a second on 2 CPU cores."""
_RATIO_ALPHAS = (0.01, 0.03, 0.1, 0.3)
"""The quick SAE's α row (mean-L1 convention, per-latent penalty α / d_sae) at d_sae = 16; scaled by d_sae / 16."""


@dataclass(frozen=True)
class TMSRun:
    """One small toy model of superposition and the geometry it went through while training (notebook 01)."""

    steps: list[int]
    """Training steps at which W was recorded."""
    W_history: torch.Tensor
    """[logged, d_hidden, feat] W at each recorded step (the kept seed)."""
    loss_history: list[float]
    """Training loss at each recorded step."""
    loss: float
    """Held-out loss of the trained model."""


@lru_cache(maxsize=128)
def tms_run(sparsity: float, importance_decay: float, n_features: int, d_hidden: int, linear: bool = False,
            steps: int = 1000, n_seeds: int = 2, seed: int = 0) -> TMSRun:
    """Train one small toy model (best of `n_seeds`, lr 1e-2, cosine decay) and keep its geometry over training."""
    check_range("sparsity", sparsity, 0.0, 1.0, high_open=True)
    cfg = TMSConfig(n_features=n_features, d_hidden=d_hidden, feature_probability=1 - sparsity, importance=importance_decay,
                    linear=linear, n_seeds=n_seeds, steps=steps, lr=1e-2, n_eval=2048, seed=seed)
    res = train_tms(cfg)
    log_every = max(1, steps // 50)
    return TMSRun(steps=[log_every * (i + 1) for i in range(res.W_history.shape[0])], W_history=res.W_history[:, 0],
                  loss_history=res.loss_history[:, 0].tolist(), loss=float(res.loss[0]))


@dataclass(frozen=True)
class RatioSnapshot:
    """One position of the ratio explorer."""

    ratio: float
    d: int
    avg_active: float
    placement: str
    n_features: int
    """n = round(ratio · d) features that fire in the data."""
    directions: torch.Tensor
    """[feat, d] unit rows: the ground-truth directions (tms: the represented features only)."""
    cos: torch.Tensor
    """[feat, feat] cosines between the directions."""
    interference: torch.Tensor
    """[feat] Σ_{j≠i} cos²(f_i, f_j): how much of every other feature lands on feature i."""
    random_interference: float
    """E[Σ_{j≠i} cos²] for random unit directions, (n' − 1) / d (n' = the ground-truth count): E[cos²] = 1/d."""
    antipodal_fraction: float
    """Fraction of the directions with an antipodal partner (cos ≤ −0.95)."""
    mcs: torch.Tensor
    """[feat] each feature's best cosine with the quick SAE's dictionary (best α of its row)."""
    chance_mcs: torch.Tensor
    """[feat] the same against a random dictionary of the same size: what no learning scores."""
    alpha: float
    """The α whose SAE is shown (the best MMCS of the row)."""

    @property
    def mmcs(self) -> float:
        return float(self.mcs.mean())

    @property
    def chance_mmcs(self) -> float:
        return float(self.chance_mcs.mean())


def check_ratio_setting(ratio: float, d: int, avg_active: float, placement: str) -> int:
    """Validate one explorer position and return n; errors name the setting and what is allowed."""
    check_range("ratio", ratio, 0.0, math.inf, low_open=True, high_open=True)
    check_positive_int("d", d)
    n = max(2, round(ratio * d))
    if n > MAX_EXPLORER_FEATURES:
        raise ValueError(f"ratio · d = {n} features is more than the explorer trains quickly ({MAX_EXPLORER_FEATURES}); "
                         "lower the ratio or d")
    check_range("avg_active", avg_active, 0.0, math.inf, low_open=True, high_open=True)
    if avg_active >= n:
        raise ValueError(f"avg_active must be below the number of features n = {n}, got {avg_active:g}")
    if placement not in RATIO_PLACEMENTS:
        raise ValueError(f"placement must be one of {RATIO_PLACEMENTS}, got {placement!r}")
    return n


@lru_cache(maxsize=256)
def ratio_snapshot(ratio: float, d: int, avg_active: float, placement: str, seed: int = 0, sae_steps: int = 400,
                   tms_steps: int = 600) -> RatioSnapshot:
    """Place n = ratio · d features, measure their interference, and train a quick row of SAEs (d_sae = n) on them.

    random: the report's toy data (uniform directions, every feature with density avg_active / n);
    tms: a toy model of superposition (uniform importance, the same density) places them, and the features it
    represents are the ground truth (`TMSData`). The SAE row trains `sae_steps` × 256 fresh samples at 4 α values.
    """
    n = check_ratio_setting(ratio, d, avg_active, placement)
    if placement == "random":
        data = ToyData(ToyDataConfig(n_features=n, d=d, avg_active=avg_active, decay=1.0, seed=seed, device="cpu"))
    else:
        tms = train_tms(TMSConfig(n_features=n, d_hidden=d, feature_probability=avg_active / n, importance=1.0,
                                  steps=tms_steps, lr=1e-2, batch_size=256, n_eval=1024, seed=seed))
        data = TMSData(tms)
    f = data.features.float()  # [feat, d]
    cos = f @ f.T  # [feat, feat]
    interference = (cos.pow(2).sum(dim=1) - cos.diagonal().pow(2))  # [feat]
    stats = interference_stats(f.T)
    alphas = [a * n / 16 for a in _RATIO_ALPHAS]
    run = train_sae(data, SAEConfig(d=d, d_sae=n, l1_coeff=alphas, seed=seed),
                    mmcs_train_config(steps=sae_steps, batch_size=256, seed=seed, device="cpu", progress=False,
                                eval_every=sae_steps, mmcs_every=sae_steps, log_every=sae_steps))
    per_alpha = mcs(f, run.sae.dictionary)  # [inst, feat]
    best = int(per_alpha.mean(dim=1).argmax())
    chance = mcs(f, random_directions(n, d, seed=seed + 1).T)  # [feat]
    return RatioSnapshot(ratio=float(ratio), d=d, avg_active=float(avg_active), placement=placement, n_features=n,
                         directions=f, cos=cos, interference=interference,
                         random_interference=(f.shape[0] - 1) / d, antipodal_fraction=float(stats["antipodal_fraction"]),
                         mcs=per_alpha[best].detach(), chance_mcs=chance, alpha=alphas[best])


def warm_ratio_snapshots(ratios, d: int, avg_active: float, placements=RATIO_PLACEMENTS, seed: int = 0) -> int:
    """Compute the snapshots a reader reaches first (every ratio at one d and density); returns how many."""
    count = 0
    for placement in placements:
        for r in ratios:
            ratio_snapshot(float(r), d, float(avg_active), placement, seed)
            count += 1
    return count


@dataclass(frozen=True)
class SAEToySnapshot:
    """One position of the small-SAE explorer: true features and a learned dictionary in 2 or 3 dimensions."""

    alpha: float
    d_sae: int
    features: torch.Tensor
    """[feat, d] the true directions."""
    dictionary: torch.Tensor
    """[d_sae, d] the learned decoder directions (unit rows)."""
    alive: torch.Tensor
    """[d_sae] bool: the latent fired on a held-out sample."""
    mcs: torch.Tensor
    """[feat] each true feature's best cosine with the alive latents' decoder directions (0 when none is alive): a
    dead latent reconstructs nothing, and in 2 or 3 dimensions a dictionary of random directions already scores high."""
    chance_mmcs: float
    """MMCS of a random dictionary of the same size: the level a drawing-sized toy gives away for free."""
    l0: float
    """Mean active latents per held-out sample."""

    @property
    def mmcs(self) -> float:
        return float(self.mcs.mean())

    @property
    def dead(self) -> int:
        return int((~self.alive).sum())


@lru_cache(maxsize=256)
def sae_toy_snapshot(alpha: float, d_sae: int, n_features: int = 6, d: int = 2, avg_active: float = 1.0,
                     seed: int = 0, steps: int = 400) -> SAEToySnapshot:
    """Train one L1 SAE on `n_features` random unit features in `d` = 2 or 3 dimensions (the report's toy data,
    shrunk until it can be drawn) and return its dictionary beside the truth."""
    check_range("alpha", alpha, 0.0, math.inf, high_open=True)
    check_positive_int("d_sae", d_sae)
    if d not in (2, 3):
        raise ValueError(f"d must be 2 or 3 (to draw the directions), got {d}")
    if not 2 <= n_features <= 16:
        raise ValueError(f"n_features must lie in [2, 16] for a readable drawing, got {n_features}")
    if d_sae > 64:
        raise ValueError(f"d_sae must be ≤ 64 for a readable drawing, got {d_sae}")
    data = ToyData(ToyDataConfig(n_features=n_features, d=d, avg_active=avg_active, decay=1.0, seed=seed, device="cpu"))
    run = train_sae(data, SAEConfig(d=d, d_sae=d_sae, l1_coeff=alpha, seed=seed),
                    mmcs_train_config(steps=steps, batch_size=256, seed=seed, device="cpu", progress=False, eval_every=steps,
                                mmcs_every=steps, log_every=steps, n_eval=2048))
    x, _ = data.sample(2048, generator=torch.Generator().manual_seed(seed + 7))
    with torch.no_grad():
        codes = run.sae(x).codes[0]  # [batch, d_sae]
    dictionary = run.sae.dictionary[0].detach()  # [d_sae, d]
    alive = (codes > 0).any(dim=0)  # [d_sae]
    found = mcs(data.features, dictionary[alive]) if alive.any() else torch.zeros(n_features)
    chance = float(mcs(data.features, random_directions(d_sae, d, seed=seed + 1).T).mean())
    return SAEToySnapshot(alpha=float(alpha), d_sae=d_sae, features=data.features.float(), dictionary=dictionary,
                          alive=alive, mcs=found.detach(), chance_mmcs=chance, l0=float((codes > 0).float().sum(dim=1).mean()))


class LatentDashboards:
    """Dashboards of the latents of a row of SAEs on a language model's activations, computed when first asked for and
    kept (notebook 05's feature browser). One entry: the latent's top contexts, its nonzero activations, the label
    (of `label_names`) it matches best by F1 with that label's precision and recall, and the next tokens it boosts.

    saes: one SAE row per dictionary size; inst: the instance (α) of each row to read; x [tok, d] the activations the
    SAEs encode (scaled as they were trained); windows [batch, pos] the tokens x came from; labels [tok, label] bool;
    scale: the factor that maps a decoder direction back to the model's units (for the logit effect).
    """

    def __init__(self, saes, inst: int, x: torch.Tensor, windows: torch.Tensor, token_strings, model, hook_name: str,
                 scale: float, labels: torch.Tensor, label_names, top_k: int = 8) -> None:
        if labels.shape[0] != x.shape[0] or labels.shape[1] != len(label_names):
            raise ValueError(f"labels must be [tok={x.shape[0]}, label={len(label_names)}], got {tuple(labels.shape)}")
        self.saes, self.inst, self.x, self.windows = list(saes), inst, x, windows
        self.token_strings, self.model, self.hook_name, self.scale = token_strings, model, hook_name, float(scale)
        self.labels, self.label_names, self.top_k = labels.bool(), list(label_names), top_k
        self._cache: dict[tuple[int, int], dict] = {}

    @property
    def d_sae_values(self) -> list[int]:
        return [s.cfg.d_sae for s in self.saes]

    def __call__(self, size_index: int, latent: int) -> dict:
        """The dashboard of latent `latent` of dictionary `size_index`: {contexts, values, effect, label, precision,
        recall, firing_rate}."""
        key = (size_index, latent)
        if key not in self._cache:
            self._cache[key] = self._compute(size_index, latent)
        return self._cache[key]

    def _compute(self, size_index: int, latent: int) -> dict:
        from sae_kit.lm import analysis as la

        sae = self.saes[size_index]
        c = la.sae_codes(sae, self.x, inst=self.inst, features=[latent])[:, 0]  # [tok]
        fires = c > 0
        n_fire = int(fires.sum())
        tp = (fires[:, None] & self.labels).sum(dim=0).float()  # [label]
        precision = tp / max(1, n_fire)
        recall = tp / self.labels.sum(dim=0).clamp_min(1)
        f1 = 2 * precision * recall / (precision + recall).clamp_min(1e-12)
        best = int(f1.argmax())
        contexts = la.top_contexts(c, self.windows, self.token_strings, k=self.top_k) if n_fire else []
        direction = sae.dictionary[self.inst, latent].detach() * self.scale
        effect = la.feature_logit_effect(self.model, self.hook_name, direction, self.windows, contexts) if contexts else {}
        return dict(contexts=contexts, values=c[fires].tolist(), effect=effect, label=self.label_names[best],
                    precision=float(precision[best]), recall=float(recall[best]), firing_rate=n_fire / len(c))


class HeadAttribution:
    """Per-head attribution of the latents of an attention-output SAE, computed when first asked for and kept
    (notebook 08's head-attribution explorer; Kissane et al. 2024, https://arxiv.org/abs/2406.17759).

    One entry, for latent f over the tokens where it fires: the mean signed direct feature attribution of each head,
    mean_t DFA_h,f(t) (`attribution.direct_feature_attribution`), the top head's share of Σ_h |DFA_h|, the encoder bias,
    the decoder's per-head norms ‖W_dec[f, h-slice]‖ and the top contexts.

    sae: trained on flattened hook_z x [tok, head·d_head] (as given here); windows [batch, pos] the tokens x came from.
    """

    def __init__(self, sae, x: torch.Tensor, n_heads: int, windows: torch.Tensor, token_strings, inst: int = 0,
                 top_k: int = 8) -> None:
        from sae_kit.lm.attribution import decoder_head_norms

        if x.dim() != 2 or x.shape[1] != sae.cfg.d or x.shape[0] != windows.numel():
            raise ValueError(f"x must be flattened hook_z [tok={windows.numel()}, d={sae.cfg.d}], got {tuple(x.shape)}")
        self.sae, self.x, self.n_heads, self.windows, self.inst = sae, x, n_heads, windows, inst
        self.token_strings, self.top_k = token_strings, top_k
        self.decoder_norms = decoder_head_norms(sae, n_heads, inst)  # [d_sae, head]; checks n_heads and inst
        self._cache: dict[int, dict] = {}

    @property
    def d_sae(self) -> int:
        return self.sae.cfg.d_sae

    def __call__(self, latent: int) -> dict:
        """{latent, fires, dfa_mean [head], top_head, top_share, bias, decoder_norms [head], contexts}."""
        if not 0 <= latent < self.d_sae:
            raise ValueError(f"latent must be in [0, {self.d_sae}), got {latent}")
        if latent not in self._cache:
            self._cache[latent] = self._compute(latent)
        return self._cache[latent]

    @torch.no_grad()
    def _compute(self, latent: int) -> dict:
        from sae_kit.lm.analysis import sae_codes, top_contexts
        from sae_kit.lm.attribution import direct_feature_attribution

        c = sae_codes(self.sae, self.x, inst=self.inst, features=[latent])[:, 0]  # [tok]
        on = c > 0
        dfa, bias = direct_feature_attribution(self.sae, self.x[on], self.n_heads, self.inst,
                                               features=torch.tensor([latent]))  # [fires, 1, head], [1]
        dfa = dfa[:, 0]
        abs_tot = dfa.abs().sum(0)  # [head]
        share = float(abs_tot.max() / abs_tot.sum()) if len(dfa) else float("nan")
        return dict(latent=latent, fires=int(on.sum()),
                    dfa_mean=(dfa.mean(0) if len(dfa) else torch.zeros(self.n_heads)).tolist(),
                    top_head=int(abs_tot.argmax()) if len(dfa) else -1, top_share=share, bias=float(bias[0]),
                    decoder_norms=self.decoder_norms[latent].tolist(),
                    contexts=top_contexts(c, self.windows, self.token_strings, k=self.top_k) if len(dfa) else [])

"""How many features are there, without ground truth? The report's dictionary-size heuristics made into one rule.

Sharkey, Braun & Millidge (2022) train dictionaries of growing size with the same α on the same data and read two
signals (the interim report, https://www.lesswrong.com/posts/z6QQJbtpkEAX3Aojj/interim-research-report-taking-features-out-of-superposition):
- dictionary-to-dictionary MMCS (each dictionary's elements matched in the next larger one) rises while the smaller
  dictionary is short of features, and stops rising once it holds them all: "the number of features is estimated
  where it stops rising";
- dead latents appear once the dictionary is larger than the number of features (with α large enough).
The L1 and reconstruction (MSE) losses against size are kept beside them as evidence (the report's "loss
stickiness" combined them; its authors later deprecated it, so they stay separate here).

`estimate_n_features` turns this into a stated rule (see its docstring) and returns the evidence with the estimate, so
a reader can see which signal decided and overrule it. Its resolution is the spacing of the sizes tried (a factor of 2
on the report's grid). Dimension names: `size` dictionary sizes (ascending), `alpha` L1 coefficients.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch

from sae_kit._util import check_range
from sae_kit.analysis.metrics import dictionary_mmcs
from sae_kit.training.loop import TrainResult
from sae_kit.training.sweep import GridResult

__all__ = ["FeatureCountEstimate", "estimate_n_features"]


@dataclass
class FeatureCountEstimate:
    """An estimate of the number of features and the evidence behind it (lists run over the sizes tried)."""

    estimate: int
    """The estimated number of features (one of the sizes tried)."""
    rule: str
    """Which signal decided: "dictionary_mmcs" (where it stops rising) or "dead_onset" (the largest size without dead latents)."""
    explanation: str
    """The decision in a sentence."""
    alpha: float
    """The L1 coefficient whose row of dictionaries was used."""
    d_sae_values: list[int]
    dictionary_mmcs: list[float]
    """[size − 1] MMCS of each dictionary against the next larger one."""
    dead_fraction: list[float]
    alive: list[int]
    """Latents that fire on the held-out sample."""
    mse: list[float]
    l1: list[float]
    d2d_size: int | None
    """The size where dictionary-to-dictionary MMCS stops rising (None when it never rises by `rise`)."""
    dead_onset_size: int | None
    """The size just below the first one with dead fraction ≥ `dead_threshold` (None when the smallest has them)."""
    bound: str = "exact"
    """What the sizes tried say about G: "exact" (bracketed on both sides, at the resolution of the sizes tried),
    "lower" (G is above `interval`'s lower end; no size tried is known to be ≥ G) or "upper" (G is below the
    smallest size tried)."""
    low: int | None = None
    """Lower end of the interval holding G (None: open)."""
    high: int | None = None
    """Upper end of the interval holding G (None: open)."""
    ends: str = "(]"
    """Which ends are closed: "(]" G ∈ (low, high] (the dictionary-MMCS rule), "[)" G ∈ [low, high) (dead onset)."""

    @property
    def interval(self) -> tuple[int | None, int | None]:
        """(low, high): where G lies at the resolution of the sizes tried, None at an open end (see `ends`)."""
        return self.low, self.high

    def contains(self, g: int) -> bool:
        """True when G = g lies in the interval (respecting which ends are open)."""
        lo_ok = self.low is None or (g >= self.low if self.ends[0] == "[" else g > self.low)
        hi_ok = self.high is None or (g <= self.high if self.ends[1] == "]" else g < self.high)
        return lo_ok and hi_ok

    @property
    def interval_text(self) -> str:
        """The interval as text, "(16, 32]" or "[128, ∞)" (∞: an open end)."""
        left = "(−∞" if self.low is None else f"{self.ends[0]}{self.low}"
        right = "∞)" if self.high is None else f"{self.high}{self.ends[1]}"
        return f"{left}, {right}"

    def to_dict(self) -> dict:
        return {**asdict(self), "interval": list(self.interval), "interval_text": self.interval_text}


def _evidence(sae_sets: GridResult | Sequence[TrainResult]) -> dict:
    """Sizes, α values and [size, alpha] tables from a GridResult or from rows trained with the same α list."""
    if isinstance(sae_sets, GridResult):
        g = sae_sets
        return dict(sizes=list(g.d_sae_values), alphas=list(g.alphas), d2d=g.dictionary_mmcs, dead=g.dead, mse=g.mse, l1=g.l1)
    runs = sorted(sae_sets, key=lambda r: r.sae.cfg.d_sae)
    if len(runs) < 2 or not all(isinstance(r, TrainResult) for r in runs):
        raise ValueError("sae_sets must be a GridResult or a list of at least 2 TrainResults of different sizes")
    sizes = [r.sae.cfg.d_sae for r in runs]
    alphas = list(runs[0].sae.cfg.l1_coeffs)
    if len(set(sizes)) != len(sizes) or any(list(r.sae.cfg.l1_coeffs) != alphas for r in runs):
        raise ValueError(f"sae_sets must have distinct sizes and the same α list, got sizes {sizes}")
    d2d = torch.stack([torch.as_tensor(dictionary_mmcs(a.sae.dictionary, b.sae.dictionary)).cpu()
                       for a, b in zip(runs, runs[1:])])
    return dict(sizes=sizes, alphas=alphas, d2d=d2d, dead=torch.tensor([r.final("dead") for r in runs]).float(),
                mse=torch.tensor([r.final("mse") for r in runs]), l1=torch.tensor([r.history["l1"][-1] for r in runs]))


def _d2d_decision(d2d: list[float], sizes: list[int], rise: float, plateau: float) -> dict | None:
    """Where m_i = MMCS(D_i → D_{i+1}) stops rising, and what that says about G (None when it never rises by `rise`).

    The plateau starts at the first pair i* with m_i* ≥ max m − `plateau`. A plateau at pair i* means D_i* already
    holds the features (a dictionary that holds all G features matches the next larger one), so G ≤ s_i*; the rise
    before it means D_{i*−1} did not, so G > s_{i*−1}: G ∈ (s_{i*−1}, s_i*]. A plateau needs a later pair to show it:
    when i* is the last pair the curve may still be rising, and only G > s_{i*−1} is known (a lower bound).
    """
    if max(d2d) - d2d[0] < rise:
        return None
    top = max(d2d)
    i = next(k for k, m in enumerate(d2d) if m >= top - plateau)
    low = sizes[i - 1] if i >= 1 else None
    if i == len(d2d) - 1:
        why = (f"dictionary-to-dictionary MMCS rises from {d2d[0]:.2f} and is still rising at the largest pair "
               f"(d_sae={sizes[i]} → {sizes[i + 1]}: {d2d[i]:.2f}), so the features number more than {low}: a lower "
               f"bound; larger dictionaries would show where it stops")
        return dict(size=sizes[i], bound="lower", low=low, high=None, why=why)
    why = (f"dictionary-to-dictionary MMCS rises from {d2d[0]:.2f} and stops rising at d_sae={sizes[i]} "
           f"({top:.2f} at most): D_{sizes[i]} already matches the next dictionary, "
           + (f"D_{low} did not, so {low} < G ≤ {sizes[i]}" if low is not None else f"so G ≤ {sizes[i]}"))
    return dict(size=sizes[i], bound="exact" if low is not None else "upper", low=low, high=sizes[i], why=why)


def _dead_decision(dead_frac: list[float], sizes: list[int], rise: float, d2d: list[float], dead_threshold: float) -> dict:
    """The dead-latent onset: dead latents appear once d_sae > G, so no dead latents at s_{k−1} and dead ones at s_k
    mean G ∈ [s_{k−1}, s_k)."""
    why = f"dictionary-to-dictionary MMCS does not rise by {rise} (from {d2d[0]:.2f} to at most {max(d2d):.2f}); "
    k = next((i for i, f in enumerate(dead_frac) if f >= dead_threshold), None)
    if k is None:
        why += f"no size has ≥ {dead_threshold:.0%} dead latents, so the features number at least {sizes[-1]}: a lower bound"
        return dict(size=sizes[-1], bound="lower", low=sizes[-1], high=None, why=why, onset=sizes[-1])
    if k == 0:
        why += f"every size has dead latents, so the features number fewer than {sizes[0]}: an upper bound"
        return dict(size=sizes[0], bound="upper", low=None, high=sizes[0], why=why, onset=None)
    why += (f"dead latents appear above d_sae={sizes[k - 1]} ({dead_frac[k]:.0%} at {sizes[k]}), "
            f"so {sizes[k - 1]} ≤ G < {sizes[k]}")
    return dict(size=sizes[k - 1], bound="exact", low=sizes[k - 1], high=sizes[k], why=why, onset=sizes[k - 1])


def estimate_n_features(
    sae_sets: GridResult | Sequence[TrainResult],
    alpha: float | None = None,
    rise: float = 0.05,
    plateau: float = 0.02,
    dead_threshold: float = 0.05,
) -> FeatureCountEstimate:
    """Estimate the number of features from dictionaries of several sizes trained on the same data with the same α.

    The rule (the report's heuristic, Sharkey, Braun & Millidge 2022, made explicit; the thresholds are the kit's):
    1. α: the given one, else the largest α at which the smallest dictionary has no dead latents (dead fraction <
       `dead_threshold`): the report reads the heuristic at an α large enough for dead latents to appear in large
       dictionaries, but not so large that codes die in small ones. Needs no ground truth.
    2. If the dictionary-to-dictionary MMCS curve m_i = MMCS(D_i → D_{i+1}) rises (max_i m_i − m_0 ≥ `rise`), the
       estimate is the first size s_i with m_i ≥ max m − `plateau`: where the curve stops rising. D_i then already
       holds the features and D_{i−1} did not, so G ∈ (s_{i−1}, s_i] ("exact"). When that first size is the
       second-largest (the plateau is only the last pair), the curve may still be rising: G > s_{i−1} only ("lower").
    3. Otherwise the dead-latent onset decides: dead latents appear once d_sae > G, so G ∈ [s_{k−1}, s_k) for the first
       size s_k whose dead fraction is ≥ `dead_threshold` ("exact"); no size with dead latents → G ≥ the largest size
       ("lower"); dead latents from the smallest size on → G < the smallest size ("upper").
    `bound`, `low`, `high` and `ends` say which; `contains(g)` checks a true G against them.
    sae_sets: a GridResult (`sk.train_grid`) or a list of TrainResults of different sizes with the same α list.
    """
    ev = _evidence(sae_sets)
    sizes, alphas = ev["sizes"], ev["alphas"]
    if len(sizes) < 2:
        raise ValueError(f"estimate_n_features needs at least 2 dictionary sizes, got {sizes}")
    for name, v in (("rise", rise), ("plateau", plateau), ("dead_threshold", dead_threshold)):
        check_range(name, v, 0.0, 1.0)
    sizes_t = torch.tensor(sizes, dtype=torch.float32)
    j = _choose_alpha(ev, alpha, dead_threshold)
    d2d = ev["d2d"].float()[:, j].tolist()  # [size − 1]
    dead_frac = (ev["dead"][:, j] / sizes_t).tolist()
    alive = [int(s - round(float(n))) for s, n in zip(sizes, ev["dead"][:, j].tolist())]
    by_d2d = _d2d_decision(d2d, sizes, rise, plateau)
    by_dead = _dead_decision(dead_frac, sizes, rise, d2d, dead_threshold)
    rule, dec, ends = ("dictionary_mmcs", by_d2d, "(]") if by_d2d is not None else ("dead_onset", by_dead, "[)")
    return FeatureCountEstimate(
        estimate=int(dec["size"]), rule=rule, explanation=f"at α={alphas[j]:.3g}: {dec['why']}", alpha=float(alphas[j]),
        d_sae_values=list(sizes), dictionary_mmcs=d2d, dead_fraction=dead_frac, alive=alive,
        mse=ev["mse"][:, j].tolist(), l1=ev["l1"][:, j].tolist(), d2d_size=None if by_d2d is None else by_d2d["size"],
        dead_onset_size=by_dead["onset"], bound=dec["bound"], low=dec["low"], high=dec["high"], ends=ends,
    )


def _choose_alpha(ev: dict, alpha: float | None, dead_threshold: float) -> int:
    """Index of the α to read: the given one, else the largest α whose smallest dictionary has no dead latents."""
    alphas, small = ev["alphas"], ev["sizes"][0]
    if alpha is None:
        alive_small = [k for k in range(len(alphas)) if float(ev["dead"][0, k]) / small < dead_threshold]
        return max(alive_small, key=lambda k: alphas[k]) if alive_small else min(range(len(alphas)), key=lambda k: alphas[k])
    close = [k for k, a in enumerate(alphas) if abs(a - alpha) <= 1e-9 * max(1.0, abs(a))]
    if not close:
        raise ValueError(f"alpha must be one of the trained values {alphas}, got {alpha}")
    return close[0]

"""Notebook 07's absorption experiment: rows of SAEs on the feature tree, scored for absorption, compared at matched L0.

A *row* is one recipe (L1, TopK, Matryoshka, tied) whose instances sweep its sparsity knob (α or k); every instance
is scored on the same held-out sample of `sae_kit.toy.hierarchy` data with `sae_kit.analysis.absorption.absorption_scores`:

    recall_C   = #{C active and the parent latent fires} / #{C active},     absorption = 1 − mean_C recall_C

and the row is represented by the instance whose held-out L0 (mean active latents per sample) is closest to the
target — the data's own mean number of active features, so every recipe is compared at matched sparsity.
The kit's SAE classes (`sk.SAE`: "l1", "topk", "matryoshka") train with `sk.train_sae`; a tied SAE (encoder ≡ decoder,
one shared parameter) is something the kit's classes cannot express (their W_enc and W_dec are separate parameters), so
it trains as the self-contained `ToySAE` of `sae_kit.analysis.absorption`. Each row also keeps what the absorption explorer
draws for every instance: |cos| of each decoder row with each true feature, and the parent latents' recall.
Sources: Chanin et al. 2024, https://arxiv.org/abs/2409.14507; Nabeshima 2024, https://sparselatents.com/matryoshka.html.
Dimension names: `inst`, `batch`, `d_sae`, `feat`, `parent`, `child`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sae_kit._util import check_positive_int
from sae_kit.analysis.absorption import ToySAEConfig, absorption_scores, train_toy_sae
from sae_kit.analysis.metrics import cosine_matrix
from sae_kit.sae.config import SAEConfig
from sae_kit.toy.hierarchy import HierarchyData
from sae_kit.training.loop import TrainConfig, train_sae

__all__ = ["AbsorptionRow", "score_absorption_row", "train_absorption_row", "feature_names", "matched_instance",
           "held_out_l0"]


@dataclass
class AbsorptionRow:
    """One recipe's row of SAE instances, scored for absorption on held-out hierarchy data."""

    name: str
    knob: str
    """"α" or "k": what the instances sweep."""
    values: list[float]
    """[inst] the knob's value per instance."""
    l0: list[float]
    """[inst] held-out mean active latents per sample."""
    absorption: list[float]
    """[inst] 1 − mean over children of the parent latent's recall on child-active samples."""
    mean_share: list[float]
    """[inst] mean over children of max(0, cos(child latent's decoder row, parent direction))."""
    recall_child: torch.Tensor
    """[inst, child] P(parent latent fires | child active)."""
    recall_parent_only: torch.Tensor
    """[inst, parent] P(parent latent fires | parent active, no child)."""
    cos: torch.Tensor
    """[inst, d_sae, feat] |cos| of each decoder row with each true feature, latents ordered by matched feature."""
    matched: int
    """The instance whose L0 is closest to the target."""
    source: str = ""

    def figures(self, inst: int | None = None) -> dict:
        """JSON-ready figures of instance `inst` (default: the matched one)."""
        i = self.matched if inst is None else inst
        return {"name": self.name, "knob": self.knob, "value": self.values[i], "l0": self.l0[i],
                "absorption": self.absorption[i], "mean_share": self.mean_share[i],
                "recall_child": self.recall_child[i].tolist(), "recall_parent_only": self.recall_parent_only[i].tolist(),
                "source": self.source}


def matched_instance(l0: list[float], target: float) -> int:
    """The index of the L0 closest to `target` (the first on ties)."""
    if not l0:
        raise ValueError("l0 must hold at least one value")
    return min(range(len(l0)), key=lambda i: abs(l0[i] - target))


def held_out_l0(data: HierarchyData, n_eval: int = 8192, eval_seed: int = 123) -> float:
    """The data's mean number of active features per sample on the held-out sample every row is scored on: the target
    L0 of the comparison."""
    check_positive_int("n_eval", n_eval)
    c = data.sample(n_eval, torch.Generator(device=data.device).manual_seed(eval_seed))[1]
    return float((c > 0).sum(-1).float().mean())


def feature_names(data: HierarchyData) -> list[str]:
    """["P0", …, "P0.c0", …, "I0", …]: parents, their children parent by parent, then the independent features."""
    names = [f"P{p}" for p in data.parents]
    names += [f"P{p}.c{j}" for p, kids in enumerate(data.children) for j in range(len(kids))]
    return names + [f"I{i}" for i in range(len(data.independent))]


def _ordered_cos(decoder: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    """|cos| [inst, d_sae, feat], each instance's latents sorted by their best-matching feature (then by that cosine)."""
    cos = cosine_matrix(decoder, features).abs()  # [inst, d_sae, feat]
    best, which = cos.max(dim=-1)  # [inst, d_sae]
    order = torch.argsort(which.double() - 0.5 * best.double(), dim=-1)  # by feature, the closest latent first
    return torch.gather(cos, 1, order[..., None].expand_as(cos))


def score_absorption_row(name: str, knob: str, values: list[float], data: HierarchyData, x: torch.Tensor,
                         coefficients: torch.Tensor, codes: torch.Tensor, decoder: torch.Tensor, encoder: torch.Tensor,
                         target_l0: float, source: str = "") -> AbsorptionRow:
    """Score a trained row: x [batch, d] held out with its coefficients [batch, feat]; codes [inst, batch, d_sae],
    decoder and encoder [inst, d_sae, d]."""
    if len(values) != codes.shape[0]:
        raise ValueError(f"values must hold one knob value per instance ({codes.shape[0]}), got {len(values)}")
    s = absorption_scores(data, codes, coefficients, decoder, encoder)
    l0 = (codes > 0).float().sum(-1).mean(-1).tolist()  # [inst]
    return AbsorptionRow(name=name, knob=knob, values=[float(v) for v in values], l0=l0,
                         absorption=s.absorption.tolist(), mean_share=s.mean_share.tolist(),
                         recall_child=s.recall_child, recall_parent_only=s.recall_parent_only,
                         cos=_ordered_cos(decoder, data.features.to(decoder.device)).cpu(),
                         matched=matched_instance(l0, target_l0), source=source)


def train_absorption_row(name: str, data: HierarchyData, cfg: SAEConfig | ToySAEConfig, train: TrainConfig,
                         target_l0: float, n_eval: int = 8192, eval_seed: int = 123, source: str = ""):
    """Train one row (a kit `SAEConfig` with `sk.train_sae`, or a `ToySAEConfig` — e.g. tied — with
    `sk.train_toy_sae`, which takes steps, lr and seed from its own config) and score it on `n_eval` held-out samples
    (their own seed, `eval_seed`, so every row sees the same sample). Returns (AbsorptionRow, the trained SAE)."""
    check_positive_int("n_eval", n_eval)
    x, c = data.sample(n_eval, torch.Generator(device=data.device).manual_seed(eval_seed))
    if isinstance(cfg, ToySAEConfig):
        sae = train_toy_sae(data, cfg).sae
        decoder, encoder, knob, values = sae.W_dec, sae.encoder, "α", cfg.l1_coeffs
    elif isinstance(cfg, SAEConfig):
        sae = train_sae(data, cfg, train).sae
        decoder, encoder = sae.W_dec, sae.W_enc
        knob, values = ("k", cfg.ks) if cfg.ks else ("α", cfg.l1_coeffs)
    else:
        raise ValueError(f"cfg must be a sae_kit.SAEConfig or a ToySAEConfig, got {type(cfg).__name__}")
    with torch.no_grad():
        row = score_absorption_row(name, knob, values, data, x, c, sae.encode(x), decoder.detach(), encoder.detach(),
                                   target_l0, source)
    return row, sae

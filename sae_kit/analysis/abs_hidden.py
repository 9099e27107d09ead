"""SAEs on a computing toy: the absolute-value model's hidden layer as training data, with known directions.

The hidden layer of the absolute-value model (`sae_kit.toy.abs_model`) is h = ReLU(W₁ x). For a single active feature,
x = t e_i, it is h = ReLU(t W₁[:, i]) = t · ReLU(W₁[:, i]) for t > 0 and |t| · ReLU(−W₁[:, i]) for t < 0: the
hidden ReLUs split every feature into a *positive part* and a *negative part*, two directions of the hidden space

    u_i⁺ = ReLU(W₁[:, i]) / ‖ReLU(W₁[:, i])‖,     u_i⁻ = ReLU(−W₁[:, i]) / ‖ReLU(−W₁[:, i])‖,

not the column W₁[:, i] itself (its negative entries are cut off by the ReLU). These are the known directions an SAE
should find. They are exact for samples with one active feature; with several active, features that share a neuron
interfere inside the ReLU, so h is only approximately Σ_i |x_i| ‖ReLU(±W₁_i)‖ u_i^± (sparse data: mostly one).
Each sample carries labels "x_i > 0" / "x_i < 0" for scoring latents by precision and recall.
Setup after Elhage et al. 2022, https://transformer-circuits.pub/2022/toy_model/index.html#computation ; SAEs on
ground-truth toys after Sharkey, Braun & Millidge 2022,
https://www.alignmentforum.org/posts/z6QQJbtpkEAX3Aojj/interim-research-report-taking-features-out-of-superposition

Dimension names: `batch`, `feat` input features, `dir` known directions (kept positive and negative parts),
`d` = d_hidden, `inst` SAE instances, `d_sae` latents.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sae_kit._util import check_positive_int, check_range, resolve_device
from sae_kit.analysis.metrics import cosine_matrix, mcc, mcs
from sae_kit.toy.abs_model import AbsModelResult, sample_abs_batch

__all__ = ["AbsHiddenData", "AbsSAEScore", "score_sae_on_abs", "plain_counterpart", "compare_with_plain", "best_instance"]


class AbsHiddenData:
    """SAE training data: h = ReLU(W₁ x) of one trained absolute-value model (see the module docstring).

    `features` [dir, d] holds the kept known directions: first the positive parts u_i⁺, then the negative parts u_i⁻
    of the features listed in `feature_index` with `sign` +1 / −1 ([dir] each). A part is kept when its norm
    ‖ReLU(±W₁_i)‖ is ≥ `rel_threshold` × the largest part's norm (a feature the model does not represent has none).
    `sample` returns h and the coefficients [batch, dir] |x_i| · ‖ReLU(±W₁_i)‖ of the part matching sign(x_i)
    (0 for the other part), so "x_i > 0" is `coefficients[:, k] > 0` for the positive part k. Follows `DataSource`.
    """

    def __init__(self, result: AbsModelResult, instance: int = 0, rel_threshold: float = 0.1, device: str = "cpu") -> None:
        n_inst = result.W1.shape[0]
        if isinstance(instance, bool) or not isinstance(instance, int) or not 0 <= instance < n_inst:
            raise ValueError(f"instance must be an int in [0, {n_inst - 1}], got {instance!r}")
        check_range("rel_threshold", rel_threshold, 0.0, 1.0, low_open=True)
        self.device = resolve_device(device)
        self.W1 = result.W1[instance].to(self.device)  # [d, feat]
        self.probability = result.feature_probability[instance : instance + 1].to(self.device)  # [1]
        parts = torch.cat([torch.relu(self.W1), torch.relu(-self.W1)], dim=1).T  # [2·feat, d]: u⁺ rows then u⁻ rows
        norms = parts.norm(dim=1)  # [2·feat]
        keep = torch.nonzero(norms >= rel_threshold * norms.max()).flatten()  # [dir]
        n = self.W1.shape[1]
        self.n_features = n
        self.part_index = keep  # [dir] index into the 2·feat parts
        self.feature_index = keep % n  # [dir]
        self.sign = torch.where(keep < n, 1, -1)  # [dir]
        self.norms = norms[keep]  # [dir]
        self.features = parts[keep] / self.norms[:, None]  # [dir, d] unit rows

    @property
    def d(self) -> int:
        return self.W1.shape[0]

    def sample_inputs(self, batch_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """x [batch, feat]: the model's inputs (x_i = 0 with probability 1 − p, else U[−1, 1))."""
        check_positive_int("batch_size", batch_size)
        if generator is None:
            generator = torch.Generator(device=self.device).manual_seed(0)
        return sample_abs_batch(self.probability, self.n_features, batch_size, generator)[0]

    def encode_inputs(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(h [batch, d] = ReLU(W₁ x), coefficients [batch, dir]) for inputs x [batch, feat]."""
        h = torch.relu(x @ self.W1.T)
        xs = x[:, self.feature_index] * self.sign  # [batch, dir]: > 0 exactly when the part's sign matches
        return h, torch.relu(xs) * self.norms

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """h [batch, d] and the known parts' coefficients [batch, dir]."""
        return self.encode_inputs(self.sample_inputs(batch_size, generator))

    def __repr__(self) -> str:
        return f"AbsHiddenData(d={self.d}, {len(self.part_index)} of {2 * self.n_features} feature parts kept)"


@dataclass
class AbsSAEScore:
    """How well SAE instances recover the known directions and the sign labels. Latents are matched to the known
    direction of highest decoder cosine."""

    mcs: torch.Tensor
    """[inst, dir] best decoder cosine of each known direction."""
    mmcs: torch.Tensor
    """[inst] mean of `mcs`."""
    mcc: torch.Tensor
    """[inst] Hungarian-matched mean |cos| (SAELens' convention, `sae_kit.analysis.metrics.mcc`)."""
    match: torch.Tensor
    """[inst, d_sae] known direction each latent is matched to."""
    match_cos: torch.Tensor
    """[inst, d_sae] its cosine."""
    precision: torch.Tensor
    """[inst, d_sae] P(label of the matched direction | latent fires); NaN for a latent that never fires."""
    recall: torch.Tensor
    """[inst, d_sae] P(latent fires | label of the matched direction); NaN when the label never occurs."""
    alive: torch.Tensor
    """[inst, d_sae] bool: fired on the scoring sample."""


def score_sae_on_abs(codes: torch.Tensor, decoder: torch.Tensor, known: torch.Tensor, labels: torch.Tensor) -> AbsSAEScore:
    """Score latents against known directions and per-sample labels.

    codes [(inst,) batch, d_sae] latent activations, decoder [(inst,) d_sae, d] dictionary rows, known [dir, d], labels
    [batch, dir] bool ("x_i > 0" / "x_i < 0" for each part). Latent j is matched to k(j) = argmax_k cos(decoder_j,
    known_k); with F_j = [codes_j > 0] and L = labels[:, k(j)]:
    precision_j = Σ F_j L / Σ F_j,   recall_j = Σ F_j L / Σ L.
    """
    if codes.dim() == 2:
        codes, decoder = codes[None], decoder[None] if decoder.dim() == 2 else decoder
    if codes.dim() != 3 or decoder.dim() != 3 or codes.shape[-1] != decoder.shape[-2] or codes.shape[0] != decoder.shape[0]:
        raise ValueError(f"codes must be [(inst,) batch, d_sae] and decoder [(inst,) d_sae, d] with matching inst and d_sae, "
                         f"got {tuple(codes.shape)} and {tuple(decoder.shape)}")
    if labels.shape != (codes.shape[1], known.shape[0]):
        raise ValueError(f"labels must be [batch={codes.shape[1]}, dir={known.shape[0]}], got {tuple(labels.shape)}")
    cos = cosine_matrix(decoder, known)  # [inst, d_sae, dir]
    match_cos, match = cos.max(dim=-1)  # [inst, d_sae]
    fires = (codes > 0).float()  # [inst, batch, d_sae]
    lab = labels.float()[:, match]  # [batch, inst, d_sae]
    lab = lab.permute(1, 0, 2)  # [inst, batch, d_sae]
    hits = (fires * lab).sum(dim=1)
    n_fire, n_lab = fires.sum(dim=1), lab.sum(dim=1)
    nan = torch.tensor(float("nan"))
    per_dir = mcs(known, decoder)  # [inst, dir]
    return AbsSAEScore(
        mcs=per_dir, mmcs=per_dir.mean(-1), mcc=torch.as_tensor(mcc(known, decoder)).reshape(-1),
        match=match, match_cos=match_cos,
        precision=torch.where(n_fire > 0, hits / n_fire.clamp_min(1), nan),
        recall=torch.where(n_lab > 0, hits / n_lab.clamp_min(1), nan), alive=n_fire > 0,
    )


def plain_counterpart(result: AbsModelResult, instance: int = 0, steps: int | None = None, seed: int = 0):
    """A `sae_kit.TMSConfig` for the plain (storing, not computing) toy model x' = ReLU(WᵀW x + b) with the same n, m,
    feature probability and importance decay as instance `instance`: train it with `sk.train_tms` and wrap it in
    `sk.TMSData` to compare SAEs on a storing and a computing model at the same sparsity."""
    from sae_kit.toy.tms import TMSConfig

    cfg = result.cfg
    if isinstance(instance, bool) or not isinstance(instance, int) or not 0 <= instance < cfg.n_instances:
        raise ValueError(f"instance must be an int in [0, {cfg.n_instances - 1}], got {instance!r}")
    return TMSConfig(n_features=cfg.n_features, d_hidden=cfg.d_hidden, n_instances=1,
                     feature_probability=float(result.feature_probability[instance]), importance=cfg.importance,
                     steps=steps or cfg.steps, batch_size=cfg.batch_size, lr=cfg.lr, seed=seed, device=cfg.device)


def _score_source(data, sae, n_samples: int, seed: int) -> AbsSAEScore:
    """Score a trained `SAE` row on a fresh sample of a data source whose coefficients are > 0 where a part is on."""
    g = torch.Generator(device=data.device).manual_seed(seed)
    h, c = data.sample(n_samples, g)
    with torch.no_grad():
        return score_sae_on_abs(sae.encode(h), sae.dictionary, data.features, c > 0)


def compare_with_plain(result: AbsModelResult, instance: int, sae_cfg, train_cfg, n_samples: int = 8192,
                       seed: int = 0) -> dict[str, AbsSAEScore]:
    """Train the same SAE row on the computing model's hidden layer and on a plain toy model's (same n, m, p,
    importance; `plain_counterpart`, trained with `sk.train_tms`), and score both against their known directions.

    sae_cfg: an `SAEConfig` whose d is d_hidden; train_cfg: a `TrainConfig` (its device must be the data's, "cpu").
    Returns {"computing": AbsSAEScore, "plain": AbsSAEScore}; the plain model's known directions are its represented
    features Ŵ_i and its labels "x_i > 0".
    """
    from sae_kit.toy.tms import TMSData, train_tms
    from sae_kit.training.loop import train_sae

    check_positive_int("n_samples", n_samples)
    computing = AbsHiddenData(result, instance)
    plain = TMSData(train_tms(plain_counterpart(result, instance, seed=seed)))
    out = {}
    for name, data in (("computing", computing), ("plain", plain)):
        sae = train_sae(data, sae_cfg, train_cfg).sae
        out[name] = _score_source(data, sae, n_samples, seed)
    return out


def best_instance(score: AbsSAEScore) -> dict:
    """The instance of highest MMCS and its figures: {"instance", "mmcs", "mcc", "precision", "recall",
    "alive_fraction"}, precision and recall averaged over the latents that fired on the scoring sample."""
    i = int(score.mmcs.argmax())
    alive = score.alive[i]
    if not bool(alive.any()):
        raise ValueError(f"instance {i} has no latent that fired: precision and recall are undefined")
    return {"instance": i, "mmcs": float(score.mmcs[i]), "mcc": float(score.mcc[i]),
            "precision": float(score.precision[i][alive].nanmean()), "recall": float(score.recall[i][alive].nanmean()),
            "alive_fraction": float(alive.float().mean())}

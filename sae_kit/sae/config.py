"""What a row of sparse autoencoders is: its shape, architecture, loss terms and initialisation (`SAEConfig`).

The classes that implement each architecture live in `sae_kit.sae.base` (the shared base) and `sae_kit.sae.architectures`.
Fields are grouped: shape → architecture → loss → dead-latent remedies (AuxK; the pre-activation penalty) →
initialisation → fast paths.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from sae_kit._util import check_memory, check_positive_int, check_range

__all__ = ["SAEConfig", "report_sae_config", "ARCHITECTURES"]

ARCHITECTURES = ("l1", "topk", "batchtopk", "matryoshka")
L1Convention = Literal["mean", "sum"]
Architecture = Literal["l1", "topk", "batchtopk", "matryoshka"]
DecoderInit = Literal["orthogonal", "random", "noised_unit", "data", "pca", "given"]
EncoderInit = Literal["kaiming", "transpose"]


@dataclass
class SAEConfig:
    """Shape and loss of a row of `n_inst` sparse autoencoders."""

    # ---- shape: n_inst SAEs of d_sae latents on d-dimensional inputs, and α (one per instance when swept)
    d: int
    """Input (data) dimension."""
    d_sae: int
    """Dictionary size (number of latents)."""
    l1_coeff: float | Sequence[float] | None = None
    """α: one value for every instance, or one per instance (then `n_inst` defaults to its length). ≥ 0.
    None: 0.3 for "l1", 0 for TopK and BatchTopK (they need no penalty)."""
    n_inst: int | None = None
    """Number of SAEs trained side by side. None: the length of `l1_coeff` or `k` if one is a list, else 1."""
    # ---- architecture: how codes are made from the pre-activations
    architecture: Architecture = "l1"
    """"l1" (the report's), "topk" (k largest per sample), "batchtopk" (k·batch largest per batch) or "matryoshka"
    (nested prefixes, each reconstructing on its own); `SAE(cfg)` builds L1SAE, TopKSAE, BatchTopKSAE or MatryoshkaSAE
    (sae_kit.sae.architectures)."""
    k: int | Sequence[int] | None = None
    """Active latents per sample for TopK/BatchTopK: one value or one per instance, 1 ≤ k ≤ d_sae. Unused by "l1".
    "matryoshka": optional (None: ReLU codes with the L1 penalty; k: TopK codes)."""
    prefixes: Sequence[int] | None = None
    """"matryoshka" only: the nested prefix sizes m₁ < m₂ < … = d_sae; the loss averages each prefix's own MSE."""
    # ---- loss
    l1_convention: L1Convention = "mean"
    """"mean" over the dictionary (α comparable across sizes; the report's author's choice) or "sum"."""
    # ---- dead-latent remedies that are loss terms (AuxK, the pre-activation penalty); resampling is in TrainConfig
    aux_k: int = 0
    """AuxK: dead latents used to model the residual (Gao et al. use d/2). 0: no AuxK loss."""
    aux_coeff: float = 1 / 32
    """Weight of the AuxK loss (Gao et al.: 1/32). ≥ 0."""
    dead_after: int = 100_000
    """A latent that has not fired for this many training samples counts as dead (for AuxK and resampling)."""
    preact_std_coeff: float = 0.0
    """Weight of the penalty on the spread (std over latents) of the encoder pre-activations. ≥ 0."""
    # ---- initialisation
    decoder_init: DecoderInit = "orthogonal"
    """"orthogonal" (the replication code's: orthogonal matrix, rows then unit-normed), "random" (Gaussian unit rows),
    "noised_unit" (standard basis vectors plus N(0, 0.1²) noise), or set from data by `train_sae`: "data" (random data
    samples), "pca" (principal components), "given" (a dictionary passed as `init_dictionary`, e.g. the singular
    vectors of a layer's weights). See sae_kit.sae.dictionary_init."""
    encoder_init: EncoderInit = "transpose"
    """"transpose": W_enc = encoder_scale · W_dec, b_enc = 0 (Gao et al. 2024; the kit's default, it recovers features
    several times faster), or "kaiming": torch.nn.Linear's default, the report's."""
    encoder_scale: float = 1.0
    """Scale of the encoder rows when `encoder_init="transpose"`. > 0."""
    decoder_bias: bool = False
    """Add a learned b_dec to the reconstruction (the report: no)."""
    centre_input: bool = False
    """Subtract b_dec from the input before encoding (Bricken et al. 2023). Needs `decoder_bias=True`."""
    seed: int = 0
    """Seed of the initialisation."""
    # ---- fast path
    sparse_decode: bool | None = None
    """TopK only: decode with a gather of the k active rows (embedding_bag) instead of a dense matmul.
    None: sparse when k ≤ d_sae / 8 (faster on CPU there; see the benchmark)."""
    l1_coeffs: list[float] = field(init=False, repr=False)
    ks: list[int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        check_positive_int("d", self.d)
        check_positive_int("d_sae", self.d_sae)
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be 'l1', 'topk', 'batchtopk' or 'matryoshka', got {self.architecture!r}")
        self._check_prefixes()
        topk = self.architecture in ("topk", "batchtopk")
        if self.l1_coeff is None:
            self.l1_coeff = 0.0 if topk or (self.architecture == "matryoshka" and self.k is not None) else 0.3
        coeffs = [self.l1_coeff] if isinstance(self.l1_coeff, (int, float)) else list(self.l1_coeff)
        if not coeffs:
            raise ValueError("l1_coeff must be a number or a non-empty list of numbers ≥ 0, got an empty list")
        for i, a in enumerate(coeffs):
            check_range(f"l1_coeff[{i}]" if len(coeffs) > 1 else "l1_coeff", a, 0.0, float("inf"), high_open=True)
        if topk and self.k is None:
            raise ValueError(f"architecture={self.architecture!r} needs k (active latents per sample, 1 ≤ k ≤ d_sae)")
        ks = [] if self.k is None else [self.k] if isinstance(self.k, int) else list(self.k)
        for i, k in enumerate(ks):
            check_positive_int(f"k[{i}]" if len(ks) > 1 else "k", k)
            if k > self.d_sae:
                raise ValueError(f"k must be ≤ d_sae={self.d_sae}, got {k}")
        if self.n_inst is None:
            self.n_inst = max(len(coeffs), len(ks))
        check_positive_int("n_inst", self.n_inst)
        check_memory(dict(d_sae=self.d_sae, d=self.d, n_inst=self.n_inst), 2 * self.n_inst * self.d * self.d_sae, "W_enc, W_dec")
        if len(coeffs) == 1:
            coeffs = coeffs * self.n_inst
        if len(coeffs) != self.n_inst:
            raise ValueError(f"l1_coeff has {len(coeffs)} values but n_inst={self.n_inst}; give one value or n_inst values")
        if len(ks) == 1:
            ks = ks * self.n_inst
        if ks and len(ks) != self.n_inst:
            raise ValueError(f"k has {len(ks)} values but n_inst={self.n_inst}; give one value or n_inst values")
        self.l1_coeffs = [float(a) for a in coeffs]
        self.ks = [int(k) for k in ks]
        if isinstance(self.aux_k, bool) or not isinstance(self.aux_k, int) or not 0 <= self.aux_k <= self.d_sae:
            raise ValueError(f"aux_k must be an integer in [0, d_sae={self.d_sae}], got {self.aux_k!r}")
        if self.aux_k and not topk:  # (a TopK Matryoshka SAE has no AuxK either)
            raise ValueError("aux_k > 0 needs architecture 'topk' or 'batchtopk' (AuxK is a TopK remedy)")
        check_range("aux_coeff", self.aux_coeff, 0.0, float("inf"), high_open=True)
        check_positive_int("dead_after", self.dead_after)
        check_range("preact_std_coeff", self.preact_std_coeff, 0.0, float("inf"), high_open=True)
        if self.sparse_decode is None:
            self.sparse_decode = self.architecture == "topk" and max(self.ks) * 8 <= self.d_sae
        if self.sparse_decode and self.architecture != "topk":
            raise ValueError("sparse_decode=True needs architecture 'topk' (a fixed number of active latents per sample)")
        if self.l1_convention not in ("mean", "sum"):
            raise ValueError(f"l1_convention must be 'mean' or 'sum', got {self.l1_convention!r}")
        if self.decoder_init not in ("orthogonal", "random", "noised_unit", "data", "pca", "given"):
            raise ValueError(
                f"decoder_init must be one of 'orthogonal', 'random', 'noised_unit', 'data', 'pca', 'given', got {self.decoder_init!r}"
            )
        if self.encoder_init not in ("kaiming", "transpose"):
            raise ValueError(f"encoder_init must be 'kaiming' or 'transpose', got {self.encoder_init!r}")
        check_range("encoder_scale", self.encoder_scale, 0.0, float("inf"), low_open=True, high_open=True)
        if self.centre_input and not self.decoder_bias:
            raise ValueError("centre_input=True needs decoder_bias=True (the input is centred by b_dec)")

    def _check_prefixes(self) -> None:
        """"matryoshka" needs prefixes (strictly ascending integers in [1, d_sae] ending at d_sae); others refuse them."""
        if self.architecture != "matryoshka":
            if self.prefixes is not None:
                raise ValueError(f"prefixes is only for architecture='matryoshka', got prefixes={self.prefixes!r} with "
                                 f"architecture={self.architecture!r}")
            return
        p = None if self.prefixes is None else list(self.prefixes)
        if not p or any(isinstance(m, bool) or not isinstance(m, int) for m in p) or p != sorted(set(p)) \
                or p[0] < 1 or p[-1] != self.d_sae:
            raise ValueError(f"prefixes must be strictly ascending integers in [1, d_sae={self.d_sae}] ending at d_sae "
                             f"(architecture='matryoshka'), got {self.prefixes!r}")
        self.prefixes = p

    def to_dict(self) -> dict:
        """JSON-ready fields (what `SAEConfig(**d)` accepts)."""
        return {
            "d": self.d, "d_sae": self.d_sae, "l1_coeff": list(self.l1_coeffs), "n_inst": self.n_inst,
            "architecture": self.architecture, "k": list(self.ks) or None, "aux_k": self.aux_k,
            "aux_coeff": self.aux_coeff, "dead_after": self.dead_after, "preact_std_coeff": self.preact_std_coeff,
            "sparse_decode": self.sparse_decode, "l1_convention": self.l1_convention, "decoder_init": self.decoder_init,
            "encoder_init": self.encoder_init, "encoder_scale": self.encoder_scale,
            "decoder_bias": self.decoder_bias, "centre_input": self.centre_input, "seed": self.seed,
            "prefixes": self.prefixes,
        }


def report_sae_config(d: int, d_sae: int, l1_coeff: float | Sequence[float] = 0.3, **overrides) -> SAEConfig:
    """The report's autoencoder: orthogonal decoder, nn.Linear (kaiming) encoder, no decoder bias, mean L1."""
    base = dict(decoder_init="orthogonal", encoder_init="kaiming", decoder_bias=False, centre_input=False, l1_convention="mean")
    return SAEConfig(d=d, d_sae=d_sae, l1_coeff=l1_coeff, **{**base, **overrides})

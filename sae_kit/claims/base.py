"""A published claim and how a run compares, and one constant per published source (with its URL).

Every notebook's criteria live beside this module in `sae_kit.claims`: `toy_models` (notebooks 01–02), `dictionaries`
(03–04), `lm` (05), `beyond` (06), `next_toy` (07), `evals` (08). A criterion is a small function with a
docstring that states it, tested with a hand-made input that passes and one that must fail (tests/test_claims.py).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Claim", "SHARKEY_2022", "SHARKEY_2023", "REPORT_DISCUSSION", "ANDERS_2024", "GAO_2024", "BRICKEN_2023",
           "SPARSIFY_MUON", "DEEP_SAE_DISCUSSION", "ELHAGE_2022"]


@dataclass
class Claim:
    """One published claim and how our run compares."""

    id: str
    """Short key, unique within the notebook."""
    claim: str
    """The claim in a sentence."""
    source: str
    """Where it is published (author, year, title, URL)."""
    published: str
    """The published figure or statement."""
    ours: str
    """Our figure."""
    replicated: bool
    """Whether our figure supports the claim (by the criterion stated in the notebook)."""


SHARKEY_2022 = ("Sharkey, Braun & Millidge (2022), interim report, "
                "https://www.lesswrong.com/posts/z6QQJbtpkEAX3Aojj/interim-research-report-taking-features-out-of-superposition")
GAO_2024 = "Gao et al. (2024), Scaling and evaluating sparse autoencoders, https://arxiv.org/abs/2406.04093"
BRICKEN_2023 = "Bricken et al. (2023), Towards Monosemanticity, https://transformer-circuits.pub/2023/monosemantic-features"
SPARSIFY_MUON = "EleutherAI sparsify, Muon PR #59 (https://github.com/EleutherAI/sparsify/pull/59)"
DEEP_SAE_DISCUSSION = (
    "Abraham (2025), Deep sparse autoencoders yield interpretable features too, and its discussion (stacked TopK: L. Quirke; "
    "a pre-activation std penalty: A. Abraham), https://www.lesswrong.com/posts/tLCBJn3NcSNzi5xng/deep-sparse-autoencoders-yield-interpretable-features-too"
)

SHARKEY_2023 = ("Sharkey, Braun & Millidge (2023), A small update to the Sparse Coding interim research report, "
                "https://www.lesswrong.com/posts/DezghAd4bdxivEknM/a-small-update-to-the-sparse-coding-interim-research-report")
REPORT_DISCUSSION = ("Reviewers' comments on the interim report (2022), "
                     "https://www.lesswrong.com/posts/z6QQJbtpkEAX3Aojj/interim-research-report-taking-features-out-of-superposition")
ANDERS_2024 = ("Anders et al. (2024), Sparse autoencoders find composed features in small toy models, "
              "https://www.lesswrong.com/posts/a5wwqza2cY3W7L9cj/sparse-autoencoders-find-composed-features-in-small-toy")

ELHAGE_2022 = "Elhage et al. (2022), Toy Models of Superposition, https://transformer-circuits.pub/2022/toy_model/index.html"

"""Published claims and the criteria by which a notebook's run replicates them.

Each function takes a notebook's results and returns `Claim` rows: the claim, its source (with a link), the published
figure, ours, and whether ours meets the stated criterion. `base` holds `Claim` and one constant per source; the
criteria are grouped by notebook (`toy_models`: 01–02, `dictionaries`: 03–04, `lm`: 05, `beyond`: 06, `next_toy`: 07,
`evals`: 08).
"""

from sae_kit.claims.base import (
    ANDERS_2024,
    BRICKEN_2023,
    DEEP_SAE_DISCUSSION,
    ELHAGE_2022,
    GAO_2024,
    REPORT_DISCUSSION,
    SHARKEY_2022,
    SHARKEY_2023,
    SPARSIFY_MUON,
    Claim,
)
from sae_kit.claims.beyond import stacked_claim, toolbox_claims
from sae_kit.claims.dictionaries import mcs_histogram_claims, sae_training_claims
from sae_kit.claims.evals import KISSANE_2024, PAULO_2024, eval_claims
from sae_kit.claims.lm import LM_CRITERIA, MIN_SCORE_F1, lm_claims
from sae_kit.claims.next_toy import CHANIN_2024, NABESHIMA_2024, absorption_claim, collapse_claim, motif_claim, next_toy_claims
from sae_kit.claims.toy_models import STICKY_FRACTIONS, interference_claim, ratio_claims, sticky_claim, tms_claims

__all__ = ["Claim", "lm_claims", "LM_CRITERIA", "MIN_SCORE_F1", "motif_claim", "absorption_claim", "collapse_claim",
           "sae_training_claims", "mcs_histogram_claims", "toolbox_claims", "stacked_claim", "tms_claims",
           "sticky_claim", "ratio_claims", "interference_claim", "STICKY_FRACTIONS", "SHARKEY_2022", "SHARKEY_2023",
           "REPORT_DISCUSSION", "ANDERS_2024", "GAO_2024", "BRICKEN_2023", "SPARSIFY_MUON", "DEEP_SAE_DISCUSSION",
           "ELHAGE_2022", "eval_claims", "KISSANE_2024", "PAULO_2024", "next_toy_claims", "CHANIN_2024",
           "NABESHIMA_2024"]

"""Implement-and-check exercises: write the function in a notebook, then `sk.exercises.check_<name>(your_fn)`.

Each checker runs your function and a reference (`sk.exercises.solutions.<name>`) on several seeded inputs (various
shapes and edge cases), prints '✓ <checker> passed (N cases)' or what differs (which case, which output, expected
against got, the max abs error, and a hint naming the likely mistake), and returns True or False. `strict=True`
raises `ExerciseError` instead of returning False; `seed` changes the random inputs.

    import sae_kit as sk
    def tms_forward(W, b, x):            # W [inst, d_hidden, feat], b [inst, feat], x [inst, batch, feat]
        ...
    sk.exercises.check_tms_forward(tms_forward)

Exercises (signature → output; shapes use the kit's dimension names):
- check_tms_forward     fn(W, b, x) → x'                          x' = ReLU(Wᵀ W x + b)
- check_tms_loss        fn(x, x_hat, importance) → [inst]         mean_batch mean_feat I_i (x_i − x'_i)²
- check_dimensionality  fn(W) → D [inst, feat]                    D_i = ‖W_i‖² / Σ_j (Ŵ_i · W_j)²
- check_sae_forward     fn(x, W_enc, b_enc, W_dec) → (x_hat, codes)
- check_l1_loss         fn(x, x_hat, codes, alpha) → [inst]       MSE + α · mean-over-latents L1
- check_decoder_renorm  fn(W_dec) → W_dec with unit rows
- check_mmcs            fn(truth, learned) → float                MMCS(truth → learned)
- check_mcc             fn(truth, learned) → float                MCC with a one-to-one (Hungarian) matching
- check_topk            fn(pre, k) → codes                        TopK activation (Gao et al. 2024)
- check_auxk_loss       fn(x, x_hat, pre, W_dec, dead, aux_k) → [inst]   AuxK (Gao et al. 2024)
- check_matryoshka_loss fn(codes, W_dec, x, prefixes) → [inst]    mean over nested prefixes of each one's MSE
"""

from sae_kit.exercises import solutions
from sae_kit.exercises._check import ExerciseError
from sae_kit.exercises.absorption_checks import check_matryoshka_loss
from sae_kit.exercises.metric_checks import check_mcc, check_mmcs
from sae_kit.exercises.sae_checks import check_auxk_loss, check_decoder_renorm, check_l1_loss, check_sae_forward, check_topk
from sae_kit.exercises.toy_checks import check_dimensionality, check_tms_forward, check_tms_loss

__all__ = [
    "solutions", "ExerciseError", "check_tms_forward", "check_tms_loss", "check_dimensionality", "check_sae_forward",
    "check_l1_loss", "check_decoder_renorm", "check_mmcs", "check_mcc", "check_topk", "check_auxk_loss",
    "check_matryoshka_loss",
]

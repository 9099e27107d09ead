"""sae-kit: sparse autoencoders that take features out of superposition — replicate, learn, go beyond.

    import sae_kit as sk
    data = sk.ToyData(sk.ToyDataConfig())
    result = sk.train_sae(data, sk.SAEConfig(d=256, d_sae=512, l1_coeff=[0.03, 0.1, 0.3]))
    sk.mmcs(data.features, result.sae.dictionary[0])
"""

from sae_kit import claims, geometry, phase, plots, report, widgets
from sae_kit._util import is_headless, resolve_device
from sae_kit.claims import ratio_claims, sae_training_claims, tms_claims
from sae_kit.geometry import (
    dimensions_per_feature,
    feature_cosines,
    feature_dimensionality,
    feature_norms,
    interference_stats,
    superposition,
)
from sae_kit.io import load_checkpoint, read_json, save_checkpoint, write_json
from sae_kit.metrics import (
    cosine_matrix,
    dead_latents,
    dictionary_mmcs,
    fraction_variance_explained,
    l0,
    mcs,
    mmcs,
    mmcs_learned_to_truth,
    mmcs_truth_to_learned,
)
from sae_kit.ratios import RatioSweepConfig, RatioSweepResult, ratio_sweep
from sae_kit.sae import SAE, SAEConfig, SAEOutput, report_sae_config
from sae_kit.sweep import GridResult, goldilocks_zone, report_alphas, report_sizes, train_grid
from sae_kit.tms import TMSConfig, TMSData, TMSResult, check_superposition, train_tms
from sae_kit.toy_data import DataSource, ToyData, ToyDataConfig, activation_probabilities, toy_data_stats
from sae_kit.train import TrainConfig, TrainResult, evaluate, report_train_config, train_sae

__version__ = "0.1.0"

__all__ = [
    "DataSource", "ToyData", "ToyDataConfig", "activation_probabilities", "toy_data_stats",
    "SAE", "SAEConfig", "SAEOutput", "report_sae_config",
    "TrainConfig", "TrainResult", "train_sae", "evaluate", "report_train_config",
    "GridResult", "train_grid", "report_alphas", "report_sizes", "goldilocks_zone", "plots", "report", "claims",
    "sae_training_claims", "tms_claims", "ratio_claims", "widgets",
    "RatioSweepConfig", "RatioSweepResult", "ratio_sweep",
    "cosine_matrix", "mcs", "mmcs", "mmcs_truth_to_learned", "mmcs_learned_to_truth", "dead_latents", "l0",
    "fraction_variance_explained", "dictionary_mmcs",
    "save_checkpoint", "load_checkpoint", "read_json", "write_json",
    "is_headless", "resolve_device",
    "TMSConfig", "TMSResult", "TMSData", "train_tms", "check_superposition", "geometry", "phase",
    "feature_norms", "feature_dimensionality", "dimensions_per_feature", "superposition", "feature_cosines",
    "interference_stats",
]

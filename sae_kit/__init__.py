"""sae-kit: sparse autoencoders that take features out of superposition — replicate, learn, go beyond.

    import sae_kit as sk
    data = sk.ToyData(sk.ToyDataConfig())
    result = sk.train_sae(data, sk.SAEConfig(d=256, d_sae=512, l1_coeff=[0.03, 0.1, 0.3]))
    sk.mmcs(data.features, result.sae.dictionary[0])

The folders are the layers, bottom up: `toy` (data and toy models), `sae` (one class per architecture), `training`
(the loop and its hooks), `lm` (the tiny language model and what is measured on it), `analysis` (metrics and
experiments), `claims` (published claims and their criteria), `plots`, `explorers` and `report`; `exercises` holds the
notebooks' implement-and-check exercises. Everything a notebook needs is importable from here.
"""

from sae_kit import claims, exercises, plots, report
from sae_kit._util import is_headless, native_bf16, resolve_device
from sae_kit.analysis import absorption_rows
from sae_kit.analysis.abs_hidden import AbsHiddenData, AbsSAEScore, compare_with_plain, plain_counterpart, score_sae_on_abs
from sae_kit.analysis.absorption import (
    AbsorptionScore,
    ToySAE,
    ToySAEConfig,
    absorption_scores,
    matryoshka_loss,
    train_toy_sae,
)
from sae_kit.analysis.collapse import CollapseConfig, CollapseResult, collapse_alpha, fit_power_law, run_collapse
from sae_kit.analysis.compare import Recipe, RecipeResult, compare_recipes, frontier_gap, recommend, samples_to_mmcs
from sae_kit.analysis.estimate import FeatureCountEstimate, estimate_n_features
from sae_kit.analysis.metrics import (
    cosine_matrix,
    dead_latents,
    dictionary_mmcs,
    fraction_variance_explained,
    l0,
    mcc,
    mcs,
    mmcs,
    mmcs_learned_to_truth,
    mmcs_truth_to_learned,
    principal_angles,
)
from sae_kit.analysis.recovery import PlaneData, first_found, plane_recovery, rank_correlation, shared_features
from sae_kit.analysis.undertraining import LengthSweepResult, length_sweep
from sae_kit.claims import (
    absorption_claim,
    collapse_claim,
    motif_claim,
    ratio_claims,
    sae_training_claims,
    stacked_claim,
    tms_claims,
    toolbox_claims,
)
from sae_kit.explorers import explore, widgets
from sae_kit.explorers import plots as explorer_plots
from sae_kit.io import load_checkpoint, read_json, save_checkpoint, write_json
from sae_kit.lm import analysis as lm_analysis
from sae_kit.lm.activations import collect_activations, flatten_positions
from sae_kit.lm.attribution import DFASummary, dfa_summary, direct_feature_attribution, flatten_heads, planted_heads
from sae_kit.lm.corpus import (
    Corpus,
    CorpusConfig,
    TokenizedCorpus,
    Tokenizer,
    generate_stories,
    load_hf_dataset,
    load_text_file,
    train_tokenizer,
)
from sae_kit.lm.heldout import StorySplit, evaluate_heldout, expected_unseen, firing_counts, split_by_story, story_bounds
from sae_kit.lm.metrics import CoreMetrics, core_metrics
from sae_kit.lm.model import LMConfig, TinyLM, TransformerLensAdapter, load_lm, save_lm
from sae_kit.lm.scoring import ScoringConfig, ScoringResult, score_latents
from sae_kit.lm.train import LMTrainConfig, LMTrainResult, train_lm
from sae_kit.report import figures_png, html_report, profiles
from sae_kit.report.profiles import notebook_profile
from sae_kit.sae.architectures import L1SAE, BatchTopKSAE, MatryoshkaSAE, TopKSAE
from sae_kit.sae.base import SAE, SAEConfig, SAEOutput, load_sae, make_sae, report_sae_config
from sae_kit.sae.deep_sae import DeepSAE, DeepSAEConfig, DeepSAEResult, train_deep_sae
from sae_kit.sae.dictionary_init import INITS, data_dictionary, init_dictionary_, make_dictionary, pca_dictionary, weight_dictionary
from sae_kit.sae.saelens import load_saelens, save_saelens
from sae_kit.sae.stacked import ResidualSource, StackedResult, StackedSAE, train_stacked
from sae_kit.toy import geometry, phase
from sae_kit.toy.abs_model import AbsModelConfig, AbsModelResult, neuron_motifs, train_abs_model
from sae_kit.toy.data import DataSource, ToyData, ToyDataConfig, activation_probabilities, toy_data_stats
from sae_kit.toy.geometry import (
    dimensions_per_feature,
    feature_cosines,
    feature_dimensionality,
    feature_norms,
    interference_stats,
    superposition,
)
from sae_kit.toy.hierarchy import HierarchyConfig, HierarchyData
from sae_kit.toy.ratios import RatioSweepConfig, RatioSweepResult, ratio_sweep
from sae_kit.toy.tms import TMSConfig, TMSData, TMSResult, check_superposition, train_tms
from sae_kit.training.history import EvalHistory, History, LossHistory, MCSHistory, MMCSHistory
from sae_kit.training.loop import (
    TrainConfig,
    TrainResult,
    evaluate,
    mmcs_train_config,
    report_train_config,
    scaled_train_config,
    train_sae,
    training_step,
)
from sae_kit.training.optim import SAEOptimizer
from sae_kit.training.remedies import resample_dead_
from sae_kit.training.schedule import lr_at
from sae_kit.training.sweep import GridResult, goldilocks_zone, report_alphas, report_sizes, train_grid

__version__ = "0.1.0"

__all__ = [
    "DataSource", "ToyData", "ToyDataConfig", "activation_probabilities", "toy_data_stats",
    "SAE", "SAEConfig", "SAEOutput", "report_sae_config", "SAEOptimizer", "resample_dead_",
    "make_sae", "load_sae", "L1SAE", "TopKSAE", "BatchTopKSAE", "MatryoshkaSAE", "lr_at", "training_step",
    "History", "LossHistory", "MMCSHistory", "MCSHistory", "EvalHistory",
    "Recipe", "RecipeResult", "compare_recipes", "samples_to_mmcs", "frontier_gap", "recommend", "make_dictionary", "INITS",
    "data_dictionary", "pca_dictionary", "weight_dictionary", "init_dictionary_",
    "TrainConfig", "TrainResult", "train_sae", "evaluate", "report_train_config", "mmcs_train_config", "scaled_train_config",
    "GridResult", "train_grid", "report_alphas", "report_sizes", "goldilocks_zone", "plots", "report", "claims",
    "sae_training_claims", "toolbox_claims", "stacked_claim", "tms_claims", "ratio_claims", "widgets", "figures_png",
    "explore", "explorer_plots", "profiles", "notebook_profile", "absorption_rows",
    "StackedSAE", "StackedResult", "ResidualSource", "train_stacked",
    "RatioSweepConfig", "RatioSweepResult", "ratio_sweep",
    "cosine_matrix", "mcs", "mmcs", "mmcs_truth_to_learned", "mmcs_learned_to_truth", "dead_latents", "l0",
    "fraction_variance_explained", "dictionary_mmcs", "mcc", "principal_angles",
    "save_checkpoint", "load_checkpoint", "read_json", "write_json",
    "is_headless", "native_bf16", "resolve_device",
    "estimate_n_features", "FeatureCountEstimate", "PlaneData", "plane_recovery", "first_found", "rank_correlation", "shared_features",
    "Corpus", "CorpusConfig", "TokenizedCorpus", "Tokenizer", "generate_stories", "load_hf_dataset", "load_text_file",
    "train_tokenizer", "LMConfig", "TinyLM", "TransformerLensAdapter", "load_lm", "save_lm", "LMTrainConfig",
    "LMTrainResult", "train_lm", "collect_activations", "flatten_positions", "lm_analysis",
    "StorySplit", "story_bounds", "split_by_story", "evaluate_heldout", "firing_counts", "expected_unseen",
    "save_saelens", "load_saelens", "html_report",
    "TMSConfig", "TMSResult", "TMSData", "train_tms", "check_superposition", "geometry", "phase",
    "feature_norms", "feature_dimensionality", "dimensions_per_feature", "superposition", "feature_cosines",
    "interference_stats", "exercises",
    "DFASummary", "dfa_summary", "direct_feature_attribution", "flatten_heads", "planted_heads", "DeepSAE", "DeepSAEConfig",
    "DeepSAEResult", "train_deep_sae", "CoreMetrics", "core_metrics", "ScoringConfig", "ScoringResult", "score_latents",
    "LengthSweepResult", "length_sweep",
    "AbsModelConfig", "AbsModelResult", "train_abs_model", "neuron_motifs", "motif_claim", "AbsHiddenData", "AbsSAEScore",
    "score_sae_on_abs", "plain_counterpart", "compare_with_plain", "HierarchyConfig", "HierarchyData", "matryoshka_loss", "ToySAE",
    "ToySAEConfig", "train_toy_sae", "AbsorptionScore", "absorption_scores", "absorption_claim", "CollapseConfig",
    "CollapseResult", "run_collapse", "collapse_alpha", "fit_power_law", "collapse_claim",
]

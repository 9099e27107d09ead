"""Every notebook's profiles: how big its experiments are, and what each costs on 2 CPU cores.

A notebook's first cell names a profile; `notebook_profile(stem, profile)` returns that profile's settings, so the
notebook itself stays free of size tables. The profiles (`PROFILE_NAMES`):

- **lab**: the default, for a person at a keyboard. Run All finishes within about 3 minutes on 2 CPU cores and shows
  every figure and explorer; the replication's sizes are a parameter away.
- **ci**: the smallest, what CI executes twice (papermill, then nbval) and the tests read.
- **quick**: the report's sizes with shorter training.
- **full**: the published sizes and training (`make replicate`); minutes to a quarter of an hour each.

To switch, edit the `profile = "lab"` line in the notebook's first cell, or run it headless:
`python -m sae_kit --only 03 --profile full` (papermill injects the parameter). The measured wall time of every
notebook under every profile is in the README's notebook map.
"""

from __future__ import annotations

import numpy as np

__all__ = ["PROFILE_NAMES", "NOTEBOOK_PROFILES", "notebook_profile", "profile_costs"]

PROFILE_NAMES = ("lab", "ci", "quick", "full")
"""The profiles every notebook has; "lab" is the notebooks' default, "full" what `make replicate` runs."""

_TMS_LR = 1e-2  # notebook 01's lab, ci and quick: cosine decay from 1e-2 reaches Elhage et al.'s geometries sooner
_RATIO_ALPHAS_WIDE = [0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]  # notebook 02's quick and full α grid (before × d_sae/d)

NOTEBOOK_PROFILES: dict[str, dict[str, dict]] = {
    "01_toy_superposition": {
        "lab": dict(n5_dens=[1.0, 0.5, 0.3, 0.2, 0.1, 0.05, 0.03, 0.01], n5=dict(steps=2000, lr=_TMS_LR, n_seeds=4, batch_size=256),
                    n20_dens=np.geomspace(1, 0.01, 9).tolist(), n20=dict(steps=1000, lr=_TMS_LR, n_seeds=2, batch_size=256),
                    phase_n=10, phase=dict(steps=1000, lr=_TMS_LR, n_seeds=2, batch_size=256),
                    sticky=dict(n_features=40, d_hidden=8), sticky_n=20,
                    sticky_train=dict(steps=1000, lr=_TMS_LR, batch_size=256)),
        "ci": dict(n5_dens=[1.0, 0.5, 0.3, 0.1, 0.03], n5=dict(steps=2000, lr=_TMS_LR, n_seeds=4, batch_size=256),
                   n20_dens=np.geomspace(1, 0.01, 7).tolist(), n20=dict(steps=1000, lr=_TMS_LR, n_seeds=2, batch_size=256),
                   phase_n=8, phase=dict(steps=1000, lr=_TMS_LR, n_seeds=2, batch_size=256),
                   sticky=dict(n_features=40, d_hidden=8), sticky_n=20,
                   sticky_train=dict(steps=1000, lr=_TMS_LR, batch_size=256)),
        "quick": dict(n5_dens=[1.0, 0.5, 0.3, 0.2, 0.1, 0.05, 0.03, 0.01], n5=dict(steps=3000, lr=_TMS_LR, n_seeds=8),
                      n20_dens=np.geomspace(1, 0.01, 11).tolist(), n20=dict(steps=2000, lr=_TMS_LR, n_seeds=4),
                      phase_n=12, phase=dict(steps=2000, lr=_TMS_LR, n_seeds=3),
                      sticky=dict(n_features=80, d_hidden=10), sticky_n=16, sticky_train=dict(steps=2000, lr=_TMS_LR)),
        "full": dict(n5_dens=[1.0, 0.5, 0.3, 0.2, 0.1, 0.05, 0.03, 0.01], n5=dict(steps=10_000, lr=1e-3, n_seeds=10),
                     n20_dens=np.geomspace(1, 0.01, 11).tolist(), n20=dict(steps=10_000, lr=1e-3, n_seeds=5),
                     phase_n=20, phase=dict(steps=5000, lr=3e-3, n_seeds=4),
                     sticky=dict(n_features=100, d_hidden=10), sticky_n=20, sticky_train=dict(steps=5000, lr=3e-3)),
    },
    "02_strongly_interfering_ratios": {
        "lab": dict(ratios=[0.5, 1, 2, 4, 8, 16, 32], d=8, sae_steps=1000, tms_steps=1000, tms_batch_size=256, tms_seeds=1),
        "ci": dict(ratios=[1, 2, 4, 8, 16, 32], d=8, sae_steps=1000, tms_steps=1000, tms_batch_size=256, tms_seeds=1),
        # quick and full widen the α grid upwards (3, 10): at d = 16 the best α of the largest ratios sat at the
        # default grid's top (1.0), where the recovery criterion cannot judge the ratio
        "quick": dict(ratios=[0.5, 1, 2, 4, 8, 16, 32], d=16, sae_steps=3000, tms_steps=2000, tms_batch_size=1024, tms_seeds=2,
                      alphas=_RATIO_ALPHAS_WIDE),
        "full": dict(ratios=[0.5, 1, 2, 4, 8, 16, 32, 64], d=16, sae_steps=8000, tms_steps=4000, tms_batch_size=1024,
                     tms_seeds=2, alphas=_RATIO_ALPHAS_WIDE),
    },
    "03_sae_training": {  # grid_steps × batch_size fresh samples per SAE in the grid; the single row: one_steps × one_batch
        # (quick and full: the defaults' own 3,125 steps of 64 on the default toy data)
        "lab": dict(data=dict(n_features=128, d=64, avg_active=3.0), one_alphas=[0.1, 0.3, 1.0, 3.0], one_steps=3000, one_batch=256,
                    alpha_e=(-8, 8, 2), size_e=(-2, 2), grid_steps=2000, batch_size=256),
        "ci": dict(data=dict(n_features=128, d=64, avg_active=3.0), one_alphas=[0.1, 0.3, 1.0, 3.0], one_steps=3000, one_batch=256,
                   alpha_e=(-8, 8, 2), size_e=(-2, 2), grid_steps=2000, batch_size=256),
        "quick": dict(data=dict(), one_alphas=[0.1, 0.3, 1.0, 3.0], one_steps=3125, one_batch=64,
                      alpha_e=(-8, 8, 2), size_e=(-2, 3), grid_steps=600, batch_size=256),
        "full": dict(data=dict(), one_alphas=[0.1, 0.3, 1.0, 3.0], one_steps=3125, one_batch=64,
                     alpha_e=(-8, 8, 2), size_e=(-2, 3), grid_steps=1800, batch_size=256),
    },
    "04_mcs_histograms": {  # steps × batch fresh samples per SAE; sizes are the dictionary sizes of every grid
        "lab": dict(d=32, G=64, m=3.0, sizes=[16, 32, 64, 128, 256], alphas=[0.1, 0.3, 1.0], steps=1500, batch=256,
                    true_G=[32, 64, 128], plane=dict(G=48, d_sae=96, alpha=0.3, n_inst=4, steps=2000)),
        "ci": dict(d=16, G=32, m=2.0, sizes=[8, 16, 32, 64, 128], alphas=[0.3, 1.0], steps=500, batch=256,
                   true_G=[16, 32, 64], plane=dict(G=24, d_sae=48, alpha=0.3, n_inst=4, steps=600)),
        "quick": dict(d=32, G=64, m=3.0, sizes=[16, 32, 64, 128, 256], alphas=[0.1, 0.3, 1.0], steps=1500, batch=256,
                      true_G=[32, 64, 128], plane=dict(G=48, d_sae=96, alpha=0.3, n_inst=4, steps=2000)),
        "full": dict(d=64, G=128, m=3.0, sizes=[32, 64, 128, 256, 512], alphas=[0.1, 0.3, 1.0, 3.0], steps=3000, batch=256,
                     true_G=[64, 128, 256], plane=dict(G=96, d_sae=192, alpha=0.3, n_inst=6, steps=3000)),
    },
    "05_lm_replication": {
        "lab": dict(stories=1250, heldout=0.2, sizes=[64, 128, 256, 512], alphas=[3.0, 10.0, 30.0], steps=1000,
                    toy_features=256, label_min_count=10, score_tokens=30_000),
        "ci": dict(stories=375, heldout=0.2, sizes=[64, 128, 256], alphas=[3.0, 10.0, 30.0], steps=400, toy_features=256,
                   label_min_count=10, score_tokens=30_000),
        "quick": dict(stories=3125, heldout=0.2, sizes=[128, 256, 512, 1024, 2048], alphas=[3.0, 10.0, 30.0], steps=2500,
                      toy_features=512, label_min_count=20, score_tokens=40_000),
        "full": dict(stories=5000, heldout=0.2, sizes=[128, 256, 512, 1024, 2048, 4096], alphas=[3.0, 10.0, 30.0, 100.0],
                     steps=5000, toy_features=512, label_min_count=20, score_tokens=40_000),
    },
    "06_beyond_the_report": {  # steps × batch_size fresh samples per SAE; every recipe gets the same budget
        "lab": dict(data=dict(n_features=128, d=64, avg_active=3.0), steps=1000, batch_size=256,
                    lm=dict(stories=300, d_sae=256, steps=400, stack_depth=3, stack_k=2)),
        "ci": dict(data=dict(n_features=128, d=64, avg_active=3.0), steps=1000, batch_size=256,
                   lm=dict(stories=300, d_sae=256, steps=400, stack_depth=3, stack_k=2)),
        "quick": dict(data=dict(), steps=2000, batch_size=256,
                      lm=dict(stories=2500, d_sae=1024, steps=2500, stack_depth=4, stack_k=2)),
        "full": dict(data=dict(), steps=5000, batch_size=256,
                     lm=dict(stories=4000, d_sae=1024, steps=5000, stack_depth=5, stack_k=2)),
    },
    "07_computation_absorption_collapse": {  # abs: the absolute-value model (lr 1e-2 reaches the
        # motifs in fewer steps than Elhage et al.'s 1e-3); sae: SAEs on its hidden layer; tree: absorption; collapse: α*
        "lab": dict(abs=dict(probabilities=[1.0, 0.3, 0.1, 0.03, 0.01], steps=1000, batch_size=512, lr=1e-2), sae_p=0.03,
                    sae=dict(alphas=[0.3, 1.0, 3.0], width=2, steps=1000, batch_size=256),
                    tree=dict(steps=1200, alphas=[0.003, 0.005, 0.01, 0.02, 0.03], ks=[1, 2]),
                    collapse=dict(n_features=32, d=16, avg_active=2.0, sizes=[32, 64, 128], seeds=3, steps=600,
                                  mean=(-2, 6), sum=(-10, -2))),
        "ci": dict(abs=dict(probabilities=[1.0, 0.1, 0.03, 0.01], steps=600, batch_size=512, lr=1e-2), sae_p=0.03,
                   sae=dict(alphas=[0.3, 1.0, 3.0], width=1, steps=600, batch_size=256),
                   tree=dict(steps=1000, alphas=[0.005, 0.01, 0.02], ks=[1, 2]),
                   collapse=dict(n_features=32, d=16, avg_active=2.0, sizes=[32, 64, 128], seeds=2, steps=600,
                                 mean=(-2, 6), sum=(-10, -2))),
        "quick": dict(abs=dict(probabilities=[1.0, 0.3, 0.1, 0.03, 0.01, 0.003], steps=3000, batch_size=1024, lr=3e-3), sae_p=0.03,
                      sae=dict(alphas=[0.1, 0.3, 1.0, 3.0], width=2, steps=2000, batch_size=256),
                      tree=dict(steps=3000, alphas=[0.002, 0.003, 0.005, 0.01, 0.02, 0.03], ks=[1, 2]),
                      collapse=dict(n_features=64, d=32, avg_active=3.0, sizes=[64, 128, 256, 512], seeds=3, steps=1000,
                                    mean=(-2, 8), sum=(-12, -2))),
        "full": dict(abs=dict(probabilities=[1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001], steps=5000, batch_size=1024,
                              lr=3e-3),
                     sae_p=0.03, sae=dict(alphas=[0.1, 0.3, 1.0, 3.0], width=2, steps=5000, batch_size=256),
                     tree=dict(steps=10_000, alphas=[0.003, 0.005, 0.01, 0.02], ks=[1, 2]),
                     # collapse: the report's ratio G/d = 2; up to 8G latents, which at 2,000 steps still reach
                     # MMCS ≥ 0.8 (16G at 1,500 steps never did, so α* was undefined there)
                     collapse=dict(n_features=128, d=64, avg_active=3.0, sizes=[128, 256, 512, 1024], seeds=2,
                                   steps=2000, mean=(-2, 9), sum=(-12, -2))),
    },
    "08_measuring_lm_saes": {  # SAEs on the tiny LM (MLP and attention), scoring, length sweeps (×multipliers), deep SAEs
        "lab": dict(stories=400, heldout=0.2, core_windows=24, label_min_count=10,
                    mlp=dict(d_sae=256, k=8, steps=600), attn=dict(layer=1, d_sae=128, k=4, steps=600),
                    planted=dict(n_feat=16, n_tok=10_000, steps=600), multipliers=[1, 3, 10],
                    toy_sweep=dict(data=dict(n_features=32, d=16, avg_active=2.0), sizes=[16, 32, 64], alpha=0.3, steps=60),
                    lm_sweep=dict(sizes=[64, 128, 256], alpha=3.0, steps=60),
                    deep=dict(data=dict(n_features=64, d=32, avg_active=3.0), d_sae=128, depths=[0, 1, 2], ks=[2, 4],
                              steps=400, lm_d_sae=128, lm_ks=[4, 8], lm_steps=400, stack_depth=3, stack_k=2)),
        "ci": dict(stories=300, heldout=0.2, core_windows=16, label_min_count=10,
                   mlp=dict(d_sae=256, k=8, steps=400), attn=dict(layer=1, d_sae=128, k=4, steps=400),
                   planted=dict(n_feat=16, n_tok=10_000, steps=500), multipliers=[1, 3, 10],
                   toy_sweep=dict(data=dict(n_features=32, d=16, avg_active=2.0), sizes=[16, 32, 64], alpha=0.3, steps=50),
                   lm_sweep=dict(sizes=[64, 128, 256], alpha=3.0, steps=50),
                   deep=dict(data=dict(n_features=64, d=32, avg_active=3.0), d_sae=128, depths=[0, 1, 2], ks=[2, 4],
                             steps=300, lm_d_sae=128, lm_ks=[4, 8], lm_steps=300, stack_depth=3, stack_k=2)),
        "quick": dict(stories=2000, heldout=0.2, core_windows=64, label_min_count=20,
                      mlp=dict(d_sae=1024, k=8, steps=2500), attn=dict(layer=1, d_sae=256, k=4, steps=2500),
                      planted=dict(n_feat=32, n_tok=40_000, steps=2000), multipliers=[1, 3, 10],
                      toy_sweep=dict(data=dict(n_features=128, d=32, avg_active=3.0), sizes=[32, 64, 128, 256, 512],
                                     alpha=0.3, steps=200),
                      lm_sweep=dict(sizes=[128, 256, 512, 1024, 2048], alpha=3.0, steps=250),
                      deep=dict(data=dict(n_features=128, d=64, avg_active=3.0), d_sae=256, depths=[0, 1, 2], ks=[2, 3, 4, 6],
                                steps=1500, lm_d_sae=512, lm_ks=[4, 8, 16], lm_steps=1500, stack_depth=4, stack_k=2)),
        "full": dict(stories=5000, heldout=0.2, core_windows=128, label_min_count=20,
                     mlp=dict(d_sae=1024, k=8, steps=5000), attn=dict(layer=1, d_sae=256, k=4, steps=5000),
                     planted=dict(n_feat=32, n_tok=100_000, steps=3000), multipliers=[1, 3, 10],
                     toy_sweep=dict(data=dict(n_features=256, d=64, avg_active=3.0), sizes=[64, 128, 256, 512, 1024],
                                    alpha=0.3, steps=500),
                     lm_sweep=dict(sizes=[256, 512, 1024, 2048, 4096], alpha=3.0, steps=1000),
                     deep=dict(data=dict(n_features=256, d=64, avg_active=3.0), d_sae=512, depths=[0, 1, 2], ks=[2, 3, 4, 6],
                               steps=3000, lm_d_sae=1024, lm_ks=[4, 8, 16], lm_steps=3000, stack_depth=5, stack_k=2)),
    },
}
"""notebook stem → profile → the settings its cells read (each notebook documents its own keys)."""


def notebook_profile(stem: str, profile: str) -> dict:
    """The settings of notebook `stem` (e.g. "03_sae_training") under `profile` (one of `PROFILE_NAMES`)."""
    if stem not in NOTEBOOK_PROFILES:
        raise ValueError(f"stem must be one of {sorted(NOTEBOOK_PROFILES)}, got {stem!r}")
    if profile not in NOTEBOOK_PROFILES[stem]:
        raise ValueError(f"profile must be one of {list(NOTEBOOK_PROFILES[stem])}, got {profile!r}")
    return NOTEBOOK_PROFILES[stem][profile]


def profile_costs(stem: str) -> str:
    """One line naming the profiles and how to switch (the notebook's first markdown cell shows it)."""
    if stem not in NOTEBOOK_PROFILES:
        raise ValueError(f"stem must be one of {sorted(NOTEBOOK_PROFILES)}, got {stem!r}")
    names = ", ".join(f'"{p}"' for p in NOTEBOOK_PROFILES[stem])
    return (f"profiles {names}: set `profile` in the first cell, or run `python -m sae_kit --only {stem[:2]} --profile NAME`; "
            "the README's notebook map lists what each costs on 2 CPU cores")

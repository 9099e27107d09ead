"""Factories for small, seeded, CPU-only configurations."""

import os
from pathlib import Path

import pytest
import torch

import sae_kit as sk

os.environ.setdefault("SAE_KIT_HEADLESS", "1")
torch.set_num_threads(min(2, torch.get_num_threads()))


def small_data_cfg(**kw) -> sk.ToyDataConfig:
    base = dict(n_features=32, d=16, avg_active=2.0, decay=0.97, seed=0)
    return sk.ToyDataConfig(**{**base, **kw})


def small_train_cfg(**kw) -> sk.TrainConfig:
    base = dict(steps=40, batch_size=64, lr=3e-3, lr_warmup_steps=0, lr_decay="constant", log_every=10, mmcs_every=10,
                eval_every=20, n_eval=256,
                progress=False, device="cpu", seed=0)
    return sk.TrainConfig(**{**base, **kw})


@pytest.fixture
def small_data() -> sk.ToyData:
    return sk.ToyData(small_data_cfg())


NOTEBOOK_OUT = Path(__file__).resolve().parent.parent / "reports" / "ci"
NOTEBOOK_TIMEOUT = 900  # per cell, seconds: a stalled kernel fails instead of hanging CI
NOTEBOOK_JOBS = int(os.environ.get("SAE_KIT_NOTEBOOK_JOBS", "2"))  # notebooks executed at once (`make unit` sets it)


@pytest.fixture(scope="session")
def executed() -> dict[str, Path]:
    """Run every notebook once in the CI profile into reports/ci (shared by every notebook test file).

    Per-notebook figure checks live in tests/test_notebook_<NN>.py and read executed[stem].with_suffix(".json").
    """
    paths = sk.report.run_notebooks(NOTEBOOK_OUT, profile="ci", timeout=NOTEBOOK_TIMEOUT, jobs=NOTEBOOK_JOBS)
    return {p.stem: p for p in paths}

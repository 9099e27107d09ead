"""Factories for small, seeded, CPU-only configurations."""

import os

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

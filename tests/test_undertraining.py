"""Training-length sweep: one grid per length, curves of the right shape that improve with training, the convergence
criterion (a flat curve passes, a moving one fails), and bad input named."""

import pytest
import torch

import sae_kit as sk
from sae_kit.analysis import undertraining as ut


def test_length_sweep_trains_each_length_and_recovery_improves():
    data = sk.ToyData(sk.ToyDataConfig(n_features=16, d=8, avg_active=2.0, decay=0.95, device="cpu", seed=0))
    cfg = sk.TrainConfig(steps=20, batch_size=128, lr=1e-2, lr_warmup_steps=0, log_every=20, eval_every=200, n_eval=512,
                         progress=False, device="cpu", matmul_dtype="float32")
    res = ut.length_sweep(data, [8, 16], [0.03, 0.3], cfg, multipliers=(1, 3, 10))
    assert res.steps == [20, 60, 200] and [r.steps_done for r in res.grids[2].runs] == [200, 200]
    mmcs = res.curve("mmcs")
    assert mmcs.shape == (3, 2, 2) and res.curve("dictionary_mmcs").shape == (3, 1, 2)
    assert (mmcs[-1] > mmcs[0]).all()  # 20 steps are far too few; 200 recover more of the features
    assert len(res.n_features()) == 3 and all(n in (8, 16) for n in res.n_features())
    moved = ut.converged(mmcs, res.steps, tol=0.01)
    assert moved.shape == (2, 2, 2) and not moved[0].all()
    d = res.to_dict()
    assert d["steps"] == [20, 60, 200] and len(d["fve"]) == 3
    with pytest.raises(ValueError, match="metric must be one of"):
        res.curve("loss")


def test_convergence_criterion_passes_a_flat_curve_and_fails_a_moving_one():
    steps = [100, 200, 400]
    flat = torch.tensor([0.900, 0.905, 0.906])
    moving = torch.tensor([0.5, 0.7, 0.9])
    assert ut.converged(flat, steps).tolist() == [True, True]
    assert ut.converged(moving, steps).tolist() == [False, False]
    change = ut.relative_change_per_doubling(torch.tensor([1.0, 1.1]), [100, 400])  # 10% over two doublings
    assert change.item() == pytest.approx(0.05)
    with pytest.raises(ValueError, match="tol"):
        ut.converged(flat, steps, tol=0)


def test_bad_multipliers_and_steps_are_named():
    data = torch.randn(100, 4)
    cfg = sk.TrainConfig(steps=10, log_every=10, progress=False, device="cpu")
    with pytest.raises(ValueError, match="ascending"):
        ut.length_sweep(data, [4], [0.1], cfg, multipliers=(3, 1))
    with pytest.raises(ValueError, match=r"multipliers\[1\]"):
        ut.length_sweep(data, [4], [0.1], cfg, multipliers=(1, 0))
    with pytest.raises(ValueError, match="log_every=50"):
        ut.length_sweep(data, [4], [0.1], sk.TrainConfig(steps=10, progress=False, device="cpu"))


def test_length_sweep_measures_every_length_on_the_held_out_tensor():
    data = sk.ToyData(sk.ToyDataConfig(n_features=16, d=8, avg_active=2.0, device="cpu", seed=0))
    x = data.sample(3000, torch.Generator().manual_seed(0))[0]
    cfg = sk.TrainConfig(steps=20, batch_size=128, lr_warmup_steps=0, log_every=20, eval_every=200, n_eval=256,
                         progress=False, device="cpu", matmul_dtype="float32")
    res = ut.length_sweep(x[:2000], [8, 16], [0.1], cfg, multipliers=(1, 2), eval_data=x[2000:])
    assert [g.n_eval for g in res.grids] == [1000, 1000]  # every held-out token, not the training sample

"""Stacked SAEs in a residual arrangement (sae_kit.sae.stacked): checked against a naive loop over the stages."""

import pytest
import torch

import sae_kit as sk
from sae_kit.sae.stacked import ResidualSource, StackedSAE, train_stacked


def _stages(d=16, n_inst=2):
    a = sk.SAE(sk.SAEConfig(d=d, d_sae=32, n_inst=n_inst, architecture="topk", k=3, seed=1))
    b = sk.SAE(sk.SAEConfig(d=d, d_sae=24, n_inst=n_inst, architecture="topk", k=[2, 1], seed=2))
    return [a, b]


def test_stack_is_the_naive_residual_loop():
    g = torch.Generator().manual_seed(0)
    a, b = _stages()
    stack = StackedSAE([a, b])
    x = torch.randn(50, 16, generator=g)  # [batch, d]
    with torch.no_grad():
        xa = a(x).x_hat  # [inst, batch, d]
        r = x - xa
        xb = b(r).x_hat
        codes = torch.cat([a.encode(x), b.encode(r)], dim=-1)
    assert torch.allclose(stack.reconstruct(x), xa + xb, atol=1e-5)
    assert torch.allclose(stack.residuals(x)[-1], r - xb, atol=1e-6)
    assert torch.equal(stack.encode(x), codes)
    # L0 of the stack is the sum of the stages' k (per instance: 3 + 2 and 3 + 1)
    assert (stack.encode(x) > 0).sum(-1).float().mean(-1).tolist() == [5.0, 4.0]
    assert stack.dictionary.shape == (2, 56, 16)
    fve = stack.fve_by_depth(x)
    assert fve.shape == (2, 2)
    assert torch.allclose(fve[1], sk.fraction_variance_explained(x, xa + xb), atol=1e-5)


def test_stack_rejects_mismatched_stages():
    a = sk.SAE(sk.SAEConfig(d=16, d_sae=8, n_inst=2, seed=0))
    with pytest.raises(ValueError, match="every stage needs d=16, n_inst=2"):
        StackedSAE([a, sk.SAE(sk.SAEConfig(d=16, d_sae=8, n_inst=1, seed=0))])
    with pytest.raises(ValueError, match="at least one"):
        StackedSAE([])
    data = sk.ToyData(sk.ToyDataConfig(n_features=32, d=8, avg_active=2, seed=0))
    with pytest.raises(ValueError, match="does not match the data dimension"):
        train_stacked(data, [sk.SAEConfig(d=16, d_sae=8)])
    with pytest.raises(ValueError, match="resample_every must be 0"):
        train_stacked(data, [sk.SAEConfig(d=8, d_sae=8)], sk.TrainConfig(resample_every=10, resample_from="fresh"))
    with pytest.raises(ValueError, match="n_inst"):
        train_stacked(data, [sk.SAEConfig(d=8, d_sae=8, n_inst=2), sk.SAEConfig(d=8, d_sae=8)])


def test_residual_source_draws_what_the_stack_left():
    data = sk.ToyData(sk.ToyDataConfig(n_features=32, d=16, avg_active=2, seed=0))
    stack = StackedSAE(_stages())
    src = ResidualSource(data, stack)
    r, coeffs = src.sample(40, torch.Generator().manual_seed(3))
    x, coeffs2 = data.sample(40, torch.Generator().manual_seed(3))
    assert torch.equal(coeffs, coeffs2) and torch.allclose(r, x - stack.reconstruct(x), atol=1e-6)
    assert r.shape == (2, 40, 16) and torch.equal(src.features, data.features)


def test_second_stage_explains_what_the_first_missed():
    """Two TopK stages (k = 2, then 2) on toy data with m = 3 active features: the second stage raises the held-out
    FVE of x above the first stage's, and training is reproducible from the seeds."""
    data = sk.ToyData(sk.ToyDataConfig(n_features=48, d=24, avg_active=3, seed=0))
    cfgs = [sk.SAEConfig(d=24, d_sae=64, architecture="topk", k=2, seed=5),
            sk.SAEConfig(d=24, d_sae=64, architecture="topk", k=2, seed=6)]
    tc = sk.TrainConfig(steps=400, lr=3e-3, lr_warmup_steps=20, seed=1, progress=False, eval_every=400, mmcs_every=400)
    res = train_stacked(data, cfgs, tc)
    one, two = res.fve[0][0], res.fve[1][0]
    assert two > one + 0.05, (one, two)
    assert len(res.stages) == 2 and res.stages[1].steps_done == 400
    again = train_stacked(data, cfgs, tc)
    assert torch.equal(again.stack.dictionary, res.stack.dictionary)


def test_stacked_training_resumes_per_stage(tmp_path):
    data = sk.ToyData(sk.ToyDataConfig(n_features=32, d=16, avg_active=2, seed=0))
    cfgs = [sk.SAEConfig(d=16, d_sae=32, architecture="topk", k=2, seed=1),
            sk.SAEConfig(d=16, d_sae=32, architecture="topk", k=1, seed=2)]
    tc = sk.TrainConfig(steps=60, seed=0, progress=False, checkpoint_dir=str(tmp_path), checkpoint_every=30)
    first = train_stacked(data, cfgs, tc)
    assert (tmp_path / "stage_0").is_dir() and (tmp_path / "stage_1").is_dir()
    again = train_stacked(data, cfgs, tc)  # finished stages load instead of training again
    assert torch.equal(again.stack.dictionary, first.stack.dictionary)


def test_stacked_on_a_fixed_tensor_trains_each_stage_on_the_residual_tensor():
    g = torch.Generator().manual_seed(0)
    data = sk.ToyData(sk.ToyDataConfig(n_features=32, d=16, avg_active=2, seed=0))
    x = data.sample(3000, g)[0]  # [n, d]
    x_train, x_eval = x[:2500], x[2500:]
    cfgs = [sk.SAEConfig(d=16, d_sae=32, architecture="topk", k=2, seed=1),
            sk.SAEConfig(d=16, d_sae=32, architecture="topk", k=2, seed=2)]
    tc = sk.TrainConfig(steps=200, lr=3e-3, seed=0, progress=False)
    res = train_stacked(x_train, cfgs, tc, eval_data=x_eval)
    # stage 1 alone is the same run as train_sae on the tensor; the FVE by depth is measured on eval_data
    alone = sk.train_sae(x_train, cfgs[0], tc, eval_data=x_eval)
    assert torch.equal(alone.sae.dictionary, res.stack.stages[0].dictionary)
    assert res.fve[1][0] > res.fve[0][0]
    assert abs(res.fve[0][0] - alone.eval_history["fve"][-1][0]) < 1e-5
    with pytest.raises(ValueError, match="eval_data"):
        train_stacked(x_train, cfgs, tc)
    with pytest.raises(ValueError, match="n_inst must be 1"):
        train_stacked(x_train, [sk.SAEConfig(d=16, d_sae=8, n_inst=2)], tc, eval_data=x_eval)


def test_stacked_claim_criterion():
    ok = sk.stacked_claim([0.80, 0.90, 0.95], 0.94)  # unexplained 0.20 → 0.05 (75 % less); wide: 0.06 (70 %)
    assert ok.replicated and "75% less from 1 to 3 stages" in ok.ours and "70% less" in ok.ours
    assert not sk.stacked_claim([0.80, 0.85], 0.99).replicated  # 25 % less: not half
    assert not sk.stacked_claim([0.80, 0.91], 0.999).replicated  # 55 % but widening cuts 99.5 %
    with pytest.raises(ValueError, match="at least 2 stages"):
        sk.stacked_claim([0.8], 0.9)

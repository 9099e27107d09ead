"""Finding every feature: min MCS and `stop_at_min_mcs`, the decoder-gradient projection, Adam's β₂, and resampling
silent latents on the residuals of the worst-reconstructed training inputs."""

import pytest
import torch

import sae_kit as sk
from sae_kit.training.optim import project_decoder_grad_
from sae_kit.training.remedies import keep_worst_, resample_to_worst_
from tests.conftest import small_train_cfg


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_min_mcs_and_features_below_are_recorded(small_data):
    res = sk.train_sae(small_data, sk.SAEConfig(d=16, d_sae=32, l1_coeff=[0.03, 3.0]),
                       small_train_cfg(steps=100, record_mcs=True, found_mcs=0.8))
    h, per = res.mmcs_history, res.mcs_history.mcs  # per: [rec, inst, feat]
    assert torch.equal(h.min_mcs, per.amin(-1)) and torch.equal(h.n_below, (per < 0.8).sum(-1))
    assert torch.all(h.min_mcs <= h.mmcs) and res.final("min_mcs") == h["min_mcs"][-1]


def test_stop_at_min_mcs_stops_once_every_feature_is_found(small_data):
    sae_cfg = sk.SAEConfig(d=16, d_sae=32)
    free = sk.train_sae(small_data, sae_cfg, small_train_cfg(steps=200, lr=1e-2)).mmcs_history
    target = float(free.min_mcs[0, 0] + free.min_mcs[:, 0].max()) / 2  # reached somewhere in the run
    first = int(torch.nonzero(free.min_mcs[:, 0] >= target)[0])
    res = sk.train_sae(small_data, sae_cfg, small_train_cfg(steps=200, lr=1e-2, stop_at_min_mcs=target))
    assert res.steps_done == int(free.step[first]) < 200 and res.first_reached_min_mcs[0] == res.steps_done * 64
    assert res.first_reached == [None]  # stop_at_mmcs was not asked for
    never = sk.train_sae(small_data, sae_cfg, small_train_cfg(steps=60, stop_at_min_mcs=1.0))  # cannot be reached
    assert never.steps_done == 60 and never.first_reached_min_mcs == [None]
    both = sk.train_sae(small_data, sae_cfg, small_train_cfg(steps=200, lr=1e-2, stop_at_min_mcs=target, stop_at_mmcs=1.0))
    assert both.steps_done == 200 and both.first_reached_min_mcs[0] == res.first_reached_min_mcs[0]  # both must hold
    with pytest.raises(ValueError, match="stop_at_min_mcs needs a ground truth"):
        sk.train_sae(torch.randn(10, 16), sk.SAEConfig(d=16, d_sae=8), small_train_cfg(stop_at_min_mcs=0.9))


@pytest.mark.parametrize("kw, field", [
    (dict(stop_at_min_mcs=1.5), "stop_at_min_mcs"), (dict(stop_at_min_mcs=0.0), "stop_at_min_mcs"),
    (dict(found_mcs=0.0), "found_mcs"), (dict(adam_beta2=1.0), "adam_beta2"), (dict(adam_beta2=0.0), "adam_beta2"),
    (dict(resample_after=0), "resample_after"), (dict(resample_from="recent"), "resample_from"),
    (dict(resample_encoder_scale=0.0), "resample_encoder_scale"), (dict(project_decoder_grad=1), "project_decoder_grad"),
    (dict(sqrt_sparsity=-0.1), "sqrt_sparsity"), (dict(sqrt_sparsity_eps=0.0), "sqrt_sparsity_eps"),
    (dict(sqrt_sparsity_from=1.2), "sqrt_sparsity_from"), (dict(sqrt_sparsity_from=-0.1), "sqrt_sparsity_from"),
])
def test_bad_new_fields(kw, field):
    with pytest.raises(ValueError, match=field):
        small_train_cfg(**kw)


def test_decoder_gradient_projection_removes_the_part_along_each_row():
    sae = sk.SAE(sk.SAEConfig(d=6, d_sae=10, n_inst=2))
    sae(torch.randn(32, 6, generator=gen())).loss.sum().backward()
    g = sae.W_dec.grad.clone()
    assert (g * sae.W_dec).sum(-1).abs().max() > 1e-4  # a plain gradient has a part along the row
    project_decoder_grad_(sae)
    assert (sae.W_dec.grad * sae.W_dec).sum(-1).abs().max() < 1e-6
    assert torch.allclose(sae.W_dec.grad + (g * sae.W_dec).sum(-1, keepdim=True) * sae.W_dec, g, atol=1e-6)


def test_adam_beta2_reaches_the_optimizer(small_data):
    for b2 in (0.99, 0.9):
        opt = sk.SAEOptimizer(sk.SAE(sk.SAEConfig(d=16, d_sae=8)), "adam", lr=1e-3, betas=(0.9, b2))
        assert opt.adam.param_groups[0]["betas"] == (0.9, b2)
    assert sk.TrainConfig().adam_beta2 == 0.99 and sk.report_train_config().adam_beta2 == 0.999


def test_keep_worst_keeps_the_largest_residuals():
    worst, loss = torch.zeros(2, 3, 4), torch.full((2, 3), -torch.inf)
    err = torch.zeros(2, 5, 4)
    err[0, :, 0] = torch.tensor([1.0, 5.0, 2.0, 4.0, 3.0])  # instance 0: norms 1..5
    err[1, :, 1] = torch.tensor([0.5, 0.1, 0.2, 0.3, 0.4])
    keep_worst_(worst, loss, err)
    assert sorted(worst[0, :, 0].tolist()) == [3.0, 4.0, 5.0] and sorted(loss[0].tolist()) == [9.0, 16.0, 25.0]
    more = torch.zeros(2, 2, 4)
    more[0, :, 2] = torch.tensor([3.5, 0.1])
    keep_worst_(worst, loss, more)
    assert sorted(loss[0].tolist()) == [12.25, 16.0, 25.0] and worst[0, loss[0].argmin(), 2] == 3.5
    assert sorted(loss[1].tolist()) == pytest.approx([0.09, 0.16, 0.25])
    assert torch.equal(loss, worst.pow(2).sum(-1))  # each kept residual sits beside its own ‖e‖²


def test_keep_worst_matches_a_naive_merge_over_many_batches():
    g = gen(3)
    worst, loss = torch.zeros(3, 16, 5), torch.full((3, 16), -torch.inf)
    seen = [[] for _ in range(3)]
    for _ in range(20):
        err = torch.randn(3, 7, 5, generator=g)
        keep_worst_(worst, loss, err)
        for i in range(3):
            seen[i] += err[i].unbind(0)
    for i in range(3):  # the 16 largest ‖e‖² of the 140 seen, each with its own residual
        naive = sorted(seen[i], key=lambda e: float(e.pow(2).sum()), reverse=True)[:16]
        order = loss[i].argsort(descending=True)
        assert torch.equal(worst[i, order], torch.stack(naive))


def test_resample_to_worst_restarts_silent_latents_on_the_worst_residuals():
    sae = sk.SAE(sk.SAEConfig(d=6, d_sae=10, n_inst=2))
    opt = sk.SAEOptimizer(sae, "adam", lr=1e-2)
    sae(torch.randn(32, 6, generator=gen())).loss.sum().backward()
    opt.step()
    worst, loss = torch.zeros(2, 4, 6), torch.full((2, 4), -torch.inf)
    keep_worst_(worst, loss, torch.randn(2, 7, 6, generator=gen(1)))
    kept, rank = worst.clone(), loss[0].argsort(descending=True)  # the pool is unordered
    silent = torch.zeros(2, 10, dtype=torch.bool)
    silent[0, [3, 8]] = True
    alive_norm = sae.W_enc[0][~silent[0]].norm(dim=-1).mean()
    untouched = sae.W_dec[1].detach().clone()
    assert resample_to_worst_(sae, opt, silent, worst, loss, encoder_scale=0.5) == [2, 0]
    for j, k in ((3, 0), (8, 1)):  # the worst residual first
        assert torch.allclose(sae.W_dec[0, j], kept[0, rank[k]] / kept[0, rank[k]].norm(), atol=1e-6)
        assert torch.allclose(sae.W_enc[0, j], sae.W_dec[0, j] * 0.5 * alive_norm, atol=1e-6)
        assert sae.b_enc[0, j] == 0
    assert torch.equal(sae.W_dec[1], untouched) and torch.all(loss == -torch.inf)  # the pool starts over
    state = opt.state_tensors()
    assert state["W_dec.exp_avg"][0, [3, 8]].abs().sum() == 0 and state["W_dec.exp_avg"][1].abs().sum() > 0
    silent[1, :] = True  # an empty pool restarts nothing
    assert resample_to_worst_(sae, opt, silent, worst, loss) == [0, 0]


@pytest.mark.parametrize("second_moment", ["zero", "mean"])
def test_reset_rows_zeroes_momentum_and_sets_the_second_moment(second_moment):
    sae = sk.SAE(sk.SAEConfig(d=6, d_sae=10, n_inst=2))
    opt = sk.SAEOptimizer(sae, "adam", lr=1e-2)
    sae(torch.randn(32, 6, generator=gen())).loss.sum().backward()
    opt.step()
    before = opt.state_tensors()["W_dec.exp_avg_sq"].clone()
    mask = torch.zeros(2, 10, dtype=torch.bool)
    mask[0, [2, 5]] = True
    opt.reset_rows_("W_dec", mask, second_moment)
    after = opt.state_tensors()
    assert after["W_dec.exp_avg"][0, [2, 5]].abs().sum() == 0 and after["W_dec.exp_avg"][0, 0].abs().sum() > 0
    expected = before[0][~mask[0]].mean(dim=0) if second_moment == "mean" else torch.zeros(6)
    for j in (2, 5):  # the naive reference: the mean over the instance's other rows, or zero
        assert torch.allclose(after["W_dec.exp_avg_sq"][0, j], expected)
    assert torch.equal(after["W_dec.exp_avg_sq"][1], before[1])  # the other instance is untouched
    assert torch.equal(after["W_dec.exp_avg_sq"][0, ~mask[0]], before[0, ~mask[0]])


def test_second_moment_reset_is_validated_and_the_former_recipes_keep_zero():
    sae = sk.SAE(sk.SAEConfig(d=6, d_sae=10))
    with pytest.raises(ValueError, match="second_moment must be 'zero' or 'mean'"):
        sk.SAEOptimizer(sae, "adam", lr=1e-2).reset_rows_("W_dec", torch.zeros(1, 10, dtype=torch.bool), "half")
    with pytest.raises(ValueError, match="resample_second_moment"):
        sk.TrainConfig(resample_second_moment="half")
    assert sk.TrainConfig().resample_second_moment == "mean"
    assert sk.mmcs_train_config().resample_second_moment == sk.report_train_config().resample_second_moment == "zero"


def test_benchmark_ratio_is_a_ratio_a_bound_or_nothing():
    """bench_every_feature.seed_ratio: both found → a ratio; only the defaults → an upper bound from the reference's
    whole run; the defaults missed → no ratio at all."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from bench_every_feature import med, seed_ratio

    kit = {"all_seconds": 10.0, "all_samples": 180_000}
    both, text = seed_ratio(kit, {"all_seconds": 25.0, "all_samples": 250_000, "seconds": 25.0, "steps_done": 3900})
    assert both == {"ratio": 0.4, "bound": False} and "0.40× time, 0.72× samples" in text
    bound, text = seed_ratio(kit, {"all_seconds": None, "all_samples": None, "seconds": 40.0, "steps_done": 4000})
    assert bound == {"ratio": 0.25, "bound": True} and text.startswith("< 0.25×") and "missed" in text
    none, text = seed_ratio({"all_seconds": None, "all_samples": None}, {"all_seconds": 5.0, "all_samples": 1})
    assert none["ratio"] is None and text == "defaults missed"
    runs = [{"s": v} for v in (3.0, None, 1.0)]  # a miss counts as later than any find
    assert med(runs, "s") == 3.0 and med(runs + [{"s": None}], "s") is None and med(runs[:1] + runs[2:], "s") == 2.0


def test_benchmark_repeats_take_the_median_time_of_identical_runs():
    """bench_every_feature.repeated: repeats of one seeded run → its samples and the median of each time; repeats
    whose samples differ (not the same run) are an error, not averaged."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from bench_every_feature import repeated

    same = dict(mmcs_samples=160_000, all_samples=None, steps_done=4000, final_mmcs=0.99, final_min=0.8, n_below=1)
    runs = [dict(same, mmcs_seconds=t, all_seconds=None, seconds=2 * t) for t in (9.0, 30.0, 10.0)]
    r = repeated(runs)
    assert (r["mmcs_seconds"], r["seconds"], r["all_seconds"], r["all_samples"]) == (10.0, 20.0, None, None)
    with pytest.raises(RuntimeError, match="differ"):
        repeated([runs[0], dict(runs[1], all_samples=190_000)])


def test_a_run_stops_only_when_both_targets_hold_at_the_same_check():
    """Every feature found (min MCS ≥ 0.9) at one check, one lost again when MMCS reaches 0.99 at the next: not done;
    done at the first check where both hold."""
    from types import SimpleNamespace

    from sae_kit.training.history import TrainResult
    from sae_kit.training.loop import track_mmcs

    G = 20
    truth = torch.eye(G)

    def dictionary(cos: list[float]) -> torch.Tensor:  # row i at cos[i] to feature i, the rest toward feature i + 1
        c = torch.tensor(cos)
        return (c[:, None] * truth + (1 - c**2).sqrt()[:, None] * truth.roll(1, dims=1))[None]

    cfg = sk.TrainConfig(stop_at_mmcs=0.99, stop_at_min_mcs=0.9, mmcs_every=1, steps=10)
    run = SimpleNamespace(cfg=cfg, res=TrainResult(sae=None, first_reached=[None], first_reached_min_mcs=[None]),
                          ground_truth=truth, targets_met=torch.zeros(1, dtype=torch.bool), elapsed=lambda: 0.0)
    checks = [[0.95] * G,  # every feature ≥ 0.9, MMCS 0.95
              [1.0] * (G - 1) + [0.85],  # MMCS 0.9925, one feature lost
              [1.0] * G]  # both
    stopped = []
    for step, cos in enumerate(checks, start=1):
        run.step, run.sae = step, SimpleNamespace(dictionary=dictionary(cos))
        stopped.append(track_mmcs(run, None))
    assert stopped == [False, False, True]
    assert run.res.first_reached_min_mcs == [1 * cfg.batch_size] and run.res.first_reached == [2 * cfg.batch_size]


def test_scaled_train_config_carries_the_defaults_to_more_features():
    assert sk.scaled_train_config(512) == sk.TrainConfig()
    cfg = sk.scaled_train_config(2048, seed=3)
    base = sk.TrainConfig()
    assert (cfg.steps, cfg.resample_after, cfg.lr, cfg.seed) == (4 * base.steps, 4 * base.resample_after, base.lr / 4, 3)
    assert cfg.batch_size == base.batch_size and cfg.resample_every == base.resample_every  # the rest unchanged
    assert sk.scaled_train_config(1024, lr=1e-3).lr == 1e-3  # overrides win
    for bad in (0, -512, 512.0, True):
        with pytest.raises(ValueError, match="n_features"):
            sk.scaled_train_config(bad)


@pytest.mark.parametrize("convention", ["mean", "sum"])
def test_sqrt_sparsity_matches_a_naive_sum(convention):
    sae = sk.SAE(sk.SAEConfig(d=6, d_sae=10, n_inst=2, l1_convention=convention))
    codes = torch.relu(torch.randn(2, 5, 10, generator=gen()))
    eps = 0.1
    naive = torch.zeros(2)
    for i in range(2):
        for b in range(5):
            naive[i] += sum((float(c) + eps) ** 0.5 - eps ** 0.5 for c in codes[i, b]) / 5
    naive = naive / 10 if convention == "mean" else naive
    assert torch.allclose(sae.sqrt_sparsity(codes, eps), naive, atol=1e-6)
    assert torch.equal(sae.sqrt_sparsity(torch.zeros(2, 5, 10), eps), torch.zeros(2))  # silent codes cost nothing
    # two latents sharing a code cost more than one latent holding it (under L1 they cost the same)
    one, two = torch.tensor([[[1.0, 0.0]]]), torch.tensor([[[0.5, 0.5]]])
    sq = sk.SAE(sk.SAEConfig(d=2, d_sae=2, l1_convention="sum"))
    assert sq.sqrt_sparsity(two, eps) > sq.sqrt_sparsity(one, eps) and one.sum() == two.sum()


def test_sqrt_sparsity_acts_from_its_step_on(small_data):
    cfg = small_train_cfg(steps=40, sqrt_sparsity_from=0.5)
    assert [cfg.sqrt_sparsity_at(s) for s in (0, 19, 20, 39)] == [0.0, 0.0, 1.0, 1.0]
    assert sk.TrainConfig().sqrt_sparsity_at(1999) == 0.0 and sk.TrainConfig().sqrt_sparsity_at(2000) == 1.0
    assert sk.report_train_config().sqrt_sparsity == sk.mmcs_train_config().sqrt_sparsity == 0.0
    sae_cfg = sk.SAEConfig(d=16, d_sae=32)
    W = {}
    for name, kw in {"off": dict(sqrt_sparsity=0.0), "never": dict(sqrt_sparsity_from=1.0),
                     "late": dict(sqrt_sparsity_from=0.5), "on": dict(sqrt_sparsity=2.0, sqrt_sparsity_from=0.0)}.items():
        W[name] = sk.train_sae(small_data, sae_cfg, small_train_cfg(steps=40, **kw)).sae.W_dec
    assert torch.equal(W["off"], W["never"])  # from the last step on: never applied
    assert not torch.equal(W["off"], W["late"]) and not torch.equal(W["late"], W["on"])


def test_sqrt_sparsity_is_skipped_where_no_instance_has_an_l1_penalty(small_data, monkeypatch):
    calls = []
    real = sk.SAE.sqrt_sparsity
    monkeypatch.setattr(sk.SAE, "sqrt_sparsity", lambda self, codes, eps: calls.append(1) or real(self, codes, eps))
    cfg = small_train_cfg(steps=10, sqrt_sparsity_from=0.5)
    sk.train_sae(small_data, sk.SAEConfig(d=16, d_sae=32, architecture="topk", k=2), cfg)  # α = 0: nothing to weigh
    assert calls == []
    sk.train_sae(small_data, sk.SAEConfig(d=16, d_sae=32, n_inst=2, l1_coeff=[0.0, 0.3]), cfg)  # one row penalised
    assert len(calls) == 5  # steps 5–9

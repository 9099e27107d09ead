"""TopK, BatchTopK, AuxK, the pre-activation penalty, Muon, dictionary inits and resampling, each against its definition."""

import pytest
import torch
from conftest import small_data_cfg, small_train_cfg

import sae_kit as sk
from sae_kit.sae.dictionary_init import data_dictionary, init_dictionary_, pca_dictionary, weight_dictionary
from sae_kit.training.optim import SAEOptimizer
from sae_kit.training.remedies import resample_dead_


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def naive_topk_codes(pre: torch.Tensor, k: int) -> torch.Tensor:
    """Per sample: keep ReLU of the k largest pre-activations, zero the rest (a loop over samples)."""
    out = torch.zeros_like(pre)
    for b in range(pre.shape[0]):
        order = sorted(range(pre.shape[1]), key=lambda j: -pre[b, j].item())[:k]
        for j in order:
            out[b, j] = max(pre[b, j].item(), 0.0)
    return out


@pytest.mark.parametrize("shared", [True, False])
def test_topk_keeps_exactly_k_largest(shared):
    sae = sk.SAE(sk.SAEConfig(d=6, d_sae=20, architecture="topk", k=[3, 5], seed=1))
    with torch.no_grad():
        sae.b_enc.add_(1.0)  # every pre-activation positive: exactly k active
    x = torch.randn((9, 6) if shared else (2, 9, 6), generator=gen())
    out = sae(x)
    pre = sae.preactivations(x).detach()
    for i, k in enumerate([3, 5]):
        assert torch.allclose(out.codes[i], naive_topk_codes(pre[i], k), atol=1e-6)
        assert (out.codes[i] > 0).sum(-1).tolist() == [k] * 9
        assert out.l0[i].item() == k


def test_sparse_decode_matches_dense_values_and_gradients():
    cfg = dict(d=8, d_sae=64, architecture="topk", k=4, n_inst=3, decoder_bias=True, seed=2)
    a, b = sk.SAE(sk.SAEConfig(sparse_decode=True, **cfg)), sk.SAE(sk.SAEConfig(sparse_decode=False, **cfg))
    assert a.cfg.sparse_decode and not b.cfg.sparse_decode
    x = torch.randn(11, 8, generator=gen())
    oa, ob = a(x), b(x)
    assert torch.allclose(oa.x_hat, ob.x_hat, atol=1e-6)
    oa.loss.sum().backward()
    ob.loss.sum().backward()
    for name in ("W_enc", "W_dec", "b_enc", "b_dec"):
        assert torch.allclose(getattr(a, name).grad, getattr(b, name).grad, atol=1e-6), name


def test_batchtopk_keeps_k_per_sample_on_average_and_thresholds_at_eval():
    sae = sk.SAE(sk.SAEConfig(d=6, d_sae=30, architecture="batchtopk", k=4, seed=0))
    with torch.no_grad():
        sae.b_enc.add_(2.0)
    x = torch.randn(16, 6, generator=gen())
    out = sae(x)
    assert (out.codes > 0).sum().item() == 4 * 16  # k·batch active over the whole batch
    flat_pre = sae.preactivations(x).detach().flatten()
    kept = out.codes.detach().flatten()
    assert torch.equal(kept > 0, flat_pre >= flat_pre.topk(64).values.min())
    assert sae.threshold.item() == 0  # forward changes nothing; the training step moves θ explicitly
    sae.update_threshold_(out.codes)
    assert sae.threshold.item() == pytest.approx(0.01 * kept[kept > 0].min().item())  # θ towards the smallest kept
    sae.eval()
    ev = sae(x)
    pre = sae.preactivations(x).detach()
    assert torch.equal(ev.codes.detach(), pre * (pre > sae.threshold.item()))


def test_auxk_is_zero_without_dead_latents_and_matches_its_definition():
    cfg = sk.SAEConfig(d=5, d_sae=12, architecture="topk", k=2, aux_k=3, dead_after=10, seed=0)
    sae = sk.SAE(cfg)
    x = torch.randn(7, 5, generator=gen())
    assert sae(x).aux.item() == 0.0  # nothing has been dead for 10 samples yet
    dead = torch.zeros(12, dtype=torch.bool)
    dead[[1, 4, 5, 9]] = True
    sae.since_fired[0, dead] = 10
    out = sae(x)
    pre = sae.preactivations(x).detach()[0]
    e = (x - out.x_hat[0]).detach()
    masked = pre.masked_fill(~dead, -float("inf"))
    vals, idx = masked.topk(3, dim=-1)
    e_hat = torch.stack([sum(torch.relu(vals[b, j]) * sae.W_dec[0, idx[b, j]] for j in range(3)) for b in range(7)])
    expected = (((e_hat - e) ** 2).sum(-1) / (e**2).sum(-1)).mean()
    assert out.aux.item() == pytest.approx(expected.item(), rel=1e-5)
    assert out.loss.item() == pytest.approx((out.mse + cfg.aux_coeff * out.aux).item(), rel=1e-6)
    out.loss.backward()
    assert sae.W_dec.grad[0, dead].abs().sum() > 0  # AuxK trains the dead decoder rows


def test_preactivation_spread_penalty():
    sae = sk.SAE(sk.SAEConfig(d=5, d_sae=12, architecture="topk", k=2, preact_std_coeff=0.1, seed=0))
    x = torch.randn(7, 5, generator=gen())
    out = sae(x)
    pre = sae.preactivations(x).detach()[0]
    assert out.preact_std.item() == pytest.approx(pre.std(dim=-1).mean().item(), rel=1e-5)
    assert out.loss.item() == pytest.approx((out.mse + 0.1 * out.preact_std).item(), rel=1e-6)


def test_record_firing_counts_samples_since_fired():
    sae = sk.SAE(sk.SAEConfig(d=4, d_sae=3, dead_after=5))
    codes = torch.tensor([[[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]])  # [inst, batch=2, d_sae]
    sae.record_firing_(codes)
    sae.record_firing_(torch.zeros(1, 2, 3))
    assert sae.since_fired.tolist() == [[4.0, 2.0, 4.0]]
    sae.record_firing_(torch.zeros(1, 2, 3))
    assert sae.dead_mask().tolist() == [[True, False, True]]


def test_muon_updates_only_matrices_like_torch_muon():
    sae = sk.SAE(sk.SAEConfig(d=6, d_sae=10, n_inst=2, seed=0))
    opt = SAEOptimizer(sae, "muon", lr=1e-2, muon_lr=0.05)
    assert set(opt.matrices) == {"W_enc", "W_dec"}
    assert [id(p) for g in opt.adam.param_groups for p in g["params"]] == [id(sae.b_enc)]
    # reference: torch.optim.Muon on a standalone copy of instance 1's encoder
    ref = torch.nn.Parameter(sae.W_enc[1].detach().clone())
    ref_opt = torch.optim.Muon([ref], lr=0.05, momentum=0.95, weight_decay=0.0)
    before = {n: p.detach().clone() for n, p in sae.named_parameters()}
    for step in range(3):
        x = torch.randn(8, 6, generator=gen(step))
        opt.zero_grad()
        sae(x).loss.sum().backward()
        ref.grad = sae.W_enc.grad[1].clone()
        opt.step()
        ref_opt.step()
    assert torch.allclose(sae.W_enc[1], ref, atol=1e-6)
    assert not torch.equal(sae.b_enc, before["b_enc"])  # Adam moved the bias
    assert {k.split(".")[0] for k in opt.state_tensors() if "momentum_buffer" in k} == {"W_enc", "W_dec"}


def test_resample_sets_documented_values_and_resets_optimizer_state():
    sae = sk.SAE(sk.SAEConfig(d=6, d_sae=10, n_inst=2, seed=0))
    opt = SAEOptimizer(sae, "adam", lr=1e-2)
    x = torch.randn(64, 6, generator=gen())
    opt.zero_grad()
    sae(x).loss.sum().backward()
    opt.step()
    dead = torch.zeros(2, 10, dtype=torch.bool)
    dead[0, [2, 7]] = True
    alive_norm = sae.W_enc[0][~dead[0]].norm(dim=-1).mean().item()
    old = sae.W_enc[1].detach().clone()
    counts = resample_dead_(sae, opt, x, dead, gen(1))
    assert counts == [2, 0]
    for j in (2, 7):
        row = sae.W_dec[0, j]
        assert row.norm().item() == pytest.approx(1.0, abs=1e-6)
        # the decoder row is one of the inputs, normalised
        assert (torch.nn.functional.cosine_similarity(x, row[None], dim=-1) > 1 - 1e-5).any()
        assert torch.allclose(sae.W_enc[0, j], row * 0.2 * alive_norm, atol=1e-6)
        assert sae.b_enc[0, j].item() == 0.0
    assert torch.equal(sae.W_enc[1], old)  # instance 1 had nothing dead
    state = opt.state_tensors()
    for name in ("W_enc.exp_avg", "W_enc.exp_avg_sq", "W_dec.exp_avg", "b_enc.exp_avg"):
        assert state[name][0, [2, 7]].abs().sum() == 0 and state[name][1].abs().sum() > 0, name


def test_resample_to_residual_points_at_what_the_sae_misses():
    sae = sk.SAE(sk.SAEConfig(d=6, d_sae=10, n_inst=2, seed=0))
    x = torch.randn(64, 6, generator=gen())
    with torch.no_grad():
        err = x - sae(x).x_hat  # [inst, pool, d] before the resample
    dead = torch.zeros(2, 10, dtype=torch.bool)
    dead[1, [0, 4, 9]] = True
    assert resample_dead_(sae, None, x, dead, gen(1), target="residual") == [0, 3]
    for j in (0, 4, 9):  # each new row is the normalised residual of one drawn input, not the input itself
        cos_err = torch.nn.functional.cosine_similarity(err[1], sae.W_dec[1, j][None], dim=-1)
        assert (cos_err > 1 - 1e-5).any()
    with pytest.raises(ValueError, match="target must be 'input' or 'residual'"):
        resample_dead_(sae, None, x, dead, gen(1), target="error")
    with pytest.raises(ValueError, match="resample_target"):
        sk.TrainConfig(resample_target="error")


def test_dictionary_inits():
    x = torch.randn(200, 5, generator=gen()) * torch.tensor([5.0, 3.0, 1.0, 0.5, 0.1])
    d = data_dictionary(x, 8, gen(1))
    assert d.shape == (8, 5) and torch.allclose(d.norm(dim=-1), torch.ones(8))
    assert all((torch.nn.functional.cosine_similarity(x, r[None], dim=-1) > 1 - 1e-6).any() for r in d)
    p = pca_dictionary(x, 7, gen(1))
    eigvecs = torch.linalg.eigh(torch.cov(x.T)).eigenvectors.flip(-1).T  # strongest first
    assert torch.allclose((p[:5] * eigvecs).sum(-1).abs(), torch.ones(5), atol=1e-4)
    assert torch.allclose(p.norm(dim=-1), torch.ones(7))
    w = torch.randn(16, 5, generator=gen(2))  # e.g. an MLP's input weight [d_mlp, d_model]: rows in R^5? no: columns
    assert weight_dictionary(w, 5, 9, gen()).shape == (9, 5)
    assert weight_dictionary(w, 16, 9, gen()).shape == (9, 16)
    with pytest.raises(ValueError, match="side of length d=7"):
        weight_dictionary(w, 7, 9, gen())
    sae = sk.SAE(sk.SAEConfig(d=5, d_sae=7, n_inst=2, encoder_scale=0.5))
    init_dictionary_(sae, p)
    assert torch.allclose(sae.W_dec[1], p) and torch.allclose(sae.W_enc[0], 0.5 * p)
    nu = sk.SAE(sk.SAEConfig(d=4, d_sae=6, decoder_init="noised_unit")).dictionary[0]
    assert (nu.argmax(-1) == torch.tensor([0, 1, 2, 3, 0, 1])).all()


def test_train_with_data_init_and_given_dictionary(small_data):
    res = sk.train_sae(small_data, sk.SAEConfig(d=16, d_sae=32, decoder_init="pca"), small_train_cfg(steps=10))
    assert res.steps_done == 10
    given = torch.nn.functional.normalize(torch.randn(32, 16, generator=gen()), dim=-1)
    cfg = sk.SAEConfig(d=16, d_sae=32, decoder_init="given")
    r0 = sk.train_sae(small_data, cfg, small_train_cfg(steps=1, lr=1e-9), init_dictionary=given)
    assert torch.allclose(r0.sae.dictionary[0], given, atol=1e-5)
    with pytest.raises(ValueError, match="init_dictionary goes with"):
        sk.train_sae(small_data, cfg, small_train_cfg(steps=1))


def test_topk_muon_resampling_resume_equals_uninterrupted(tmp_path):
    from test_train import InterruptingData

    sae_cfg = sk.SAEConfig(d=16, d_sae=24, architecture="topk", k=[2, 3], aux_k=4, dead_after=64)
    tcfg = dict(steps=60, optimizer="muon", resample_every=20, track_density=True, eval_every=20)
    full = sk.train_sae(sk.ToyData(small_data_cfg()), sae_cfg, small_train_cfg(**tcfg))
    assert [r[0] for r in full.resampled] == [20] and "ultra_low" in full.eval_history and "dead_train" in full.eval_history
    ckpt = str(tmp_path / "ckpt")
    cfg = small_train_cfg(**tcfg, checkpoint_dir=ckpt, checkpoint_every=20)
    with pytest.raises(KeyboardInterrupt):
        sk.train_sae(InterruptingData(small_data_cfg(), at=30), sae_cfg, cfg)
    resumed = sk.train_sae(sk.ToyData(small_data_cfg()), sae_cfg, cfg)
    assert torch.equal(resumed.sae.W_dec, full.sae.W_dec) and torch.equal(resumed.sae.W_enc, full.sae.W_enc)
    assert resumed.history["loss"] == full.history["loss"] and resumed.resampled == full.resampled


@pytest.mark.parametrize("kw, match", [
    (dict(architecture="topk"), "needs k"),
    (dict(architecture="topk", k=0), "k must be"),
    (dict(architecture="topk", k=99), "k must be ≤ d_sae"),
    (dict(architecture="topk", k=[1, 2], n_inst=3), "k has 2 values"),
    (dict(aux_k=2), "AuxK is a TopK remedy"),
    (dict(architecture="batchtopk", k=2, sparse_decode=True), "sparse_decode"),
    (dict(architecture="dense"), "architecture must be"),
    (dict(decoder_init="svd"), "decoder_init must be"),
])
def test_bad_architecture_configs(kw, match):
    with pytest.raises(ValueError, match=match):
        sk.SAEConfig(d=4, d_sae=8, **kw)


def test_bad_optimizer_configs():
    with pytest.raises(ValueError, match="optimizer must be"):
        small_train_cfg(optimizer="sgd")
    with pytest.raises(ValueError, match="muon_lr"):
        small_train_cfg(muon_lr=0.0)


def test_compare_recipes_keeps_the_instance_nearest_the_target_l0(small_data, tmp_path):
    recipes = [
        sk.Recipe("l1", sk.SAEConfig(d=16, d_sae=32, l1_coeff=[0.01, 1.0, 30.0]), small_train_cfg(steps=30)),
        sk.Recipe("topk", sk.SAEConfig(d=16, d_sae=32, architecture="topk", k=[1, 2, 8]), small_train_cfg(steps=30),
                  source="Gao et al. 2024"),
    ]
    res = sk.compare_recipes(small_data, recipes, target_l0=2.0, cache_dir=tmp_path)
    for r in res:
        l0 = r.result.final("l0")
        assert r.instance == min(range(3), key=lambda i: abs(l0[i] - 2.0))
        assert r.figures["l0"] == l0[r.instance]
        assert r.figures["mmcs"] == pytest.approx(sk.mmcs(small_data.features, r.result.sae.dictionary[r.instance]), abs=1e-6)
    assert res[1].knob == [1, 2, 8][res[1].instance]
    assert (tmp_path / "topk").is_dir()  # each recipe checkpoints (and resumes) in its own folder
    for plot in (sk.plots.plot_recipe_bars(res), sk.plots.plot_recipe_table(res), sk.plots.plot_recipe_curves(res)):
        assert len(plot.data) >= 1
    assert len(sk.plots.plot_recipe_curves(res).data) == 2
    with pytest.raises(ValueError, match="unique"):
        sk.compare_recipes(small_data, recipes + recipes[:1], target_l0=2.0)


def test_samples_to_mmcs():
    res = sk.TrainResult(sae=sk.SAE(sk.SAEConfig(d=4, d_sae=4, n_inst=2)),
                         mmcs_history={"samples": [10, 20, 30], "mmcs": [[0.5, 0.99], [0.995, 0.2], [0.9, 0.1]]})
    assert sk.samples_to_mmcs(res, 0.99) == [20, 10]


def test_frontier_gap():
    # reference frontier through (1, 0.5), (4, 0.7) linear in log L0: at L0 = 2 it is 0.6
    assert sk.frontier_gap([1, 4], [0.5, 0.7], [2.0], [0.65]) == pytest.approx(0.05)
    assert sk.frontier_gap([4, 1], [0.7, 0.5], [2.0, 8.0], [0.55, 0.99]) == pytest.approx(-0.05)  # 8 is outside
    assert sk.frontier_gap([1, 4], [0.5, 0.7], [9.0], [0.9]) is None


def test_make_dictionary_kinds():
    x = torch.randn(300, 6, generator=gen())
    for kind in sk.INITS:
        dct = sk.make_dictionary(kind, 6, 10, x, seed=1)
        assert dct.shape == (10, 6) and torch.allclose(dct.norm(dim=-1), torch.ones(10), atol=1e-5)
        assert torch.equal(dct, sk.make_dictionary(kind, 6, 10, x, seed=1))
    with pytest.raises(ValueError, match="needs data"):
        sk.make_dictionary("pca", 6, 10)
    with pytest.raises(ValueError, match="kind must be one of"):
        sk.make_dictionary("svd", 6, 10)


def test_instance_names_report_every_instance_and_recommend(small_data):
    x = small_data.sample(500, gen())[0]
    inits = torch.stack([sk.make_dictionary(k, 16, 32, x, seed=0) for k in ("orthogonal", "pca")])
    recipe = sk.Recipe("inits", sk.SAEConfig(d=16, d_sae=32, n_inst=2, decoder_init="given"), small_train_cfg(steps=20),
                       init_dictionary=inits, instance_names=["orthogonal", "pca"])
    res = sk.compare_recipes(small_data, [recipe], target_l0=2.0)
    assert [r.name for r in res] == ["orthogonal", "pca"] and [r.instance for r in res] == [0, 1]
    rows = sk.recommend({"init": res})
    best = max(res, key=lambda r: r.figures["mmcs"])
    assert rows[0]["best"] == best.name and rows[0]["mmcs"] == best.figures["mmcs"]
    assert len(sk.plots.plot_recommendations(rows).data) == 1 and len(sk.plots.plot_frontier(res).data) == 2
    bad = sk.Recipe("bad", recipe.sae, recipe.train, init_dictionary=inits, instance_names=["one"])
    with pytest.raises(ValueError, match="instance_names"):
        sk.compare_recipes(small_data, [bad], target_l0=2.0)

"""The training loop: learning, instance independence, checkpoints and resume, bad input."""

import pytest
import torch

import sae_kit as sk
from tests.conftest import small_data_cfg, small_train_cfg


def test_recovers_features_on_small_toy_data(small_data):
    res = sk.train_sae(small_data, sk.SAEConfig(d=16, d_sae=64, l1_coeff=[0.03, 1.0], encoder_init="transpose"),
                       small_train_cfg(steps=600, batch_size=512, lr=1e-2, lr_warmup_steps=50, lr_decay="cosine"))
    first, last = res.mmcs_history["mmcs"][0], res.mmcs_history["mmcs"][-1]
    assert last[1] > 0.9 and last[1] > first[1] + 0.3
    assert res.history["mse"][-1][0] < res.history["mse"][0][0]
    assert res.final("dead") == res.eval_history["dead"][-1]
    assert res.sae.dictionary.norm(dim=-1).allclose(torch.ones(2, 64), atol=1e-5)


def test_histories_have_the_documented_keys(small_data):
    res = sk.train_sae(small_data, sk.SAEConfig(d=16, d_sae=8, l1_coeff=[0.1, 1.0]), small_train_cfg())
    assert set(res.history) == {"step", "samples", "seconds", "mse", "l1", "l0", "loss"}
    assert res.history["step"] == [10, 20, 30, 40] and res.history["samples"][-1] == 40 * 64
    assert set(res.eval_history) == {"step", "samples", "dead", "fve", "mse", "l0", "mmcs"}
    assert len(res.mmcs_history["mmcs"][0]) == 2 and res.steps_done == 40


def test_histories_are_tensors_sharing_step_and_samples(small_data, tmp_path):
    res = sk.train_sae(small_data, sk.SAEConfig(d=16, d_sae=8, l1_coeff=[0.1, 1.0]), small_train_cfg())
    h = res.history
    assert isinstance(h, sk.LossHistory) and h.mse.shape == (4, 2) and h.step.tolist() == [10, 20, 30, 40]
    assert torch.equal(h.samples, h.step * 64) and h.mse.tolist() == h["mse"]
    e = res.eval_history
    assert e.dead.dtype == torch.int64 and e["dead"] == e.dead.tolist() and torch.equal(e.samples, e.step * 64)
    assert res.mcs_history == {} and "mcs" not in res.mcs_history and res.mcs_history.get("mcs") is None
    with pytest.raises(ValueError, match="not 'nonsense'"):
        h.append(nonsense=1)
    back = sk.LossHistory.from_lists(sk.read_json(sk.write_json(tmp_path / "h.json", h)))  # JSON round trip
    assert back == h and torch.equal(back.l0, h.l0.double())


def test_instances_train_independently(small_data):
    a = sk.train_sae(small_data, sk.SAEConfig(d=16, d_sae=8, l1_coeff=[0.1, 1.0]), small_train_cfg())
    b = sk.train_sae(small_data, sk.SAEConfig(d=16, d_sae=8, l1_coeff=[0.1, 30.0, 3.0]), small_train_cfg())
    # instance 0 has the same init, α and batches in both rows: the other instances must not leak into it
    assert torch.allclose(a.sae.W_dec[0], b.sae.W_dec[0], atol=1e-5)
    assert not torch.allclose(a.sae.W_dec[1], b.sae.W_dec[1], atol=1e-3)


def test_same_seed_same_numbers(small_data):
    run = lambda: sk.train_sae(small_data, sk.SAEConfig(d=16, d_sae=8), small_train_cfg())  # noqa: E731
    r1, r2 = run(), run()
    assert torch.equal(r1.sae.W_dec, r2.sae.W_dec)
    assert r1.history["loss"] == r2.history["loss"]


def test_fixed_tensor_data_and_schedules():
    x = sk.ToyData(small_data_cfg()).sample(500, torch.Generator().manual_seed(0))[0]
    cfg = small_train_cfg(lr_warmup_steps=10, lr_decay="cosine", lr_final_fraction=0.0, l1_warmup_steps=20)
    res = sk.train_sae(x, sk.SAEConfig(d=16, d_sae=8, l1_coeff=0.3), cfg)
    assert res.mmcs_history == {}  # no ground truth given
    assert res.sae.l1_coeff.tolist() == [pytest.approx(0.3)]  # the ramp does not stick
    assert cfg.lr_at(0) == pytest.approx(3e-4) and cfg.lr_at(9) == pytest.approx(3e-3)
    assert cfg.lr_at(39) == pytest.approx(0.0, abs=1e-12)
    assert cfg.l1_scale_at(0) == pytest.approx(0.05) and cfg.l1_scale_at(20) == 1.0


def test_stop_at_mmcs(small_data):
    res = sk.train_sae(small_data, sk.SAEConfig(d=16, d_sae=32), small_train_cfg(steps=400, stop_at_mmcs=0.3))
    assert res.steps_done < 400
    assert res.first_reached[0] is not None and res.first_reached[0] <= res.steps_done * 64


class InterruptingData(sk.ToyData):
    """ToyData that raises KeyboardInterrupt on its n-th batch (a user pressing Ctrl-C)."""

    def __init__(self, cfg, at: int):
        super().__init__(cfg)
        self.calls, self.at = 0, at

    def sample(self, batch_size, generator=None):
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return super().sample(batch_size, generator)


def test_resume_equals_uninterrupted_run(tmp_path):
    sae_cfg = sk.SAEConfig(d=16, d_sae=8, l1_coeff=[0.1, 1.0])
    full = sk.train_sae(sk.ToyData(small_data_cfg()), sae_cfg, small_train_cfg(steps=60))
    ckpt = str(tmp_path / "ckpt")
    cfg = small_train_cfg(steps=60, checkpoint_dir=ckpt, checkpoint_every=20)
    # the held-out sample is the data's first draw, then 25 training batches pass before the interruption
    with pytest.raises(KeyboardInterrupt):
        sk.train_sae(InterruptingData(small_data_cfg(), at=27), sae_cfg, cfg)
    assert sk.load_checkpoint(ckpt)[1]["step"] == 25
    resumed = sk.train_sae(sk.ToyData(small_data_cfg()), sae_cfg, cfg)
    assert torch.equal(resumed.sae.W_dec, full.sae.W_dec)
    assert torch.equal(resumed.sae.W_enc, full.sae.W_enc)
    assert resumed.history["loss"] == full.history["loss"]
    assert resumed.mmcs_history["mmcs"] == full.mmcs_history["mmcs"]
    # a finished run loads instead of training again
    again = sk.train_sae(sk.ToyData(small_data_cfg()), sae_cfg, cfg)
    assert torch.equal(again.sae.W_dec, full.sae.W_dec) and again.steps_done == 60


def test_checkpoint_for_another_shape_is_refused(tmp_path, small_data):
    cfg = small_train_cfg(checkpoint_dir=str(tmp_path))
    sk.train_sae(small_data, sk.SAEConfig(d=16, d_sae=8), cfg)
    with pytest.raises(ValueError, match="another configuration"):
        sk.train_sae(small_data, sk.SAEConfig(d=16, d_sae=12), cfg)


def test_checkpoint_with_l1_alone_resumes_as_before_the_square_root_term(tmp_path, small_data):
    """L1 alone (sqrt_sparsity=0) trains as before the term existed, so its signature leaves the term's fields out
    (checkpoints of that time still resume); a checkpoint of either kind refuses a run of the other."""
    from sae_kit.training.resume import run_signature

    sae_cfg = sk.SAEConfig(d=16, d_sae=8)
    off, on = small_train_cfg(sqrt_sparsity=0.0), small_train_cfg()
    assert not {"sqrt_sparsity", "sqrt_sparsity_eps", "sqrt_sparsity_from"} & set(run_signature(sae_cfg, off)["train"])
    assert run_signature(sae_cfg, on)["train"]["sqrt_sparsity"] == 1.0
    assert run_signature(sae_cfg, small_train_cfg(sqrt_sparsity_eps=0.2))["train"]["sqrt_sparsity_eps"] == 0.2
    done = sk.train_sae(small_data, sae_cfg, small_train_cfg(sqrt_sparsity=0.0, checkpoint_dir=str(tmp_path)))
    with pytest.raises(ValueError, match="another configuration"):
        sk.train_sae(small_data, sae_cfg, small_train_cfg(checkpoint_dir=str(tmp_path)))
    tensors, meta = sk.load_checkpoint(tmp_path)  # as the kit wrote it while it still recorded the term's fields at 0
    meta["run"]["train"].update(sqrt_sparsity=0.0, sqrt_sparsity_eps=0.1, sqrt_sparsity_from=0.64)
    sk.save_checkpoint(tmp_path, tensors, meta)
    again = sk.train_sae(small_data, sae_cfg, small_train_cfg(sqrt_sparsity=0.0, checkpoint_dir=str(tmp_path)))
    assert torch.equal(again.sae.W_dec, done.sae.W_dec)
    meta["run"]["train"]["sqrt_sparsity_eps"] = 0.3  # any other stored value still refuses
    sk.save_checkpoint(tmp_path, tensors, meta)
    with pytest.raises(ValueError, match="another configuration"):
        sk.train_sae(small_data, sae_cfg, small_train_cfg(sqrt_sparsity=0.0, checkpoint_dir=str(tmp_path)))


def test_corrupt_checkpoint_is_refused(tmp_path, small_data):
    cfg = small_train_cfg(checkpoint_dir=str(tmp_path))
    sk.train_sae(small_data, sk.SAEConfig(d=16, d_sae=8), cfg)
    (tmp_path / "checkpoint.safetensors").write_bytes(b"\x80\x04not a safetensors file")
    with pytest.raises(ValueError, match="checkpoint.safetensors"):
        sk.train_sae(small_data, sk.SAEConfig(d=16, d_sae=8), cfg)
    (tmp_path / "checkpoint.safetensors").unlink()
    with pytest.raises(ValueError, match="incomplete"):
        sk.load_checkpoint(tmp_path)


def test_tampered_shape_in_checkpoint_is_refused(tmp_path, small_data):
    cfg = small_train_cfg(checkpoint_dir=str(tmp_path))
    sk.train_sae(small_data, sk.SAEConfig(d=16, d_sae=8), cfg)
    tensors, meta = sk.load_checkpoint(tmp_path)
    tensors["sae.W_dec"] = torch.zeros(1, 9, 16)
    sk.save_checkpoint(tmp_path, tensors, meta)
    with pytest.raises(ValueError, match="sae.W_dec"):
        sk.train_sae(small_data, sk.SAEConfig(d=16, d_sae=8), cfg)


def test_nan_loss_names_the_step():
    x = torch.ones(100, 16)
    x[:, 3] = float("nan")
    with pytest.raises(FloatingPointError, match="step 0"):
        sk.train_sae(x, sk.SAEConfig(d=16, d_sae=8), small_train_cfg())


def test_dimension_mismatch_and_bad_data(small_data):
    with pytest.raises(ValueError, match="SAEConfig.d=8"):
        sk.train_sae(small_data, sk.SAEConfig(d=8, d_sae=8), small_train_cfg())
    with pytest.raises(ValueError, match="torch.Tensor"):
        sk.train_sae([[1.0, 2.0]], sk.SAEConfig(d=2, d_sae=8), small_train_cfg())
    with pytest.raises(ValueError, match="stop_at_mmcs"):
        sk.train_sae(torch.randn(10, 16), sk.SAEConfig(d=16, d_sae=8), small_train_cfg(stop_at_mmcs=0.9))


@pytest.mark.parametrize(
    "kw, field",
    [(dict(steps=0), "steps"), (dict(lr=-1.0), "lr"), (dict(batch_size=2.5), "batch_size"),
     (dict(lr_decay="step"), "lr_decay"), (dict(l1_warmup_steps=-1), "l1_warmup_steps"),
     (dict(stop_at_mmcs=1.5), "stop_at_mmcs"), (dict(device="tpu9"), "device"),
     (dict(lr_final_fraction=2.0), "lr_final_fraction"), (dict(matmul_dtype="float16"), "matmul_dtype")],
)
def test_bad_train_config(kw, field):
    with pytest.raises(ValueError, match=field):
        small_train_cfg(**kw)


def test_report_settings():
    cfg = sk.report_train_config()
    assert (cfg.steps, cfg.batch_size, cfg.lr, cfg.lr_decay, cfg.l1_warmup_steps) == (20_000, 256, 1e-3, "constant", 0)
    assert cfg.matmul_dtype == "float32"  # the report trained in float32 everywhere


def test_bfloat16_products_train_like_float32(small_data):
    """bfloat16 products (explicit, so this runs with or without native bf16): deterministic, float32 state, and the
    same recovery as float32 within a small tolerance; "auto" resolves as `sk.native_bf16` says."""
    sae_cfg = sk.SAEConfig(d=16, d_sae=32, l1_coeff=[0.1, 0.3])
    cfg = small_train_cfg(steps=400, lr=1e-2, mmcs_every=400)
    runs = {dt: sk.train_sae(small_data, sae_cfg, small_train_cfg(steps=400, lr=1e-2, mmcs_every=400, matmul_dtype=dt))
            for dt in ("float32", "bfloat16")}
    assert runs["float32"].matmul_dtype == "float32" and runs["bfloat16"].matmul_dtype == "bfloat16"
    again = sk.train_sae(small_data, sae_cfg, small_train_cfg(steps=400, lr=1e-2, mmcs_every=400, matmul_dtype="bfloat16"))
    assert torch.equal(again.sae.W_dec, runs["bfloat16"].sae.W_dec)
    assert all(p.dtype == torch.float32 for p in runs["bfloat16"].sae.parameters())
    assert not torch.equal(runs["bfloat16"].sae.W_dec, runs["float32"].sae.W_dec)  # the products really were rounded
    m32, m16 = runs["float32"].mmcs_history["mmcs"][-1], runs["bfloat16"].mmcs_history["mmcs"][-1]
    assert max(m32) > 0.9 and all(abs(a - b) < 0.02 for a, b in zip(m32, m16)), (m32, m16)
    auto = sk.train_sae(small_data, sae_cfg, cfg)
    assert auto.matmul_dtype == ("bfloat16" if sk.native_bf16(torch.device("cpu")) else "float32")


def test_checkpoint_of_other_products_is_refused(tmp_path, small_data):
    sae_cfg = sk.SAEConfig(d=16, d_sae=8)
    sk.train_sae(small_data, sae_cfg, small_train_cfg(checkpoint_dir=str(tmp_path), matmul_dtype="float32"))
    with pytest.raises(ValueError, match="matmul_dtype='float32'"):
        sk.train_sae(small_data, sae_cfg, small_train_cfg(checkpoint_dir=str(tmp_path), matmul_dtype="bfloat16"))

"""One class per architecture, a forward without side effects, save/load, devices and the shared schedule."""

import math

import pytest
import torch
from conftest import small_data_cfg, small_train_cfg

import sae_kit as sk
from sae_kit.training.loop import Batches

ARCHS = {"l1": (sk.L1SAE, {}), "topk": (sk.TopKSAE, {"k": [2, 3]}), "batchtopk": (sk.BatchTopKSAE, {"k": [2, 3]}),
         "matryoshka": (sk.MatryoshkaSAE, {"prefixes": [2, 6, 16]})}
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def cfg_of(arch: str, **kw) -> sk.SAEConfig:
    return sk.SAEConfig(**{"d": 6, "d_sae": 16, "n_inst": 2, "architecture": arch, "seed": 1, **ARCHS[arch][1], **kw})


@pytest.mark.parametrize("arch", list(ARCHS))
def test_sae_builds_the_architecture_class(arch):
    cls = ARCHS[arch][0]
    for sae in (sk.SAE(cfg_of(arch)), sk.make_sae(cfg_of(arch)), cls(cfg_of(arch))):
        assert type(sae) is cls and isinstance(sae, sk.SAE) and sae.architecture == arch
    other = next(c for a, (c, _) in ARCHS.items() if a != arch)
    with pytest.raises(ValueError, match=f"needs architecture={other.architecture!r}"):
        other(cfg_of(arch))


@pytest.mark.parametrize("arch", list(ARCHS))
def test_forward_changes_no_state(arch):
    sae = sk.SAE(cfg_of(arch))
    before = {k: v.clone() for k, v in sae.state_dict().items()}
    for training in (True, False):
        sae.train(training)
        sae(torch.randn(8, 6, generator=torch.Generator().manual_seed(0)))
    assert all(torch.equal(before[k], v) for k, v in sae.state_dict().items())


def test_batchtopk_threshold_update_is_a_running_mean_of_the_smallest_kept_code():
    sae = sk.SAE(cfg_of("batchtopk"))
    codes = torch.zeros(2, 3, 16)
    codes[0, 0, 1], codes[0, 2, 5] = 0.5, 0.2  # instance 0: smallest positive code 0.2; instance 1: none fire
    sae.threshold.fill_(1.0)
    sae.update_threshold_(codes)
    assert sae.threshold.tolist() == pytest.approx([0.99 * 1.0 + 0.01 * 0.2, 1.0])  # instance 1 keeps θ
    sae.update_threshold_(codes, rate=0.5)
    assert sae.threshold[0].item() == pytest.approx(0.5 * (0.99 + 0.002) + 0.5 * 0.2)


def test_training_moves_the_batchtopk_threshold_and_returns_an_evaluating_sae(small_data):
    res = sk.train_sae(small_data, sk.SAEConfig(d=16, d_sae=32, architecture="batchtopk", k=2),
                       small_train_cfg(device=str(small_data.device)))
    assert res.sae.threshold.item() > 0 and not res.sae.training


@pytest.mark.parametrize("arch", list(ARCHS))
def test_save_and_load_round_trip(arch, tmp_path):
    cfg = cfg_of(arch, decoder_bias=True, centre_input=True, aux_k=4 if arch in ("topk", "batchtopk") else 0)
    sae = sk.SAE(cfg)
    with torch.no_grad():  # state a fresh SAE would not have
        sae.b_dec.normal_(generator=torch.Generator().manual_seed(3))
        sae.since_fired.fill_(7.0)
        if arch == "batchtopk":
            sae.threshold.fill_(0.25)
    sae.eval()
    back = sk.load_sae(sae.save(tmp_path / arch))
    assert type(back) is type(sae) and back.cfg.to_dict() == cfg.to_dict()
    assert sorted(p.name for p in (tmp_path / arch).iterdir()) == ["cfg.json", "sae.safetensors"]
    x = torch.randn(5, 6, generator=torch.Generator().manual_seed(0))
    a, b = sae(x), back.eval()(x)
    assert torch.equal(a.x_hat, b.x_hat) and torch.equal(a.codes, b.codes) and torch.equal(a.loss, b.loss)
    assert all(torch.equal(v, back.state_dict()[k]) for k, v in sae.state_dict().items())


def test_load_refuses_what_is_not_a_saved_sae(tmp_path):
    with pytest.raises(ValueError, match="cfg.json is missing"):
        sk.load_sae(tmp_path)
    sk.SAE(cfg_of("l1")).save(tmp_path / "a")
    sk.SAE(cfg_of("l1", d_sae=8)).save(tmp_path / "b")
    (tmp_path / "a" / "cfg.json").write_text((tmp_path / "b" / "cfg.json").read_text())  # weights of another shape
    with pytest.raises(ValueError, match="does not match cfg.json"):
        sk.load_sae(tmp_path / "a")
    (tmp_path / "b" / "cfg.json").write_text('{"d": 6, "d_sae": 8, "colour": "red"}')
    with pytest.raises(ValueError, match="not an SAEConfig"):
        sk.load_sae(tmp_path / "b")


def test_batches_move_to_the_sae_device():
    """The moving path itself, without a GPU: a CPU tensor's batches come out on the SAE's device (here "meta")."""
    x = torch.randn(50, 4)
    g = torch.Generator().manual_seed(0)
    batch = Batches(x, 8, g, torch.device("meta")).next()
    assert batch.device.type == "meta" and batch.shape == (8, 4)
    same = Batches(x, 8, torch.Generator().manual_seed(0), torch.device("cpu")).next()
    assert torch.equal(same, x[torch.randint(0, 50, (8,), generator=torch.Generator().manual_seed(0))])


@pytest.mark.parametrize("device", DEVICES)
def test_train_on_a_cpu_tensor_with_the_sae_on_each_device(device):
    x = sk.ToyData(small_data_cfg(device="cpu")).sample(300, torch.Generator().manual_seed(0))[0]  # stays on the CPU
    res = sk.train_sae(x, sk.SAEConfig(d=16, d_sae=8, l1_coeff=0.1), small_train_cfg(device=device, matmul_dtype="float32"))
    assert res.sae.W_dec.device.type == device and x.device.type == "cpu" and res.steps_done == 40
    data = sk.ToyData(small_data_cfg(device=device))  # a DataSource makes samples with a generator on its device
    res = sk.train_sae(data, sk.SAEConfig(d=16, d_sae=8), small_train_cfg(device=device, matmul_dtype="float32", steps=10))
    assert res.final("mmcs") and res.sae.W_dec.device.type == device


def test_toy_data_refuses_a_generator_on_another_device():
    data = sk.ToyData(small_data_cfg(device="cpu"))
    assert repr(data).startswith("ToyData(ToyDataConfig(")
    if torch.cuda.is_available():
        with pytest.raises(ValueError, match="generator lives on cuda"):
            data.sample(4, torch.Generator(device="cuda"))
    assert sk._util.same_device("cpu", torch.device("cpu")) and not sk._util.same_device("cpu", "meta")


def test_one_schedule_reproduces_each_loop_s_own():
    # the SAE loop: warm-up 10, cosine to 5 % at the last step
    cfg = sk.TrainConfig(steps=100, lr=1e-2, lr_warmup_steps=10, lr_decay="cosine", lr_final_fraction=0.05)
    assert cfg.lr_at(4) == 1e-2 * 5 / 10 and cfg.lr_at(99) == pytest.approx(5e-4)
    assert sk.lr_at(10, 1e-2, 100, 10, "linear", 0.0) == 1e-2 and sk.lr_at(99, 1e-2, 100, 10, "linear") == 0.0
    # the toy model of superposition: lr · ½(1 + cos(π step / steps)), written as steps + 1 in the shared schedule
    for step in (0, 7, 299):
        assert sk.lr_at(step, 1e-3, 301, decay="cosine") == 1e-3 * 0.5 * (1 + math.cos(math.pi * step / 300))
    # the tiny LM: warm-up, then cosine to 5 %
    lm = sk.LMTrainConfig(steps=50, lr_warmup_steps=5, lr=1e-2)
    for step in (0, 4, 5, 30, 49):
        old = (1e-2 * (step + 1) / 5 if step < 5
               else 1e-2 * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * (step - 5) / max(1, 50 - 1 - 5)))))
        assert lm.lr_at(step) == old
    with pytest.warns(DeprecationWarning, match="lr_warmup_steps"):
        assert sk.LMTrainConfig(warmup_steps=7).lr_warmup_steps == 7
    with pytest.raises(ValueError, match="decay must be one of"):
        sk.lr_at(0, 1.0, 10, decay="exponential")

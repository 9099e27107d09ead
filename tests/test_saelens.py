"""SAELens folders: kit → folder → kit round trips, a hand-written SAELens 6.x folder against a naive forward, bad input."""

import importlib
import json
import os

import pytest
import torch
from safetensors.torch import save_file

import sae_kit as sk
from sae_kit.sae.saelens import CFG_FILE, WEIGHTS_FILE


def optional_library(name: str):
    """The optional library `name`, or a skip where it is not installed. CI installs the extras (`make interop-test`)
    and sets SAE_KIT_REQUIRE_INTEROP=1, which turns a missing library into a failure: nothing is skipped there."""
    if os.environ.get("SAE_KIT_REQUIRE_INTEROP") == "1":
        return importlib.import_module(name)
    return pytest.importorskip(name)


def randomised_sae(**kw) -> sk.SAE:
    """A small SAE whose biases and weights are all non-trivial (seeded)."""
    sae = sk.SAE(sk.SAEConfig(**{"d": 8, "d_sae": 24, "seed": 1, **kw}))
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in sae.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    return sae


def x_batch(d: int = 8, n: int = 50) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(7))  # [batch, d]


def naive_saelens(x, W_enc, b_enc, W_dec, b_dec, apply_b_dec=True, k=None):
    """SAELens 6.x's forward, written out: a = ReLU((x − b_dec) @ W_enc + b_enc) (TopK: the k largest pre-activations)."""
    pre = (x - b_dec if apply_b_dec else x) @ W_enc + b_enc  # [batch, d_sae]
    if k is not None:
        vals, idx = pre.topk(k, dim=-1)
        a = torch.zeros_like(pre).scatter(-1, idx, torch.relu(vals))
    else:
        a = torch.relu(pre)
    return a, a @ W_dec + b_dec


@pytest.mark.parametrize("arch", [dict(architecture="l1"), dict(architecture="topk", k=4),
                                  dict(architecture="topk", k=2, sparse_decode=True)])
@pytest.mark.parametrize("bias", [dict(), dict(decoder_bias=True), dict(decoder_bias=True, centre_input=True)])
def test_round_trip_identical(tmp_path, arch, bias):
    sae = randomised_sae(**arch, **bias)
    folder = sk.save_saelens(sae, tmp_path / "sae", hook_name="blocks.3.mlp.hook_post", model_name="tiny-lm")
    back = sk.load_saelens(folder)
    assert back.n_inst == 1 and back.cfg.architecture == sae.cfg.architecture and back.cfg.ks == sae.cfg.ks
    x = x_batch()
    a, b = sae(x), back(x)
    assert torch.equal(a.codes, b.codes) and torch.allclose(a.x_hat, b.x_hat, atol=1e-6)
    cfg = json.loads((folder / CFG_FILE).read_text())
    assert cfg["architecture"] == {"l1": "standard", "topk": "topk"}[sae.cfg.architecture]
    assert cfg["apply_b_dec_to_input"] == sae.cfg.centre_input and cfg["normalize_activations"] == "none"
    assert cfg["metadata"] == {"sae_lens_version": "6.0.0", "hook_name": "blocks.3.mlp.hook_post", "model_name": "tiny-lm"}
    assert back.saelens_cfg["metadata"]["hook_name"] == "blocks.3.mlp.hook_post"
    if sae.cfg.architecture == "topk":
        assert cfg["k"] == sae.cfg.ks[0] and cfg["rescale_acts_by_decoder_norm"] is False
    if not sae.cfg.decoder_bias:
        assert not back.cfg.decoder_bias  # b_dec = 0 and not applied: no decoder bias in the kit either


def test_saved_layouts_and_instance(tmp_path):
    from safetensors import safe_open

    sae = randomised_sae(l1_coeff=[0.1, 0.2, 0.3], decoder_bias=True)
    folder = sk.save_saelens(sae, tmp_path / "i2", inst=2)
    with safe_open(str(folder / WEIGHTS_FILE), framework="pt") as f:
        t = {k: f.get_tensor(k) for k in f.keys()}
    assert {k: tuple(v.shape) for k, v in t.items()} == {"W_enc": (8, 24), "b_enc": (24,), "W_dec": (24, 8), "b_dec": (8,)}
    assert torch.equal(t["W_enc"], sae.W_enc[2].detach().T) and torch.equal(t["b_dec"], sae.b_dec[2].detach())
    x = x_batch()
    assert torch.allclose(sk.load_saelens(folder)(x).x_hat[0], sae(x).x_hat[2], atol=1e-6)
    half = sk.save_saelens(sae, tmp_path / "half", dtype="float16")
    assert json.loads((half / CFG_FILE).read_text())["dtype"] == "float16"
    with safe_open(str(half / WEIGHTS_FILE), framework="pt") as f:
        assert f.get_tensor("W_enc").dtype == torch.float16


def write_saelens_folder(folder, d_in=8, d_sae=24, arch="standard", k=None, apply_b_dec=True, extra=None, tensors=None):
    """A folder as SAELens 6.x writes it with `save_model` (its cfg.json carries keys the kit does not use)."""
    g = torch.Generator().manual_seed(11)
    tensors = tensors or {
        "W_enc": torch.randn(d_in, d_sae, generator=g), "b_enc": torch.randn(d_sae, generator=g) * 0.3,
        "W_dec": torch.randn(d_sae, d_in, generator=g), "b_dec": torch.randn(d_in, generator=g),
    }
    cfg = {
        "d_in": d_in, "d_sae": d_sae, "dtype": "float32", "device": "cpu", "apply_b_dec_to_input": apply_b_dec,
        "normalize_activations": "none", "reshape_activations": "none",
        "metadata": {"sae_lens_version": "6.54.0", "sae_lens_training_version": "6.54.0", "dataset_path": "stories",
                     "hook_name": "blocks.0.hook_resid_post", "model_name": "gpt2", "hook_head_index": None,
                     "prepend_bos": True, "context_size": 128, "neuronpedia_id": None},
        "architecture": arch,
    }
    if k is not None:
        cfg["k"] = k
        cfg["rescale_acts_by_decoder_norm"] = False
    cfg.update(extra or {})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CFG_FILE).write_text(json.dumps(cfg))
    save_file(tensors, str(folder / WEIGHTS_FILE))
    return tensors


@pytest.mark.parametrize("arch,k", [("standard", None), ("topk", 5)])
@pytest.mark.parametrize("apply_b_dec", [True, False])
def test_saelens_written_folder_matches_naive_forward(tmp_path, arch, k, apply_b_dec):
    t = write_saelens_folder(tmp_path / "s", arch=arch, k=k, apply_b_dec=apply_b_dec)
    sae = sk.load_saelens(tmp_path / "s")
    x = x_batch()
    a, x_hat = naive_saelens(x, **t, apply_b_dec=apply_b_dec, k=k)
    out = sae(x)
    assert torch.allclose(out.codes[0], a, atol=1e-5) and torch.allclose(out.x_hat[0], x_hat, atol=1e-5)
    assert sae.cfg.decoder_bias and sae.cfg.centre_input == apply_b_dec
    assert sae.saelens_cfg["metadata"]["model_name"] == "gpt2"
    # and it survives a second round trip through the kit's writer
    again = sk.load_saelens(sk.save_saelens(sae, tmp_path / "again"))
    assert torch.allclose(again(x).x_hat, out.x_hat, atol=1e-6)


def batchtopk_sae(theta: float = 0.3, **kw) -> sk.SAE:
    sae = randomised_sae(architecture="batchtopk", k=3, **kw)
    sae.threshold.fill_(theta)
    return sae.eval()


@pytest.mark.parametrize("bias", [dict(), dict(decoder_bias=True, centre_input=True)])
def test_batchtopk_round_trip_as_jumprelu(tmp_path, bias):
    sae = batchtopk_sae(**bias)
    folder = sk.save_saelens(sae, tmp_path / "b")
    cfg = json.loads((folder / CFG_FILE).read_text())
    assert cfg["architecture"] == "jumprelu" and cfg["metadata"]["sae_kit_k"] == 3
    back = sk.load_saelens(folder)
    assert back.cfg.architecture == "batchtopk" and back.cfg.ks == [3] and float(back.threshold[0]) == pytest.approx(0.3)
    x = x_batch()
    assert torch.equal(back(x).codes, sae(x).codes) and torch.allclose(back(x).x_hat, sae(x).x_hat, atol=1e-6)


def test_jumprelu_folder_from_elsewhere(tmp_path):
    g = torch.Generator().manual_seed(5)
    t = {"W_enc": torch.randn(8, 24, generator=g), "b_enc": torch.randn(24, generator=g) * 0.3,
         "W_dec": torch.randn(24, 8, generator=g), "b_dec": torch.randn(8, generator=g), "threshold": torch.full((24,), 0.7)}
    write_saelens_folder(tmp_path / "j", arch="jumprelu", tensors=t)
    with pytest.raises(ValueError, match=r"cfg\.json: .*pass load_saelens\(path, k=\.\.\.\)"):
        sk.load_saelens(tmp_path / "j")
    sae = sk.load_saelens(tmp_path / "j", k=4)
    x = x_batch()
    pre = (x - t["b_dec"]) @ t["W_enc"] + t["b_enc"]
    a = torch.relu(pre) * (pre > t["threshold"])  # SAELens' JumpReLU encode
    assert torch.allclose(sae(x).codes[0], a, atol=1e-5) and torch.allclose(sae(x).x_hat[0], a @ t["W_dec"] + t["b_dec"], atol=1e-5)
    write_saelens_folder(tmp_path / "v", arch="jumprelu", tensors={**t, "threshold": torch.linspace(0, 1, 24)})
    with pytest.raises(ValueError, match=r"sae_weights\.safetensors: the kit's BatchTopK has one threshold"):
        sk.load_saelens(tmp_path / "v", k=4)
    with pytest.raises(ValueError, match="k is only for 'jumprelu' folders"):
        sk.load_saelens(sk.save_saelens(randomised_sae(), tmp_path / "s"), k=4)


def test_refuses_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="cannot be written as a JumpReLU"):
        sk.save_saelens(batchtopk_sae(theta=-0.1), tmp_path / "b")
    with pytest.raises(ValueError, match="inst"):
        sk.save_saelens(randomised_sae(), tmp_path / "b", inst=1)
    with pytest.raises(ValueError, match="dtype"):
        sk.save_saelens(randomised_sae(), tmp_path / "b", dtype="int8")


def test_not_an_sae_folder(tmp_path):
    with pytest.raises(ValueError, match="not a folder"):
        sk.load_saelens(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"cfg\.json: missing"):
        sk.load_saelens(tmp_path / "empty")
    write_saelens_folder(tmp_path / "now")
    (tmp_path / "now" / WEIGHTS_FILE).unlink()
    with pytest.raises(ValueError, match=r"sae_weights\.safetensors: missing"):
        sk.load_saelens(tmp_path / "now")
    write_saelens_folder(tmp_path / "junk")
    (tmp_path / "junk" / WEIGHTS_FILE).write_bytes(b"\x80\x04not safetensors")
    with pytest.raises(ValueError, match=r"sae_weights\.safetensors: corrupt"):
        sk.load_saelens(tmp_path / "junk")
    write_saelens_folder(tmp_path / "badjson")
    (tmp_path / "badjson" / CFG_FILE).write_text("{not json")
    with pytest.raises(ValueError, match=r"cfg\.json: not valid JSON"):
        sk.load_saelens(tmp_path / "badjson")


def test_mismatched_shapes_and_tensors(tmp_path):
    g = torch.Generator().manual_seed(0)
    good = {"W_enc": torch.randn(8, 24, generator=g), "b_enc": torch.zeros(24), "W_dec": torch.randn(24, 8, generator=g),
            "b_dec": torch.zeros(8)}
    write_saelens_folder(tmp_path / "t", tensors={**good, "W_enc": torch.randn(24, 8, generator=g)})  # kit layout, not SAELens'
    with pytest.raises(ValueError, match=r"sae_weights\.safetensors: tensor W_enc has shape \(24, 8\), expected \(8, 24\)"):
        sk.load_saelens(tmp_path / "t")
    write_saelens_folder(tmp_path / "d", d_in=9, tensors=good)
    with pytest.raises(ValueError, match="expected"):
        sk.load_saelens(tmp_path / "d")
    write_saelens_folder(tmp_path / "x", tensors={**good, "threshold": torch.zeros(24)})
    with pytest.raises(ValueError, match=r"unexpected \['threshold'\]"):
        sk.load_saelens(tmp_path / "x")
    write_saelens_folder(tmp_path / "m", tensors={k: v for k, v in good.items() if k != "b_dec"})
    with pytest.raises(ValueError, match=r"missing \['b_dec'\]"):
        sk.load_saelens(tmp_path / "m")


@pytest.mark.parametrize("extra,match", [
    ({"architecture": "gated"}, "unknown or unsupported architecture 'gated'"),
    ({"architecture": "topk"}, "'k' is missing"),
    ({"architecture": "topk", "k": 0}, "k must be a positive integer"),
    ({"architecture": "topk", "k": 99}, "larger than d_sae"),
    ({"normalize_activations": "expected_average_only_in"}, "normalize_activations"),
    ({"architecture": "topk", "k": 3, "rescale_acts_by_decoder_norm": True}, "rescale_acts_by_decoder_norm=True"),
    ({"d_sae": "24"}, "d_sae must be a positive integer"),
])
def test_bad_cfg(tmp_path, extra, match):
    write_saelens_folder(tmp_path / "c", extra=extra)
    with pytest.raises(ValueError, match=r"cfg\.json: .*" + match.replace("(", r"\(").replace(")", r"\)")):
        sk.load_saelens(tmp_path / "c")


@pytest.mark.parametrize("key", ["d_in", "d_sae", "dtype", "architecture"])
def test_missing_required_key(tmp_path, key):
    write_saelens_folder(tmp_path / "c")
    cfg = json.loads((tmp_path / "c" / CFG_FILE).read_text())
    del cfg[key]
    (tmp_path / "c" / CFG_FILE).write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match=rf"cfg\.json: required key '{key}' is missing"):
        sk.load_saelens(tmp_path / "c")


@pytest.mark.parametrize("arch", [dict(architecture="l1", decoder_bias=True, centre_input=True), dict(architecture="topk", k=4),
                                  dict(architecture="l1"), dict(architecture="batchtopk")])
def test_round_trip_through_saelens(tmp_path, arch):
    """Optional: with SAELens installed, its own loader and writer agree with the kit (not a dependency of the kit;
    checked with sae-lens 6.54.12)."""
    sae_lens = optional_library("sae_lens")
    sae = batchtopk_sae() if arch["architecture"] == "batchtopk" else randomised_sae(**arch)
    folder = sk.save_saelens(sae, tmp_path / "kit", hook_name="blocks.0.hook_resid_post", model_name="tiny-lm")
    theirs = sae_lens.SAE.load_from_disk(str(folder), device="cpu")
    x = x_batch()
    with torch.no_grad():
        assert torch.allclose(theirs.encode(x), sae(x).codes[0], atol=1e-5)
        assert torch.allclose(theirs(x), sae(x).x_hat[0], atol=1e-5)
    theirs.save_model(str(tmp_path / "theirs"))
    back = sk.load_saelens(tmp_path / "theirs", k=3 if arch["architecture"] == "batchtopk" else None)
    assert torch.allclose(back(x).x_hat[0], sae(x).x_hat[0], atol=1e-5)

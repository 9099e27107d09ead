"""The tiny LM: hook names, bad input, save/load, training that lowers the loss and resumes, activation collection,
and the TransformerLens adapter (checked on a stand-in object, TransformerLens is not installed in CI)."""

import types

import pytest
import torch

import sae_kit as sk
from sae_kit.lm.model import check_tokens


def tiny_cfg(**kw):
    return sk.LMConfig(**{**dict(vocab_size=40, d_model=8, n_layers=2, n_heads=2, d_mlp=16, n_ctx=12), **kw})


def test_default_shape_is_the_follow_ups():
    cfg = sk.LMConfig()
    assert (cfg.d_model, cfg.n_layers, cfg.d_mlp, cfg.n_heads * cfg.d_head) == (16, 6, 64, 16)
    assert "blocks.3.mlp.hook_post" in cfg.hook_names() and "blocks.6.mlp.hook_post" not in cfg.hook_names()
    with pytest.raises(ValueError, match="n_heads"):
        sk.LMConfig(d_model=16, n_heads=3)
    with pytest.raises(ValueError, match="act_fn"):
        sk.LMConfig(act_fn="tanh")


def test_hooks_cache_and_patch():
    model = sk.TinyLM(tiny_cfg())
    x = torch.randint(0, 40, (3, 12), generator=torch.Generator().manual_seed(0))
    names = ["hook_embed", "blocks.1.mlp.hook_pre", "blocks.1.mlp.hook_post", "blocks.0.attn.hook_z", "blocks.1.hook_resid_post"]
    logits, cache = model(x, cache=names)
    assert logits.shape == (3, 12, 40) and set(cache) == set(names)
    assert cache["blocks.1.mlp.hook_post"].shape == (3, 12, 16) and cache["blocks.0.attn.hook_z"].shape == (3, 12, 2, 4)
    torch.testing.assert_close(cache["blocks.1.mlp.hook_post"], torch.nn.functional.gelu(cache["blocks.1.mlp.hook_pre"]))
    # the residual stream after the last block, normalised and unembedded, gives the logits
    resid = cache["blocks.1.hook_resid_post"]
    torch.testing.assert_close(model.unembed(model.ln_final(resid)), logits)
    # causal: changing the last token changes no earlier logit
    y = x.clone()
    y[:, -1] = (y[:, -1] + 1) % 40
    torch.testing.assert_close(model(y)[0][:, :-1], logits[:, :-1])
    # a hook that zeroes the MLP output of block 1 changes the logits; returning None keeps the activation
    patched = model(x, hooks={"blocks.1.hook_mlp_out": lambda a: torch.zeros_like(a)})[0]
    assert not torch.allclose(patched, logits)
    torch.testing.assert_close(model(x, hooks={"blocks.1.hook_mlp_out": lambda a: None})[0], logits)


def test_bad_input_names_what_is_allowed():
    model = sk.TinyLM(tiny_cfg())
    with pytest.raises(ValueError, match=r"unknown hook name.*blocks\.5\.mlp\.hook_post.*blocks\.0 … blocks\.1"):
        model.run_with_cache(torch.zeros(1, 4, dtype=torch.long), ["blocks.5.mlp.hook_post"])
    with pytest.raises(ValueError, match="longer than the model's n_ctx=12"):
        model(torch.zeros(1, 13, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\[0, 40\).*another tokenizer"):
        model(torch.full((1, 4), 40))
    with pytest.raises(ValueError, match=r"integer tensor \[batch, pos\]"):
        check_tokens(torch.zeros(4), 40, 12)


def test_save_load_and_vocabulary_mismatch(tmp_path):
    model = sk.TinyLM(tiny_cfg(seed=3))
    sk.save_lm(model, tmp_path / "m", extra={"note": "test"})
    again = sk.load_lm(tmp_path / "m", vocab_size=40)
    x = torch.randint(0, 40, (2, 12), generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(again(x)[0], model.eval()(x)[0])
    with pytest.raises(ValueError, match="tokenizer has 50 tokens.*vocab_size=40"):
        sk.load_lm(tmp_path / "m", vocab_size=50)
    with pytest.raises(ValueError, match="holds no saved model"):
        sk.load_lm(tmp_path / "none")


def periodic_windows(n=64, n_ctx=12, vocab=40):
    """A learnable stream: token t+1 = token t + 1 (mod 7), offset per window."""
    start = torch.arange(n)[:, None] % 7
    return (start + torch.arange(n_ctx)[None]) % 7 + 3


def test_training_lowers_loss_and_resumes_exactly(tmp_path):
    w = periodic_windows()
    cfg = dict(steps=60, batch_size=8, lr=1e-2, lr_warmup_steps=5, eval_every=20, progress=False, seed=0)
    res = sk.train_lm(tiny_cfg(), w, sk.LMTrainConfig(**cfg))
    assert res.history["eval_loss"][-1] < 0.5 * res.history["eval_loss"][0] and res.tokens_per_second > 0
    assert res.history["tokens"][-1] == 60 * 8 * 12
    # interrupted at 40 steps (a checkpoint every 20), then resumed to 60: the same weights as one run
    ck = str(tmp_path / "ck")
    sk.train_lm(tiny_cfg(), w, sk.LMTrainConfig(**{**cfg, "steps": 60, "checkpoint_every": 20}, checkpoint_dir=ck))
    part = sk.train_lm(tiny_cfg(), w, sk.LMTrainConfig(**{**cfg, "steps": 60}, checkpoint_dir=ck))  # finished: loads
    for a, b in zip(res.model.state_dict().values(), part.model.state_dict().values()):
        torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="another configuration"):
        sk.train_lm(tiny_cfg(), w, sk.LMTrainConfig(**{**cfg, "lr": 5e-3}, checkpoint_dir=ck))


def test_interrupted_training_resumes_to_the_same_weights(tmp_path, monkeypatch):
    w = periodic_windows()
    cfg = sk.LMTrainConfig(steps=40, batch_size=8, eval_every=10, progress=False, checkpoint_dir=str(tmp_path / "ck"))
    full = sk.train_lm(tiny_cfg(), w, sk.LMTrainConfig(steps=40, batch_size=8, eval_every=10, progress=False))
    original = sk.LMTrainConfig.lr_at

    def interrupt_at_25(self, step):
        if step == 25:
            raise KeyboardInterrupt  # Ctrl-C: the loop saves a checkpoint at step 25, then re-raises
        return original(self, step)

    monkeypatch.setattr(sk.LMTrainConfig, "lr_at", interrupt_at_25)
    with pytest.raises(KeyboardInterrupt):
        sk.train_lm(tiny_cfg(), w, cfg)
    monkeypatch.setattr(sk.LMTrainConfig, "lr_at", original)
    assert sk.io.load_checkpoint(tmp_path / "ck")[1]["step"] == 25
    resumed = sk.train_lm(tiny_cfg(), w, cfg)
    for a, b in zip(full.model.state_dict().values(), resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b)
    assert resumed.history["step"] == full.history["step"]


def test_collect_activations_streams_and_matches_one_pass():
    model = sk.TinyLM(tiny_cfg())
    x = torch.randint(0, 40, (10, 12), generator=torch.Generator().manual_seed(2))
    acts = sk.collect_activations(model, x, ["blocks.0.mlp.hook_post", "blocks.1.hook_resid_pre"], batch_size=3)
    _, cache = model(x, cache=["blocks.0.mlp.hook_post", "blocks.1.hook_resid_pre"])
    assert set(acts) == {"blocks.0.mlp.hook_post", "blocks.1.hook_resid_pre"}
    torch.testing.assert_close(acts["blocks.0.mlp.hook_post"], cache["blocks.0.mlp.hook_post"])
    assert sk.flatten_positions(acts["blocks.0.mlp.hook_post"]).shape == (120, 16)
    with pytest.raises(ValueError, match="unknown hook"):
        sk.collect_activations(model, x, "blocks.0.mlp.hook_postt")
    with pytest.raises(ValueError, match="at least one hook"):
        sk.collect_activations(model, x, [])


class FakeHooked:
    """A stand-in for a TransformerLens HookedTransformer: cfg, hook_dict and run_with_cache(names_filter=…)."""

    def __init__(self, inner: sk.TinyLM) -> None:
        c = inner.cfg
        self.cfg = types.SimpleNamespace(d_vocab=c.vocab_size, d_model=c.d_model, n_layers=c.n_layers, n_heads=c.n_heads,
                                         d_mlp=c.d_mlp, n_ctx=c.n_ctx)
        self.hook_dict = {n: None for n in inner.hook_names}
        self.inner, self.filters_seen = inner, []

    def run_with_cache(self, tokens, names_filter):
        names = [n for n in self.hook_dict if names_filter(n)]
        self.filters_seen.append(names)
        return self.inner(tokens, cache=names)


def test_transformer_lens_adapter_on_a_stand_in():
    inner = sk.TinyLM(tiny_cfg())
    fake = FakeHooked(inner)
    x = torch.randint(0, 40, (5, 12), generator=torch.Generator().manual_seed(3))
    acts = sk.collect_activations(fake, x, ["blocks.1.mlp.hook_post"], batch_size=2)
    torch.testing.assert_close(acts["blocks.1.mlp.hook_post"], inner(x, cache=["blocks.1.mlp.hook_post"])[1]["blocks.1.mlp.hook_post"])
    assert fake.filters_seen == [["blocks.1.mlp.hook_post"]] * 3  # only the requested hook is cached
    adapter = sk.TransformerLensAdapter(fake)
    assert adapter.cfg.vocab_size == 40 and adapter.cfg.n_ctx == 12
    with pytest.raises(ValueError, match="unknown hook"):
        adapter.run_with_cache(x, ["blocks.9.mlp.hook_post"])
    with pytest.raises(ValueError, match="n_ctx=12"):
        adapter.run_with_cache(torch.zeros(1, 20, dtype=torch.long), ["hook_embed"])
    with pytest.raises(ValueError, match="run_with_cache"):
        sk.TransformerLensAdapter(object())

"""A tiny pre-LayerNorm transformer language model with TransformerLens hook names.

The follow-up to Sharkey, Braun & Millidge (2022) studied a tiny LM with residual width 16, 6 layers and MLP width 64;
`LMConfig()` has that shape (4 heads of 4 dimensions, context 128). Each block reads top to bottom:

    resid_mid  = resid_pre + Attn(LN1(resid_pre))
    resid_post = resid_mid + W_out · GELU(W_in · LN2(resid_mid) + b_in) + b_out

Activations can be read (and changed) at the TransformerLens hook names, so code written for this model runs on a
HookedTransformer too (`TransformerLensAdapter`):

    hook_embed, hook_pos_embed, blocks.{i}.hook_resid_pre, blocks.{i}.attn.hook_z [batch, pos, head, d_head],
    blocks.{i}.hook_attn_out, blocks.{i}.hook_resid_mid, blocks.{i}.mlp.hook_pre [batch, pos, d_mlp],
    blocks.{i}.mlp.hook_post [batch, pos, d_mlp], blocks.{i}.hook_mlp_out, blocks.{i}.hook_resid_post, ln_final.hook_normalized

Layers are numbered from 0, as TransformerLens does: `blocks.0` is the first block.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from sae_kit._util import check_positive_int, derive_seed

__all__ = ["LMConfig", "TinyLM", "TransformerLensAdapter", "as_hooked", "save_lm", "load_lm", "check_tokens"]

Hook = Callable[[torch.Tensor], torch.Tensor | None]


@dataclass
class LMConfig:
    """Shape of the tiny LM (defaults: the follow-up's d_model 16, 6 layers, d_mlp 64)."""

    vocab_size: int = 512
    """Tokens in the vocabulary (must match the tokenizer). ≥ 2."""
    d_model: int = 16
    """Residual stream width."""
    n_layers: int = 6
    """Transformer blocks."""
    n_heads: int = 4
    """Attention heads per block; d_model must be divisible by it."""
    d_mlp: int = 64
    """MLP hidden width (the layer the SAEs read)."""
    n_ctx: int = 128
    """Longest context (learned position embeddings)."""
    act_fn: str = "gelu"
    """MLP non-linearity: "gelu" (TransformerLens' default for small models) or "relu"."""
    seed: int = 0
    """Seed of the initialisation."""

    def __post_init__(self) -> None:
        for name in ("d_model", "n_layers", "n_heads", "d_mlp", "n_ctx"):
            check_positive_int(name, getattr(self, name))
        check_positive_int("vocab_size", self.vocab_size)
        if self.vocab_size < 2:
            raise ValueError(f"vocab_size must be ≥ 2, got {self.vocab_size}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} must be divisible by n_heads={self.n_heads}")
        if self.act_fn not in ("gelu", "relu"):
            raise ValueError(f"act_fn must be 'gelu' or 'relu', got {self.act_fn!r}")

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads

    def hook_names(self) -> list[str]:
        """Every hook name of a model with this shape, in the order the forward pass reaches them."""
        names = ["hook_embed", "hook_pos_embed"]
        for i in range(self.n_layers):
            names += [f"blocks.{i}.{n}" for n in ("hook_resid_pre", "attn.hook_z", "hook_attn_out", "hook_resid_mid",
                                                  "mlp.hook_pre", "mlp.hook_post", "hook_mlp_out", "hook_resid_post")]
        return names + ["ln_final.hook_normalized"]


class _Run:
    """The hooks and cache of one forward pass."""

    def __init__(self, hooks: dict[str, Hook], cache_names: set[str]) -> None:
        self.hooks, self.cache_names, self.cache = hooks, cache_names, {}

    def __call__(self, name: str, x: torch.Tensor) -> torch.Tensor:
        if name in self.hooks:
            out = self.hooks[name](x)
            x = x if out is None else out
        if name in self.cache_names:
            self.cache[name] = x
        return x


class Attention(nn.Module):
    def __init__(self, cfg: LMConfig) -> None:
        super().__init__()
        self.n_heads, self.d_head = cfg.n_heads, cfg.d_head
        self.W_qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.W_O = nn.Linear(cfg.d_model, cfg.d_model)

    def forward(self, x: torch.Tensor, hook: _Run, prefix: str) -> torch.Tensor:
        b, t, d = x.shape  # [batch, pos, d_model]
        q, k, v = self.W_qkv(x).view(b, t, 3, self.n_heads, self.d_head).unbind(2)  # each [batch, pos, head, d_head]
        z = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True)
        z = hook(prefix + "attn.hook_z", z.transpose(1, 2))  # [batch, pos, head, d_head]
        return self.W_O(z.reshape(b, t, d))


class MLP(nn.Module):
    def __init__(self, cfg: LMConfig) -> None:
        super().__init__()
        self.W_in = nn.Linear(cfg.d_model, cfg.d_mlp)
        self.W_out = nn.Linear(cfg.d_mlp, cfg.d_model)
        self.act = F.gelu if cfg.act_fn == "gelu" else F.relu

    def forward(self, x: torch.Tensor, hook: _Run, prefix: str) -> torch.Tensor:
        pre = hook(prefix + "mlp.hook_pre", self.W_in(x))  # [batch, pos, d_mlp]
        post = hook(prefix + "mlp.hook_post", self.act(pre))  # [batch, pos, d_mlp]
        return self.W_out(post)


class Block(nn.Module):
    def __init__(self, cfg: LMConfig) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.attn, self.mlp = Attention(cfg), MLP(cfg)

    def forward(self, x: torch.Tensor, hook: _Run, prefix: str) -> torch.Tensor:
        x = hook(prefix + "hook_resid_pre", x)
        x = hook(prefix + "hook_resid_mid", x + hook(prefix + "hook_attn_out", self.attn(self.ln1(x), hook, prefix)))
        x = x + hook(prefix + "hook_mlp_out", self.mlp(self.ln2(x), hook, prefix))
        return hook(prefix + "hook_resid_post", x)


class TinyLM(nn.Module):
    """The tiny LM: token + position embeddings, `n_layers` pre-LN blocks, a final LayerNorm and an untied unembedding."""

    def __init__(self, cfg: LMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos_embed = nn.Embedding(cfg.n_ctx, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_final = nn.LayerNorm(cfg.d_model)
        self.unembed = nn.Linear(cfg.d_model, cfg.vocab_size)
        self._hook_names = cfg.hook_names()
        g = torch.Generator().manual_seed(derive_seed(cfg.seed, "lm-init"))
        with torch.no_grad():  # GPT-2's init: N(0, 0.02), output projections scaled down by depth
            for name, p in self.named_parameters():
                if p.dim() == 2:
                    std = 0.02 / math.sqrt(2 * cfg.n_layers) if name.endswith(("W_O.weight", "W_out.weight")) else 0.02
                    p.copy_(torch.randn(p.shape, generator=g) * std * (1 if "embed" not in name else 5))
                elif "ln" not in name:
                    p.zero_()

    @property
    def hook_names(self) -> list[str]:
        return list(self._hook_names)

    def check_hook_names(self, names: Iterable[str]) -> list[str]:
        """The names as a list; an unknown name raises ValueError listing the allowed ones."""
        names = list(names)
        bad = [n for n in names if n not in self._hook_names]
        if bad:
            raise ValueError(f"unknown hook name(s) {bad}; this model has {self.cfg.n_layers} layers (blocks.0 … "
                             f"blocks.{self.cfg.n_layers - 1}) and these hooks: {self._hook_names}")
        return names

    def forward(self, tokens: torch.Tensor, hooks: dict[str, Hook] | None = None, cache: Iterable[str] = (),
                stop_at_layer: int | None = None) -> tuple[torch.Tensor | None, dict[str, torch.Tensor]]:
        """Logits [batch, pos, vocab] and the activations at the hook names in `cache`.

        hooks: name → function of the activation returning a replacement (or None to keep it), e.g. to patch a
        feature. stop_at_layer=L: run blocks 0…L−1 only and return logits None (cheap activation collection).
        """
        check_tokens(tokens, self.cfg.vocab_size, self.cfg.n_ctx)
        hooks = hooks or {}
        run = _Run(hooks, set(self.check_hook_names([*cache, *hooks])))
        pos = torch.arange(tokens.shape[1], device=tokens.device)
        x = run("hook_embed", self.embed(tokens)) + run("hook_pos_embed", self.pos_embed(pos))  # [batch, pos, d_model]
        for i, block in enumerate(self.blocks):
            if stop_at_layer is not None and i >= stop_at_layer:
                return None, run.cache
            x = block(x, run, f"blocks.{i}.")
        x = run("ln_final.hook_normalized", self.ln_final(x))
        return self.unembed(x), run.cache

    def run_with_cache(self, tokens: torch.Tensor, names: Iterable[str]) -> dict[str, torch.Tensor]:
        """Only the activations at `names`, running no further than the deepest block they need."""
        names = self.check_hook_names(names)
        layers = [int(n.split(".")[1]) for n in names if n.startswith("blocks.")]
        stop = None if any(n.startswith("ln_final") for n in names) else (max(layers) + 1 if layers else 0)
        return self.forward(tokens, cache=names, stop_at_layer=stop)[1]

    def loss(self, tokens: torch.Tensor) -> torch.Tensor:
        """Mean next-token cross-entropy (nats) over a batch of windows [batch, pos]."""
        logits = self.forward(tokens)[0]
        return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1))

    @torch.no_grad()
    def generate(self, prompt: torch.Tensor, n_new: int, generator: torch.Generator, temperature: float = 1.0) -> torch.Tensor:
        """Sample `n_new` tokens after `prompt` [pos] (seeded by `generator`); returns prompt + new tokens [pos']."""
        out = prompt.clone()
        for _ in range(n_new):
            logits = self.forward(out[-self.cfg.n_ctx:][None])[0][0, -1] / max(temperature, 1e-6)
            nxt = torch.multinomial(torch.softmax(logits, -1), 1, generator=generator)
            out = torch.cat([out, nxt])
        return out


def check_tokens(tokens: torch.Tensor, vocab_size: int, n_ctx: int) -> None:
    """Tokens must be an integer tensor [batch, pos] with ids < vocab_size and pos ≤ n_ctx."""
    if not isinstance(tokens, torch.Tensor) or tokens.dim() != 2 or tokens.dtype not in (torch.long, torch.int32, torch.int64):
        shape = tuple(tokens.shape) if isinstance(tokens, torch.Tensor) else type(tokens).__name__
        raise ValueError(f"tokens must be an integer tensor [batch, pos], got {shape}")
    if tokens.shape[1] > n_ctx:
        raise ValueError(f"context of {tokens.shape[1]} tokens is longer than the model's n_ctx={n_ctx}; cut it into windows")
    if tokens.numel() and (int(tokens.max()) >= vocab_size or int(tokens.min()) < 0):
        raise ValueError(f"token ids must lie in [0, {vocab_size}) (the model's vocabulary), got ids from "
                         f"{int(tokens.min())} to {int(tokens.max())}: was the text encoded with another tokenizer?")


def save_lm(model: TinyLM, directory: str | Path, extra: dict | None = None) -> Path:
    """model.safetensors + config.json (the LMConfig fields, plus `extra` under "info")."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}, str(directory / "model.safetensors"))
    (directory / "config.json").write_text(json.dumps({**asdict(model.cfg), "info": extra or {}}, indent=2) + "\n")
    return directory


def load_lm(directory: str | Path, vocab_size: int | None = None) -> TinyLM:
    """Load a model saved by `save_lm`; `vocab_size` (e.g. the tokenizer's) must match the model's if given."""
    directory = Path(directory)
    if not (directory / "config.json").exists() or not (directory / "model.safetensors").exists():
        raise ValueError(f"{directory} holds no saved model (expected config.json and model.safetensors); "
                         "make one with `python -m sae_kit.lm.train`")
    fields = json.loads((directory / "config.json").read_text())
    fields.pop("info", None)
    cfg = LMConfig(**fields)
    if vocab_size is not None and vocab_size != cfg.vocab_size:
        raise ValueError(f"the tokenizer has {vocab_size} tokens but the model in {directory} was trained with "
                         f"vocab_size={cfg.vocab_size}; use the tokenizer saved beside the model")
    model = TinyLM(cfg)
    model.load_state_dict(load_file(str(directory / "model.safetensors")))
    return model.eval()


class TransformerLensAdapter:
    """Lets a TransformerLens HookedTransformer (or anything with its `run_with_cache`) stand in for a TinyLM.

    Exposes `hook_names`, `check_hook_names`, `run_with_cache(tokens, names)` and `cfg.n_ctx` / `cfg.vocab_size`
    like TinyLM, so `collect_activations` and the notebooks accept it. TransformerLens itself is not a dependency.
    """

    def __init__(self, model) -> None:
        if not callable(getattr(model, "run_with_cache", None)):
            raise ValueError(f"expected a TinyLM or an object with run_with_cache (a HookedTransformer), got {type(model).__name__}")
        self.model = model
        tl_cfg = model.cfg
        self.cfg = LMConfig(vocab_size=tl_cfg.d_vocab, d_model=tl_cfg.d_model, n_layers=tl_cfg.n_layers,
                            n_heads=tl_cfg.n_heads, d_mlp=tl_cfg.d_mlp, n_ctx=tl_cfg.n_ctx)

    @property
    def hook_names(self) -> list[str]:
        return list(self.model.hook_dict)

    def check_hook_names(self, names: Iterable[str]) -> list[str]:
        names = list(names)
        bad = [n for n in names if n not in self.model.hook_dict]
        if bad:
            raise ValueError(f"unknown hook name(s) {bad}; the model's hooks include {self.hook_names[:12]} …")
        return names

    def run_with_cache(self, tokens: torch.Tensor, names: Iterable[str]) -> dict[str, torch.Tensor]:
        names = self.check_hook_names(names)
        check_tokens(tokens, self.cfg.vocab_size, self.cfg.n_ctx)
        wanted = set(names)
        _, cache = self.model.run_with_cache(tokens, names_filter=lambda n: n in wanted)
        return {n: cache[n] for n in names}


def as_hooked(model) -> TinyLM | TransformerLensAdapter:
    """A TinyLM or adapter as is; a HookedTransformer-like object wrapped in `TransformerLensAdapter`."""
    if isinstance(model, (TinyLM, TransformerLensAdapter)):
        return model
    return TransformerLensAdapter(model)

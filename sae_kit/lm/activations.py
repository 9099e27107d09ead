"""Reading a language model's activations at hook names, in batches.

`collect_activations(model, tokens, ["blocks.3.mlp.hook_post"])` runs the model over windows [batch, pos] a few at a
time, keeps only the requested hooks (moved to the CPU as it goes) and stops the forward pass after the deepest block
it needs, so memory holds the requested activations and one batch of the model's, never every layer's.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from sae_kit._util import check_positive_int, progress
from sae_kit.lm.model import as_hooked

__all__ = ["collect_activations", "flatten_positions"]


@torch.no_grad()
def collect_activations(model, tokens: torch.Tensor, hook_names: Iterable[str] | str, batch_size: int = 64,
                        show_progress: bool = False) -> dict[str, torch.Tensor]:
    """Activations at `hook_names` over windows `tokens` [batch, pos]: {name: [batch, pos, …]} on the CPU.

    model: a TinyLM, or a TransformerLens HookedTransformer (wrapped by `TransformerLensAdapter`). An unknown hook
    name, token ids outside the vocabulary, or windows longer than the model's context raise ValueError.
    """
    hooked = as_hooked(model)
    names = [hook_names] if isinstance(hook_names, str) else list(hook_names)
    if not names:
        raise ValueError("hook_names must name at least one hook, e.g. 'blocks.3.mlp.hook_post'")
    hooked.check_hook_names(names)
    check_positive_int("batch_size", batch_size)
    if not isinstance(tokens, torch.Tensor) or tokens.dim() != 2:
        raise ValueError(f"tokens must be a tensor [batch, pos], got {getattr(tokens, 'shape', type(tokens).__name__)}")
    device = next(iter(model.parameters())).device if hasattr(model, "parameters") else torch.device("cpu")
    parts: dict[str, list[torch.Tensor]] = {n: [] for n in names}
    bar = progress(len(tokens), "collect activations", enabled=show_progress)
    for i in range(0, len(tokens), batch_size):
        cache = hooked.run_with_cache(tokens[i:i + batch_size].to(device), names)
        for n in names:
            parts[n].append(cache[n].detach().float().cpu())
        bar.update(min(batch_size, len(tokens) - i))
    bar.close()
    return {n: torch.cat(p) for n, p in parts.items()}


def flatten_positions(acts: torch.Tensor) -> torch.Tensor:
    """[batch, pos, d…] → [batch·pos, d…]: one row per token, the shape the SAE trainer takes."""
    if acts.dim() < 3:
        raise ValueError(f"expected activations [batch, pos, d…], got shape {tuple(acts.shape)}")
    return acts.reshape(-1, *acts.shape[2:])

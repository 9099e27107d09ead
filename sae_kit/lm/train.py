"""Training the tiny LM from scratch on CPU, and the script that writes the kit's trained model to data/tiny_lm.

    python -m sae_kit.lm.train                    # regenerate data/tiny_lm (corpus → tokenizer → LM), a few minutes
    python -m sae_kit.lm.train --steps 200 --out /tmp/lm   # a quick try

AdamW with warm-up and cosine decay (`sae_kit.training.schedule`), random windows of the token stream every step. Checkpoints
(`sae_kit.training.checkpoint`, the SAE loop's format) hold the weights, the optimiser's state and the random stream, so an
interrupted run resumes.
"""

from __future__ import annotations

import argparse
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from sae_kit._util import check_positive_int, check_range, derive_seed, progress, resolve_device
from sae_kit.lm.model import LMConfig, TinyLM, check_tokens, save_lm
from sae_kit.training.checkpoint import load_optimizer_state_tensors, load_run, optimizer_state_tensors, save_run
from sae_kit.training.schedule import lr_at

__all__ = ["LMTrainConfig", "LMTrainResult", "train_lm", "eval_loss", "DATA_DIR", "main"]

DATA_DIR = Path(__file__).resolve().parent.parent.parent / "data" / "tiny_lm"


@dataclass
class LMTrainConfig:
    """How to train the tiny LM."""

    steps: int = 1000
    """Optimiser steps (1000 × 16 windows × 128 tokens ≈ one pass over the default 20,000 stories)."""
    batch_size: int = 16
    """Windows per step (each n_ctx tokens)."""
    lr: float = 1e-2
    """Peak learning rate (AdamW). > 0. Tiny models train well at high rates."""
    lr_warmup_steps: int = 100
    """Linear learning-rate warm-up steps (the name `TrainConfig` uses). ≥ 0."""
    weight_decay: float = 0.01
    """AdamW weight decay, in [0, 1]."""
    eval_every: int = 250
    """Steps between held-out loss evaluations."""
    seed: int = 0
    """Seed of the window sampling."""
    device: str = "cpu"
    """Torch device ("auto" picks the best)."""
    checkpoint_dir: str | None = None
    """Save checkpoints here and resume from one found here; None: none."""
    checkpoint_every: int = 500
    """Steps between checkpoints."""
    progress: bool = True
    """Show a progress bar."""
    warmup_steps: int | None = None
    """Deprecated alias of `lr_warmup_steps` (warns; None once moved there)."""

    def __post_init__(self) -> None:
        if self.warmup_steps is not None:
            warnings.warn("LMTrainConfig(warmup_steps=...) is deprecated: use lr_warmup_steps (the name TrainConfig uses)",
                          DeprecationWarning, stacklevel=3)
            self.lr_warmup_steps, self.warmup_steps = self.warmup_steps, None
        for name in ("steps", "batch_size", "eval_every", "checkpoint_every"):
            check_positive_int(name, getattr(self, name))
        check_range("lr", self.lr, 0.0, float("inf"), low_open=True, high_open=True)
        check_range("weight_decay", self.weight_decay, 0.0, 1.0)
        if isinstance(self.lr_warmup_steps, bool) or not isinstance(self.lr_warmup_steps, int) or self.lr_warmup_steps < 0:
            raise ValueError(f"lr_warmup_steps must be an integer ≥ 0, got {self.lr_warmup_steps!r}")
        resolve_device(self.device)

    def lr_at(self, step: int) -> float:
        """Learning rate of step `step`: warm-up, then cosine decay to 5 % of `lr` (`sae_kit.training.schedule.lr_at`)."""
        return lr_at(step, self.lr, self.steps, self.lr_warmup_steps, "cosine", final_fraction=0.05)


@dataclass
class LMTrainResult:
    """The trained model and its loss curve."""

    model: TinyLM
    history: dict[str, list] = field(default_factory=dict)
    """step, tokens, seconds, train loss (mean over the eval window of steps), eval loss (nats per token)."""
    seconds: float = 0.0
    tokens_per_second: float = 0.0


@torch.no_grad()
def eval_loss(model: TinyLM, windows: torch.Tensor, batch_size: int = 64) -> float:
    """Mean next-token cross-entropy (nats) over held-out windows [batch, pos]."""
    was = model.training
    model.eval()
    losses = [float(model.loss(windows[i:i + batch_size])) * len(windows[i:i + batch_size])
              for i in range(0, len(windows), batch_size)]
    model.train(was)
    return sum(losses) / len(windows)


def _lm_step(model: TinyLM, opt: torch.optim.Optimizer, batch: torch.Tensor) -> torch.Tensor:
    """One optimiser step on a batch of windows [batch, pos] (gradients clipped at norm 1); returns the loss."""
    loss = model.loss(batch)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss


def train_lm(model_cfg: LMConfig, windows: torch.Tensor, cfg: LMTrainConfig | None = None,
             eval_windows: torch.Tensor | None = None) -> LMTrainResult:
    """Train a TinyLM on windows [batch, pos] of a token stream (random windows every step); returns it and its curve."""
    cfg = cfg or LMTrainConfig()
    check_tokens(windows, model_cfg.vocab_size, model_cfg.n_ctx)
    device = resolve_device(cfg.device)
    model = TinyLM(model_cfg).to(device)
    windows = windows.to(device)
    eval_windows = windows[:64] if eval_windows is None else eval_windows.to(device)
    opt = _adamw(model, cfg)
    g = torch.Generator(device=device).manual_seed(derive_seed(cfg.seed, "lm-windows"))
    res = LMTrainResult(model=model)
    step, run = 0, _run_signature(model_cfg, cfg)
    ckpt = Path(cfg.checkpoint_dir) if cfg.checkpoint_dir else None
    names = {id(p): n for n, p in model.named_parameters()}
    if ckpt is not None and (loaded := load_run(ckpt, run, model, "model", {"rng": g})) is not None:
        opt_tensors, meta = loaded
        load_optimizer_state_tensors(opt, names, opt_tensors)
        step, res.history, res.seconds = int(meta["step"]), meta["history"], float(meta["seconds"])

    def save(step: int) -> None:
        save_run(ckpt, step, run, model, "model", optimizer_state_tensors(opt, names), {"rng": g},
                 meta={"history": res.history, "seconds": res.seconds})

    n_ctx = windows.shape[1]
    bar = progress(cfg.steps, "train tiny LM", enabled=cfg.progress, initial=step)
    t0, seconds0, window_loss, n_window = time.perf_counter(), res.seconds, 0.0, 0
    model.train()
    try:
        while step < cfg.steps:
            for group in opt.param_groups:
                group["lr"] = cfg.lr_at(step)
            loss = _lm_step(model, opt, windows[torch.randint(0, len(windows), (cfg.batch_size,), generator=g, device=device)])
            step += 1
            window_loss, n_window = window_loss + loss.item(), n_window + 1
            if step % cfg.eval_every == 0 or step == cfg.steps:
                res.seconds = seconds0 + time.perf_counter() - t0
                for k, v in dict(step=step, tokens=step * cfg.batch_size * n_ctx, seconds=res.seconds,
                                 loss=window_loss / n_window, eval_loss=eval_loss(model, eval_windows)).items():
                    res.history.setdefault(k, []).append(v)
                window_loss, n_window = 0.0, 0
                bar.update(step - bar.n)
                bar.set_postfix(loss=f"{res.history['eval_loss'][-1]:.3f}")
            if ckpt is not None and (step % cfg.checkpoint_every == 0 or step == cfg.steps):
                res.seconds = seconds0 + time.perf_counter() - t0
                save(step)
    except KeyboardInterrupt:
        if ckpt is not None:
            save(step)
        raise
    finally:
        bar.close()
    res.seconds = seconds0 + time.perf_counter() - t0
    res.tokens_per_second = cfg.steps * cfg.batch_size * n_ctx / max(res.seconds, 1e-9)
    model.eval()
    return res


def _adamw(model: TinyLM, cfg: LMTrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on the matrices only."""
    decay = [p for n, p in model.named_parameters() if p.dim() == 2]
    rest = [p for n, p in model.named_parameters() if p.dim() != 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay}, {"params": rest, "weight_decay": 0.0}],
                             lr=cfg.lr, betas=(0.9, 0.98))


def _run_signature(model_cfg: LMConfig, cfg: LMTrainConfig) -> dict:
    """What must match for a checkpoint to be resumed: the model and every setting but bookkeeping."""
    skip = ("checkpoint_dir", "checkpoint_every", "progress", "device", "warmup_steps")
    train = {k: v for k, v in asdict(cfg).items() if k not in skip}
    train["warmup_steps"] = train.pop("lr_warmup_steps")  # the name checkpoints were written under
    return {"model": asdict(model_cfg), "train": train}


def main(argv: list[str] | None = None) -> int:
    """Regenerate the kit's tiny LM: corpus → tokenizer → training → data/tiny_lm (model, config, tokenizer, curve)."""
    from sae_kit.lm.corpus import CorpusConfig, generate_stories, train_tokenizer

    ap = argparse.ArgumentParser(prog="python -m sae_kit.lm.train", description=main.__doc__)
    ap.add_argument("--out", default=str(DATA_DIR), help=f"output folder (default: {DATA_DIR})")
    ap.add_argument("--stories", type=int, default=20000, help="stories in the training corpus (default 20000)")
    ap.add_argument("--vocab", type=int, default=512, help="BPE vocabulary size (default 512)")
    ap.add_argument("--steps", type=int, default=LMTrainConfig.steps, help="training steps")
    ap.add_argument("--batch-size", type=int, default=LMTrainConfig.batch_size)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    t0 = time.perf_counter()
    corpus = generate_stories(CorpusConfig(n_stories=args.stories, seed=args.seed))
    tok = train_tokenizer(corpus, vocab_size=args.vocab)
    windows, _ = tok.encode_corpus(corpus).windows(LMConfig.n_ctx)
    n_eval = max(1, min(64, len(windows) // 20))  # the last windows are held out
    print(f"corpus: {len(corpus.text):,} characters, {windows.numel():,} tokens in {len(windows)} windows "
          f"({time.perf_counter() - t0:.1f} s)", flush=True)
    model_cfg = LMConfig(vocab_size=tok.vocab_size, seed=args.seed)
    cfg = LMTrainConfig(steps=args.steps, batch_size=args.batch_size, seed=args.seed,
                        checkpoint_dir=str(out / "checkpoint"))
    res = train_lm(model_cfg, windows[:-n_eval], cfg, eval_windows=windows[-n_eval:])
    info = {"corpus": {"generator": "sae_kit.lm.corpus.generate_stories", "n_stories": args.stories, "seed": args.seed,
                       "tokens": windows.numel(), "held_out_windows": n_eval},
            "train": {k: v for k, v in asdict(cfg).items() if k not in ("checkpoint_dir", "progress", "warmup_steps")},
            "final_eval_loss": res.history["eval_loss"][-1], "seconds": res.seconds,
            "tokens_per_second": res.tokens_per_second, "threads": args.threads, "history": res.history}
    save_lm(res.model, out, info)
    tok.save(out / "tokenizer.json")
    print(f"held-out loss {res.history['eval_loss'][-1]:.3f} nats/token after {res.history['tokens'][-1]:,} tokens; "
          f"{res.seconds:.0f} s ({res.tokens_per_second:,.0f} tokens/s); saved to {out}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

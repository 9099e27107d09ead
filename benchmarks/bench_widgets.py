"""How fast each notebook explorer answers a control's move, against the kit's budget of 1 s on 2 CPU cores.

Run:  python benchmarks/bench_widgets.py                 (every explorer, seeds 0 1 2; about a minute)
      python benchmarks/bench_widgets.py --threads 2 --seeds 0 1 2 3 4

Each row times what the widget does when a control moves — the explorer's `update_*` callback from `sae_kit.explorers.widgets`
on a plain figure: compute (or fetch from the cache) and redraw — for a setting not seen before ("cold": a new seed,
so the cache cannot answer) and for one seen before ("cached": the notebook warms the cache for the positions a
reader reaches first, e.g. every n/d at the default d). Medians over the seeds; the ratio column is median / budget
(≤ 1: within budget). Browser rendering and kernel round trips are not included (they add ~0.1 s).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import plotly.graph_objects as go
import torch

import sae_kit as sk
from sae_kit.explorers import explore, widgets

BUDGET_S = 1.0


def _time(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _row(name: str, cold: list[float], cached: list[float]) -> None:
    c, h = statistics.median(cold), statistics.median(cached)
    print(f"{name:<44} {c:8.3f} {h:9.4f} {c / BUDGET_S:8.2f}")


def bench_tms(seeds: list[int]) -> None:
    fig = go.Figure()
    cold, cached = [], []
    for s in seeds:
        explore.tms_run.cache_clear()
        cold.append(_time(lambda s=s: widgets.update_tms_explorer(fig, 0.9 - 0.01 * s, 0.9, 5, 2)))
        cached.append(_time(lambda: widgets.update_tms_explorer(fig, 0.9, 0.9, 5, 2, step_index=10)))
    _row("01 toy model (n=5, m=2, 1,000 steps)", cold, cached)


def bench_ratio(seeds: list[int], d: int = 8) -> None:
    fig = go.Figure()
    for ratio in (2.0, 8.0, 16.0):
        for placement in ("tms", "random"):
            cold, cached = [], []
            for s in seeds:
                args = (fig, ratio, d, 2.0 + 0.5 * s, placement)
                cold.append(_time(lambda a=args: explore.ratio_snapshot(*a[1:])) +
                            _time(lambda a=args: widgets.update_ratio_explorer(*a)))
                cached.append(_time(lambda a=args: widgets.update_ratio_explorer(*a)))
            _row(f"02 ratio n/d={ratio:g}, d={d}, {placement}", cold, cached)


def bench_sae_toy(seeds: list[int]) -> None:
    fig = go.Figure()
    widgets.update_sae_toy_explorer(fig, 0.3, 12)  # the redraw below reads the cache
    cold, cached = [], []
    for s in seeds:
        cold.append(_time(lambda s=s: explore.sae_toy_snapshot(0.3, 12, seed=100 + s)) +
                    _time(lambda s=s: widgets.update_sae_toy_explorer(fig, 0.3, 12)))
        cached.append(_time(lambda: widgets.update_sae_toy_explorer(fig, 0.3, 12)))
    _row("03 small SAE (6 features, d=2, d_sae=12)", cold, cached)


def bench_grid_cell(seeds: list[int]) -> None:
    fig = go.Figure()
    times = []
    for s in seeds:
        g = torch.Generator().manual_seed(s)
        mcs = [torch.rand(4, 128, generator=g) for _ in range(5)]  # per size [alpha, feat], G = 128
        p = torch.rand(128, generator=g).tolist()
        times.append(_time(lambda mcs=mcs, p=p: widgets.update_grid_cell_explorer(fig, mcs, p, [32, 64, 128, 256, 512],
                                                                                   [0.1, 0.3, 1, 3], 2, 1)))
    _row("04 grid cell (G=128, precomputed)", times, times)


def bench_feature_browser(seeds: list[int]) -> None:
    data = sk.lm.train.DATA_DIR
    tok = sk.Tokenizer.load(data / "tokenizer.json")
    stream = tok.encode_corpus(sk.generate_stories(sk.CorpusConfig(n_stories=300, seed=1000)))
    model = sk.load_lm(data, vocab_size=tok.vocab_size)
    windows, window_labels = stream.windows(model.cfg.n_ctx)
    hook = "blocks.3.mlp.hook_post"
    x = sk.flatten_positions(sk.collect_activations(model, windows, [hook], batch_size=64)[hook])
    strings = tok.token_strings(range(tok.vocab_size))
    labels = window_labels.reshape(-1, window_labels.shape[-1])
    sae = sk.SAE(sk.SAEConfig(d=x.shape[1], d_sae=256, l1_coeff=[3.0], seed=0))
    dash = explore.LatentDashboards([sae], 0, x, windows, strings, model, hook, 1.0, labels, list(stream.label_names))
    fig = go.Figure()
    cold, cached = [], []
    for s in seeds:
        cold.append(_time(lambda s=s: widgets.update_feature_browser(fig, dash, 0, 10 + s)))
        cached.append(_time(lambda s=s: widgets.update_feature_browser(fig, dash, 0, 10 + s)))
    _row(f"05 feature browser ({len(x):,} tokens, 256 latents)", cold, cached)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds; medians over them")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), seeds {args.seeds}; budget {BUDGET_S:g} s per move")
    print(f"{'explorer move':<44} {'cold s':>8} {'cached s':>9} {'cold/1s':>8}")
    bench_tms(args.seeds)
    bench_ratio(args.seeds)
    bench_sae_toy(args.seeds)
    bench_grid_cell(args.seeds)
    bench_feature_browser(args.seeds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

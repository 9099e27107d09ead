"""Samples and wall time until every feature of the toy data is found: the report's recipe, the kit's defaults and a
hand-tuned plain float32 PyTorch loop (`reference_loop.py`), in one process, interleaved over seeds.

Run:  python benchmarks/bench_every_feature.py --threads 1 --repeats 3          (section "every", seeds 0–2; minutes)
      python benchmarks/bench_every_feature.py --section scale --sizes 512 1024   (how the cost grows with G)
      python benchmarks/bench_every_feature.py --quick                            (smoke test; numbers mean nothing)

"every" (G = 512 features in d = 256, d_sae = 1024, the default toy data): for each seed, the three recipes one after
the other, each stopped once MMCS ≥ 0.99 and min MCS ≥ 0.9 (every feature found); prints the samples and seconds to
each criterion (MCS checked every 25 steps of the kit's defaults, 1,600 samples), min MCS and the features below 0.9
at the end (and how many of those two latents share, `sk.shared_features`), and the ratios defaults / reference of the
medians over seeds.

"scale": the kit's defaults at G = 512, 1024, 2048, 4096 features in d = G/2 (`--ratio`; d_sae = 2G; λ = 0.99^(512/G),
so the activation spectrum keeps its shape and the rarest feature fires ~G/512 times less often; the schedule and the
silence after which a latent is restarted grow by G/512 with it, and the learning rate shrinks by 512/G): samples and seconds
to every feature found, and the exponents b of samples ∝ G^b and seconds ∝ G^b fitted (least squares in log–log) over
the sizes run.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_loop import RefSettings, train_reference  # noqa: E402

import sae_kit as sk  # noqa: E402

MMCS_TARGET, MIN_TARGET = 0.99, 0.9


def kit_run(data: sk.ToyData, sae_cfg: sk.SAEConfig, cfg: sk.TrainConfig) -> dict:
    """One `sk.train_sae` run stopped at both criteria; samples and seconds at which each was first met."""
    cfg = dataclasses.replace(cfg, stop_at_mmcs=MMCS_TARGET, stop_at_min_mcs=MIN_TARGET, progress=False, device="cpu")
    r = sk.train_sae(data, sae_cfg, cfg)
    h = r.mmcs_history
    at = {int(s): float(t) for s, t in zip(h.samples, h.seconds)}
    mm = r.first_reached[0]
    both = torch.nonzero((h.mmcs[:, 0] >= MMCS_TARGET) & (h.min_mcs[:, 0] >= MIN_TARGET)).flatten()
    al = int(h.samples[int(both[0])]) if both.numel() else None  # every feature found: both hold at one check
    return {"mmcs_samples": mm, "mmcs_seconds": at.get(mm), "all_samples": al, "all_seconds": at.get(al),
            "final_mmcs": float(h.mmcs[-1, 0]), "final_min": float(h.min_mcs[-1, 0]), "n_below": int(h.n_below[-1, 0]),
            "dictionary": r.sae.dictionary[0],
            "steps_done": r.steps_done, "seconds": r.seconds}


def recipes(seed: int, report_steps: int, quick: bool) -> dict:
    d, d_sae = 256, (128 if quick else 1024)
    return {
        "report": lambda data: kit_run(data, sk.report_sae_config(d, d_sae, 0.3, seed=seed),
                                       sk.report_train_config(seed=seed, steps=report_steps, mmcs_every=25)),
        "defaults": lambda data: kit_run(data, sk.SAEConfig(d=d, d_sae=d_sae, seed=seed),
                                         sk.TrainConfig(seed=seed, mmcs_every=25, **({"steps": 20} if quick else {}))),
        "reference": lambda data: train_reference(seed, dataclasses.replace(RefSettings(), d_sae=d_sae,
                                                                            **({"steps": 20} if quick else {})), data),
    }


def med(rows: list[dict], key: str) -> float | None:
    """The median over seeds, a miss (None) counting as later than any find: None where the median seed missed."""
    m = statistics.median(math.inf if r[key] is None else r[key] for r in rows)
    return None if math.isinf(m) else m


def fmt(v: float | None, unit: str = "") -> str:
    return "missed" if v is None else (f"{v:,.0f}" if unit == "samples" else f"{v:.1f} s")


SECONDS = ("mmcs_seconds", "all_seconds", "seconds")


def repeated(runs: list[dict]) -> dict:
    """One seed's repeats of a recipe → one row: the samples (identical in every repeat: the runs are seeded) and the
    median of each time."""
    keys = ("mmcs_samples", "all_samples", "steps_done", "final_mmcs", "final_min", "n_below")
    if any(tuple(r[k] for k in keys) != tuple(runs[0][k] for k in keys) for r in runs):
        raise RuntimeError(f"repeats of one seeded run differ: {[tuple(r[k] for k in keys) for r in runs]}")
    out = dict(runs[0])
    for k in SECONDS:
        out[k] = None if out[k] is None else statistics.median(r[k] for r in runs)
    return out


def section_every(seeds: list[int], report_steps: int, quick: bool, repeats: int = 1) -> dict:
    data = sk.ToyData(sk.ToyDataConfig(device="cpu"))
    print(f"toy data G=512 in d=256; targets MMCS ≥ {MMCS_TARGET} and min MCS ≥ {MIN_TARGET}; seeds {seeds}; "
          f"report recipe at most {report_steps} steps of 256; defaults and reference {repeats}× per seed "
          f"(interleaved, the median time counts); load {os.getloadavg()[0]:.1f}")
    rows: dict[str, list[dict]] = {}
    for seed in seeds:  # the recipes interleaved seed by seed: load from other processes hits all alike
        runs = recipes(seed, report_steps, quick)
        done = {"report": [runs.pop("report")(data)]}  # slow, and only its samples matter: once
        for _ in range(repeats):
            for name, run in runs.items():
                done.setdefault(name, []).append(run(data))
        for name, rs in done.items():
            r = repeated(rs)
            r["n_shared"] = int(sk.shared_features(data.features, r.pop("dictionary"))["shared"])  # of those below 0.9
            rows.setdefault(name, []).append(r)
            print(f"  seed {seed} {name:<9} MMCS≥0.99: {fmt(r['mmcs_samples'], 'samples'):>9} samples, "
                  f"{fmt(r['mmcs_seconds']):>8} · every feature: {fmt(r['all_samples'], 'samples'):>9} samples, "
                  f"{fmt(r['all_seconds']):>8} · end: MMCS {r['final_mmcs']:.4f}, min MCS {r['final_min']:.3f}, "
                  f"{r['n_below']} below 0.9 ({r['n_shared']} shared by two latents)", flush=True)
    out = {"seeds": seeds, "load": os.getloadavg()[0], "per_seed": rows, "median": {}}
    print(f"medians over seeds (load {os.getloadavg()[0]:.1f}):")
    for name, rs in rows.items():
        m = {k: med(rs, k) for k in ("mmcs_samples", "mmcs_seconds", "all_samples", "all_seconds")}
        out["median"][name] = m
        print(f"  {name:<9} MMCS≥0.99 {fmt(m['mmcs_samples'], 'samples'):>9} samples {fmt(m['mmcs_seconds']):>8} · "
              f"every feature {fmt(m['all_samples'], 'samples'):>9} samples {fmt(m['all_seconds']):>8}")
    d, ref = out["median"]["defaults"], out["median"]["reference"]
    ratios = {k: (None if d[k] is None or not ref[k] else d[k] / ref[k]) for k in d}
    out["defaults_over_reference"] = ratios
    print("  defaults / reference: " + ", ".join(f"{k} {'n/a' if v is None else f'{v:.2f}×'}" for k, v in ratios.items()))
    out["per_seed_ratio"] = [seed_ratio(k, r) for k, r in zip(rows["defaults"], rows["reference"])]
    print("  every feature, defaults / reference, seed by seed: "
          + "; ".join(f"seed {s}: {t}" for s, (_, t) in zip(seeds, out["per_seed_ratio"])))
    defaults = sk.TrainConfig()
    budget = defaults.steps * defaults.batch_size
    within = sum(r["all_samples"] is not None and r["all_samples"] <= budget for r in rows["defaults"])
    out["defaults_within_budget"] = within
    print(f"  the defaults find every feature within {budget:,} samples in {within} of {len(seeds)} seeds")
    return out


def seed_ratio(kit: dict, ref: dict) -> tuple[dict, str]:
    """The defaults' wall time to every feature over the reference's, for one seed: a ratio where both find every
    feature; an upper bound where only the defaults do (the reference's whole run, which did not, took longer than
    its time to every feature would have); nothing where the defaults miss."""
    if kit["all_seconds"] is None:
        return {"ratio": None, "bound": False}, "defaults missed"
    if ref["all_seconds"] is not None:
        r = kit["all_seconds"] / ref["all_seconds"]
        return {"ratio": r, "bound": False}, f"{r:.2f}× time, {kit['all_samples'] / ref['all_samples']:.2f}× samples"
    r = kit["all_seconds"] / ref["seconds"]
    return {"ratio": r, "bound": True}, f"< {r:.2f}× time (the reference missed within {ref['steps_done']:,} steps)"


def section_scale(sizes: list[int], seeds: list[int], quick: bool, ratio: int = 2) -> dict:
    rows = []
    print(f"the kit's defaults scaled with G (steps and silence × G/512, lr × 512/G), d = G/{ratio}, d_sae = 2G, "
          f"λ = 0.99^(512/G); seeds {seeds}; load {os.getloadavg()[0]:.1f}")
    for G in sizes:
        if G % ratio:
            raise ValueError(f"--sizes: every G must be a multiple of --ratio {ratio}, got {G}")
        d = G // ratio
        data = sk.ToyData(sk.ToyDataConfig(n_features=G, d=d, decay=0.99 ** (512 / G), device="cpu"))
        p_min = float(data.probabilities[-1])
        runs = []
        for seed in seeds:
            # the schedule and the silence before a restart grow with G, as the rarest gap does; the learning rate
            # shrinks as the dictionary grows (at G = 1024, lr 1e-2 leaves features unfound): sk.scaled_train_config
            cfg = sk.scaled_train_config(G, seed=seed, mmcs_every=25, **({"steps": 20} if quick else {}))
            runs.append(kit_run(data, sk.SAEConfig(d=d, d_sae=2 * G, seed=seed), cfg))
        row = {"G": G, "d": d, "d_sae": 2 * G, "rarest_every": 1 / p_min, "runs": runs,
               "all_samples": med(runs, "all_samples"), "all_seconds": med(runs, "all_seconds"),
               "train_us_per_sample": training_rate(data, G, d, quick)}
        row["all_train_seconds"] = (None if row["all_samples"] is None
                                    else row["all_samples"] * row["train_us_per_sample"] * 1e-6)
        rows.append(row)
        print(f"  G={G:>5} d={d:>5} d_sae={2 * G:>5} (rarest feature once in {1 / p_min:,.0f} samples): every feature "
              f"after {fmt(row['all_samples'], 'samples')} samples, {fmt(row['all_seconds'])} with the MCS checks, "
              f"{fmt(row['all_train_seconds'])} of training alone ({row['train_us_per_sample']:.1f} µs per sample; "
              f"end min MCS {min(r['final_min'] for r in runs):.3f})", flush=True)
    out = {"rows": rows}
    hit = [r for r in rows if r["all_samples"] is not None]
    if len(hit) >= 2:
        for key in ("all_samples", "all_seconds", "all_train_seconds"):
            x = torch.tensor([math.log(r["G"]) for r in hit])
            y = torch.tensor([math.log(r[key]) for r in hit])
            b = float(((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum())
            out[f"exponent_{key}"] = b
            print(f"  {key.replace('all_', '')} to every feature ∝ G^{b:.2f} (fitted over G = {[r['G'] for r in hit]})")
    return out


def training_rate(data: sk.ToyData, G: int, d: int, quick: bool, steps: int = 100) -> float:
    """Microseconds per training sample of `sk.scaled_train_config(G)` alone: a short run with no MCS check and one
    evaluation, after a few warm-up steps. The runs to every feature also check MCS every 25 steps, and a check's
    cosine matrix costs G · 2G · d multiply-adds, ∝ G³ where a step's products grow as G², so their wall time grows
    faster with G than the training does."""
    steps = 20 if quick else steps
    times = []
    for n in (5, 5 + steps):
        cfg = sk.scaled_train_config(G, steps=n, mmcs_every=n, eval_every=n, n_eval=256, progress=False, device="cpu")
        times.append(sk.train_sae(data, sk.SAEConfig(d=d, d_sae=2 * G), cfg).seconds)
    return (times[1] - times[0]) / (steps * cfg.batch_size) * 1e6


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--section", choices=["every", "scale"], default="every")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048, 4096], help="scale: numbers of features G")
    p.add_argument("--ratio", type=int, default=2, help="scale: features per dimension G/d (the default toy data's 2)")
    p.add_argument("--report-steps", type=int, default=4000, help="every: the report recipe's budget in steps of 256")
    p.add_argument("--repeats", type=int, default=1, help="every: runs of the defaults and the reference per seed "
                   "(interleaved; same samples, the median seconds count)")
    p.add_argument("--threads", type=int)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--json", metavar="PATH")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"sae_kit {sk.__version__}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"matmul_dtype 'auto' → {'bfloat16' if sk.native_bf16(torch.device('cpu')) else 'float32'}")
    t0 = time.perf_counter()
    if args.repeats < 1:
        p.error(f"--repeats must be ≥ 1, got {args.repeats}")
    res = (section_every(args.seeds, 20 if args.quick else args.report_steps, args.quick, args.repeats)
           if args.section == "every"
           else section_scale(args.sizes, args.seeds, args.quick, args.ratio))
    print(f"({time.perf_counter() - t0:.0f} s)")
    if args.json:
        sk.write_json(args.json, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())

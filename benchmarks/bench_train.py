"""CPU training benchmarks for sae_kit, every figure a ratio against a reference measured in the same process.

Run:  make bench                                     (everything, full sizes; minutes)
      python benchmarks/bench_train.py --quick       (smoke test in well under a minute; its numbers mean nothing)
      python benchmarks/bench_train.py --section 2 --threads 4 --json bench.json

Sections (all on the CPU; float32 unless a row says bfloat16):
1. matmul   The machine's GEMM rate, the ceiling: torch.mm of [d, d] by [d, N] (d=256, N=4096 by default, the shape
            of a row of 8 encoders of 512 latents), reported in GFLOP/s; also in bfloat16, as a ratio to float32.
2. step     Per-step training speed of `sk.SAE` (n_inst=1, driven as `train_sae` drives it: forward, loss.sum()
            backward, Adam step, normalize_decoder_) against the plainest PyTorch SAE written below (`ReferenceSAE`),
            both starting from the same weights and fed the same pre-generated toy batches (data generation is not
            timed). Samples/s of each, the ratio ours/reference, and each as a fraction of the matmul rate, counting
            5 matmuls of 2·batch·d·d_sae FLOPs per step (encoder forward, decoder forward, decoder grad wrt codes,
            decoder weight grad, encoder weight grad).
3. row      K SAEs (one per L1 coefficient) trained as one `sk.SAE` with n_inst=K against K separate n_inst=1 SAEs
            stepped one after the other in a Python loop on the same batches: samples·instances/s and the ratio.
4. mmcs     Wall seconds and samples until MMCS(truth → learned) ≥ 0.99 on the default toy data, with the report's
            settings (`sk.report_train_config`, kaiming encoder, orthogonal decoder) against the kit's current
            defaults (`sk.TrainConfig()`, `sk.SAEConfig` defaults): `sk.train_sae` end to end, data generation and
            MMCS checks included. Where the defaults train with bfloat16 products (matmul_dtype "auto" on a CPU with
            AVX512-BF16 or AMX), the defaults with float32 products run too, splitting the gain into the schedule's
            and bfloat16's. Options --d-sae, --l1-coeff, --steps, --seeds (medians over the seeds count).
5. arch     Per-step speed of each architecture and optimiser (n_inst=1, batch 256, d=256, d_sae=4096, k=32 — the
            shape where sparsity pays): L1, TopK with a dense decoder matmul, TopK with the sparse embedding_bag
            decode, BatchTopK, and TopK with Muon; samples/s, the ratio to the L1 SAE with Adam measured alongside,
            and the fraction of the matmul rate counting the dense 5 matmuls (so a sparse path can exceed the
            dense ceiling's share).

Timing: warm-up steps first, then `time.perf_counter` around a block of steps, repeated; the median repeat counts.
Competing runs are interleaved (A B A B …) so that load from other processes hits both alike. Seeds come from
explicit torch.Generators; nothing seeds torch's global generator.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

import sae_kit as sk


@dataclass(frozen=True)
class Settings:
    """Every size, step count and repeat count of the benchmark (FULL below; QUICK for the smoke test)."""

    d: int = 256  # data dimension (the default toy data's)
    batch: int = 256  # samples per step
    lr: float = 1e-3  # Adam's learning rate in sections 2 and 3
    warmup: int = 10  # untimed steps before timing
    repeats: int = 5  # timed repeats; the median counts
    mm_n: int = 4096  # section 1: [d, d] @ [d, mm_n]
    mm_inner: int = 40  # matmuls per timed repeat
    step_d_sae: tuple[int, ...] = (512, 1024)  # section 2: dictionary sizes
    step_l1: float = 0.1
    step_steps: int = 50  # steps per timed repeat
    n_batches: int = 64  # pre-generated toy batches, cycled through
    row_k: int = 8  # section 3: SAEs in the row (one per L1 coefficient)
    row_d_sae: int = 512
    row_steps: int = 30
    mmcs_d_sae: tuple[int, ...] = (1024,)  # section 4: dictionary sizes D (at 512 = G neither recipe reaches the target)
    mmcs_l1: tuple[float, ...] = (0.1, 0.3, 0.4)  # section 4: L1 coefficients A (every D × A case is run)
    mmcs_steps: int = 12_000  # section 4: S, at most S steps per run (the report's recipe: 3.07M samples)
    mmcs_target: float = 0.99
    mmcs_repeats: int = 1  # whole training runs per configuration (samples are seeded, only seconds vary)
    mmcs_seeds: tuple[int, ...] = (0,)  # section 4: seeds of the SAE init and the data stream; medians over them count
    mmcs_warmup_steps: int = 50
    arch_d_sae: int = 4096  # section 5
    arch_k: int = 32
    arch_steps: int = 20


FULL = Settings()
QUICK = dataclasses.replace(
    FULL, warmup=2, repeats=2, mm_n=1024, mm_inner=5, step_d_sae=(64, 128), step_steps=5, n_batches=4,
    row_k=3, row_d_sae=64, row_steps=5, mmcs_d_sae=(128,), mmcs_l1=(0.1,), mmcs_steps=20, mmcs_warmup_steps=5,
    arch_d_sae=256, arch_k=8, arch_steps=3,
)
SECTIONS = {"1": "matmul", "2": "step", "3": "row", "4": "mmcs", "5": "arch"}


# ---------------------------------------------------------------------------------------------------- helpers


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def median_seconds(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median wall seconds of each callable over `repeats`, the callables interleaved within every repeat."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def toy_batches(s: Settings, n: int, seed: int) -> list[torch.Tensor]:
    """`n` fresh batches [batch, d] of the default-shaped toy data (G = 2d features), made before any timing."""
    data = sk.ToyData(sk.ToyDataConfig(d=s.d, n_features=2 * s.d))
    g = torch.Generator().manual_seed(seed)
    return [data.sample(s.batch, g)[0] for _ in range(n)]


class Stepper:
    """Calls `step(x)` on the pre-generated batches in turn: `stepper(n)` runs n optimiser steps."""

    def __init__(self, step: Callable[[torch.Tensor], None], batches: list[torch.Tensor]) -> None:
        self.step, self.batches, self.i = step, batches, 0

    def __call__(self, n: int) -> None:
        for _ in range(n):
            self.step(self.batches[self.i % len(self.batches)])
            self.i += 1


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def fmt_ratio(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.2f}×"


# ---------------------------------------------------------------------------------------------------- the reference


class ReferenceSAE(nn.Module):
    """The most straightforward single SAE: Linear encoder with bias, ReLU, decoder [d, d_sae] without bias.

    loss = MSE + α · mean |c|  (the kit's "mean" L1 convention); decoder columns are renormalised after each step.
    """

    def __init__(self, d: int, d_sae: int, l1_coeff: float, generator: torch.Generator) -> None:
        super().__init__()
        self.l1_coeff = l1_coeff
        self.encoder = nn.utils.skip_init(nn.Linear, d, d_sae)  # initialised below from our own generator
        bound = 1 / d**0.5
        with torch.no_grad():
            self.encoder.weight.uniform_(-bound, bound, generator=generator)
            self.encoder.bias.uniform_(-bound, bound, generator=generator)
        self.W_dec = nn.Parameter(torch.randn(d, d_sae, generator=generator))
        self.normalize_decoder_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = torch.relu(self.encoder(x))
        x_hat = c @ self.W_dec.T
        return (x_hat - x).pow(2).mean() + self.l1_coeff * c.abs().mean()

    @torch.no_grad()
    def normalize_decoder_(self) -> None:
        self.W_dec /= self.W_dec.norm(dim=0, keepdim=True)

    @torch.no_grad()
    def copy_from_kit_(self, sae: sk.SAE) -> ReferenceSAE:
        """Take the weights of instance 0 of `sae` (so both start alike and do the same work)."""
        self.encoder.weight.copy_(sae.W_enc[0])
        self.encoder.bias.copy_(sae.b_enc[0])
        self.W_dec.copy_(sae.W_dec[0].T)
        return self


def reference_step(model: ReferenceSAE, opt: torch.optim.Optimizer) -> Callable[[torch.Tensor], None]:
    def step(x: torch.Tensor) -> None:
        loss = model(x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        model.normalize_decoder_()

    return step


def kit_step(sae: sk.SAE, opt: torch.optim.Optimizer, matmul_dtype: torch.dtype | None = None) -> Callable[[torch.Tensor], None]:
    """One step exactly as `sk.train_sae` drives the SAE (without its logging and NaN check); matmul_dtype as
    `TrainConfig.matmul_dtype` resolves it (None: float32 products)."""

    def step(x: torch.Tensor) -> None:
        out = sae(x, matmul_dtype=matmul_dtype)
        opt.zero_grad(set_to_none=True)
        out.loss.sum().backward()
        opt.step()
        sae.normalize_decoder_()

    return step


# ---------------------------------------------------------------------------------------------------- 1. matmul


_matmul_cache: dict[str, float] = {}


def matmul_gflops(s: Settings, dtype: torch.dtype = torch.float32) -> float:
    """GFLOP/s of torch.mm([d, d], [d, mm_n]) in `dtype` (measured once per process and dtype)."""
    key = f"gflops-{dtype}"
    if key not in _matmul_cache:
        g = torch.Generator().manual_seed(1)
        a, b = torch.randn(s.d, s.d, generator=g).to(dtype), torch.randn(s.d, s.mm_n, generator=g).to(dtype)

        def run() -> None:
            for _ in range(s.mm_inner):
                torch.mm(a, b)

        for _ in range(max(1, s.warmup // 2)):
            run()
        sec = median_seconds({"mm": run}, s.repeats)["mm"]
        _matmul_cache[key] = 2 * s.d * s.d * s.mm_n * s.mm_inner / sec / 1e9
    return _matmul_cache[key]


def section_matmul(s: Settings) -> dict:
    rate = matmul_gflops(s)
    print(f"torch.mm [{s.d}×{s.d}] @ [{s.d}×{s.mm_n}] float32: {rate:.1f} GFLOP/s (the ceiling for sections 2-3)")
    rate16 = matmul_gflops(s, torch.bfloat16)
    print(f"the same in bfloat16: {rate16:.1f} GFLOP/s, {fmt_ratio(ratio(rate16, rate))} float32's "
          f"(native bfloat16 here: {sk.native_bf16(torch.device('cpu'))})")
    return {"shape": [s.d, s.d, s.mm_n], "gflops": rate, "bf16_gflops": rate16, "bf16_over_float32": ratio(rate16, rate)}


# ---------------------------------------------------------------------------------------------------- 2. step


def flops_per_sample(d: int, d_sae: int) -> int:
    """5 matmuls of 2·d·d_sae per sample: encoder fwd, decoder fwd, decoder grad wrt codes, decoder and encoder weight grads."""
    return 5 * 2 * d * d_sae


def section_step(s: Settings) -> dict:
    rate = matmul_gflops(s)
    batches = toy_batches(s, s.n_batches, seed=2)
    rows = []
    print(f"{s.step_steps} steps × {s.repeats} repeats, batch {s.batch}, d={s.d}, matmul ceiling {rate:.1f} GFLOP/s")
    print("'ours bf16': the same step with bfloat16 products (TrainConfig.matmul_dtype='bfloat16'; 'auto' picks it here: "
          f"{sk.native_bf16(torch.device('cpu'))}); its ceiling share still counts float32 FLOPs at the float32 rate")
    print(f"{'d_sae':>6} {'reference/s':>12} {'ours/s':>10} {'ours/ref':>9} {'ref/ceil':>9} {'ours/ceil':>10} "
          f"{'ours bf16/s':>12} {'bf16/ref':>9} {'bf16/ceil':>10}")
    for d_sae in s.step_d_sae:
        sae = sk.SAE(sk.SAEConfig(d=s.d, d_sae=d_sae, l1_coeff=s.step_l1, seed=3))
        sae_bf16 = sk.SAE(sk.SAEConfig(d=s.d, d_sae=d_sae, l1_coeff=s.step_l1, seed=3))
        ref = ReferenceSAE(s.d, d_sae, s.step_l1, torch.Generator().manual_seed(3)).copy_from_kit_(sae)
        with torch.no_grad():  # same weights, same loss: the two do the same arithmetic
            ours_loss, ref_loss = sae(batches[0]).loss.item(), ref(batches[0]).item()
        if abs(ours_loss - ref_loss) > 1e-4 * max(1.0, abs(ref_loss)):
            raise AssertionError(f"d_sae={d_sae}: reference loss {ref_loss} ≠ sae_kit loss {ours_loss}")
        steppers = {
            "reference": Stepper(reference_step(ref, torch.optim.Adam(ref.parameters(), lr=s.lr)), batches),
            "ours": Stepper(kit_step(sae, torch.optim.Adam(sae.parameters(), lr=s.lr)), batches),
            "ours_bf16": Stepper(kit_step(sae_bf16, torch.optim.Adam(sae_bf16.parameters(), lr=s.lr), torch.bfloat16), batches),
        }
        for stepper in steppers.values():
            stepper(s.warmup)
        sec = median_seconds({k: (lambda st=st: st(s.step_steps)) for k, st in steppers.items()}, s.repeats)
        per_s = {k: s.step_steps * s.batch / v for k, v in sec.items()}
        ceil = {k: v * flops_per_sample(s.d, d_sae) / (rate * 1e9) for k, v in per_s.items()}
        row = {
            "d_sae": d_sae, "reference_samples_per_s": per_s["reference"], "ours_samples_per_s": per_s["ours"],
            "ours_over_reference": ratio(per_s["ours"], per_s["reference"]),
            "reference_fraction_of_matmul": ceil["reference"], "ours_fraction_of_matmul": ceil["ours"],
            "ours_bf16_samples_per_s": per_s["ours_bf16"], "ours_bf16_over_reference": ratio(per_s["ours_bf16"], per_s["reference"]),
            "ours_bf16_fraction_of_matmul": ceil["ours_bf16"],
        }
        rows.append(row)
        print(f"{d_sae:>6} {per_s['reference']:>12.0f} {per_s['ours']:>10.0f} {fmt_ratio(row['ours_over_reference']):>9} "
              f"{ceil['reference']:>9.1%} {ceil['ours']:>10.1%} {per_s['ours_bf16']:>12.0f} "
              f"{fmt_ratio(row['ours_bf16_over_reference']):>9} {ceil['ours_bf16']:>10.1%}")
    return {"steps": s.step_steps, "batch": s.batch, "d": s.d, "matmul_gflops": rate, "rows": rows}


# ---------------------------------------------------------------------------------------------------- 3. row


def section_row(s: Settings) -> dict:
    rate = matmul_gflops(s)
    k, d_sae = s.row_k, s.row_d_sae
    alphas = torch.logspace(-2, -0.5, k).tolist()  # α from 0.01 to 0.32
    batches = toy_batches(s, s.n_batches, seed=4)
    row = sk.SAE(sk.SAEConfig(d=s.d, d_sae=d_sae, l1_coeff=alphas, seed=5))
    singles = [sk.SAE(sk.SAEConfig(d=s.d, d_sae=d_sae, l1_coeff=a, seed=5 + i)) for i, a in enumerate(alphas)]
    single_steps = [kit_step(m, torch.optim.Adam(m.parameters(), lr=s.lr)) for m in singles]

    def one_by_one(x: torch.Tensor) -> None:
        for step in single_steps:
            step(x)

    steppers = {
        "batched": Stepper(kit_step(row, torch.optim.Adam(row.parameters(), lr=s.lr)), batches),
        "one_by_one": Stepper(one_by_one, batches),
    }
    for stepper in steppers.values():
        stepper(s.warmup)
    sec = median_seconds({name: (lambda st=st: st(s.row_steps)) for name, st in steppers.items()}, s.repeats)
    per_s = {name: s.row_steps * s.batch * k / v for name, v in sec.items()}
    ceil = {name: v * flops_per_sample(s.d, d_sae) / (rate * 1e9) for name, v in per_s.items()}
    r = ratio(per_s["batched"], per_s["one_by_one"])
    print(f"K={k} SAEs of d_sae={d_sae}, {s.row_steps} steps × {s.repeats} repeats, batch {s.batch}")
    for name, label in (("batched", f"one SAE with n_inst={k}"), ("one_by_one", f"{k} SAEs n_inst=1, Python loop")):
        print(f"  {label:<30} {per_s[name]:>10.0f} samples·instances/s ({ceil[name]:.1%} of matmul)")
    print(f"  batched / one by one: {fmt_ratio(r)}")
    return {
        "k": k, "d_sae": d_sae, "steps": s.row_steps, "l1_coeffs": alphas,
        "batched_samples_instances_per_s": per_s["batched"], "one_by_one_samples_instances_per_s": per_s["one_by_one"],
        "batched_over_one_by_one": r,
        "batched_fraction_of_matmul": ceil["batched"], "one_by_one_fraction_of_matmul": ceil["one_by_one"],
    }


# ---------------------------------------------------------------------------------------------------- 4. mmcs


def summarise_mmcs_runs(results: list[sk.TrainResult], cfg: sk.TrainConfig) -> dict:
    """Samples and (median) seconds at which instance 0 first reached cfg.stop_at_mmcs over repeated seeded runs."""
    reached = results[0].first_reached[0]
    if any(r.first_reached[0] != reached for r in results):
        raise AssertionError("seeded runs reached the target after different sample counts")
    seconds = []
    for r in results:  # first_reached holds samples; the matching mmcs_history entry holds the wall time
        h = r.mmcs_history
        seconds.append(h["seconds"][h["samples"].index(reached)] if reached is not None else r.seconds)
    first = results[0]
    return {
        "mmcs_every": cfg.mmcs_every, "batch_size": cfg.batch_size, "reached": reached is not None, "samples": reached,
        "steps": None if reached is None else reached // cfg.batch_size, "seconds": statistics.median(seconds),
        "steps_done": first.steps_done, "final_mmcs": first.mmcs_history["mmcs"][-1][0],
        "loop_samples_per_s": first.steps_done * cfg.batch_size / statistics.median(r.seconds for r in results),
    }


def median_over_seeds(per_seed: list[dict]) -> dict:
    """One recipe's figures over several seeds: reached only if every seed reached the target; samples, steps and
    seconds are medians over the seeds (seconds over all seeds when some missed); per_seed keeps each seed's."""
    reached = all(r["reached"] for r in per_seed)
    first = per_seed[0]
    samples = int(statistics.median(r["samples"] for r in per_seed)) if reached else None
    return {
        "mmcs_every": first["mmcs_every"], "batch_size": first["batch_size"], "reached": reached, "samples": samples,
        "steps": None if samples is None else samples // first["batch_size"],
        "seconds": statistics.median(r["seconds"] for r in per_seed),
        "steps_done": max(r["steps_done"] for r in per_seed), "final_mmcs": min(r["final_mmcs"] for r in per_seed),
        "loop_samples_per_s": statistics.median(r["loop_samples_per_s"] for r in per_seed),
        "per_seed": [{k: r[k] for k in ("reached", "samples", "seconds", "final_mmcs")} for r in per_seed],
    }


def config_diff(a: dict, b: dict) -> list[str]:
    return [f"{k}: {a.get(k)!r} → {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def section_mmcs(s: Settings) -> dict:
    """Each (D, α) case trained with the report's settings and with the kit's defaults; headline: each recipe's best case."""
    data = sk.ToyData(sk.ToyDataConfig(device="cpu"))
    d, S, target = data.d, s.mmcs_steps, s.mmcs_target
    cases = [(D, A) for D in s.mmcs_d_sae for A in s.mmcs_l1]
    bf16 = sk.native_bf16(torch.device("cpu"))  # TrainConfig's matmul_dtype="auto" trains with bfloat16 products here

    def recipes(D: int, A: float, seed: int = 0) -> dict[str, tuple[sk.SAEConfig, sk.TrainConfig]]:
        every = 25_600 // sk.TrainConfig().batch_size
        return {
            "report": (sk.report_sae_config(d, D, A, seed=seed),
                       sk.report_train_config(stop_at_mmcs=target, steps=S, progress=False, device="cpu", mmcs_every=100,
                                              seed=seed)),
            # the defaults run their own schedule length (the cosine decay spans TrainConfig().steps); MMCS is checked
            # every 25,600 samples for both recipes
            "defaults": (sk.SAEConfig(d=d, d_sae=D, l1_coeff=A, seed=seed),
                         sk.TrainConfig(stop_at_mmcs=target, progress=False, device="cpu", mmcs_every=every, seed=seed)),
            # the defaults with float32 products: what the schedule and init give without bfloat16 (run only where
            # matmul_dtype="auto" picks bfloat16, otherwise it is the row above)
            **({"defaults_fp32": (sk.SAEConfig(d=d, d_sae=D, l1_coeff=A, seed=seed),
                                  sk.TrainConfig(stop_at_mmcs=target, progress=False, device="cpu", matmul_dtype="float32",
                                                 mmcs_every=every, seed=seed))} if bf16 else {}),
        }

    example = recipes(*cases[0])
    diff = config_diff(example["report"][0].to_dict(), example["defaults"][0].to_dict())
    diff += config_diff(dataclasses.asdict(example["report"][1]), dataclasses.asdict(example["defaults"][1]))
    print(f"toy data {data.cfg.n_features} features in d={d}; cases (d_sae, α) {cases}; at most {S} steps; "
          f"target MMCS ≥ {target}; seeds {list(s.mmcs_seeds)} (a case counts as reached when every seed reaches it; "
          "its samples and seconds are the medians over the seeds)")
    print("defaults differ from the report's settings in: " + ("; ".join(diff) if diff else "nothing (they are the same today)"))
    print(f"matmul_dtype 'auto' here: {'bfloat16' if bf16 else 'float32'}"
          + ("; 'defaults_fp32' is the defaults with float32 products" if bf16 else ""))
    for sae_cfg, cfg in example.values():  # warm-up: a few untimed steps of each
        sk.train_sae(data, sae_cfg, dataclasses.replace(cfg, steps=min(S, s.mmcs_warmup_steps), stop_at_mmcs=None))
    out: dict = {"max_steps": S, "target": target, "config_differences": diff, "cases": []}
    for D, A in cases:
        per_seed: dict[str, list[dict]] = {}
        for seed in s.mmcs_seeds:
            runs = recipes(D, A, seed)
            results: dict[str, list[sk.TrainResult]] = {name: [] for name in runs}
            for _ in range(s.mmcs_repeats):  # interleaved, like the other sections
                for name, (sae_cfg, cfg) in runs.items():
                    results[name].append(sk.train_sae(data, sae_cfg, cfg))
            for name in runs:
                per_seed.setdefault(name, []).append(summarise_mmcs_runs(results[name], runs[name][1]))
        res = {name: median_over_seeds(rs) for name, rs in per_seed.items()}
        print(f" d_sae={D}, α={A}:")
        for name, r in res.items():
            head = f"  {name:<9} (batch {r['batch_size']}, MMCS checked every {r['mmcs_every']} steps):"
            spread = "" if len(r["per_seed"]) == 1 else (
                f" over {len(r['per_seed'])} seeds (samples {min(x['samples'] for x in r['per_seed'] if x['reached']):,}–"
                f"{max(x['samples'] for x in r['per_seed'] if x['reached']):,})" if r["reached"] else "")
            if r["reached"]:
                print(f"{head} reached after {r['seconds']:.1f} s, {r['samples']:,} samples ({r['steps']:,} steps){spread}")
            else:
                n_hit = sum(x["reached"] for x in r["per_seed"])
                print(f"{head} not reached within {r['steps_done']} steps in {len(r['per_seed']) - n_hit} of "
                      f"{len(r['per_seed'])} seed(s) ({r['seconds']:.1f} s); lowest final MMCS {r['final_mmcs']:.4f}")
            print(f"  {'':<9} train_sae loop: {r['loop_samples_per_s']:.0f} samples/s (data generation and checks included)")
        out["cases"].append({"d_sae": D, "l1_coeff": A, **res})

    def best(name: str) -> dict | None:
        hit = [dict(c[name], d_sae=c["d_sae"], l1_coeff=c["l1_coeff"]) for c in out["cases"] if c[name]["reached"]]
        return min(hit, key=lambda r: r["seconds"]) if hit else None

    b_rep, b_def = best("report"), best("defaults")
    out["best"] = {"report": b_rep, "defaults": b_def}
    if bf16:
        out["best"]["defaults_fp32"] = best("defaults_fp32")
    if b_rep and b_def:
        out["speedup"] = {"seconds": ratio(b_rep["seconds"], b_def["seconds"]), "samples": ratio(b_rep["samples"], b_def["samples"])}
        print(f"  headline (each recipe's fastest case): report {b_rep['seconds']:.1f} s / {b_rep['samples']:,} samples "
              f"(d_sae={b_rep['d_sae']}, α={b_rep['l1_coeff']}) vs defaults {b_def['seconds']:.1f} s / {b_def['samples']:,} samples "
              f"(d_sae={b_def['d_sae']}, α={b_def['l1_coeff']}): {fmt_ratio(out['speedup']['seconds'])} less wall time, "
              f"{fmt_ratio(out['speedup']['samples'])} fewer samples")
        b32 = out["best"].get("defaults_fp32")
        if b32:
            out["speedup_fp32"] = {"seconds": ratio(b_rep["seconds"], b32["seconds"]), "samples": ratio(b_rep["samples"], b32["samples"])}
            print(f"  of which the schedule and init (defaults with float32 products, {b32['seconds']:.1f} s / {b32['samples']:,} "
                  f"samples): {fmt_ratio(out['speedup_fp32']['seconds'])} less wall time, "
                  f"{fmt_ratio(out['speedup_fp32']['samples'])} fewer samples; bfloat16 products: "
                  f"{fmt_ratio(ratio(b32['seconds'], b_def['seconds']))} less wall time")
    else:
        out["speedup"] = None
        print("  headline: needs both recipes to reach the target in some case")
    return out


# ---------------------------------------------------------------------------------------------------- 5. arch


def section_arch(s: Settings) -> dict:
    rate = matmul_gflops(s)
    d_sae, k = s.arch_d_sae, s.arch_k
    batches = toy_batches(s, s.n_batches, seed=6)
    variants = {  # name: (SAEConfig overrides, optimiser)
        "l1 (adam)": (dict(architecture="l1", l1_coeff=s.step_l1), "adam"),
        "topk dense decode": (dict(architecture="topk", k=k, sparse_decode=False), "adam"),
        "topk sparse decode": (dict(architecture="topk", k=k, sparse_decode=True), "adam"),
        "batchtopk": (dict(architecture="batchtopk", k=k), "adam"),
        "topk sparse + muon": (dict(architecture="topk", k=k, sparse_decode=True), "muon"),
    }
    steppers = {}
    for name, (kw, optimizer) in variants.items():
        sae = sk.SAE(sk.SAEConfig(d=s.d, d_sae=d_sae, seed=7, **kw))
        opt = sk.SAEOptimizer(sae, optimizer, lr=s.lr, muon_lr=2e-3)

        def step(x: torch.Tensor, sae=sae, opt=opt) -> None:
            out = sae(x)
            opt.zero_grad()
            out.loss.sum().backward()
            opt.step()
            sae.normalize_decoder_()

        steppers[name] = Stepper(step, batches)
        steppers[name](s.warmup)
    sec = median_seconds({n: (lambda st=st: st(s.arch_steps)) for n, st in steppers.items()}, s.repeats)
    per_s = {n: s.arch_steps * s.batch / v for n, v in sec.items()}
    base = per_s["l1 (adam)"]
    print(f"d={s.d}, d_sae={d_sae}, k={k}, batch {s.batch}, {s.arch_steps} steps × {s.repeats} repeats")
    print(f"{'variant':<22} {'samples/s':>10} {'vs L1':>7} {'of matmul':>10}")
    rows = []
    for n, v in per_s.items():
        frac = v * flops_per_sample(s.d, d_sae) / (rate * 1e9)
        rows.append({"variant": n, "samples_per_s": v, "over_l1": ratio(v, base), "fraction_of_matmul": frac})
        print(f"{n:<22} {v:>10.0f} {fmt_ratio(ratio(v, base)):>7} {frac:>10.1%}")
    sparse_vs_dense = ratio(per_s["topk sparse decode"], per_s["topk dense decode"])
    print(f"  TopK sparse / dense decode: {fmt_ratio(sparse_vs_dense)}")
    return {"d_sae": d_sae, "k": k, "rows": rows, "topk_sparse_over_dense": sparse_vs_dense}


# ---------------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny sizes and steps: a smoke test, its numbers mean nothing")
    p.add_argument("--section", choices=[*SECTIONS, *SECTIONS.values()], help="run one section (number or name)")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's default)")
    p.add_argument("--json", metavar="PATH", help="also write every figure as JSON here")
    section4 = (("--d-sae", int, "+", "dictionary sizes D", "mmcs_d_sae"), ("--l1-coeff", float, "+", "L1 coefficients A", "mmcs_l1"),
                ("--steps", int, None, "at most S steps", "mmcs_steps"), ("--seeds", int, "+", "seeds N", "mmcs_seeds"))
    for flag, kind, nargs, what, field in section4:
        p.add_argument(flag, type=kind, nargs=nargs, dest=field, metavar=what[-1],
                       help=f"section 4: {what} (default {getattr(FULL, field)}; --quick: {getattr(QUICK, field)})")
    args = p.parse_args(argv)

    s = QUICK if args.quick else FULL
    overrides = {field: getattr(args, field) for field in ("mmcs_d_sae", "mmcs_l1", "mmcs_steps", "mmcs_seeds")}
    s = dataclasses.replace(s, **{k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items() if v is not None})
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    wanted = list(SECTIONS.values()) if args.section is None else [SECTIONS.get(args.section, args.section)]

    header = {
        "torch": torch.__version__, "python": platform.python_version(), "threads": torch.get_num_threads(),
        "cpu": cpu_model(), "logical_cpus": os.cpu_count(), "quick": args.quick,
    }
    print(f"sae_kit {sk.__version__} training benchmark{' (--quick: smoke test, numbers mean nothing)' if args.quick else ''}")
    print(f"torch {header['torch']}, python {header['python']}, {header['threads']} threads, "
          f"CPU: {header['cpu']} ({header['logical_cpus']} logical)")
    figures: dict = {"header": header, "settings": dataclasses.asdict(s)}
    sections = {"matmul": section_matmul, "step": section_step, "row": section_row, "mmcs": section_mmcs,
                "arch": section_arch}
    titles = {"matmul": "machine matmul rate", "step": "per-step speed vs a plain reference",
              "row": "batched row vs one by one", "mmcs": f"time and samples to MMCS ≥ {s.mmcs_target}",
              "arch": "architectures and optimisers per step"}
    for number, name in SECTIONS.items():
        if name in wanted:
            print(f"\n== {number}. {titles[name]} ==")
            t0 = time.perf_counter()
            figures[name] = sections[name](s)
            print(f"   ({time.perf_counter() - t0:.1f} s)")
    if args.json:
        print(f"\nfigures written to {sk.write_json(args.json, figures)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

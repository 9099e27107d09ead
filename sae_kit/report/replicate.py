"""Headless replication: execute every notebook with papermill and summarise the key figures they write.

    python -m sae_kit --profile full --out reports      # what `make replicate` runs
    python -m sae_kit --profile ci --out reports/ci     # the CI profile

Both end with out/results.json and out/index.html: every executed notebook as an offline HTML page with interactive
figures, and one row per published claim (sae_kit.report.html_report).

Each notebook has a cell tagged `parameters` with `profile`, `results_path` and `cache_dir`; it writes its key
figures to `results_path` (JSON, beside the executed notebook) through `write_results`. A claim row records a
published claim, its source, the published figure, ours, and whether it replicated.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from sae_kit._util import HEADLESS_ENV, check_positive_int, resolve_device, resolve_matmul_dtype
from sae_kit.claims.base import Claim
from sae_kit.io import read_json, write_json
from sae_kit.report.profiles import PROFILE_NAMES

__all__ = ["Claim", "write_results", "run_notebooks", "collect_results", "summary_table", "PROFILES", "main"]

PROFILES = PROFILE_NAMES  # ("lab", "ci", "quick", "full"): see sae_kit.report.profiles
NOTEBOOK_DIR = Path(__file__).resolve().parent.parent.parent / "notebooks"


def write_results(path: str | Path, notebook: str, profile: str, claims: list[Claim], figures: dict[str, Any]) -> Path:
    """Write a notebook's key figures to JSON: {notebook, profile, claims: [...], figures: {...}, environment: {...}}.

    environment: torch's version, the device `TrainConfig(device="auto")` picks and the dtype its products train in
    under `matmul_dtype="auto"`, so a replication can be compared knowing its arithmetic."""
    device = resolve_device("auto")
    auto = resolve_matmul_dtype("auto", device)  # what TrainConfig() trains with here
    env = {"torch": torch.__version__, "device": str(device), "auto_matmul_dtype": "float32" if auto is None else "bfloat16"}
    return write_json(path, {
        "notebook": notebook, "profile": profile, "claims": [asdict(c) for c in claims], "figures": figures,
        "environment": env,
    })


def notebooks(directory: Path = NOTEBOOK_DIR, only: list[str] | None = None) -> list[Path]:
    """The numbered notebooks (NN_name.ipynb) in order, optionally only those whose name starts with one of `only`."""
    found = sorted(p for p in directory.glob("[0-9][0-9]_*.ipynb"))
    if only:
        found = [p for p in found if any(p.name.startswith(o) for o in only)]
        if not found:
            raise ValueError(f"no notebook in {directory} starts with any of {only}")
    return found


def run_notebooks(out_dir: str | Path, profile: str = "full", timeout: int = 3600, only: list[str] | None = None,
                  notebook_dir: Path = NOTEBOOK_DIR, jobs: int = 1) -> list[Path]:
    """Execute each notebook with papermill into out_dir (headless, a per-cell timeout); returns the executed paths.

    `jobs` notebooks run at once, each in its own process and kernel (the notebooks are independent). With jobs > 1
    and no OMP_NUM_THREADS set, each kernel gets cores // jobs torch threads, so the kernels do not fight over cores.
    A notebook that fails is reported after the others finish (its executed copy keeps the traceback).
    """
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
    check_positive_int("jobs", jobs)
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.environ[HEADLESS_ENV] = "1"  # the kernel inherits it: no widgets, plain-text progress bars
    os.environ["PLOTLY_RENDERER"] = "plotly_mimetype"  # figures as JSON; sae_kit.report.html_report draws them on the pages
    if jobs > 1:
        os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // jobs)))
    tasks = [(str(nb), str(out / nb.name), {"profile": profile, "results_path": str((out / nb.name).with_suffix(".json")),
                                            "cache_dir": str(out / "cache" / nb.stem / profile)}, timeout)
             for nb in notebooks(notebook_dir, only)]
    if jobs == 1:
        errors = [_execute_one(*t) for t in tasks]
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            errors = list(pool.map(_execute_one, *zip(*tasks)))
    failed = [e for e in errors if e]
    if failed:
        raise RuntimeError(f"{len(failed)} notebook(s) failed:\n" + "\n".join(failed))
    return [Path(t[1]) for t in tasks]


def _execute_one(notebook: str, target: str, params: dict, timeout: int) -> str:
    """Run one notebook with papermill; returns "" on success, else the notebook's name and the error's last lines."""
    import papermill as pm

    name = Path(notebook).name
    print(f"[sae-kit] {name} ({params['profile']}) → {target}", flush=True)
    t0 = time.perf_counter()
    try:
        pm.execute_notebook(notebook, target, parameters=params, kernel_name="python3", cwd=str(Path(notebook).parent),
                            execution_timeout=timeout, progress_bar=False, log_output=False)
    except Exception as e:  # noqa: BLE001 reported with the notebook's name once every notebook has run
        print(f"[sae-kit] {name} FAILED after {time.perf_counter() - t0:.0f} s", flush=True)
        return f"{name}: {type(e).__name__}: {str(e)[-3000:]}"
    print(f"[sae-kit] {name} done in {time.perf_counter() - t0:.0f} s", flush=True)
    return ""


def collect_results(out_dir: str | Path) -> list[dict]:
    """Read every notebook's results JSON from out_dir, in notebook order."""
    return [read_json(p) for p in sorted(Path(out_dir).glob("[0-9][0-9]_*.json"))]


def summary_table(results: list[dict], width: int = 60) -> str:
    """A plain-text table: one row per claim (notebook, claim id, published, ours, replicated). A cell longer than
    `width` characters wraps onto the following lines of its column: every figure is shown whole."""
    import textwrap

    check_positive_int("width", width)
    rows = [("notebook", "claim", "published", "ours", "replicated")]
    for r in results:
        for c in r["claims"]:
            rows.append((r["notebook"], c["id"], c["published"], c["ours"], "yes" if c["replicated"] else "NO"))
    cells = [[textwrap.wrap(str(v), width, break_long_words=True, break_on_hyphens=False) or [""] for v in row]
             for row in rows]
    widths = [max(len(line) for row in cells for line in row[i]) for i in range(5)]
    lines = []
    for row in cells:
        for k in range(max(len(c) for c in row)):
            lines.append("  ".join((c[k] if k < len(c) else "").ljust(w) for c, w in zip(row, widths)).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sae_kit", description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="full", choices=PROFILES, help="notebook profile (default: full)")
    ap.add_argument("--out", default="reports", help="where executed notebooks and results go (default: reports)")
    ap.add_argument("--only", nargs="*", help="run only notebooks whose name starts with these (e.g. 03)")
    ap.add_argument("--timeout", type=int, default=3600, help="per-cell execution timeout in seconds")
    ap.add_argument("--jobs", type=int, default=1, help="notebooks executed at once, each in its own kernel (default: 1)")
    ap.add_argument("--summary-only", action="store_true", help="only print the table of existing results (and rebuild the pages)")
    ap.add_argument("--no-html", action="store_true", help="skip the HTML pages (out/NN_name.html and out/index.html)")
    ap.add_argument("--png", action="store_true", help="also write each notebook's headline figure to out/png/NN_name.png "
                    "(needs kaleido ≥ 1 and a Chromium or Chrome; sae_kit.report.figures_png)")
    args = ap.parse_args(argv)
    if not args.summary_only:
        run_notebooks(args.out, args.profile, args.timeout, args.only, jobs=args.jobs)
    results = collect_results(args.out)
    print("\nReplicated figures (" + args.out + ")\n" + summary_table(results))
    write_json(Path(args.out) / "results.json", {r["notebook"]: r for r in results})
    if not args.no_html:
        from sae_kit.report.html_report import write_report_html

        print(f"\nReport: {write_report_html(args.out, results)} (every notebook as a page; open it offline)")
    png_failed = False
    if args.png:  # optional: a missing kaleido or browser is reported, and does not undo the replication above
        from sae_kit.report.figures_png import export_headlines

        try:
            print("\nHeadline figures: " + ", ".join(str(p) for p in export_headlines(args.out)))
        except (RuntimeError, ValueError) as e:
            png_failed = True
            print(f"\nPNG export skipped: {e}", file=sys.stderr)
    failed = [c["id"] for r in results for c in r["claims"] if not c["replicated"]]
    if failed:
        print(f"\n{len(failed)} claim(s) not replicated in this profile: {', '.join(failed)}")
    return 1 if png_failed and args.summary_only else 0  # only the export was asked for: its failure is the exit status


if __name__ == "__main__":
    sys.exit(main())

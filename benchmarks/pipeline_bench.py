"""The README's own commands, timed: `make setup` into a fresh environment, `make demo` (per step)
and `make test`, on this machine, into results/pipeline_bench.{json,md}.

    PYTHONPATH=. python benchmarks/pipeline_bench.py --setup --demo --test --copy

- `--setup`: `make setup VENV=<fresh folder>`: a new virtual environment and every install.
- `--demo`: `make demo RUNS=<fresh folder>` with the project environment; every command the Makefile
  runs is timed on its own through a small wrapper interpreter (benchmarks/timed_python), so the
  table shows where the time goes.
- `--test`: `make test` (the suite as CI runs it).
- `--copy`: the demo's training run, Table 4 and study go into results/ (results/demo_run/ with a
  README generated from its run.json; results/table4_demo/), so the README's figures and pictures come
  from this very run.
Every row records the command; the file records commit, hardware, load and date.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks._provenance import markdown_table, write_bench  # noqa: E402

WRAPPER = ROOT / "benchmarks" / "timed_python"
DEMO_RUN_FILES = ("config.json", "run.json", "losses.csv", "losses.png")


def _make(target: str, *assignments: str, env: dict | None = None) -> tuple[float, int]:
    """Run `make TARGET VAR=...` in the repository; (seconds, exit code)."""
    cmd = ["make", target, *assignments]
    print(f"pipeline_bench: {' '.join(cmd)}", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    rc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **(env or {})}).returncode
    return time.perf_counter() - t0, rc


def _step_name(argv: str) -> str:
    words = argv.split()
    if words[:2] == ["-m", "pip"]:
        return "pip install (editable, already installed)"
    if words and words[0] == "-c":
        return "environment check"
    if words[:1] == ["-m"] and len(words) > 1:
        verb = words[2] if len(words) > 2 and not words[2].startswith("-") else ""
        return f"python -m {words[1]} {verb}".strip()
    return argv[:60]


def time_demo(runs: Path, python: Path) -> list[dict]:
    """`make demo` with every interpreter call timed; rows per step plus the total."""
    log = runs.parent / "timing.log"
    seconds, rc = _make("demo", f"PY={WRAPPER}", f"RUNS={runs}",
                        env={"REAL_PY": str(python), "TIMING_LOG": str(log)})
    rows = []
    for line in log.read_text().splitlines():
        start, end, argv = line.split(" ", 2)
        rows.append({"step": _step_name(argv), "command": f"python {argv}", "seconds": round(float(end) - float(start), 1)})
    rows.append({"step": "make demo (total)", "command": f"make demo RUNS={runs.name}", "seconds": round(seconds, 1),
                 "exit_code": rc})
    return rows


def copy_demo(runs: Path, results: Path) -> None:
    """The demo's run and Table 4 into results/, with a README generated from run.json."""
    run = runs / "demo"
    info = json.loads((run / "run.json").read_text())
    dst = results / "demo_run"
    shutil.rmtree(dst, ignore_errors=True)
    dst.mkdir(parents=True)
    for name in DEMO_RUN_FILES:
        shutil.copy2(run / name, dst / name)
    grids = sorted((run / "samples").glob("grid_*.png"))
    for g in grids:
        shutil.copy2(g, dst / g.name)
    shutil.copy2(grids[-1], dst / "grid_final.png")
    hw = info.get("hardware", {})
    cfg = info.get("config", {})
    lines = [
        f"# Demo run (`python -m train`, the `{info['preset']}` preset)", "",
        "Copied unchanged from the `make demo` run timed by `benchmarks/pipeline_bench.py --demo --copy`; every "
        "figure below is read from `run.json`.", "",
        f"- command: `{info.get('command', 'python -m train')}` (run by `make demo`)",
        f"- commit: `{info.get('commit')}`",
        f"- hardware: {hw.get('cpu')}, {hw.get('cpu_cores')} cores, GPU: {hw.get('gpu')}",
        f"- load average at the start: {info.get('load_average')}",
        f"- date: {info.get('date')}",
        f"- model `{info['model']}` at {info['resolution']} px, loss `{info['loss']}`, batch {info['batch_size']}, "
        f"{info['iterations']} generator steps, EMA {cfg.get('ema')}, DiffAugment {cfg.get('diffaug')} "
        f"({cfg.get('diffaug_policy')})",
        f"- wall time {info['wall_seconds']:.0f} s ({info['seconds_per_iter']:.3f} s per generator step, "
        f"steps alone {info.get('step_seconds_per_iter')} s)",
        f"- HSV-cone SWD of 64 fixed samples vs 64 real images: {info.get('hsv_swd_step0')} at step 0, "
        f"{info.get('hsv_swd_final')} at the end (ratio {info.get('hsv_swd_ratio')})", "",
        "Files: " + ", ".join(f"`{g.name}`" for g in grids) + " (fixed-noise grids; `grid_final.png` is the last), "
        + ", ".join(f"`{n}`" for n in DEMO_RUN_FILES) + "."]
    (dst / "README.md").write_text("\n".join(lines) + "\n")
    t4 = runs / "table4_demo"
    if t4.is_dir():
        shutil.rmtree(results / "table4_demo", ignore_errors=True)
        shutil.copytree(t4, results / "table4_demo")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--setup", action="store_true", help="time make setup into a fresh virtual environment")
    p.add_argument("--demo", action="store_true", help="time make demo, step by step, in a fresh runs folder")
    p.add_argument("--test", action="store_true", help="time make test")
    p.add_argument("--copy", action="store_true", help="with --demo: copy the demo run and Table 4 into results/")
    p.add_argument("--python", type=Path, default=ROOT / ".venv" / "bin" / "python",
                   help="the project environment's interpreter (make setup creates it)")
    p.add_argument("--keep", type=Path, default=None, help="keep the demo's runs folder here (default: a temp folder)")
    p.add_argument("--results", type=Path, default=ROOT / "results")
    args = p.parse_args(argv)
    if not (args.setup or args.demo or args.test):
        p.error("choose at least one of --setup, --demo, --test")
    if (args.demo or args.test) and not args.python.is_file():
        p.error(f"--python {args.python}: no such interpreter; run `make setup` first")
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="pipeline_bench_") as tmp:
        if args.setup:
            seconds, rc = _make("setup", f"VENV={tmp}/venv")
            rows.append({"step": "make setup (fresh environment)", "command": "make setup VENV=<fresh>",
                         "seconds": round(seconds, 1), "exit_code": rc})
        if args.demo:
            runs = args.keep or Path(tmp) / "runs"
            runs.mkdir(parents=True, exist_ok=False)
            rows += time_demo(runs, args.python)
            if args.copy:
                copy_demo(runs, args.results)
        if args.test:
            seconds, rc = _make("test")
            rows.append({"step": "make test", "command": "make test", "seconds": round(seconds, 1), "exit_code": rc})
    print(markdown_table(rows))
    write_bench("pipeline_bench", rows, {"notes": [
        "Seconds of wall time on this machine; `make demo` starts from an empty runs folder (nothing reused) "
        "with the project environment already installed; `make setup` builds a new environment from scratch."]},
        results_dir=args.results)
    return 0 if all(r.get("exit_code", 0) == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Training-speed benchmark: seconds per paper iteration (n_critic 5 critic steps + 1 generator step,
batch 64) for each model and precision, measured side by side in one run through train.loop.run,
and the projected time of the paper's 16,000-iteration schedule vs its 15 h on four RTX 3090s.

    PYTHONPATH=. python benchmarks/train_bench.py [--resolution 64] [--warmup 1] [--iters 2]

Each row trains a real run (the `paper` preset's recipe, --model and precision varied) on a synthetic
in-memory data set (data loading excluded; the data is resident on the device). The first tick
(`--warmup` iterations) is warm-up; seconds per iteration are the steps of the remaining `--iters`
iterations (tick work such as sample grids and checkpoints excluded). On a GPU use
--resolution 256 --warmup 20 --iters 200.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._provenance import markdown_table, write_bench  # noqa: E402
from inkwash.cli import setup_logging  # noqa: E402
from train import config, loop, precision, state  # noqa: E402
from train.data import Dataset  # noqa: E402

PAPER_HOURS = 15.0
SCHEDULE_ITERS = 16_000


def synthetic_dataset(n: int, resolution: int) -> Dataset:
    """Uniform noise images: the steps' cost does not depend on what the pixels show."""
    rng = np.random.default_rng(0)
    return Dataset.from_arrays(rng.integers(0, 256, (n, resolution, resolution, 3), dtype=np.uint8))


def variants(bf16: bool) -> list[dict]:
    """fp32 rows for every model; bf16 rows (and bf16 + compile on CUDA) where the device has native bf16.

    The paper's three models run the `paper` recipe (n_critic 5, batch --batch-size); FastGAN runs its
    own `demo` recipe (hinge + reconstruction, DiffAugment, n_critic 1, batch 16), what `python -m train`
    trains, also with channels-last off to show what that layout is worth on this device."""
    paper = dict(preset="paper", channels_last=True, compile=False)
    rows = [dict(paper, model=m, dtype="fp32", hsv_loss="swd" if m == "paper" else "off") for m in ("paper", "dcgan", "mlp")]
    rows.append(dict(paper, model="paper", dtype="fp32", hsv_loss="off"))
    fast = dict(preset="demo", model="fastgan", hsv_loss="swd", compile=False)
    rows += [dict(fast, dtype="fp32", channels_last=True), dict(fast, dtype="fp32", channels_last=False)]
    if bf16:
        rows += [dict(paper, model=m, dtype="bf16", hsv_loss="swd" if m == "paper" else "off") for m in ("paper", "dcgan", "mlp")]
        rows.append(dict(fast, dtype="bf16", channels_last=True))
        if torch.cuda.is_available():
            rows.append(dict(paper, model="paper", dtype="bf16", hsv_loss="swd", compile=True))
    return rows


def main(argv: list[str] | None = None) -> int:
    with setup_logging(logging.WARNING):
        return _bench(argv)


def _bench(argv: list[str] | None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--resolution", type=int, default=None, help="default: 256 on CUDA, 64 on CPU")
    p.add_argument("--warmup", type=int, default=None, help="warm-up iterations (default: 20 CUDA, 1 CPU)")
    p.add_argument("--iters", type=int, default=None, help="timed iterations (default: 200 CUDA, 2 CPU)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--only", default=None, help="comma list of models to run")
    args = p.parse_args(argv)
    cuda = torch.cuda.is_available()
    res = args.resolution or (256 if cuda else 64)
    warm = args.warmup or (20 if cuda else 1)
    n = args.iters or (200 if cuda else 2)
    ds = synthetic_dataset(max(256, args.batch_size), res)
    rows = []
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        native_bf16 = (precision.detect(torch.device("cuda"), "auto").bf16 if cuda
                       else precision.cpu_native_bf16())
        for v in variants(native_bf16):
            if args.only and v["model"] not in args.only.split(","):
                continue
            batch = args.batch_size if v["preset"] == "paper" else config.PRESETS[v["preset"]]["batch_size"]
            cfg = config.resolve(dict(preset=v["preset"], model=v["model"], resolution=res, dtype=v["dtype"],
                                      hsv_loss=v["hsv_loss"], compile=v["compile"], iters=warm + n, tick=warm,
                                      grid_every=10**6, ckpt_every=10**6, keep=0, n_grid=4, eval_n=8,
                                      batch_size=batch, out=Path(tmp), name=f"{v['model']}-{v['dtype']}-{len(rows)}",
                                      quiet=True, device="auto"))
            state.CHANNELS_LAST = v["channels_last"]
            try:
                run_dir = loop.run(cfg, dataset=ds)
            finally:
                state.CHANNELS_LAST = True
            info = json.loads((run_dir / "run.json").read_text())
            spi = info["step_seconds_per_iter"]
            hours = spi * SCHEDULE_ITERS / 3600
            rows.append({"model": v["model"], "preset": v["preset"], "resolution": res, "device": info["device"],
                         "dtype": info["dtype"], "hsv_loss": v["hsv_loss"], "channels_last": v["channels_last"],
                         "compile": v["compile"], "batch": batch,
                         "n_critic": cfg.n_critic, "data_placement": info["data_placement"],
                         "iters_timed": info["step_iters_timed"],
                         "seconds_per_iter": round(spi, 4), "schedule_16k_hours": round(hours, 3),
                         "ratio_to_paper_15h": round(hours / PAPER_HOURS, 4)})
            print(markdown_table(rows[-1:]), file=sys.stderr)
    # speedup against the same model and recipe in fp32 (channels-last, the HSV term as in that row)
    key = lambda r: (r["model"], r["preset"], r["hsv_loss"])  # noqa: E731
    base = {key(r): r["seconds_per_iter"] for r in rows if r["dtype"] == "fp32" and r["channels_last"]}
    for r in rows:
        b = base.get(key(r))
        r["speedup_vs_fp32"] = round(b / r["seconds_per_iter"], 3) if b else None
    notes = [f"One paper iteration = {rows[0]['n_critic'] if rows else 5} critic steps + 1 generator step, global "
             f"batch {args.batch_size}, `paper` preset recipe (wgan-clip, RMSProp), models swapped with --model; "
             "FastGAN rows: one critic step + one generator step of the `demo` preset (hinge + reconstruction, "
             "DiffAugment, batch 16), what `python -m train` trains; "
             "synthetic data resident on the device; steps timed through train.loop.run after a warm-up tick "
             f"of {warm} iteration(s), over {n} iteration(s), tick work (metric, grids, checkpoints) excluded.",
             "speedup_vs_fp32: the fp32 channels-last row of the same model, recipe and HSV setting over this row; "
             "bf16 rows run where the device has native bf16 (a CUDA GPU of compute capability >= 8.0, or a CPU "
             "with avx512_bf16/amx_bf16: " + ("this one has it" if native_bf16 else "this one has not") + ").",
             "Projected schedule = seconds_per_iter x 16,000; ratio = that / the paper's 15 h on 4x RTX 3090 "
             "(at 256 px; CPU rows are at the resolution shown, so their ratio is not comparable).",
             "Load average (1, 5, 15 min) at start {:.2f} {:.2f} {:.2f}, at end {:.2f} {:.2f} {:.2f} on {} cores: "
             "other jobs on the machine slow every row; compare ratios within this run only."
             .format(*load_start, *os.getloadavg(), os.cpu_count())]
    if not cuda:
        notes.append("No GPU on this machine: the CUDA rows (bf16 autocast on tensor cores, torch.compile, 256 px, "
                     ">= 200 timed iterations) are missing; run this script on a GPU to add them.")
    write_bench("train_bench", rows, {"notes": notes, "resolution": res, "warmup_iters": warm, "timed_iters": n})
    print(markdown_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

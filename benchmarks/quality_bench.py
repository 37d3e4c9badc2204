"""Sample quality on the built-in demo set (issue 14): the paper's demo recipe, the new demo preset,
the same preset with its HSV term off, and optionally a peer implementation's samples, each scored
by the weights-free metrics at N = 400 against the 363 originals at 64 px.

    PYTHONPATH=. python benchmarks/quality_bench.py                 # train (or --reuse) + score
    PYTHONPATH=. python benchmarks/quality_bench.py --reuse --peer /path/to/peer_run

Writes results/quality_demo.{json,md} (+ results/quality_demo/: grids side by side at the same noise,
nearest-real pairs per model) and results/hsv_ablation.{json,md} (+ results/hsv_ablation/grids.png).
Each model is trained by its own command line (`python -m train --preset P --seed 0`), timed in
wall-clock seconds and in CPU seconds of the training process; 400 samples come from the EMA
generator (when the run has one) at noise seed 12345. The goal rows of the issue are checked, and
the notes say which goals are met and which are not; nothing here is lowered to fit.

A peer folder holds samples.npz (uint8 images_u8, N x 64 x 64 x 3) and run.json (its own record:
what was run, iterations, seconds); it is scored exactly like our runs.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: make `benchmarks` importable
from benchmarks import _quality as q  # noqa: E402
from benchmarks._provenance import RESULTS, write_bench  # noqa: E402
from evalkit.spectral import KEY_SPECTRAL, spectral_score  # noqa: E402
from inkwash.hashing import sha256_bytes  # noqa: E402

NOISE_SEED = 12345
BUDGET_S = 15 * 60          # the training budget per model (wall clock, 2 idle cores)
# The same budget as single-thread CPU seconds: 2 cores x 900 s. Two threads never do more than twice
# one thread's work, so a run within this many single-thread CPU seconds fits 15 minutes on 2 idle cores.
BUDGET_CPU_S = 2 * BUDGET_S
C2ST_GOAL = 0.80
# name -> extra `python -m train` arguments; the ablation's "on" run is the demo run itself.
RUNS = {"paper-demo": ["--preset", "paper-demo"], "demo": ["--preset", "demo"],
        "demo-hsv-off": ["--preset", "demo", "--w-hsv", "0"],
        "demo-fp32": ["--preset", "demo", "--dtype", "fp32"]}
# --w-hsv 0 rather than --hsv-loss off: the term is still computed (same cost, same random streams), its
# weight is zero, so the two runs differ in that weight alone.
# demo-fp32: the demo recipe (--dtype fast: bf16 autocast on a CPU with native bf16, train.precision) in
# fp32, the same iterations and seed, so the pair says whether bf16 hurts the metrics (its speed is
# train_bench's; on a CPU without native bf16 the two runs are the same).


def train(name: str, args: list[str], runs_dir: Path, seed: int, reuse: bool, threads: int) -> dict:
    """Train one run by its command line with `threads` intra-op threads (OMP_NUM_THREADS); its wall
    and CPU seconds (reused runs keep their record)."""
    run = runs_dir / name
    record = run / "quality_train.json"
    if reuse and record.is_file() and (run / "checkpoints" / "latest.pt").is_file():
        info = json.loads((run / "run.json").read_text())
        return {"commit": info.get("commit"), "date": info.get("date"), **json.loads(record.read_text())}
    cmd = [sys.executable, "-m", "train", *args, "--out", str(runs_dir), "--name", name, "--seed", str(seed),
           "--quiet"]
    print("quality_bench: " + " ".join(cmd[1:]), file=sys.stderr, flush=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load0, t0 = os.getloadavg(), time.perf_counter()
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    subprocess.run(cmd, check=True, cwd=ROOT, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    info = json.loads((run / "run.json").read_text())
    out = {"command": f"OMP_NUM_THREADS={threads} python " + " ".join(cmd[1:]), "threads": threads,
           "wall_s": wall, "cpu_s": cpu, "iterations": info.get("iterations"),
           "commit": info.get("commit"), "date": info.get("date"), "load_start": load0[0], "load_end": os.getloadavg()[0]}
    record.write_text(json.dumps(out, indent=1))
    return out


def samples(run: Path, n: int, ema: bool = True) -> np.ndarray:
    """n uint8 samples of the run's EMA generator (its plain one when it has none, or with ema=False) at
    NOISE_SEED."""
    import torch
    from train import images
    from train.checkpoint import load_generator
    gen, info = load_generator(run / "checkpoints" / "latest.pt", ema=ema)
    z = torch.randn(n, gen.latent_dim, generator=torch.Generator().manual_seed(NOISE_SEED))
    labels = None
    if info["spec"].conditional:  # classes in turn, so every class is in the sample
        labels = torch.arange(n) % info["spec"].num_classes
    with torch.no_grad():
        chunks = [gen(z[i:i + 100], None if labels is None else labels[i:i + 100]) for i in range(0, n, 100)]
    return images.to_uint8(torch.cat(chunks))


def hsv_share(run: Path) -> dict:
    """Median and last share of the HSV term in the generator loss over the run's ticks (losses.csv's
    share_hsv; runs trained before that column existed have none)."""
    import csv
    with open(run / "losses.csv", newline="") as f:
        shares = [float(r["share_hsv"]) for r in csv.DictReader(f) if r.get("share_hsv") not in (None, "")]
    return {"share_hsv_median": float(np.median(shares)), "share_hsv_last": shares[-1]} if shares else {}


def real_set():
    """The demo set's originals at 64 px, their style ids and the style names."""
    from train.data import load_folder
    from train.demo import demo_folder
    ds = load_folder(demo_folder(), 64, progress=False, labels=True)
    keep = np.asarray(ds.is_original, bool)
    return ds.images_u8[keep], np.asarray(ds.label_ids)[keep], list(ds.class_names)


def evaluate(name: str, fake: np.ndarray, real: np.ndarray, ctx: dict, args) -> dict:
    print(f"quality_bench: scoring {name} ({len(fake)} samples)", file=sys.stderr, flush=True)
    key = {"samples_sha256": sha256_bytes(fake.tobytes()), "real_sha256": ctx["real_sha256"], "seed": args.seed,
           "threads": args.threads, "shape": list(fake.shape), "blur_sigma": q.BLUR_SIGMA}
    where = args.peer if name == "peer" else args.runs_dir / name
    row = {"model": name, **q.cached(where / "quality_scores.json", key,
                                     lambda: q.score(fake, real, seed=args.seed, threads=args.threads))}
    row.update(q.colour_row(fake, ctx["real_colour"]))
    row.update({f"style_{k}": v for k, v in ctx["knn"].shares(fake).items()})
    mem, pairs = q.memorisation_summary(fake, real)
    row.update(mem)
    ctx["pairs"][name] = pairs
    return row


def goals(rows: dict[str, dict]) -> list[str]:
    """The issue's goal rows checked against the measurements, one sentence each."""
    base, new = rows.get("paper-demo"), rows.get("demo")
    if not (base and new):
        return []
    out = [f"goal C2ST AUC <= {C2ST_GOAL}: demo {new['c2st_auc']:.3f} -> "
           + ("met" if new["c2st_auc"] <= C2ST_GOAL else "NOT met")]
    for key, label in (("lapswd_x1e3", "Laplacian SWD"), ("spectral_db", "spectral score")):
        ratio = new[key] / base[key] if base[key] else float("nan")
        out.append(f"goal {label} <= 1/2 of paper-demo: {new[key]:.3g} vs {base[key]:.3g} (ratio {ratio:.2f}) -> "
                   + ("met" if ratio <= 0.5 else "NOT met"))
    if "demo-fp32" in rows:
        f = rows["demo-fp32"]
        out.append("demo (--dtype fast: bf16 autocast where native) against demo-fp32, same recipe, seed and "
                   f"iterations: C2ST {new['c2st_auc']:.3f} vs {f['c2st_auc']:.3f}, Laplacian SWD "
                   f"{new['lapswd_x1e3']:.3g} vs {f['lapswd_x1e3']:.3g}, spectral {new['spectral_db']:.3g} vs "
                   f"{f['spectral_db']:.3g}; training CPU {new['train_cpu_s']:.0f} s vs {f['train_cpu_s']:.0f} s "
                   "(threads and load in the JSON's timing; the side-by-side speed is results/train_bench.md)")
    if "peer" in rows:
        out.append(f"peer C2ST AUC {rows['peer']['c2st_auc']:.3f} vs demo {new['c2st_auc']:.3f}: "
                   + ("ours lower (better)" if new["c2st_auc"] < rows["peer"]["c2st_auc"] else "ours NOT lower"))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs-dir", type=Path, default=ROOT / "runs" / "quality")
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--n", type=int, default=400, help="samples per model")
    p.add_argument("--seed", type=int, default=0, help="training and metric seed")
    p.add_argument("--threads", type=int, default=2, help="C2ST threads (its result is deterministic per count)")
    p.add_argument("--train-threads", type=int, default=1,
                   help="threads per training (1: CPU seconds are single-thread seconds, the budget's measure, "
                        "and two trainings can share 2 cores)")
    p.add_argument("--reuse", action="store_true", help="score finished runs again instead of retraining")
    p.add_argument("--peer", type=Path, help="folder with a peer's samples.npz and run.json")
    p.add_argument("--train-only", action="store_true", help="train (or find) the runs and stop: score later with --reuse")
    p.add_argument("--note", action="append", default=[], help="a line for the notes (how the runs were made)")
    p.add_argument("--models", default=",".join(RUNS), help="comma-separated subset of " + ", ".join(RUNS))
    args = p.parse_args(argv)
    from train import images

    real, styles, names = real_set()
    models = [m for m in args.models.split(",") if m]
    timing = {name: train(name, RUNS[name], args.runs_dir, args.seed, args.reuse, args.train_threads)
              for name in models}
    if args.train_only:
        return 0
    knn = q.StyleKNN(real, styles, names)
    real_sha = sha256_bytes(real.tobytes())
    null_key = {"real_sha256": real_sha, "seed": args.seed, "threads": args.threads}
    args.runs_dir.mkdir(parents=True, exist_ok=True)
    null = q.cached(args.runs_dir / "c2st_null.json", null_key,
                    lambda: q.null_row(real, seed=args.seed, threads=args.threads))
    ctx = {"null": null["c2st_null_auc"], "null_row": null, "real_sha256": real_sha,
           "real_colour": q.colour_stats(real), "knn": knn, "pairs": {}}
    rows, fakes = {}, {}
    for name in models:
        fakes[name] = samples(args.runs_dir / name, args.n)
        raw = samples(args.runs_dir / name, args.n, ema=False)   # the same as fakes[name] for a run without EMA
        rows[name] = {**evaluate(name, fakes[name], real, ctx, args),
                      "spectral_db_raw": spectral_score(real, raw)[KEY_SPECTRAL],
                      "train_wall_s": timing[name]["wall_s"], "train_cpu_s": timing[name]["cpu_s"],
                      "iterations": timing[name]["iterations"], "trained_at": timing[name].get("commit"),
                      **hsv_share(args.runs_dir / name)}
    if args.peer:
        fakes["peer"] = np.load(args.peer / "samples.npz")["images_u8"][: args.n]
        peer_info = json.loads((args.peer / "run.json").read_text())
        timing["peer"] = peer_info
        rows["peer"] = {**evaluate("peer", fakes["peer"], real, ctx, args), "iterations": peer_info.get("iterations"),
                        "train_wall_s": peer_info.get("wall_seconds"),
                        "train_cpu_s": peer_info.get("cpu_seconds_single_thread")}
    real_row = {"model": "real (originals)", **q.colour_row(real, ctx["real_colour"]),
                **{f"style_{k}": float(np.mean(styles == i)) for i, k in enumerate(names)}}
    write_outputs(args, rows, fakes, real, real_row, timing, ctx, knn.loo_accuracy(), images)
    return 0


def write_outputs(args, rows, fakes, real, real_row, timing, ctx, knn_acc, images) -> None:
    rng = np.random.default_rng(args.seed)
    real_pick = real[rng.choice(len(real), 64, replace=False)]
    pics = args.results / "quality_demo"
    pics.mkdir(parents=True, exist_ok=True)
    panels = [q.labelled(images.grid(real_pick, 8), "real (64 random originals)")]
    panels += [q.labelled(images.grid(f[:64], 8), f"{name} (first 64, noise seed {NOISE_SEED})")
               for name, f in fakes.items() if name != "demo-hsv-off"]
    images.save_png(pics / "grids.png", q.side_by_side(panels))
    for name, grid in ctx["pairs"].items():
        images.save_png(pics / f"nearest_real_{name}.png", grid)
    main_rows = [r for k, r in rows.items() if k != "demo-hsv-off"]
    cols = ("model", "iterations", "train_wall_s", "train_cpu_s", "c2st_auc", "c2st_auc_ci_low", "c2st_auc_ci_high",
            "log_loss", "c2st_seconds", "c2st_auc_blur", "lapswd_x1e3", "spectral_db", "spectral_db_raw", "style_pools",
            "style_strokes", "style_splatter", "nn_median", "flagged_share", "near_duplicates", "trained_at")
    notes = goals(rows) + [
        "real-vs-real null C2ST AUC (same protocol, a half/half split of the originals): "
        f"{ctx['null']:.3f} [{ctx['null_row']['c2st_null_auc_ci_low']:.3f}, {ctx['null_row']['c2st_null_auc_ci_high']:.3f}]",
        f"per-model training budget: {BUDGET_S // 60} min wall on 2 idle cores, which we hold as "
        f"{BUDGET_CPU_S} single-thread CPU seconds (2 cores x {BUDGET_S} s: two threads never do more than twice "
        "one thread's work), so every run trains with one thread and train_cpu_s (the training process's CPU "
        "time) is the measure; train_wall_s is its wall time at the load averages in the JSON; "
        "over budget: " + (", ".join(k for k, r in rows.items() if (r.get("train_cpu_s") or 0) > BUDGET_CPU_S)
                           or "none"),
        f"c2st_auc_blur: the same C2ST with both sets blurred alike (Gaussian, sigma {q.BLUR_SIGMA} px), which "
        "removes most of the spectral score's band: an AUC that stays high means the classifier separates "
        "the sets by shapes and tones, not by fine texture; spectral_db_raw: the spectral score of the run's "
        "raw generator (no EMA) at the same noise",
        f"style shares from a 5-NN on style features (benchmarks/_quality.style_features); its leave-one-out accuracy on the real originals: {knn_acc:.3f}",
        "grids: results/quality_demo/grids.png; nearest real neighbours (generated, real) per model: "
        "results/quality_demo/nearest_real_<model>.png; the real set's nearest-neighbour median (leave one out) "
        f"is {next(iter(rows.values()))['real_loo_median']:.4f} in the same space",
    ] + args.note
    write_bench("quality_demo", [{c: r.get(c) for c in cols} for r in main_rows],
                {"notes": notes, "full_rows": list(rows.values()), "timing": timing, "n": args.n,
                 "noise_seed": NOISE_SEED}, results_dir=args.results)
    if {"demo", "demo-hsv-off"} <= rows.keys():
        write_ablation(args, rows, fakes, real_row, images)


def write_ablation(args, rows, fakes, real_row, images) -> None:
    cols = ("model", "c2st_auc", "lapswd_x1e3", "spectral_db", "hue_tv", "coloured_pixels", "paper_white",
            "accent_images", "style_pools", "style_strokes", "style_splatter", "share_hsv_median")
    table = [{c: real_row.get(c) for c in cols}]
    table += [{c: rows[k].get(c) for c in cols} for k in ("demo", "demo-hsv-off")]
    on, off = rows["demo"], rows["demo-hsv-off"]
    notes = [f"the two runs differ only in --w-hsv (0.5 vs 0): same preset, seed {args.seed}, data, random streams "
             "(the term is computed in both), sampling noise",
             f"hue histogram distance to real (TV, lower = closer): on {on['hue_tv']:.3f}, off {off['hue_tv']:.3f}",
             f"paper-white pixel share: real {real_row['paper_white']:.3f}, on {on['paper_white']:.3f}, "
             f"off {off['paper_white']:.3f}",
             f"images with an accent colour: real {real_row['accent_images']:.3f}, on {on['accent_images']:.3f}, "
             f"off {off['accent_images']:.3f}",
             "share_hsv_median: the HSV term's median share of the generator loss over the run's ticks "
             "(losses.csv's share_hsv; weight 0 gives 0)",
             "grids side by side: results/hsv_ablation/grids.png"]
    pics = args.results / "hsv_ablation"
    pics.mkdir(parents=True, exist_ok=True)
    images.save_png(pics / "grids.png", q.side_by_side(
        [q.labelled(images.grid(fakes[k][:64], 8), f"{k} (first 64, noise seed {NOISE_SEED})")
         for k in ("demo", "demo-hsv-off")]))
    write_bench("hsv_ablation", table, {"notes": notes}, results_dir=args.results)


if __name__ == "__main__":
    raise SystemExit(main())

"""Sampling speed: PyTorch eager vs onnxruntime fp32 vs onnxruntime fp16, and the paper's measure.

    PYTHONPATH=. python3 benchmarks/sample_bench.py            # -> results/sample_bench.{json,md}

For each resolution (64 and 256 px, the paper generator with random weights and randomised
BatchNorm statistics: speed does not depend on the weights) the generator is written as a
checkpoint, exported by `export.onnx_export.export_run` (fp32 + fp16, parity checked) and timed
at batch 1, 16 and 64. The three engines are timed in interleaved rounds (torch, ORT fp32,
ORT fp16, torch, ...) so that load on a shared machine hits them alike; each figure is the median
over rounds. Then the paper's measure: seconds to generate 10,000 images into memory (uint8) and
as PNG files on disk with `python -m export sample`'s writer. Where a resolution is too slow for
10,000 images on this machine, a stated subset is measured and scaled up, marked "extrapolated".
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import onnxruntime as ort
import torch

from export.onnx_export import export_run, make_latents
from export.sampler import load_sampler
from export.writer import write_samples
from inkwash import atomic, provenance
from train import checkpoint
from train.models import ModelSpec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: make `benchmarks` importable
from benchmarks import _provenance  # noqa: E402


def random_run(root: Path, resolution: int) -> Path:
    """A run folder whose checkpoint holds a randomly initialised paper generator (BN stats randomised)."""
    torch.manual_seed(resolution)
    spec = ModelSpec("paper", resolution)
    gen, critic = spec.build()
    for m in gen.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    run = root / f"paper{resolution}"
    checkpoint.save_checkpoint(run / "checkpoints" / "latest.pt", {
        "model": spec.to_dict(), "config": {"note": "random weights for timing"}, "generator": gen.state_dict(),
        "critic": critic.state_dict(), "generator_ema": None, "iteration": 0})
    return run


def engines(run: Path, threads: int) -> dict:
    """name -> (callable(z) -> float output, description)."""
    gen, _ = checkpoint.load_generator(run / "checkpoints" / "latest.pt")
    s32 = load_sampler(run / "export" / "generator.onnx", device="cpu", threads=threads)
    s16 = load_sampler(run / "export" / "generator_fp16.onnx", device="cpu", threads=threads)

    def torch_fn(z):
        with torch.inference_mode():
            return gen(torch.from_numpy(z)).numpy()
    return {"pytorch-eager-fp32": (torch_fn, f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
                                             "inference_mode"),
            "ort-fp32": (lambda z: s32.session.run(["images"], {"z": z})[0], s32.provider),
            "ort-fp16": (lambda z: s16.session.run(["images"], {"z": z})[0], s16.provider)}


def time_engines(fns: dict, resolution: int, batch: int, rounds: int) -> list[dict]:
    """Median seconds per batch of each engine over interleaved rounds (one warm-up round first)."""
    z = make_latents(batch, 100, seed=0)
    times: dict[str, list[float]] = {k: [] for k in fns}
    for r in range(rounds + 1):
        for name, (fn, _) in fns.items():
            t0 = time.perf_counter()
            fn(z)
            if r:
                times[name].append(time.perf_counter() - t0)
    rows = []
    for name, (_, desc) in fns.items():
        med = statistics.median(times[name])
        rows.append({"resolution": resolution, "batch": batch, "engine": name, "runtime": desc,
                     "rounds": rounds, "seconds_per_batch": med, "images_per_second": batch / med})
    base = next(r for r in rows if r["engine"] == "pytorch-eager-fp32")["images_per_second"]
    for row in rows:
        row["speedup_vs_pytorch"] = row["images_per_second"] / base
    return rows


def tuning(run: Path, batch: int, rounds: int) -> list[dict]:
    """ORT fp32 session settings at one batch size, interleaved with PyTorch eager as the reference."""
    gen, _ = checkpoint.load_generator(run / "checkpoints" / "latest.pt")
    cores = os.cpu_count() or 1
    variants = {}
    for label, level, threads, spin in (("all-opt, default threads, spinning (ORT defaults)", "ORT_ENABLE_ALL", 0, True),
                                        (f"all-opt, {cores} threads, spinning", "ORT_ENABLE_ALL", cores, True),
                                        (f"all-opt, {cores} threads, no spinning (export.load_sampler)", "ORT_ENABLE_ALL", cores, False),
                                        (f"basic-opt, {cores} threads, no spinning", "ORT_ENABLE_BASIC", cores, False),
                                        (f"no-opt, {cores} threads, no spinning", "ORT_DISABLE_ALL", cores, False)):
        so = ort.SessionOptions()
        so.log_severity_level = 3
        so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
        so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
        if not spin:
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        sess = ort.InferenceSession(str(run / "export" / "generator.onnx"), so, providers=["CPUExecutionProvider"])
        variants[label] = (lambda z, s=sess: s.run(["images"], {"z": z})[0], label)

    def torch_fn(z):
        with torch.inference_mode():
            return gen(torch.from_numpy(z)).numpy()
    rows = time_engines({"pytorch-eager-fp32": (torch_fn, "reference"), **variants}, gen.resolution, batch, rounds)
    return rows


def paper_measure(run: Path, n_images: int, n_measured: int, threads: int, tmp: Path) -> dict:
    """Seconds for n_images (measured on n_measured, scaled when fewer) to memory and as PNG files."""
    s = load_sampler(run / "export" / "generator.onnx", device="cpu", threads=threads)
    s.sample(64, seed=1)  # warm-up
    t0 = time.perf_counter()
    images = s.sample(n_measured, seed=0, batch_size=64)
    mem = time.perf_counter() - t0
    assert images.shape[0] == n_measured
    del images
    out = tmp / f"png{s.resolution}"
    t0 = time.perf_counter()
    write_samples(s, n_measured, out, seed=0, batch_size=64, quiet=True)
    png = time.perf_counter() - t0
    n_files = len(list(out.glob("*.png")))
    assert n_files == n_measured, (n_files, n_measured)
    scale = n_images / n_measured
    return {"resolution": s.resolution, "engine": "ort-fp32 (" + s.provider + ")", "n_images": n_images,
            "measured_images": n_measured, "extrapolated": n_measured < n_images,
            "to_memory_seconds": mem * scale, "to_png_seconds": png * scale,
            "png_bytes_per_image": sum(p.stat().st_size for p in out.glob("*.png")) / n_files}


def write_md(path: Path, prov: dict, rows: list[dict], tune: list[dict], paper: list[dict]) -> None:
    hw = prov["hardware"]
    # Files written before inkwash.provenance kept the load averages under "hardware".
    start = prov.get("load_average") or hw.get("load_average_at_start") or []
    end = prov.get("load_average_at_end") or hw.get("load_average_at_end") or []
    busy = max([*start, *end, 0]) > hw["cores"]
    lines = ["# Sampling speed: PyTorch eager vs onnxruntime (fp32, fp16)", "",
             f"- command: `{prov['command']}`", f"- commit: {prov['commit']}", f"- date: {prov['date']}",
             f"- hardware: {hw['cpu']}, {hw['cores']} cores, GPU: {hw['gpu']} "
             f"(load average at start {', '.join(f'{x:.1f}' for x in start)}; at end "
             f"{', '.join(f'{x:.1f}' for x in end)})",
             f"- versions: " + ", ".join(f"{k} {v}" for k, v in prov["versions"].items()),
             "- model: the paper generator (Table 3) with **random weights** (BatchNorm statistics randomised): "
             "speed does not depend on the weight values.",
             "- engines were timed in interleaved rounds, so other jobs on the machine (see the load average "
             "above) hit them alike: compare the ratios (measured side by side) before absolute figures.",
             *(["- **the CPU was oversubscribed during this run** (load average above the core count): absolute "
                "figures are far below a quiet machine's, and PyTorch's OpenMP thread pool suffers most from "
                "competing jobs (worst at batch 1); treat differences under about 20 % in the session-settings table as noise."] if busy else []),
             "- ort-fp16 on the CPU provider: onnxruntime has no x86 fp16 kernels for most of these ops and "
             "inserts casts to fp32 around them, so the fp16 file is not expected to be faster on a CPU; it is "
             "meant for GPUs.",
             *(["- **GPU rows are missing**: no GPU was available in this session (onnxruntime-gpu runs on its "
                "CPU provider here)."] if prov["hardware"].get("gpu", "none") == "none" else []), "",
             "| px | batch | engine | s / batch (median) | images/s | vs PyTorch eager |",
             "| ---: | ---: | --- | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(f"| {r['resolution']} | {r['batch']} | {r['engine']} | {r['seconds_per_batch']:.4f} | "
                     f"{r['images_per_second']:.1f} | {r['speedup_vs_pytorch']:.2f}x |")
    if tune:
        lines += ["", f"## onnxruntime session settings ({tune[0]['resolution']} px, batch {tune[0]['batch']}, "
                      "fp32, interleaved with PyTorch eager)", "",
                  "| setting | images/s | vs PyTorch eager |", "| --- | ---: | ---: |"]
        lines += [f"| {r['engine']} | {r['images_per_second']:.1f} | {r['speedup_vs_pytorch']:.2f}x |" for r in tune]
    lines += ["", "## The paper's measure: 10,000 images (paper: 72.12 s)", "",
              "| px | engine | images | measured | to memory (s) | to PNG on disk (s) | PNG bytes / image |",
              "| ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
    for p in paper:
        note = f"{p['measured_images']} (**extrapolated** x{p['n_images'] / p['measured_images']:.0f})" \
            if p["extrapolated"] else f"{p['measured_images']} (all)"
        lines.append(f"| {p['resolution']} | {p['engine']} | {p['n_images']} | {note} | {p['to_memory_seconds']:.1f} | "
                     f"{p['to_png_seconds']:.1f} | {p['png_bytes_per_image']:.0f} |")
    lines.append("")
    atomic.write_text(path, "\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--resolutions", type=int, nargs="+", default=[64, 256])
    p.add_argument("--batches", type=int, nargs="+", default=[1, 16, 64])
    p.add_argument("--rounds", type=int, default=5, help="timed rounds per batch size (batch 64 at 256 px: 3)")
    p.add_argument("--n-images", type=int, default=10_000, help="the paper's measure")
    p.add_argument("--measured-256", type=int, default=256,
                   help="images really generated at 256 px for the paper's measure (scaled to --n-images)")
    p.add_argument("--out", type=Path, default=ROOT / "results" / "sample_bench")
    p.add_argument("--md-from-json", action="store_true",
                   help="only rewrite OUT.md from an existing OUT.json (no timing)")
    args = p.parse_args(argv)
    if args.md_from_json:
        data = json.loads(args.out.with_suffix(".json").read_text())
        write_md(args.out.with_suffix(".md"), data["provenance"], data["rows"], data["ort_tuning"],
                 data["paper_measure"])
        return 0
    prov = _provenance.provenance()  # its load average is the one at the start
    threads = os.cpu_count() or 1
    rows, tune, paper = [], [], []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for res in args.resolutions:
            run = random_run(tmp, res)
            export_run(run, fp16=True)
            fns = engines(run, threads)
            for b in args.batches:
                rounds = 3 if (res >= 256 and b >= 64) else args.rounds
                rows += time_engines(fns, res, b, rounds)
                r = rows[-3:]
                print(f"{res:4d} px  batch {b:3d}  " + "  ".join(f"{x['engine']} {x['images_per_second']:8.1f} img/s"
                                                          for x in r), flush=True)
            if res == args.resolutions[0] and 64 in args.batches:
                tune = tuning(run, 64, args.rounds)
                for x in tune:
                    print(f"  tuning {x['engine']:<32} {x['images_per_second']:8.1f} img/s "
                          f"({x['speedup_vs_pytorch']:.2f}x)", flush=True)
            measured = args.n_images if res < 256 else min(args.n_images, args.measured_256)
            paper.append(paper_measure(run, args.n_images, measured, threads, tmp))
            print(f"{res:4d} px  {args.n_images} images: to memory {paper[-1]['to_memory_seconds']:.1f} s, "
                  f"to PNG {paper[-1]['to_png_seconds']:.1f} s" + (" (extrapolated)" if paper[-1]["extrapolated"]
                                                                   else ""), flush=True)
    prov["load_average_at_end"] = provenance.load_average()
    data = {"provenance": prov, "note": "random weights; engines interleaved; GPU rows missing"
            if prov["hardware"].get("gpu", "none") == "none" else "random weights; engines interleaved",
            "rows": rows, "ort_tuning": tune, "paper_measure": paper}
    atomic.write_json(args.out.with_suffix(".json"), data)
    write_md(args.out.with_suffix(".md"), prov, rows, tune, paper)
    print(args.out.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())

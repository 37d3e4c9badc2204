"""GPU check: the CUDA paths that CPU machines never run, proved and timed in one short script.

    PYTHONPATH=. python3 benchmarks/gpu_check.py             # on a CUDA machine, ~8 minutes at most
    PYTHONPATH=. python3 benchmarks/gpu_check.py --dry-run   # anywhere: list what it would run

It needs only a Python with torch (CUDA build); nothing is downloaded (random weights everywhere:
speed and numerical agreement do not depend on them). Each piece runs on its own, so a missing
package or a failing piece costs only its own rows (status `failed: ...` / `skipped: ...`):

1. tests: the `gpu`-marked tests of tests/train, tests/export and tests/evalkit;
2. training: the `paper` preset at 256 px, batch 64, n_critic 5, in fp32, bf16 and bf16 + compile:
   seconds per iteration (steps only, after a warm-up tick) and the 16,000-iteration schedule;
3. sampling 10,000 images at 256 px: PyTorch CUDA to GPU memory and to PNG files, onnxruntime CUDA
   where that provider is installed;
4. evalkit features on CUDA vs CPU on the same 256 images with TF32 off: max difference, images/s;
5. torchrun on 2 processes when 2 GPUs exist: identical weights after the same steps.

Writes results/gpu_check.{json,md} (device, command, commit, date) through benchmarks/_provenance.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SCHEDULE_ITERS = 16_000        # the paper's schedule, generator steps
TRAIN_GOAL_MINUTES = 8.0       # issue 17: the paper schedule on one H100-class GPU
SAMPLE_N = 10_000              # the paper's Table 4 measure (72 s on its GPUs)
SAMPLE_GOAL_MEMORY_S = 0.3
SAMPLE_GOAL_PNG_S = 4.0
FEATURE_IMAGES = 256
TEST_DIRS = ("tests/train", "tests/export", "tests/evalkit")


@dataclass
class Piece:
    name: str
    what: str                  # one line for --dry-run
    estimate_seconds: int      # on an H100-class GPU
    run: Callable[[argparse.Namespace, Path], list[dict]]


def _row(piece: str, variant: str, value, unit: str, goal: str = "", status: str = "ok", **extra) -> dict:
    return {"piece": piece, "variant": variant, "value": value, "unit": unit, "goal": goal, "status": status,
            **extra}


def _synthetic(n: int, resolution: int, seed: int = 0):
    import numpy as np
    return np.random.default_rng(seed).integers(0, 256, (n, resolution, resolution, 3), dtype=np.uint8)


def run_tests(args, tmp: Path) -> list[dict]:
    """The gpu-marked tests (collection errors of CPU-only test modules do not stop the rest)."""
    cmd = [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider",
           "--continue-on-collection-errors", *TEST_DIRS]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=args.tests_timeout)
    summary = (p.stdout.strip().splitlines() or ["(no output)"])[-1]
    counts = {k: int(v) for v, k in re.findall(r"(\d+) (passed|failed|errors?|skipped)", summary)}
    status = "ok" if p.returncode == 0 else f"failed: exit {p.returncode}: {summary}"
    (tmp / "pytest_gpu.log").write_text(p.stdout + p.stderr)
    return [_row("tests", "pytest -m gpu", counts.get("passed", 0), "passed", "all pass", status,
                 failed=counts.get("failed", 0), seconds=round(time.perf_counter() - t0, 1), command=" ".join(cmd))]


def run_training(args, tmp: Path) -> list[dict]:
    """Seconds per paper iteration (256 px, batch 64, n_critic 5) per precision, through train.loop.run."""
    from train import config, loop
    from train.data import Dataset
    ds = Dataset.from_arrays(_synthetic(max(64, args.batch_size), args.resolution))
    rows = []
    variants = [("fp32", dict(dtype="fp32"))]
    if args.device == "cuda":
        import torch
        from train import precision
        prec = precision.detect(torch.device("cuda"), "auto")
        if prec.bf16:
            variants += [("bf16", dict(dtype="bf16")), ("bf16+compile", dict(dtype="bf16", compile=True))]
        else:
            rows.append(_row("training", "bf16", None, "s/iter", status=f"skipped: {prec.reason}"))
    for variant, flags in variants:
        warm = args.compile_warmup if flags.get("compile") else args.warmup
        cfg = config.resolve(dict(preset="paper", resolution=args.resolution, batch_size=args.batch_size,
                                  iters=warm + args.iters, tick=warm, grid_every=10**6, ckpt_every=10**6, keep=0,
                                  n_grid=4, eval_n=8, device=args.device,
                                  out=tmp / "train", name=variant.replace("+", "_"), quiet=True, **flags))
        try:
            info = json.loads((loop.run(cfg, dataset=ds) / "run.json").read_text())
        except Exception as e:  # noqa: BLE001 - one piece's failure is a row, not the end of the check
            rows.append(_row("training", variant, None, "s/iter", status=f"failed: {type(e).__name__}: {e}"[:300]))
            continue
        spi = info["step_seconds_per_iter"]
        minutes = spi * SCHEDULE_ITERS / 60
        rows.append(_row("training", variant, round(spi, 5), "s/iter", f"16k iters <= {TRAIN_GOAL_MINUTES:g} min",
                         "ok" if minutes <= TRAIN_GOAL_MINUTES else "ok (goal missed)",
                         schedule_16k_minutes=round(minutes, 2), iters_timed=info["step_iters_timed"],
                         dtype=info["dtype"], paper="15 h on 4x RTX 3090"))
    return rows


def run_training_paths(args, tmp: Path) -> list[dict]:
    """Short real runs of the paths the timing rows do not take: the gradient penalty (its double backward
    in fp32) eager and with --compile, and the data set kept in host memory (pinned batches)."""
    from train import config, device_data, loop
    from train.data import Dataset
    ds = Dataset.from_arrays(_synthetic(32, 64, seed=3))
    cases = [("wgan-gp", dict(loss="wgan-gp", critic_norm="layer")),
             ("wgan-gp + compile", dict(loss="wgan-gp", critic_norm="layer", compile=args.device == "cuda")),
             ("data in host memory", dict(host_data=True))]
    rows = []
    for name, flags in cases:
        host = flags.pop("host_data", False)
        if host and args.device != "cuda":
            rows.append(_row("training paths", name, None, "", status="skipped: on the CPU the data is in host "
                             "memory anyway"))
            continue
        share = device_data.GPU_DATA_SHARE
        if host:
            device_data.GPU_DATA_SHARE = 0.0  # nothing fits: batches stream from pinned host memory
        try:
            cfg = config.resolve(dict(preset="demo", resolution=64, iters=3, tick=1, batch_size=8, n_grid=4, eval_n=8,
                                      device=args.device, dtype="auto", out=tmp / "paths",
                                      name=name.replace(" ", "_").replace("+", ""), quiet=True, **flags))
            run_dir = loop.run(cfg, dataset=ds)
        except Exception as e:  # noqa: BLE001 - one case's failure is a row
            rows.append(_row("training paths", name, None, "", status=f"failed: {type(e).__name__}: {e}"[:300]))
            continue
        finally:
            device_data.GPU_DATA_SHARE = share
        info = json.loads((run_dir / "run.json").read_text())
        import csv
        with open(run_dir / "losses.csv", newline="") as f:
            finite = all(r["loss_d"] not in ("nan", "inf", "") and abs(float(r["loss_d"])) < 1e30
                         for r in csv.DictReader(f))
        want_host = "host" if host else info.get("data_placement")
        ok = finite and info.get("data_placement") == want_host
        rows.append(_row("training paths", name, finite, "finite losses", "True",
                         "ok" if ok else "failed: non-finite losses or wrong data placement",
                         dtype=info.get("dtype"), dtype_reason=info.get("dtype_reason"),
                         data_placement=info.get("data_placement")))
    return rows


def _random_run(tmp: Path, resolution: int) -> Path:
    """A run folder whose checkpoint holds a random paper generator (sample_bench's, imported here so
    that --dry-run loads neither torch nor onnxruntime)."""
    from benchmarks.sample_bench import random_run
    return random_run(tmp, resolution)


def _torch_to_memory(run: Path, n: int, batch: int, device: str) -> float:
    """Seconds to make n uint8 images on the device (bf16 autocast on CUDA, channels-last, quantised there)."""
    import torch
    from train import checkpoint
    gen, _ = checkpoint.load_generator(run / "checkpoints" / "latest.pt", map_location=device)
    gen = gen.to(memory_format=torch.channels_last)
    g = torch.Generator(device=device).manual_seed(0)

    def make(k: int):
        with torch.inference_mode():
            with torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda"):
                x = gen(torch.randn(k, gen.latent_dim, device=device, generator=g))
            return x.float().add_(1).mul_(127.5).round_().clamp_(0, 255).to(torch.uint8)

    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    make(batch)  # warm-up: kernels, allocator
    sync()
    t0 = time.perf_counter()
    out = [make(min(batch, n - i)) for i in range(0, n, batch)]
    sync()
    seconds = time.perf_counter() - t0
    assert sum(len(o) for o in out) == n
    return seconds


def run_sampling(args, tmp: Path) -> list[dict]:
    """10,000 images at 256 px: PyTorch CUDA (memory, PNG) and onnxruntime CUDA when installed."""
    import onnxruntime as ort
    from export.sampler import TorchSampler, load_sampler
    from export.writer import write_samples
    run = _random_run(tmp, args.resolution)
    n, dev = args.sample_n, args.device
    batch = min(500, n)
    rows = [_row("sampling", f"torch-{dev} {'bf16' if dev == 'cuda' else 'fp32'}, to {dev} memory",
                 round(_torch_to_memory(run, n, batch, dev), 3), "s", f"<= {SAMPLE_GOAL_MEMORY_S} s", n=n,
                 paper_seconds=72)]
    sampler = TorchSampler(run / "checkpoints" / "latest.pt", device=dev)
    t0 = time.perf_counter()
    write_samples(sampler, n, tmp / "png_torch", batch_size=batch, quiet=True)
    rows.append(_row("sampling", f"torch-{dev} fp32, to PNG", round(time.perf_counter() - t0, 2), "s",
                     f"<= {SAMPLE_GOAL_PNG_S} s", n=n, workers=os.cpu_count()))
    providers = ort.get_available_providers()
    if dev == "cuda" and "CUDAExecutionProvider" not in providers:
        rows.append(_row("sampling", "onnxruntime-cuda", None, "s", status=f"skipped: onnxruntime "
                         f"{ort.__version__} here has no CUDA provider ({', '.join(providers)})"))
        return rows
    from export.onnx_export import export_run
    onnx_path = export_run(run, fp16=True)
    parity = {stem: json.loads(onnx_path.with_name(f"{stem}.json").read_text()).get("parity", {}).get("by_provider")
              for stem in ("generator", "generator_fp16")}
    rows.append(_row("sampling", "export parity by provider (fp32, fp16)", json.dumps(parity), "max |ORT - torch|",
                     "fp32 <= 1e-4, fp16 <= 2e-2 on every provider listed"))
    ort_sampler = load_sampler(onnx_path, device=dev)
    ort_sampler.sample(64, seed=0, batch_size=64)
    t0 = time.perf_counter()
    ort_sampler.sample(n, seed=0, batch_size=batch)
    rows.append(_row("sampling", f"onnxruntime-{dev} fp32, to memory", round(time.perf_counter() - t0, 3), "s",
                     provider=ort_sampler.provider, n=n))
    t0 = time.perf_counter()
    write_samples(ort_sampler, n, tmp / "png_ort", batch_size=batch, quiet=True)
    rows.append(_row("sampling", f"onnxruntime-{dev} fp32, to PNG", round(time.perf_counter() - t0, 2), "s",
                     f"<= {SAMPLE_GOAL_PNG_S} s", provider=ort_sampler.provider, n=n))
    return rows


def run_onnxruntime(args, tmp: Path) -> list[dict]:
    """`python -m export env --json`: which onnxruntime build this is and whether its CUDA provider starts."""
    cmd = [sys.executable, "-m", "export", "env", "--json"]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    if p.returncode != 0:
        return [_row("onnxruntime", "export env", None, "", status=f"failed: exit {p.returncode}: "
                     f"{(p.stderr.strip().splitlines() or [''])[-1][:200]}")]
    env = json.loads(p.stdout)
    ort, cuda = env["onnxruntime"], env["cuda_provider"]
    return [_row("onnxruntime", f"{ort['distribution']} {ort['version']}: CUDA provider starts", cuda["starts"],
                 "bool", "True where onnxruntime-gpu is installed", "ok", reason=cuda.get("reason"),
                 auto_runs_on=env["auto_runs_on"], cuda_mismatch=env.get("cuda_mismatch"))]


def run_features(args, tmp: Path) -> list[dict]:
    """Inception features (random weights) on CUDA vs CPU, TF32 off: max |difference| and images/s."""
    import numpy as np
    import torch
    from evalkit import inception
    from evalkit.features import extract_features
    images = _synthetic(args.feature_images, args.resolution, seed=1)
    weights = tmp / "random-inception.pth"
    torch.save(inception.random_state_dict(images[:10], seed=0), weights)
    devices = ("cpu", args.device)
    got = {d: extract_features(images, weights, device=d, batch_size=64) for d in devices}
    rows = []
    for key in ("pool3", "logits"):
        a, b = np.asarray(got["cpu"][key], np.float64), np.asarray(got[args.device][key], np.float64)
        rel = float(np.abs(a - b).max() / max(np.abs(a).max(), 1e-12))
        rows.append(_row("features", f"{key} max |{args.device} - cpu| / max |cpu|", rel, "relative",
                         "<= 1e-4 (TF32 off)", "ok" if rel <= 1e-4 else "ok (goal missed)"))
    for d in dict.fromkeys(devices):
        rows.append(_row("features", f"images/s on {d}", round(got[d]["images_per_second"], 1), "images/s",
                         tf32=got[d].get("tf32")))
    return rows


def run_ddp(args, tmp: Path) -> list[dict]:
    """torchrun on 2 GPUs: both ranks end with identical weight digests (run.json)."""
    import torch
    if torch.cuda.device_count() < 2:
        return [_row("ddp", "torchrun 2 processes", None, "", status=f"skipped: {torch.cuda.device_count()} GPU")]
    from PIL import Image
    data = tmp / "ddp_data"
    data.mkdir()
    for i, im in enumerate(_synthetic(32, 64, seed=2)):
        Image.fromarray(im).save(data / f"{i:03d}.png")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "-m", "train", "--preset", "paper",
           "--resolution", "64", "--iters", "20", "--tick", "10", "--data", str(data), "--out", str(tmp / "ddp"),
           "--name", "ddp", "--quiet", "--device", "cuda"]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=240,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    if p.returncode != 0:
        return [_row("ddp", "torchrun 2 processes", None, "", status=f"failed: exit {p.returncode}: "
                     f"{(p.stderr.strip().splitlines() or [''])[-1][:200]}")]
    digests = json.loads((tmp / "ddp" / "ddp" / "run.json").read_text())["rank_weight_digests"]
    same = len(digests) == 2 and len(set(digests)) == 1
    return [_row("ddp", "identical weights on 2 ranks after 20 steps", same, "bool", "True",
                 "ok" if same else "failed: ranks differ", digests=digests)]


PIECES = [
    Piece("tests", f"python -m pytest -m gpu {' '.join(TEST_DIRS)}", 120, run_tests),
    Piece("training", "paper preset, 256 px, batch 64, n_critic 5: fp32, bf16, bf16+compile; s/iter x 16,000",
          150, run_training),
    Piece("paths", "3-step runs: wgan-gp eager and compiled, data set in pinned host memory", 60,
          run_training_paths),
    Piece("sampling", f"{SAMPLE_N} images at 256 px: torch CUDA to memory and PNG; onnxruntime CUDA if installed",
          60, run_sampling),
    Piece("onnxruntime", "python -m export env --json: the onnxruntime build and whether CUDA starts", 15,
          run_onnxruntime),
    Piece("features", f"Inception features of {FEATURE_IMAGES} images, CUDA vs CPU, TF32 off", 60, run_features),
    Piece("ddp", "torchrun --nproc_per_node=2 -m train (paper, 64 px, 20 steps) if 2 GPUs", 60, run_ddp),
]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dry-run", action="store_true", help="list the pieces and exit (works without a GPU)")
    p.add_argument("--only", default=None, help="comma list of pieces: " + ",".join(x.name for x in PIECES))
    p.add_argument("--warmup", type=int, default=5, help="warm-up iterations per training variant")
    p.add_argument("--compile-warmup", type=int, default=10, help="warm-up iterations with --compile")
    p.add_argument("--iters", type=int, default=30, help="timed iterations per training variant")
    p.add_argument("--sample-n", type=int, default=SAMPLE_N, help="images for the sampling measure")
    p.add_argument("--tests-timeout", type=int, default=180, help="seconds for the gpu-marked tests")
    p.add_argument("--results", type=Path, default=ROOT / "results", help="folder for gpu_check.{json,md}")
    p.add_argument("--resolution", type=int, default=256, help="px for training, sampling and features")
    p.add_argument("--batch-size", type=int, default=64, help="training batch")
    p.add_argument("--feature-images", type=int, default=FEATURE_IMAGES, help="images for the feature check")
    p.add_argument("--device", choices=("cuda", "cpu"), default="cuda",
                   help="cpu: a smoke run of this script itself on a machine without a GPU, at the sizes given "
                        "(its figures say nothing about a GPU; the tests use it)")
    args = p.parse_args(argv)
    pieces = [x for x in PIECES if not args.only or x.name in args.only.split(",")]
    if args.dry_run:
        for x in pieces:
            print(f"{x.name:9s} ~{x.estimate_seconds:4d} s  {x.what}")
        print(f"total    ~{sum(x.estimate_seconds for x in pieces):4d} s; writes {args.results}/gpu_check.{{json,md}}")
        return 0
    try:
        import torch
    except ImportError:
        print("gpu_check: torch is not installed in this Python; use the Python that has torch with CUDA",
              file=sys.stderr)
        return 2
    if args.device == "cuda" and not torch.cuda.is_available():
        print(f"gpu_check: no CUDA GPU visible to torch {torch.__version__} (CUDA build: {torch.version.cuda}); "
              "run it on a machine with a GPU, or use --dry-run", file=sys.stderr)
        return 2
    from benchmarks._provenance import markdown_table, write_bench
    rows: list[dict] = []
    t_all = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp:
        for x in pieces:
            t0 = time.perf_counter()
            print(f"gpu_check: {x.name}: {x.what}", file=sys.stderr)
            try:
                got = x.run(args, Path(tmp))
            except Exception as e:  # noqa: BLE001 - a missing package or a failing piece is one row
                got = [_row(x.name, "(whole piece)", None, "", status=f"failed: {type(e).__name__}: {e}"[:300])]
            for r in got:
                r["piece_seconds"] = round(time.perf_counter() - t0, 1)
            rows += got
            print(markdown_table(got), file=sys.stderr)
    device = (f"{torch.cuda.get_device_name(0)} x {torch.cuda.device_count()}, torch {torch.__version__}, "
              f"CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}" if args.device == "cuda" else
              f"CPU smoke run (no GPU figures), torch {torch.__version__}")
    write_bench("gpu_check", rows, {"device": device, "total_seconds": round(time.perf_counter() - t_all, 1),
                                    "notes": ["Random weights everywhere: speed and CPU/CUDA agreement do not "
                                              "depend on them; nothing was downloaded.",
                                              "Training s/iter counts the steps after a warm-up tick "
                                              "(tick work excluded), as benchmarks/train_bench.py does."]},
                results_dir=args.results)
    print(markdown_table(rows))
    return 0 if all(not str(r["status"]).startswith("failed") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

"""`python -m evalkit table4`: the paper's Table 4 experiment in one command.

Trains every model of `train.models.MODELS` with `table4=True` (the paper model, DCGAN, the MLP
GAN and FastGAN) with its same-named preset on the same data (same resolution, same number of generator
iterations, same seed, same device), exports each to ONNX and runs `evalkit compare` on the runs
against the same real images.

The pinned demo configuration (the defaults: 64 px, DEMO_ITERS generator iterations at batch
DEMO_BATCH, N = DEMO_N, DEMO_PAIRS MS-SSIM pairs) is sized to finish in about 20 minutes on 2 idle
CPU cores; everything else comes from each preset. `--resolution 256 --iters 16000 --n 10000
--pairs 1000 --batch-size preset` on a GPU is the real experiment.
"""
from __future__ import annotations

import argparse
import json
import logging
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

from evalkit.compare import CompareConfig, CompareError, compare_argv, run_compare

log = logging.getLogger(__name__)

DEMO_ITERS = 700    # pinned demo: generator iterations per model (paper ~1 s each on 2 idle cores, dcgan/mlp ~0.2 s)
DEMO_BATCH = 16     # pinned demo: batch size for every model (the presets' own: --batch-size preset)
DEMO_N = 1000       # pinned demo: generated images per model
DEMO_PAIRS = 200    # pinned demo: MS-SSIM pairs per set (about 0.3 CPU-s per pair at 64 -> 256 px)


@dataclass
class Table4Config:
    data: Path | None = None           # folder of real images; None = the built-in demo set
    resolution: int = 64               # px, for every model (64, 128 or 256)
    iters: int = DEMO_ITERS            # generator iterations per model
    n: int = DEMO_N                    # generated images per model for the comparison
    batch_size: int | None = DEMO_BATCH  # batch size for every model; None = each preset's own
    device: str = "auto"               # auto | cpu | cuda, for training, sampling and features
    dtype: str = "auto"                # training precision of every model (train --dtype: auto | fp32 | bf16 | fast)
    seed: int = 0                      # training seed and compare seed
    runs_dir: Path = Path("runs/table4")  # where the run folders go (one per model)
    out: Path = Path("results/table4_demo")  # compare output folder
    inception_weights: Path | None = None  # FID Inception-v3 weights (else resolved; else columns unavailable)
    pairs: int = DEMO_PAIRS            # MS-SSIM diversity pairs per set (generated and real)
    reuse: bool = False                # keep a finished run with the same config instead of retraining
    quiet: bool = False                # no progress bars (stage lines still go to stderr)
    dry_run: bool = False              # print the resolved training configs and exit


def table4_models() -> list[str]:
    """The models of Table 4: the MODELS entries with table4=True, each trained with its same-named preset."""
    from train.models import MODELS
    return [name for name, arch in MODELS.items() if arch.table4]


def train_configs(cfg: Table4Config) -> list:
    """The resolved TrainConfigs: each model's preset, with the shared resolution, iterations, data and seed."""
    from train.config import resolve
    data = cfg.data
    if data is None:
        from train.demo import demo_folder
        data = demo_folder()
    out = []
    for name in table4_models():
        args = {"preset": name, "data": Path(data), "resolution": cfg.resolution, "iters": cfg.iters,
                "seed": cfg.seed, "device": cfg.device, "dtype": cfg.dtype, "out": Path(cfg.runs_dir), "name": name,
                "quiet": cfg.quiet}
        if cfg.batch_size is not None:
            args["batch_size"] = cfg.batch_size
        out.append(resolve(args))
    return out


def _finished(tc) -> bool:
    """True when the run folder holds a finished run of exactly this config."""
    run_json, config_json = tc.run_dir / "run.json", tc.run_dir / "config.json"
    if not (run_json.is_file() and config_json.is_file()):
        return False
    try:
        info = json.loads(run_json.read_text())
        saved = json.loads(config_json.read_text())
    except json.JSONDecodeError:
        return False
    want = tc.to_dict()
    keys = [k for k in want if k not in ("extra", "quiet", "resume")]
    return info.get("iterations") == tc.iters and all(saved.get(k) == want[k] for k in keys)


def table4_argv(cfg: Table4Config) -> list[str]:
    """The command line of `cfg` (recorded in the provenance)."""
    argv = ["python", "-m", "evalkit", "table4", "--resolution", str(cfg.resolution), "--iters", str(cfg.iters),
            "--n", str(cfg.n), "--batch-size", "preset" if cfg.batch_size is None else str(cfg.batch_size),
            "--device", cfg.device, "--dtype", cfg.dtype, "--seed", str(cfg.seed), "--runs-dir", str(cfg.runs_dir),
            "--out", str(cfg.out), "--pairs", str(cfg.pairs)]
    for flag, value in (("--data", cfg.data), ("--inception-weights", cfg.inception_weights)):
        if value is not None:
            argv += [flag, str(value)]
    return argv + (["--reuse"] if cfg.reuse else [])


def run_table4(cfg: Table4Config) -> dict[str, Path]:
    """Train, export and compare; returns compare's written paths."""
    from export.onnx_export import export_run
    from train import loop

    configs = train_configs(cfg)
    data = configs[0].data
    # Stage lines on stderr (model k of n); training shows its own bar (iterations, ETA, losses).
    for k, tc in enumerate(configs, 1):
        stage = f"table4 [{k}/{len(configs)}] {tc.name}"
        if cfg.reuse and _finished(tc):
            log.info("%s: reusing the finished run %s", stage, tc.run_dir)
        else:
            log.info("%s: training (%s, %d px, %d iterations)", stage, tc.model, tc.resolution, tc.iters)
            loop.run(tc)
        log.info("%s: exporting to ONNX", stage)
        t0 = time.perf_counter()
        export_run(tc.run_dir)
        log.info("%s: exported in %.1f s", stage, time.perf_counter() - t0)
    ccfg = CompareConfig(runs=[tc.run_dir for tc in configs], real=Path(data), n=cfg.n, out=Path(cfg.out),
                         inception_weights=cfg.inception_weights, device=cfg.device, seed=cfg.seed, pairs=cfg.pairs,
                         quiet=cfg.quiet)
    table4 = {"command": shlex.join(table4_argv(cfg)), "compare_command": shlex.join(compare_argv(ccfg)),
              "train_configs": {tc.name: tc.to_dict() for tc in configs}}
    return run_compare(ccfg, extra_provenance={"table4": table4})


def _batch(text: str) -> int | None:
    if text == "preset":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give a positive integer or 'preset'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a positive integer or 'preset'")
    return value


def configure(p: argparse.ArgumentParser) -> None:
    """The arguments of `python -m evalkit table4`."""
    from train.config import DTYPES
    from train.device import DEVICES
    d = Table4Config()
    p.add_argument("--data", type=Path, default=d.data, help="folder of real images (default: built-in demo set)")
    p.add_argument("--resolution", type=int, choices=(64, 128, 256), default=d.resolution, help="image size, px")
    p.add_argument("--iters", type=int, default=d.iters, help="generator iterations per model")
    p.add_argument("--n", type=int, default=d.n, help="generated images per model")
    p.add_argument("--batch-size", type=_batch, default=d.batch_size,
                   help="batch size for every model, or 'preset' for each preset's own")
    p.add_argument("--device", choices=DEVICES, default=d.device, help="device")
    p.add_argument("--dtype", choices=DTYPES, default=d.dtype,
                   help="training precision of every model, as python -m train --dtype (fast: bf16 autocast "
                        "wherever the device has it natively, CPU included, else fp32)")
    p.add_argument("--seed", type=int, default=d.seed, help="training and comparison seed")
    p.add_argument("--runs-dir", type=Path, default=d.runs_dir, help="folder for the run folders")
    p.add_argument("--out", type=Path, default=d.out, help="comparison output folder")
    p.add_argument("--inception-weights", type=Path, default=d.inception_weights, help="FID Inception-v3 weights")
    p.add_argument("--pairs", type=int, default=d.pairs, help="MS-SSIM diversity pairs")
    p.add_argument("--reuse", action="store_true", help="reuse finished runs of the same config instead of retraining")
    p.add_argument("--quiet", action="store_true", help="no progress bars (stage lines still go to stderr)")
    p.add_argument("--dry-run", action="store_true", help="print the resolved training configs and exit")


def run(args: argparse.Namespace) -> int:
    """`python -m evalkit table4`: prints the path of compare.md (or, with --dry-run, the training configs)."""
    cfg = Table4Config(**vars(args))
    if cfg.iters < 1 or cfg.n < 2:
        raise CompareError(f"--iters {cfg.iters} / --n {cfg.n}: need at least 1 iteration and 2 images")
    if cfg.data is not None and not Path(cfg.data).is_dir():
        raise CompareError(f"--data {cfg.data}: not a folder; pass a folder of images")
    if cfg.dry_run:
        print(json.dumps({tc.name: tc.to_dict() for tc in train_configs(cfg)}, indent=2))
        return 0
    print(run_table4(cfg)["md"])
    return 0

"""python -m export onnx|sample|design ...: export a run to ONNX, sample a model, make design sheets."""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
from pathlib import Path

from export.config import DEVICES, FORMATS, ExportConfig, SampleConfig

VERBS = ("onnx", "sample", "design")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2), as every command of the toolkit."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _positive(text: str) -> int:
    v = int(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {v}")
    return v


def onnx_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m export onnx", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                description="Export a run's generator to ONNX (dynamic batch, static H/W), check it with "
                            "onnx.checker, measure its agreement with PyTorch in onnxruntime, and write "
                            "the sidecar <stem>.json (shapes, classes, checksums, parity, versions).",
                epilog="example: python -m export onnx runs/demo --fp16")
    p.add_argument("run_dir", type=Path, help="run folder written by python -m train")
    p.add_argument("--checkpoint", type=Path, default=ExportConfig.checkpoint,
                   help="checkpoint to export; None: RUN_DIR/checkpoints/latest.pt")
    p.add_argument("--no-ema", dest="ema", action="store_false",
                   help="export the raw generator weights even when the checkpoint has EMA weights (ema=True means EMA is used)")
    p.add_argument("--fp16", action="store_true", help="also write generator_fp16.onnx (fp16 inside, fp32 I/O)")
    p.add_argument("--opset", type=int, default=ExportConfig.opset, help="ONNX opset; None: the exporter's default")
    p.add_argument("--out", type=Path, default=ExportConfig.out, help="output folder; None: RUN_DIR/export")
    return p


def sample_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m export sample", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                description="Generate N images from an exported generator as PNG files (written by worker "
                            "processes while the next batch is generated) or one .npz array. Latents: "
                            "numpy default_rng(seed).standard_normal((n, latent_dim), float32).",
                epilog="example: python -m export sample runs/demo/export/generator.onnx --n 10000 --out samples/demo")
    p.add_argument("model", type=Path, nargs="?", default=SampleConfig.model,
                   help="generator.onnx (omit with --torch)")
    p.add_argument("--n", type=_positive, default=SampleConfig.n, help="number of images")
    p.add_argument("--out", type=Path, default=SampleConfig.out, help="output folder")
    p.add_argument("--seed", type=int, default=SampleConfig.seed, help="latent seed")
    p.add_argument("--format", choices=FORMATS, default=SampleConfig.format,
                   help="png: NNNNNN.png files; npz: samples.npz with a uint8 (n, H, W, 3) array 'images'")
    p.add_argument("--grid", action="store_true", help="also write grid.png, a contact sheet of the first 64")
    p.add_argument("--batch-size", type=_positive, default=SampleConfig.batch_size, help="images per inference call")
    p.add_argument("--device", choices=DEVICES, default=SampleConfig.device,
                   help="cuda fails without a working CUDA provider; auto falls back to the CPU")
    p.add_argument("--label", type=int, default=SampleConfig.label,
                   help="conditional models: class index of every image; None: cycle through the classes")
    p.add_argument("--torch", type=Path, default=SampleConfig.torch, metavar="RUN_DIR",
                   help="sample RUN_DIR/checkpoints/latest.pt in PyTorch instead (for comparison)")
    p.add_argument("--workers", type=_positive, default=SampleConfig.workers,
                   help="PNG writer processes; None: min(8, CPUs)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def onnx_main(argv: list[str]) -> int:
    from export.onnx_export import export_run
    cfg = ExportConfig(**vars(onnx_parser().parse_args(argv)))
    path = export_run(cfg.run_dir, cfg.checkpoint, cfg.ema, cfg.fp16, cfg.opset, cfg.out)
    print(path)
    return 0


def sample_main(argv: list[str]) -> int:
    from export.sampler import TorchSampler, load_sampler
    from export.writer import write_samples
    cfg = SampleConfig(**vars(sample_parser().parse_args(argv)))
    if (cfg.model is None) == (cfg.torch is None):
        raise ValueError("sample: give either MODEL.onnx or --torch RUN_DIR (exactly one)")
    if cfg.torch is not None:
        sampler = TorchSampler(cfg.torch / "checkpoints" / "latest.pt", cfg.device)
    else:
        sampler = load_sampler(cfg.model, cfg.device)
    logging.getLogger(__name__).info("sampling %d images on %s -> %s", cfg.n, sampler.provider, cfg.out)
    write_samples(sampler, cfg.n, cfg.out, cfg.seed, cfg.format, cfg.grid, cfg.batch_size, cfg.label,
                  cfg.workers, cfg.quiet)
    print(cfg.out)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    if not argv or argv[0] not in VERBS:
        if argv and argv[0] in ("-h", "--help"):
            print(__doc__ + "\nverbs: onnx RUN_DIR | sample MODEL.onnx --n N --out DIR | design MODEL.onnx --out DIR"
                  "\n(each takes --help)")
            return 0
        print(f"python -m export: error: give a verb, one of {', '.join(VERBS)} (see --help)", file=sys.stderr)
        return 2
    from export.sampler import DeviceError
    verb, rest = argv[0], argv[1:]
    try:
        if verb == "onnx":
            return onnx_main(rest)
        if verb == "sample":
            return sample_main(rest)
        try:
            design = importlib.import_module("export.design")  # export/design.py (design sheets)
        except ModuleNotFoundError as e:
            if e.name != "export.design":
                raise
            print("error: design: export/design.py is not part of this installation", file=sys.stderr)
            return 2
        return design.main(rest)
    except (ValueError, FileNotFoundError, DeviceError) as e:
        print(f"error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

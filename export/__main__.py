"""python -m export onnx|sample|design|env|studio ...: export a run to ONNX, sample a model, make design
sheets, say which onnxruntime this machine has, serve the design studio."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from export.config import FORMATS, ExportConfig, SampleConfig
from inkwash import cli

log = logging.getLogger("export")


def onnx_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", type=Path, help="run folder written by python -m train")
    p.add_argument("--checkpoint", type=Path, default=ExportConfig.checkpoint,
                   help="checkpoint to export; None: RUN_DIR/checkpoints/latest.pt")
    p.add_argument("--no-ema", dest="ema", action="store_false",
                   help="export the raw generator weights even when the checkpoint has EMA weights")
    p.add_argument("--fp16", action="store_true", help="also write generator_fp16.onnx (fp16 inside, fp32 I/O)")
    p.add_argument("--opset", type=int, default=ExportConfig.opset, help="ONNX opset; None: the exporter's default")
    p.add_argument("--out", type=Path, default=ExportConfig.out, help="output folder; None: RUN_DIR/export")


def onnx_run(args: argparse.Namespace) -> int:
    from export.onnx_export import export_run
    cfg = ExportConfig(**vars(args))
    print(export_run(cfg.run_dir, cfg.checkpoint, cfg.ema, cfg.fp16, cfg.opset, cfg.out))
    return 0


def sample_args(p: argparse.ArgumentParser) -> None:
    from export.providers import describe_distribution
    from train.device import DEVICES
    p.add_argument("model", type=Path, nargs="?", default=SampleConfig.model,
                   help="generator.onnx (omit with --torch)")
    p.add_argument("--n", type=cli.positive_int, default=SampleConfig.n, help="number of images")
    p.add_argument("--out", type=Path, default=SampleConfig.out, help="output folder")
    p.add_argument("--seed", type=int, default=SampleConfig.seed, help="latent seed")
    p.add_argument("--format", choices=FORMATS, default=SampleConfig.format,
                   help="png: NNNNNN.png files; npz: samples.npz with a uint8 (n, H, W, 3) array 'images'")
    p.add_argument("--grid", action="store_true", help="also write grid.png, a contact sheet of the first 64")
    p.add_argument("--batch-size", type=cli.positive_int, default=SampleConfig.batch_size,
                   help="images per inference call")
    p.add_argument("--device", choices=DEVICES, default=SampleConfig.device,
                   help=f"onnxruntime here: {describe_distribution()}. cuda fails unless its CUDA provider "
                        "starts; auto falls back to the CPU (python -m export env says which provider starts)")
    p.add_argument("--label", default=SampleConfig.label,
                   help="conditional models: class of every image, as an index or a name from the model's "
                        "class_names; none: cycle through the classes")
    p.add_argument("--torch", type=Path, default=SampleConfig.torch, metavar="RUN_DIR",
                   help="sample RUN_DIR/checkpoints/latest.pt in PyTorch instead (for comparison)")
    p.add_argument("--workers", type=cli.positive_int, default=SampleConfig.workers,
                   help="PNG writer processes; None: min(8, CPUs)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def sample_run(args: argparse.Namespace) -> int:
    from export.sampler import TorchSampler, load_sampler
    from export.writer import write_samples
    cfg = SampleConfig(**vars(args))
    if (cfg.model is None) == (cfg.torch is None):
        raise cli.UserError("give either MODEL.onnx or --torch RUN_DIR (exactly one)")
    if cfg.torch is not None:
        sampler = TorchSampler(cfg.torch / "checkpoints" / "latest.pt", cfg.device)
    else:
        sampler = load_sampler(cfg.model, cfg.device)
    label = None if cfg.label is None else sampler.class_index(cfg.label)
    log.info("sampling %d images on %s -> %s", cfg.n, sampler.provider, cfg.out)
    write_samples(sampler, cfg.n, cfg.out, cfg.seed, cfg.format, cfg.grid, cfg.batch_size, label,
                  cfg.workers, cfg.quiet)
    print(cfg.out)
    return 0


def env_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")


def env_run(args: argparse.Namespace) -> int:
    from export import env
    r = env.report()
    print(json.dumps(r, indent=2) if args.json else env.format_report(r))
    return 0


def design_args(p: argparse.ArgumentParser) -> None:
    from export import design
    design.configure(p)


def design_run(args: argparse.Namespace) -> int:
    from export import design
    return design.run(args)


def studio_args(p: argparse.ArgumentParser) -> None:
    from export.studio import serve
    serve.configure(p)


def studio_run(args: argparse.Namespace) -> int:
    from export.studio import serve
    return serve.run(args)


COMMAND = cli.Command(
    prog="python -m export",
    description="Export a trained run to ONNX, sample an exported generator, make design sheets.",
    verbs=[
        cli.Verb("onnx", "export a run's generator to ONNX with a parity-checked sidecar", onnx_args, onnx_run,
                 description="Export a run's generator to ONNX (dynamic batch, static H/W), check it with "
                             "onnx.checker, measure its agreement with PyTorch in onnxruntime, and write the "
                             "sidecar <stem>.json (model spec, checksums, parity, versions).",
                 example="python -m export onnx runs/demo --fp16"),
        cli.Verb("sample", "generate N images from an exported generator (PNG or .npz)", sample_args, sample_run,
                 description="Generate N images from an exported generator as PNG files (written by worker "
                             "processes while the next batch is generated) or one .npz array. Latents: "
                             "numpy default_rng(seed).standard_normal((n, latent_dim), float32).",
                 example="python -m export sample runs/demo/export/generator.onnx --n 10000 --out samples/demo"),
        cli.Verb("design", "design sheets: seamless tiles, variations, garment mock-ups", design_args, design_run,
                 description="Design sheets from an exported generator: for each seed a seamless tile (seam "
                             "score before/after), its 3x3 repeat, latent variations, a spherical interpolation "
                             "to the next seed, class sweeps for conditional models, and the print on garment "
                             "mock-ups. Writes DIR/<id>.png/.pdf/.json, DIR/tiles/<id>_tile.png and "
                             "DIR/designs.csv.",
                 example="python -m export design runs/demo/export/generator.onnx --out designs --n 12 "
                         "--seed 0 --repeat-scale 0.3 --rotation 15"),
        cli.Verb("env", "which onnxruntime build this machine has and which providers really start", env_args,
                 env_run,
                 description="Say which onnxruntime distribution is installed (onnxruntime-gpu or onnxruntime), "
                             "its version and compiled-in providers, whether its CUDA provider really starts "
                             "here (tried on a one-node model, the cause when it does not), the provider "
                             "--device auto will use, and torch's CUDA, with a warning when their CUDA or "
                             "cuDNN major versions differ.",
                 example="python -m export env --json"),
        cli.Verb("studio", "the design studio: explore a model in the browser, leave with files", studio_args,
                 studio_run,
                 description="Serve the design studio (Streamlit, on this machine): pick an exported model, "
                             "browse grids of tiles, mark favourites, ask for more like them, walk between two, "
                             "vary one, and download the seamless tile, its repeat, colourway, garment mock-ups, "
                             "the design sheet PDF and a collection zip. Favourites and history are kept in a "
                             "local JSON file per desk (?desk=NAME).",
                 example="python -m export studio runs --port 8502"),
    ])


def main(argv: list[str] | None = None) -> int:
    return COMMAND.main(argv)


if __name__ == "__main__":
    sys.exit(main())

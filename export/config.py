"""ExportConfig and SampleConfig: one dataclass per verb, filled from the command line."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

FORMATS = ("png", "npz")


@dataclass
class ExportConfig:
    run_dir: Path                    # run folder written by `python -m train` (holds checkpoints/latest.pt)
    checkpoint: Path | None = None   # checkpoint to export; None = RUN_DIR/checkpoints/latest.pt
    ema: bool = True                 # export the EMA generator when the checkpoint has one
    fp16: bool = False               # also write generator_fp16.onnx (fp16 weights and activations, fp32 I/O)
    opset: int | None = None         # ONNX opset; None = the exporter's default
    out: Path | None = None          # output folder; None = RUN_DIR/export


@dataclass
class SampleConfig:
    model: Path | None = None        # generator.onnx written by `python -m export onnx`
    n: int = 64                      # images to generate
    out: Path = Path("samples")      # output folder
    seed: int = 0                    # latents = numpy default_rng(seed).standard_normal((n, latent_dim), float32)
    format: str = "png"              # png (one file per image) | npz (one uint8 array "images", (n, H, W, 3))
    grid: bool = False               # also write grid.png, a contact sheet of the first 64 images
    batch_size: int = 64             # images per inference call
    device: str = "auto"             # auto | cpu | cuda (onnxruntime execution provider, or torch device)
    label: str | None = None         # conditional models: class index or name of every image; None = cycle
    torch: Path | None = None        # sample this run folder's checkpoint in PyTorch instead of an ONNX file
    workers: int | None = None       # PNG writer processes; None = min(8, CPU count)
    quiet: bool = False              # no progress bar

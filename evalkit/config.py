"""EvalConfig: the options of `python -m evalkit <metric>|features` (the metrics of evalkit.table)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class EvalConfig:
    verb: str = "fid"                        # a key of evalkit.table.METRICS, or "features"
    inputs: list[Path] = field(default_factory=list)  # folder of images | .npz of uint8 images | .onnx generator
    n: int | None = None                     # images per input: a seeded subset of a folder/.npz; samples of an .onnx
    seed: int = 0                            # sampling seed: ONNX latents, input subsets, MS-SSIM pairs
    device: str = "auto"                     # auto | cpu | cuda
    batch_size: int = 64                     # images per Inception forward / sampling batch / MS-SSIM pair batch
    inception_weights: Path | None = None    # else $EVALKIT_INCEPTION_WEIGHTS, torch hub cache, download
    resolution: int = 64                     # image-pair metrics (c2st, lapswd, spectral): both sets fitted to R px
    out: Path | None = None                  # features: the .npz to write
    cache: bool = True                       # cache real-set (folder/.npz) features by content hash
    json: bool = False                       # stdout carries only one JSON object
    quiet: bool = False                      # no progress bars
    options: dict = field(default_factory=dict)  # the metric's own options (evalkit.table), e.g. {"splits": 10}

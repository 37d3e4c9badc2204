"""EvalConfig: the options of `python -m evalkit fid|is|kid|msssim|features`."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class EvalConfig:
    verb: str = "fid"                        # fid | is | kid | msssim | features
    inputs: list[Path] = field(default_factory=list)  # folder of images | .npz of uint8 images | .onnx generator
    n: int | None = None                     # images per input: a seeded subset of a folder/.npz; samples of an .onnx
    seed: int = 0                            # sampling seed: ONNX latents, input subsets, MS-SSIM pairs
    rng_seed: int = 2020                     # IS shuffle and KID subsets (torch-fidelity's default)
    splits: int = 10                         # IS splits
    kid_subsets: int = 100                   # KID subsets
    kid_subset_size: int = 1000              # KID subset size; min(this, N) is used and recorded
    pairs: int = 1000                        # MS-SSIM diversity: random pairs of distinct images
    device: str = "auto"                     # auto | cpu | cuda
    batch_size: int = 64                     # images per Inception forward
    inception_weights: Path | None = None    # else $EVALKIT_INCEPTION_WEIGHTS, torch hub cache, download
    out: Path | None = None                  # features: the .npz to write
    cache: bool = True                       # cache real-set (folder/.npz) features by content hash
    json: bool = False                       # stdout carries only one JSON object
    quiet: bool = False                      # no progress bars

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: (str(v) if isinstance(v, Path) else [str(p) for p in v] if k == "inputs" else v)
                for k, v in d.items()}

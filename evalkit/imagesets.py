"""Inputs of the weights-free quality metrics (C2ST, Laplacian SWD, spectral score): two sets of
uint8 RGB images that must differ in nothing but their content.

Any processing difference between the sides (size, colour mode, file format, compression) is a
cue a classifier finds before any real difference, and it moves SWD and spectra as well, so the
checks refuse such pairs with one line that names the first odd file and the fix.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from inkwash.cli import UserError


def check_pair(metric: str, images_a_u8: np.ndarray, images_b_u8: np.ndarray, min_side: int = 8) -> None:
    """UserError unless both sets are uint8 (N, S, S, 3) of one square size S >= min_side."""
    for name, x in (("first", images_a_u8), ("second", images_b_u8)):
        if x.dtype != np.uint8 or x.ndim != 4 or x.shape[-1] != 3:
            raise UserError(f"{metric}: the {name} set is {x.dtype} {x.shape}; expected uint8 (N, H, W, 3) RGB")
    (ha, wa), (hb, wb) = images_a_u8.shape[1:3], images_b_u8.shape[1:3]
    if (ha, wa) != (hb, wb):
        raise UserError(f"{metric}: image sizes differ ({wa}x{ha} vs {wb}x{hb}); bring both sets to one "
                        "resolution the same way (a size difference is a trivial cue)")
    if ha != wa or ha < min_side:
        raise UserError(f"{metric}: images must be square and at least {min_side} px, got {wa}x{ha}")


def _header(path: Path) -> tuple[str, str, tuple[int, int]]:
    try:
        with Image.open(path) as im:
            return str(im.format), im.mode, im.size
    except Exception as e:
        raise UserError(f"{path}: not a readable image ({type(e).__name__}); remove or replace it") from e


def _decode(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def read_image_sets(paths_a: list[Path], paths_b: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """Decode two lists of image files through one path (PIL, RGB, no resize) after checking that
    every file of both shares one format, colour mode and size; UserError naming the first odd file."""
    if not paths_a or not paths_b:
        raise UserError("image sets: both sets need at least one image file")
    ref_path = Path(paths_a[0])
    ref = _header(ref_path)
    for p in [*paths_a, *paths_b]:
        h = _header(Path(p))
        if h != ref:
            raise UserError(f"{p}: {h[0]} {h[1]} {h[2][0]}x{h[2][1]} differs from {ref_path}'s {ref[0]} {ref[1]} "
                            f"{ref[2][0]}x{ref[2][1]}; convert both sets to one format, mode and size the same way "
                            "(a difference is a trivial cue for the classifier)")
    return np.stack([_decode(Path(p)) for p in paths_a]), np.stack([_decode(Path(p)) for p in paths_b])

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

LOSSLESS_FORMATS = ("PNG", "BMP", "TIFF")   # decode to exactly the pixels written, like raw uint8 arrays


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


def uniform_header(paths: list[Path]) -> tuple[str, str, tuple[int, int]]:
    """(format, mode, (w, h)) shared by every file of `paths`; UserError naming the first that differs."""
    ref_path = Path(paths[0])
    ref = _header(ref_path)
    for p in paths:
        h = _header(Path(p))
        if h != ref:
            raise UserError(f"{p}: {h[0]} {h[1]} {h[2][0]}x{h[2][1]} differs from {ref_path}'s {ref[0]} {ref[1]} "
                            f"{ref[2][0]}x{ref[2][1]}; convert both sets to one format, mode and size the same way "
                            "(a difference is a trivial cue for the classifier)")
    return ref


def read_image_sets(paths_a: list[Path], paths_b: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """Decode two lists of image files through one path (PIL, RGB, no resize) after checking that
    every file of both shares one format, colour mode and size; UserError naming the first odd file."""
    if not paths_a or not paths_b:
        raise UserError("image sets: both sets need at least one image file")
    uniform_header([*paths_a, *paths_b])
    return np.stack([_decode(Path(p)) for p in paths_a]), np.stack([_decode(Path(p)) for p in paths_b])


def fit_square(images_u8: np.ndarray, resolution: int) -> np.ndarray:
    """uint8 (N, H, W, 3) -> (N, R, R, 3): centre square crop, then LANCZOS (reducing gap 3), the filter
    of train.data's "crop" fit, so both sets of a pair are resized alike (and as training resizes)."""
    n, h, w, _ = images_u8.shape
    if (h, w) == (resolution, resolution):
        return images_u8
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    out = np.empty((n, resolution, resolution, 3), np.uint8)
    for i, im in enumerate(images_u8):
        out[i] = np.asarray(Image.fromarray(np.ascontiguousarray(im[y0:y0 + s, x0:x0 + s]), "RGB").resize(
            (resolution, resolution), Image.Resampling.LANCZOS, reducing_gap=3.0))
    return out


def _side(source: Path, n: int | None, seed: int, device: str, batch_size: int) -> tuple[list[Path] | None, object]:
    """(image files, None) for a folder, (None, uint8 array) for an .npz or .onnx (evalkit.features' loaders)."""
    from evalkit import features  # imports torch: only the command-line path needs it
    s = features.open_source(source, n=n, seed=seed, device=device, batch_size=batch_size)
    return (s.paths, None) if isinstance(s, features.ImageFiles) else (None, s)


def _decode_beside_arrays(metric: str, folder: Path, paths: list[Path], other: Path) -> np.ndarray:
    """A folder measured against raw uint8 arrays (.npz, ONNX samples): fine only if its files are
    lossless RGB, which decode to exactly such arrays."""
    fmt, mode, _ = uniform_header(paths)
    if fmt not in LOSSLESS_FORMATS or mode != "RGB":
        raise UserError(f"{metric}: {folder} holds {fmt} {mode} files but {other} is raw uint8 RGB; give both sets "
                        f"as folders of one format, or both as .npz (a compression or mode difference is a cue)")
    return np.stack([_decode(Path(p)) for p in paths])


def load_pair(metric: str, source_a: Path, source_b: Path, resolution: int, *, n: int | None = None, seed: int = 0,
              device: str = "auto", batch_size: int = 64) -> tuple[np.ndarray, np.ndarray, dict]:
    """Two inputs (folder | .npz | .onnx) as uint8 (N, R, R, 3) sets decoded and resized through one
    path: folders must share one format, mode and size; a folder beside an .npz or ONNX samples must
    be lossless RGB; both sides must share one size before both are fitted to `resolution` alike.
    Returns (A, B, facts about the inputs)."""
    (paths_a, arr_a), (paths_b, arr_b) = (_side(Path(s), n, seed, device, batch_size) for s in (source_a, source_b))
    if paths_a is not None and paths_b is not None:
        a, b = read_image_sets(paths_a, paths_b)
    else:
        a = arr_a if paths_a is None else _decode_beside_arrays(metric, source_a, paths_a, source_b)
        b = arr_b if paths_b is None else _decode_beside_arrays(metric, source_b, paths_b, source_a)
    if a.shape[1:3] != b.shape[1:3]:
        raise UserError(f"{metric}: {source_a} is {a.shape[2]}x{a.shape[1]} but {source_b} is {b.shape[2]}x"
                        f"{b.shape[1]}; bring both sets to one size the same way (a size difference is a trivial cue)")
    facts = {"resolution": resolution, "source_size": [int(a.shape[2]), int(a.shape[1])],
             "resized": a.shape[1:3] != (resolution, resolution), "n_images": [len(a), len(b)],
             "kinds": ["folder" if p is not None else Path(s).suffix.lstrip(".")
                       for p, s in ((paths_a, source_a), (paths_b, source_b))]}
    return fit_square(a, resolution), fit_square(b, resolution), facts

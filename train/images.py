"""Image conversions at the edges: float NCHW in [-1, 1] inside the code, uint8 NHWC RGB outside.

torch is imported only by the functions that make or read tensors, so `grid` and `save_png` serve
torch-free callers (`python -m train prepare`).
"""
from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from inkwash import atomic

if TYPE_CHECKING:
    import torch


def to_uint8(x: torch.Tensor | np.ndarray) -> np.ndarray:
    """Float NCHW in [-1, 1] -> uint8 NHWC, as round(clip((x + 1) / 2 * 255)): the quantisation of
    every PNG, sample and metric input in this toolkit."""
    torch = sys.modules.get("torch")  # a tensor can only exist when torch is loaded
    if torch is not None and isinstance(x, torch.Tensor):
        x = x.detach().float().cpu().numpy()
    x = np.asarray(x, dtype=np.float32)
    u = np.rint(np.clip((x + 1.0) * 127.5, 0.0, 255.0)).astype(np.uint8)
    return np.ascontiguousarray(u.transpose(0, 2, 3, 1))


def from_uint8(images_u8: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 NHWC -> float32 NCHW in [-1, 1]."""
    import torch
    t = torch.as_tensor(images_u8)
    return t.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0).contiguous()


def grid(images_u8: np.ndarray, nrow: int | None = None, pad: int = 2, fill: int = 255) -> np.ndarray:
    """Tile uint8 NHWC images into one uint8 HWC contact sheet, `nrow` images per row."""
    n, h, w, c = images_u8.shape
    nrow = nrow or max(1, int(math.ceil(math.sqrt(n))))
    rows = int(math.ceil(n / nrow))
    out = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad, c), fill, np.uint8)
    for i in range(n):
        r, q = divmod(i, nrow)
        y, x = pad + r * (h + pad), pad + q * (w + pad)
        out[y:y + h, x:x + w] = images_u8[i]
    return out


def save_png(path: Path, image_u8: np.ndarray) -> None:
    """Write one uint8 HWC RGB image as PNG (never JPEG), atomically."""
    with atomic.atomic_file(path) as f:
        Image.fromarray(image_u8, "RGB").save(f, format="PNG")

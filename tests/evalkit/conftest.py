"""evalkit fixtures: a random-weight FID Inception file with calibrated BatchNorm statistics (no
download), synthetic image sets, and a private cache/torch-hub location for every test."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from evalkit import inception


def synthetic_images(n: int, size: int = 32, seed: int = 0, style: float = 0.0) -> np.ndarray:
    """uint8 (n, size, size, 3): smooth colour gradients, blobs and stripes; `style` shifts the
    distribution (0 = set A, 1 = a visibly different set B)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        a = rng.uniform(0, 2 * np.pi)
        t = np.cos(a) * xx + np.sin(a) * yy
        img = c0 * (1 - t[..., None]) + c1 * t[..., None]
        for _ in range(rng.integers(1, 4)):
            cy, cx, r = rng.uniform(0, 1, 2).tolist() + [rng.uniform(0.05, 0.3)]
            blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
            img += blob[..., None] * rng.uniform(-120, 120, 3)
        freq = rng.uniform(2, 10) * (1 + 2 * style)
        img += (30 + 40 * style) * np.sin(2 * np.pi * freq * (xx + style * yy))[..., None]
        img += rng.normal(0, 4 + 10 * style, img.shape)
        out[i] = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    return out


def write_pngs(folder: Path, images_u8: np.ndarray) -> Path:
    """Write uint8 NHWC images as 0000.png, 0001.png, ... into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, im in enumerate(images_u8):
        Image.fromarray(im, "RGB").save(folder / f"{i:04d}.png")
    return folder


@pytest.fixture(scope="session")
def inception_weights(tmp_path_factory) -> Path:
    """A .pth in the official key layout: random weights, BN statistics calibrated on 10 images."""
    calib = synthetic_images(10, size=48, seed=123, style=0.5)
    state = inception.random_state_dict(calib, seed=0)
    path = tmp_path_factory.mktemp("inception") / "random-inception.pth"
    torch.save(state, path)
    return path


@pytest.fixture
def make_images():
    """The synthetic_images function, for tests in other files."""
    return synthetic_images


@pytest.fixture
def png_folder():
    """The write_pngs function, for tests in other files."""
    return write_pngs


@pytest.fixture(autouse=True)
def _private_caches(tmp_path, monkeypatch):
    # No test reads or writes the user's caches or an official weights file.
    monkeypatch.setenv("INKWASH_CACHE", str(tmp_path / "inkwash-cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.delenv("EVALKIT_INCEPTION_WEIGHTS", raising=False)

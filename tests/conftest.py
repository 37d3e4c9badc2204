"""Shared test rules and fixtures.

Rules: GPU tests skip on CPU with a reason; in CI a skipped browser or database test is a failure
(those must run there).

Fixtures every package's tests use (tests run in importlib mode, so helpers are handed out by
fixtures rather than imported):
- `synthetic_images(n, size, seed, style)`: uint8 (n, size, size, 3) smooth colour patterns;
- `write_images(folder, images_u8, suffix=".png", prefix="")`: one file per image;
- `run_factory(name, **train_flags)`: a finished run folder trained by the real training code
  (`python -m train`'s config resolution and loop) at 64 px for a few steps, made once per session
  per distinct set of flags and copied for each caller.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU; this machine has none")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and ({"browser", "db"} & set(item.keywords)):
        report.outcome = "failed"
        report.longrepr = f"browser/database test skipped in CI (must run there): {report.longrepr}"


def _synthetic_images(n: int, size: int = 32, seed: int = 0, style: float = 0.0) -> np.ndarray:
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


def _write_images(folder: Path, images_u8: np.ndarray, suffix: str = ".png", prefix: str = "") -> list[Path]:
    """Write uint8 NHWC images as <prefix>0000<suffix>, ... into `folder`; returns the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, im in enumerate(images_u8):
        p = folder / f"{prefix}{i:04d}{suffix}"
        Image.fromarray(im, "RGB").save(p)
        paths.append(p)
    return paths


@pytest.fixture(scope="session")
def synthetic_images():
    """The synthetic image maker: (n, size=32, seed=0, style=0.0) -> uint8 (n, size, size, 3)."""
    return _synthetic_images


@pytest.fixture(scope="session")
def write_images():
    """The image writer: (folder, images_u8, suffix='.png', prefix='') -> list of paths."""
    return _write_images


RUN_DEFAULTS = dict(preset="paper-demo", resolution=64, iters=2, batch_size=4, tick=1, n_grid=4, eval_n=8, device="cpu",
                    quiet=True, diffaug=False)


def _train_run(root: Path, name: str, classes: int, n_images: int, **flags) -> Path:
    """Train `name` under `root` with the real code on a tiny written folder (class subfolders when
    `classes` > 1, the data for a conditional run)."""
    from train import config, loop
    data = root / f"{name}_data"
    images = _synthetic_images(n_images, size=64, seed=1)
    if classes > 1:
        for k in range(classes):
            _write_images(data / f"class{k}", images[k::classes], prefix=f"c{k}_")
    else:
        _write_images(data, images)
    args = {**RUN_DEFAULTS, **flags, "data": data, "out": root, "name": name}
    if classes > 1:
        args["conditional"] = True
    torch.manual_seed(0)
    return loop.run(config.resolve(args))


@pytest.fixture(scope="session")
def run_factory(tmp_path_factory):
    """(name, classes=0, n_images=8, **train_flags) -> a copied, finished run folder.

    Flags are `python -m train`'s fields (model="dcgan", loss="wgan-gp", ema=False, ...), over
    RUN_DEFAULTS: the paper-demo preset (the paper model) at 64 px, 2 iterations, batch 4. Each
    distinct call trains once per session; every caller gets its own copy, so tests may change it."""
    masters: dict[str, Path] = {}
    store = tmp_path_factory.mktemp("run_masters")

    def make(name: str = "tiny", classes: int = 0, n_images: int = 8, **flags) -> Path:
        key = json.dumps([classes, n_images, sorted(flags.items())], default=str)
        if key not in masters:
            masters[key] = _train_run(store / f"m{len(masters)}", "master", classes, n_images, **flags)
        dst = tmp_path_factory.mktemp("runs") / name
        return Path(shutil.copytree(masters[key], dst))

    return make

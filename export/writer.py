"""Writing samples: PNG files from a pool of worker processes (while the caller generates the next
batch), one .npz array, or a contact sheet. PNG only, never JPEG: the study and the metrics need
the exact uint8 values."""
from __future__ import annotations

import multiprocessing as mp
import os
import sys
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from inkwash.atomic import atomic_file, write_json
from inkwash.cli import UserError
from train.images import grid, save_png

PNG_COMPRESS_LEVEL = 1  # zlib level: PNG is lossless at every level; 1 is ~5x faster to write than 6


def image_name(index: int, n_total: int) -> str:
    """Opaque zero-padded file name: 000000.png, 000001.png, ... (wider when n_total needs it)."""
    width = max(6, len(str(max(n_total - 1, 0))))
    return f"{index:0{width}d}.png"


def write_pngs(out_dir: str, names: list[str], images_u8: np.ndarray, compress_level: int) -> int:
    """Write uint8 (b, H, W, 3) images as PNG files, each atomically; runs in a worker process."""
    for name, img in zip(names, images_u8):
        with atomic_file(Path(out_dir) / name) as f:
            Image.fromarray(img, "RGB").save(f, format="PNG", compress_level=compress_level)
    return len(names)


def _context():
    # fork starts workers in milliseconds and they only run PIL; elsewhere use the platform default.
    return mp.get_context("fork") if sys.platform.startswith("linux") else mp.get_context()


class PngWriter:
    """Queue uint8 batches; worker processes write them as PNGs in the background.

    At most `2 * workers` chunks are in flight, so memory stays bounded when writing is slower than
    generating. Use as a context manager; leaving it waits for every file and re-raises the first error.
    """

    def __init__(self, out_dir: Path, n_total: int, workers: int | None = None,
                 compress_level: int = PNG_COMPRESS_LEVEL):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.n_total = n_total
        self.workers = max(1, workers or min(8, os.cpu_count() or 1))
        self.compress_level = compress_level
        self.pool = ProcessPoolExecutor(self.workers, mp_context=_context())
        self.pending: deque[Future] = deque()
        self.written = 0

    def submit(self, images_u8: np.ndarray, start: int) -> None:
        """Queue images with indices start, start + 1, ...; split over the workers."""
        chunks = np.array_split(np.arange(len(images_u8)), min(self.workers, len(images_u8)) or 1)
        for idx in chunks:
            if len(idx) == 0:
                continue
            names = [image_name(start + int(i), self.n_total) for i in idx]
            self.pending.append(self.pool.submit(write_pngs, str(self.out_dir), names,
                                                 np.ascontiguousarray(images_u8[idx]), self.compress_level))
        while len(self.pending) > 2 * self.workers:
            self.written += self.pending.popleft().result()

    def close(self) -> int:
        """Wait for every queued file; returns the number written."""
        try:
            while self.pending:
                self.written += self.pending.popleft().result()
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)
        return self.written

    def __enter__(self) -> PngWriter:
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.close()
        else:
            self.pool.shutdown(wait=True, cancel_futures=True)


def write_npz(path: Path, images_u8: np.ndarray, **arrays: np.ndarray) -> None:
    """One uint8 array "images" (n, H, W, 3) (+ extra arrays) in an .npz, written atomically."""
    with atomic_file(path) as f:
        np.savez(f, images=images_u8, **arrays)


def write_grid(path: Path, images_u8: np.ndarray, max_images: int = 64) -> None:
    """Contact sheet of the first `max_images` images as one PNG."""
    save_png(path, grid(images_u8[:max_images]))


def write_samples(sampler, n: int, out: Path, seed: int = 0, fmt: str = "png", grid_sheet: bool = False,
                  batch_size: int = 64, labels=None, workers: int | None = None, quiet: bool = False) -> dict:
    """Generate n images with `sampler` (export.sampler.Sampler or TorchSampler) into `out`.

    png: NNNNNN.png written by worker processes while the next batch is generated; npz: samples.npz
    with "images" uint8 (n, H, W, 3) (+ "labels"); grid_sheet: also grid.png. Writes samples.json
    (seed, model, provider) and returns it.
    """
    from tqdm import tqdm

    from export.onnx_export import LATENTS_DOC
    if n < 1:
        raise UserError(f"n: must be >= 1, got {n}")
    if fmt not in ("png", "npz"):
        raise UserError(f"format: unknown {fmt!r}; choose png or npz (never JPEG: it changes pixel values)")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    z = sampler.latents(n, seed)
    y = sampler.resolve_labels(n, labels)
    batches = sampler.iter_batches(z, y, batch_size)
    head: list[np.ndarray] = []  # first images, for the contact sheet
    kept: list[np.ndarray] = []  # every image, for npz
    bar = tqdm(total=n, desc="sample", unit="img", disable=quiet)
    done = 0
    if fmt == "png":
        with PngWriter(out, n, workers) as w:
            for batch in batches:
                w.submit(batch, done)
                if grid_sheet and done < 64:
                    head.append(batch[:64 - done])
                done += len(batch)
                bar.update(len(batch))
    else:
        for batch in batches:
            kept.append(batch)
            done += len(batch)
            bar.update(len(batch))
        images = np.concatenate(kept)
        head = [images[:64]]
        extra = {"labels": y} if y is not None else {}
        write_npz(out / "samples.npz", images, seed=np.int64(seed), **extra)
    bar.close()
    if grid_sheet:
        write_grid(out / "grid.png", np.concatenate(head))
    manifest = {"n": n, "seed": seed, "format": fmt, "latents": LATENTS_DOC, "model": str(sampler.path),
                "model_sha256": sampler.meta.get("model_sha256"), "provider": sampler.provider,
                "resolution": sampler.resolution, "labels": None if y is None else
                ("cycle 0..K-1" if labels is None else "given"), "class_names": sampler.class_names,
                "files": f"{image_name(0, n)} .. {image_name(n - 1, n)}" if fmt == "png" else "samples.npz"}
    write_json(out / "samples.json", manifest)
    return manifest

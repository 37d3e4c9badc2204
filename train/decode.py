"""Decoding and normalising one image file, and decoding many in worker processes.

`process_file(path, opts)` turns any file Pillow can read into a uint8 (R, R, 3) sRGB array plus a
report row saying what was converted and why, or why the file was skipped; it never raises for a
bad file. `decode_all` runs it over a list of files, in worker processes when there are enough.
"""
from __future__ import annotations

import contextlib
import io
import logging
import math
import multiprocessing
import os
import sys
import time
import types
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from inkwash.decode import PAPER_WHITE, to_srgb
from inkwash.hashing import sha256_bytes
from train import near_duplicates

log = logging.getLogger(__name__)

FITS = ("crop", "pad", "random-crop")
SMALLS = ("tile", "upscale", "skip")
FORMATS = ("PNG", "JPEG", "MPO", "WEBP", "BMP", "TIFF", "GIF")
MIN_SIDE = 16            # px: smaller files are icons or thumbnails, not patterns
DECODE_VERSION = 2       # bump when decoding changes, to invalidate caches (2: rows carry thumb32)
MIN_FILES_FOR_POOL = 8   # fewer files to decode: in this process (starting workers costs more)


@dataclass(frozen=True)
class Options:
    """Per-file normalisation settings (picklable, sent to the worker processes)."""
    resolution: int
    fit: str = "crop"
    small: str = "tile"
    seed: int = 0


def process_file(path: str, opts: Options) -> tuple[dict, np.ndarray | None]:
    """Decode and normalise one file; never raises for a bad file.

    Returns (report row, uint8 (R, R, 3) array or None when skipped). The row has status
    "ok" (only resized / cropped / padded), "converted" (mode, profile, orientation, alpha,
    frame, tiling or upscaling changed it) or "skipped", with the reason and every action.
    """
    row = {"path": path, "status": "skipped", "reason": "", "width": None, "height": None,
           "mode": None, "format": None, "actions": "", "sha256": None}
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        row["reason"] = f"unreadable: {e.strerror or e}"
        return row, None
    if not data:
        row["reason"] = "empty file (0 bytes)"
        return row, None
    row["sha256"] = sha256_bytes(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        row["reason"] = f"decompression bomb: {e}".split(" could be")[0] + f" (Pillow's limit is {Image.MAX_IMAGE_PIXELS} pixels)"
        return row, None
    except UnidentifiedImageError:
        row["reason"] = "not an image (Pillow cannot identify the format)"
        return row, None
    except Exception as e:  # noqa: BLE001 - any decoder failure is a reason, never a crash
        row["reason"] = f"unreadable: {type(e).__name__}: {e}"
        return row, None
    row.update(width=im.width, height=im.height, mode=im.mode, format=im.format)
    if im.format not in FORMATS:
        row["reason"] = f"unsupported format {im.format} (convert it to PNG)"
        return row, None
    if min(im.size) < MIN_SIDE:
        row["reason"] = f"too small: {im.width}x{im.height} px (minimum {MIN_SIDE} px; icons are not patterns)"
        return row, None
    actions: list[tuple[str, bool]] = []  # (text, changes the content beyond resize/crop/pad)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            n_frames = getattr(im, "n_frames", 1)
            if n_frames > 1:
                im.seek(0)
                actions.append((f"first frame of {n_frames}", True))
            if im.format in ("JPEG", "MPO"):
                _jpeg_draft(im, opts)
            im.load()
            rgb = to_srgb(im, actions)
    except Exception as e:  # noqa: BLE001 - truncated data, broken chunks, bad profiles
        row["reason"] = f"truncated or corrupt: {type(e).__name__}: {e}"
        return row, None
    # The whole picture's thumbnail, before fitting: near-duplicates are found whatever the fit or tiling.
    row["thumb32"] = near_duplicates.thumb_text(near_duplicates.thumbnail(rgb))
    arr, reason = _fit_square(rgb, opts, row["sha256"], actions)
    row["actions"] = "; ".join(text for text, _ in actions)
    if arr is None:
        row["reason"] = reason
        return row, None
    row["status"] = "converted" if any(changes for _, changes in actions) else "ok"
    return row, arr


def _jpeg_draft(im: Image.Image, opts: Options) -> None:
    """Let libjpeg decode at 1/2, 1/4 or 1/8 scale when the result still covers the target."""
    w, h = im.size
    side = min(w, h) if opts.fit != "pad" else max(w, h)
    if side > 2 * opts.resolution:
        s = opts.resolution / side
        im.draft(im.mode, (max(1, math.ceil(w * s)), max(1, math.ceil(h * s))))


def _fit_square(im: Image.Image, opts: Options, sha: str, actions: list) -> tuple[np.ndarray | None, str]:
    """RGB image -> uint8 (R, R, 3) by opts.fit, handling images smaller than R by opts.small."""
    R, (w, h) = opts.resolution, im.size
    side = max(w, h) if opts.fit == "pad" else min(w, h)
    if side < R:
        if opts.small == "skip":
            return None, f"smaller than {R} px ({w}x{h}; small='skip')"
        if opts.small == "tile":
            ry, rx = math.ceil(R / h), math.ceil(R / w)
            a = np.tile(np.asarray(im), (ry, rx, 1))
            actions.append((f"tiled {rx}x{ry} to fill {R} px (source {w}x{h})", True))
            y0, x0 = (a.shape[0] - R) // 2, (a.shape[1] - R) // 2
            return np.ascontiguousarray(a[y0:y0 + R, x0:x0 + R]), ""
        actions.append((f"upscaled x{R / side:.2f} (source {w}x{h} smaller than {R} px)", True))
    s = R / side
    nw, nh = (max(R, round(w * s)), max(R, round(h * s))) if opts.fit != "pad" else \
             (min(R, max(1, round(w * s))), min(R, max(1, round(h * s))))
    if (nw, nh) != (w, h):
        im = im.resize((nw, nh), Image.Resampling.LANCZOS, reducing_gap=3.0)
        actions.append((f"resized {w}x{h} -> {nw}x{nh}", False))
    a = np.asarray(im)
    if opts.fit == "pad":
        out = np.empty((R, R, 3), np.uint8)
        out[:] = PAPER_WHITE
        y0, x0 = (R - nh) // 2, (R - nw) // 2
        out[y0:y0 + nh, x0:x0 + nw] = a
        if (nw, nh) != (R, R):
            actions.append(("padded with paper white", False))
        return out, ""
    if opts.fit == "random-crop":
        rng = np.random.default_rng([opts.seed, int(sha[:12], 16)])
        y0, x0 = int(rng.integers(0, nh - R + 1)), int(rng.integers(0, nw - R + 1))
    else:
        y0, x0 = (nh - R) // 2, (nw - R) // 2
    if (nw, nh) != (R, R):
        actions.append((f"{'random' if opts.fit == 'random-crop' else 'centre'}-cropped at ({x0}, {y0})", False))
    return np.ascontiguousarray(a[y0:y0 + R, x0:x0 + R]), ""


@contextlib.contextmanager
def _main_hidden() -> Iterator[None]:
    """Show starting processes a __main__ with neither a file nor a module name, so they never
    re-import the caller's script: a plain script or `python - <<EOF` without a __name__ guard
    would run again in every worker (and start a pool there: BrokenProcessPool), and a script's
    `import torch` would load ~190 MB per worker. The work functions live in importable modules,
    so workers need nothing from __main__. The swap lasts only while processes are launched."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


class WorkerPool(ProcessPoolExecutor):
    """A ProcessPoolExecutor whose worker processes (started by submit and map) never import __main__."""

    def submit(self, fn, /, *args, **kwargs):
        with _main_hidden():
            return super().submit(fn, *args, **kwargs)


# Why this process's forkserver failed, once it has: later pools start their workers by spawn.
# The forkserver is one server per process, reached through a socket and a pipe held here; if either
# is lost (a library in this process closing a descriptor it does not own, the server killed),
# every later pool on it fails at its first submit.
_forkserver_failed: str | None = None


def start_method() -> str:
    """How new worker processes start: forkserver on POSIX (fast, no inherited threads) until it has
    failed in this process, then spawn (a fresh interpreter per worker, no server to lose)."""
    return "forkserver" if os.name == "posix" and _forkserver_failed is None else "spawn"


def worker_pool(workers: int, preload: str, method: str | None = None) -> WorkerPool:
    """`workers` processes that never inherit a parent's torch/OpenMP threads (a fork after threads
    start can deadlock): a forkserver preloading only the module `preload` (numpy, Pillow), or spawn
    (`method`, default start_method()); never __main__ (see _main_hidden)."""
    method = method or start_method()
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload([preload])
    return WorkerPool(max_workers=workers, mp_context=ctx)


def process_timed(path: str, opts: Options) -> tuple[dict, np.ndarray | None, float]:
    """process_file plus the CPU seconds it took in whichever process ran it."""
    t0 = time.process_time()
    row, arr = process_file(path, opts)
    return row, arr, time.process_time() - t0


def parallel_map(fn: Callable, jobs: list[tuple], workers: int, preload: str, chunksize: int = 1,
                 on_result: Callable[[object], None] | None = None) -> tuple[list, int]:
    """[fn(*job) for job in jobs] in `workers` processes (a worker_pool preloading `preload`, the
    module that defines `fn`), or in this process when workers <= 1. A forkserver that fails to
    start a worker (OSError or EOFError: its socket, its pipe or the server itself lost) is given
    up for this process, and the jobs it did not finish go to a spawn pool. A pool that cannot start
    or breaks (no semaphores, a process limit, a killed worker) costs one warning: the jobs it did
    not finish run here.
    Returns (results in job order, processes used); `on_result` sees each result."""
    global _forkserver_failed
    results: list = []
    n = min(workers, len(jobs))
    failures: list[str] = []
    while n > 1:
        method = start_method()
        try:
            with worker_pool(n, preload, method) as ex:
                for r in ex.map(fn, *zip(*jobs[len(results):]), chunksize=chunksize):
                    results.append(r)
                    if on_result is not None:
                        on_result(r)
            return results, n
        except (BrokenProcessPool, OSError, EOFError, RuntimeError) as e:
            failures.append(f"{type(e).__name__}: {e}")
            if method == "forkserver" and isinstance(e, (OSError, EOFError)):
                _forkserver_failed = failures[-1]
                log.info("the forkserver failed (%s); worker processes start by spawn from now on", failures[-1])
                continue
            break
    if failures:
        log.warning("worker processes failed (%s); running the remaining %d of %d jobs in this process",
                    "; before that ".join(reversed(failures)), len(jobs) - len(results), len(jobs))
    for job in jobs[len(results):]:
        results.append(fn(*job))
        if on_result is not None:
            on_result(results[-1])
    return results, 1


def decode_all(root: Path, todo: list[str], opts: Options, workers: int,
               progress: bool) -> tuple[dict[str, tuple[dict, np.ndarray | None]], float, int]:
    """Decode `todo` (relative paths) in worker processes when there are at least MIN_FILES_FOR_POOL:
    ({relpath: (row, array | None)}, CPU seconds summed over the processes, processes used)."""
    bar = tqdm(total=len(todo), desc="decode", unit="img", disable=not progress or not todo, leave=False)
    jobs = [(str(root / rel), opts) for rel in todo]
    n = workers if len(todo) >= MIN_FILES_FOR_POOL else 1
    chunk = max(1, min(16, len(todo) // (max(n, 1) * 8)))
    results, used = parallel_map(process_timed, jobs, n, __name__, chunk, on_result=lambda _: bar.update(1))
    bar.close()
    out = {rel: (row, arr) for rel, (row, arr, _) in zip(todo, results)}
    return out, sum(c for _, _, c in results), used

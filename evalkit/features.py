"""Metric inputs and their Inception features: folders, .npz files and ONNX generators read as uint8
images, features extracted in batches (decoding overlaps the network) and cached for real sets.

The network and its preprocessing are evalkit.inception's; the weights file is evalkit.weights'.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from evalkit import fused, weights
from evalkit.inception import PREPROCESS_VERSION, preprocess
from inkwash.atomic import atomic_file
from inkwash.cli import UserError
from inkwash.hashing import sha256_bytes, sha256_file, sha256_text
from inkwash.paths import cache_dir
from train.device import resolve_device, tf32

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
LOSSY_EXTENSIONS = (".jpg", ".jpeg", ".webp")


class InputError(UserError):
    """A bad metric input (missing folder, mixed sizes, unreadable file): one line naming it."""


_NETS: dict[tuple, torch.nn.Module] = {}


def _network(weights_path: Path, device: torch.device) -> torch.nn.Module:
    st = Path(weights_path).stat()
    key = (str(Path(weights_path).resolve()), st.st_size, st.st_mtime_ns, str(device))
    if key not in _NETS:
        _NETS.clear()
        _NETS[key] = fused.fuse_for_inference(weights.load_inception(weights_path, device))
    return _NETS[key]


def _prefetch(batches, depth: int = 2):
    """Run the `batches` generator in a thread, `depth` batches ahead (decode overlaps the network)."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()

    def work():
        try:
            for b in batches:
                q.put(b)
            q.put(done)
        except BaseException as e:  # re-raised in the consumer
            q.put(e)

    threading.Thread(target=work, daemon=True).start()
    while True:
        item = q.get()
        if item is done:
            return
        if isinstance(item, BaseException):
            raise item
        yield item


def extract_features(images_u8, weights_path: Path, device: str = "auto", batch_size: int = 64, *,
                     progress: bool = False, desc: str = "features") -> dict:
    """pool3 and logits_unbiased of uint8 (N, H, W, 3) images (or an ImageFiles list, decoded in workers).

    Returns dict(pool3 float32 (N, 2048), logits float32 (N, 1008), weights_sha256, device, dtype,
    tf32=False, seconds, images_per_second)."""
    if batch_size < 1:
        raise InputError(f"--batch-size {batch_size}: must be >= 1")
    weights_path = Path(weights_path)
    sha = weights.sha256_cached(weights_path)
    dev = resolve_device(device)
    if isinstance(images_u8, np.ndarray):
        if images_u8.ndim != 4 or images_u8.shape[-1] != 3 or images_u8.dtype != np.uint8:
            raise InputError(f"images must be uint8 (N, H, W, 3), got {images_u8.dtype} {images_u8.shape}")
        n = len(images_u8)
        batches = (images_u8[i:i + batch_size] for i in range(0, n, batch_size))
    else:
        n = len(images_u8)
        batches = images_u8.batches(batch_size)
    if n == 0:
        raise InputError("no images to extract features from")
    net = _network(weights_path, dev)
    pool3 = np.empty((n, 2048), np.float32)
    logits = np.empty((n, 1008), np.float32)
    t0 = time.perf_counter()
    i = 0
    # fp32 end to end: TF32 off, and a caller's autocast (bf16/fp16) switched off for the network.
    with tf32(False), torch.autocast(dev.type, enabled=False), torch.inference_mode(), \
            tqdm(total=n, desc=desc, unit="img", disable=not progress, leave=False) as bar:
        for b in _prefetch(batches):
            x = torch.from_numpy(np.ascontiguousarray(b)).to(dev, non_blocking=True)
            p, lg = net(preprocess(x))
            pool3[i:i + len(b)] = p.cpu().numpy()
            logits[i:i + len(b)] = lg.cpu().numpy()
            i += len(b)
            bar.update(len(b))
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    seconds = time.perf_counter() - t0
    return {"pool3": pool3, "logits": logits, "weights_sha256": sha, "device": str(dev), "dtype": "float32",
            "tf32": False, "seconds": seconds, "images_per_second": n / seconds}


PARITY_RTOL = 1e-4   # expected max |device - reference| / max |reference| of pool3 and logits, fp32, TF32 off


def device_parity(images_u8: np.ndarray, weights_path: Path, devices: tuple[str, ...] = ("cpu", "cuda"),
                  batch_size: int = 64, rtol: float = PARITY_RTOL) -> dict:
    """Features of the same images on each device, each compared with the first device's.

    The check the GPU script runs for evalkit on CUDA: same preprocessing, fp32, TF32 off, no
    autocast on every device, so features may differ only by float rounding (oneDNN and cuDNN sum
    in different orders). `rtol` bounds max |difference| / max |reference| per output: CPU against
    CUDA was seen within 1e-5 (metrics notes, section 11), and the bound leaves 10x room for the
    random calibrated weights of tests and benchmarks, which amplify rounding more than trained ones
    (evalkit.inception.random_state_dict).

    Returns dict(n_images, rtol, within_tolerance, devices={name: {device, tf32, images_per_second,
    max_abs_diff: {pool3, logits}, max_rel_diff: {pool3, logits}}}); the first device's diffs are 0."""
    images_u8 = np.asarray(images_u8)
    warm = images_u8[:min(len(images_u8), batch_size)]
    runs = []
    for name in devices:
        extract_features(warm, weights_path, device=name, batch_size=batch_size)   # warm-up: kernels, caches
        runs.append(extract_features(images_u8, weights_path, device=name, batch_size=batch_size))
    ref = runs[0]
    out = {"n_images": len(images_u8), "rtol": rtol, "devices": {}}
    ok = True
    for name, r in zip(devices, runs):
        abs_diff = {k: float(np.abs(r[k].astype(np.float64) - ref[k]).max()) for k in ("pool3", "logits")}
        rel_diff = {k: abs_diff[k] / max(float(np.abs(ref[k]).max()), 1e-12) for k in abs_diff}
        ok = ok and all(v <= rtol for v in rel_diff.values())
        key = name if name not in out["devices"] else f"{name}#{len(out['devices'])}"
        out["devices"][key] = {"device": r["device"], "tf32": r["tf32"], "dtype": r["dtype"],
                               "images_per_second": r["images_per_second"], "max_abs_diff": abs_diff,
                               "max_rel_diff": rel_diff}
    out["within_tolerance"] = ok
    return out


def _decode(path: Path) -> np.ndarray:
    # As torch-fidelity's folder loader: PIL, convert("RGB").
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except Exception as e:
        raise InputError(f"{path}: not a readable image ({type(e).__name__}: {e}); remove or replace it") from e


class ImageFiles:
    """Sorted image files of one folder tree, decoded on demand by a pool of worker threads."""

    def __init__(self, paths: list[Path], workers: int | None = None):
        self.paths = list(paths)
        self.workers = workers or min(8, max(2, os.cpu_count() or 2))
        self._size = None

    def __len__(self):
        return len(self.paths)

    def _check(self, arrays, paths):
        for a, p in zip(arrays, paths):
            if self._size is None:
                self._size = a.shape
            elif a.shape != self._size:
                raise InputError(f"{p}: size {a.shape[1]}x{a.shape[0]} differs from the first image's "
                                 f"{self._size[1]}x{self._size[0]}; all images of one input must share one size")

    def batches(self, batch_size: int):
        """Yield uint8 (B, H, W, 3) batches in path order."""
        with ThreadPoolExecutor(self.workers) as pool:
            for i in range(0, len(self.paths), batch_size):
                chunk = self.paths[i:i + batch_size]
                arrays = list(pool.map(_decode, chunk))
                self._check(arrays, chunk)
                yield np.stack(arrays)

    def load(self) -> np.ndarray:
        """All images as one uint8 (N, H, W, 3) array."""
        return np.concatenate(list(self.batches(256)))


def list_images(folder: Path) -> list[Path]:
    """Image files under `folder` (recursive), sorted by path; warns about lossy formats."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder")
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
    if not paths:
        raise InputError(f"{folder}: no image files ({', '.join(IMAGE_EXTENSIONS)})")
    lossy = sum(p.suffix.lower() in LOSSY_EXTENSIONS for p in paths)
    if lossy:
        log.warning("%s: %d of %d images are lossy (JPEG/WebP); metrics of compressed images shift", folder,
                    lossy, len(paths))
    return paths


def _subset(n_total: int, n: int | None, seed: int, what: str) -> np.ndarray | None:
    if n is None or n == n_total:
        return None
    if n < 1 or n > n_total:
        raise InputError(f"{what}: asked for {n} images, it has {n_total}")
    return np.sort(np.random.default_rng(seed).choice(n_total, n, replace=False))


def _load_npz(path: Path) -> np.ndarray:
    try:
        with np.load(path) as z:
            key = "images_u8" if "images_u8" in z.files else ("images" if "images" in z.files else z.files[0])
            a = z[key]
    except Exception as e:
        raise InputError(f"{path}: not a readable .npz ({type(e).__name__}: {e})") from e
    if a.dtype != np.uint8 or a.ndim != 4 or a.shape[-1] != 3:
        raise InputError(f"{path}: array {key!r} is {a.dtype} {a.shape}; expected uint8 (N, H, W, 3) RGB")
    return a


def check_exists(source: Path) -> None:
    """InputError unless the input is there (checked before anything slow, such as a weights download)."""
    if not Path(source).exists():
        raise InputError(f"{source}: no such folder or file (give a folder of images, an .npz or an .onnx)")


def open_source(source: Path | str, n: int | None = None, seed: int = 0, device: str = "auto",
                batch_size: int = 64):
    """Resolve an input to either an ImageFiles (folder) or a uint8 array (.npz, .onnx)."""
    source = Path(source)
    if source.is_dir():
        paths = list_images(source)
        idx = _subset(len(paths), n, seed, str(source))
        return ImageFiles(paths if idx is None else [paths[i] for i in idx])
    check_exists(source)
    if source.suffix == ".npz":
        a = _load_npz(source)
        idx = _subset(len(a), n, seed, str(source))
        return a if idx is None else a[idx]
    if source.suffix == ".onnx":
        if n is None:
            raise InputError(f"{source}: an ONNX generator needs a sample count (-n N)")
        from export import load_sampler  # imported here: only ONNX inputs need it
        sampler = load_sampler(source, device=device)
        return sampler.sample(n, seed=seed, batch_size=batch_size)
    raise InputError(f"{source}: unsupported input {source.suffix!r}; give a folder, an .npz or an .onnx")


def load_images(source: Path | str, n: int | None = None, seed: int = 0, device: str = "auto",
                batch_size: int = 64) -> np.ndarray:
    """uint8 (N, H, W, 3) from a folder (sorted paths; a seeded subset when n is given), an .npz of
    uint8 images, or an ONNX generator (n samples with `seed` on `device`, via export.load_sampler)."""
    s = open_source(source, n=n, seed=seed, device=device, batch_size=batch_size)
    return s.load() if isinstance(s, ImageFiles) else s


def content_digest(source: Path, selected: ImageFiles | None = None) -> str:
    """SHA-256 over the files' SHA-256 digests, in sorted (load) order: the key of an input's contents."""
    files = selected.paths if selected is not None else [Path(source)]
    return sha256_bytes(b"".join(bytes.fromhex(sha256_file(p)) for p in files))


def _cache_path(key: str) -> Path:
    return cache_dir("evalkit", "features", f"{key}.npz")


def save_npz(path: Path, **arrays) -> None:
    """Arrays as one .npz, written atomically."""
    with atomic_file(path, "wb") as f:
        np.savez(f, **arrays)


def features_for(source: Path | str, weights_path: Path, *, n: int | None = None, seed: int = 0,
                 device: str = "auto", batch_size: int = 64, cache: bool = True, progress: bool = False) -> dict:
    """Features of one input. Folders and .npz files (real sets) are cached by weights hash, contents
    and preprocessing version: a second call extracts nothing (`cache_hit` True)."""
    source = Path(source)
    data = open_source(source, n=n, seed=seed, device=device, batch_size=batch_size)
    n_images = len(data)
    key = None
    if cache and source.suffix != ".onnx":
        sha = weights.sha256_cached(weights_path)
        digest = content_digest(source, data if isinstance(data, ImageFiles) else None)
        sub = "" if n is None else f"|n={n}|seed={seed}"
        key = sha256_text(f"{sha}|{PREPROCESS_VERSION}|{digest}{sub}")[:32]
        path = _cache_path(key)
        if path.is_file():
            try:
                with np.load(path) as z:
                    out = {k: z[k] for k in ("pool3", "logits")}
                    meta = {k: str(z[k]) for k in ("weights_sha256", "device", "dtype")}
                log.info("%s: features from cache %s", source, path)
                return {**out, **meta, "tf32": False, "seconds": 0.0, "images_per_second": None,
                        "n": n_images, "cache_hit": True, "cache_path": str(path)}
            except Exception as e:  # a damaged cache entry is recomputed
                log.warning("%s: unreadable feature cache (%s); recomputing", path, e)
    out = extract_features(data, weights_path, device=device, batch_size=batch_size, progress=progress,
                           desc=source.name)
    out.update(n=n_images, cache_hit=False, cache_path=None)
    if key is not None:
        path = _cache_path(key)
        save_npz(path, pool3=out["pool3"], logits=out["logits"], weights_sha256=out["weights_sha256"],
                         device=out["device"], dtype=out["dtype"])
        out["cache_path"] = str(path)
    return out

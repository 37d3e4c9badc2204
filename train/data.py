"""Load a messy folder of patterns into a clean uint8 array, reporting every file.

`load_folder(path, resolution)` scans recursively, decodes in worker processes (train.decode),
normalises every image to sRGB uint8 (R, R, 3) and returns a `Dataset` with one report row per
file: what was converted and why, what was skipped and why. The normalised arrays are cached on
disk, keyed by the settings and each file's (path, size, mtime), so a second load of the same
folder is fast. Importing this module does not import torch.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from inkwash import atomic, provenance
from inkwash.cli import UserError
from inkwash.hashing import sha256_text
from inkwash.paths import cache_dir as inkwash_cache_dir
from train import near_duplicates
from train.decode import DECODE_VERSION, FITS, MIN_SIDE, SMALLS, Options, decode_all

log = logging.getLogger(__name__)

CACHE_VERSION = 1
REPORT_FIELDS = ("index", "path", "status", "reason", "width", "height", "mode", "format", "actions",
                 "sha256", "duplicate_of", "phash", "near_duplicate_of", "near_duplicate_distance", "is_original",
                 "source_index", "label")


class DataError(UserError):
    """Bad data input: a folder holds no usable image, or a load option is out of range (the message
    names the folder or option and what to do)."""


@dataclass
class Dataset:
    """Normalised images plus the per-file report. `images_u8` is uint8 (N, R, R, 3)."""
    images_u8: np.ndarray
    is_original: np.ndarray           # bool (N,): False for self-amplified copies
    source_paths: list[str]           # (N,) source file of each image (copies: their original)
    report: list[dict]                # one row per file (and per amplified copy), REPORT_FIELDS
    class_names: list[str] = field(default_factory=list)
    label_ids: np.ndarray | None = None   # int64 (N,) or None
    summary_dict: dict = field(default_factory=dict)
    summary: str = ""
    root: Path | None = None          # the folder the images came from (None: arrays given in memory)
    timing: dict = field(default_factory=dict)   # seconds, files_decoded, files_from_cache, decode_cpu_seconds

    def __len__(self) -> int:
        return len(self.images_u8)

    @classmethod
    def from_arrays(cls, images_u8: np.ndarray, label_ids: np.ndarray | None = None,
                    class_names: list[str] | None = None, root: Path | None = None) -> Dataset:
        """A data set of images already in memory (uint8 (N, R, R, 3), every one an original; no
        files, so no report rows). Labels are int ids into `class_names`."""
        images_u8 = np.ascontiguousarray(images_u8, dtype=np.uint8)
        if images_u8.ndim != 4 or images_u8.shape[3] != 3 or images_u8.shape[1] != images_u8.shape[2]:
            raise DataError(f"images_u8: expected uint8 (N, R, R, 3), got shape {images_u8.shape}")
        n = len(images_u8)
        names = list(class_names or [])
        if label_ids is not None:
            label_ids = np.asarray(label_ids, np.int64)
            if label_ids.shape != (n,) or (n and not 0 <= label_ids.min() <= label_ids.max() < len(names)):
                raise DataError(f"label_ids: expected {n} ids in [0, {len(names)}), one per image")
        where = str(root) if root is not None else "memory"
        return cls(images_u8=images_u8, is_original=np.ones(n, bool), source_paths=[f"{where}/{i}" for i in range(n)],
                   report=[], class_names=names, label_ids=label_ids, root=root,
                   summary_dict={"files_found": 0, "ok": 0, "converted": 0, "skipped": 0, "images": n, "amplified": 0},
                   summary=f"{n} images of {images_u8.shape[1]}x{images_u8.shape[2]} px given in memory")

    @property
    def images(self):
        """torch.float32 (N, 3, R, R) in [-1, 1], computed from `images_u8`."""
        from train.images import from_uint8
        return from_uint8(self.images_u8)

    @property
    def labels(self):
        """torch.int64 (N,) class ids, or None when loaded without labels."""
        if self.label_ids is None:
            return None
        import torch
        return torch.as_tensor(self.label_ids, dtype=torch.int64)

    def write_report(self, out_dir: Path) -> tuple[Path, Path]:
        """Write `data_report.csv` and `data_report.json` (rows + summary) into `out_dir`."""
        out_dir = Path(out_dir)
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=REPORT_FIELDS, extrasaction="ignore")
        w.writeheader()
        for row in self.report:
            w.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in REPORT_FIELDS})
        csv_path, json_path = out_dir / "data_report.csv", out_dir / "data_report.json"
        atomic.write_bytes(csv_path, buf.getvalue().encode())
        doc = {"root": str(self.root), "summary": self.summary, "counts": self.summary_dict,
               "class_names": self.class_names, "rows": self.report}
        atomic.write_bytes(json_path, json.dumps(doc, indent=1).encode())
        return csv_path, json_path


def scan(root: Path) -> list[tuple[str, int, int]]:
    """Every regular file under `root`: sorted (relative posix path, size, mtime_ns).

    Hidden entries (names starting with ".", such as .DS_Store or .git) are not scanned; symlinked
    folders are followed once (a link cycle cannot loop)."""
    found = []
    stack, seen = [Path(root)], {os.path.realpath(root)}
    while stack:
        d = stack.pop()
        with os.scandir(d) as it:
            for e in it:
                if e.name.startswith("."):
                    continue
                if e.is_dir(follow_symlinks=True):
                    real = os.path.realpath(e.path)
                    if real not in seen:
                        seen.add(real)
                        stack.append(Path(e.path))
                elif e.is_file(follow_symlinks=True):
                    st = e.stat()
                    found.append((Path(e.path).relative_to(root).as_posix(), st.st_size, st.st_mtime_ns))
    found.sort()
    return found


def _settings(resolution: int, fit: str, small: str, seed: int) -> dict:
    return {"version": CACHE_VERSION, "decode_version": DECODE_VERSION, "resolution": resolution,
            "fit": fit, "small": small, "min_side": MIN_SIDE,
            "seed": seed if fit == "random-crop" else None}


class _Cache:
    """Per-folder cache: `<key>.npy` (uint8 (M, R, R, 3) of decoded files) + `<key>.json`."""

    def __init__(self, cache_dir: Path, root: Path, settings: dict):
        key = sha256_text(json.dumps([str(root), settings], sort_keys=True))[:24]
        self.dir = Path(cache_dir)
        self.json_path = self.dir / f"{key}.json"
        self.npy_path = self.dir / f"{key}.npy"
        self.settings = settings

    def load(self) -> tuple[dict, np.ndarray | None]:
        """{relpath: entry} and the array its `slot`s index, or ({}, None) when absent or stale."""
        try:
            meta = json.loads(self.json_path.read_text())
            if meta.get("settings") != self.settings:
                return {}, None
            arr = np.load(self.npy_path, mmap_mode="r")
            if arr.shape[0] != meta["n_slots"] or meta.get("token") != _array_token(self.npy_path):
                return {}, None
            return meta["files"], arr
        except (OSError, ValueError, KeyError):
            return {}, None

    def save(self, files: dict, arr: np.ndarray) -> None:
        """Write the array, then the JSON that names it (each atomically), so a crash never pairs
        a new JSON with an old array."""
        with atomic.atomic_file(self.npy_path, "wb") as f:
            np.save(f, arr)
        meta = {"settings": self.settings, "n_slots": int(arr.shape[0]), "files": files,
                "token": _array_token(self.npy_path)}
        atomic.write_bytes(self.json_path, json.dumps(meta).encode())


def _array_token(path: Path) -> list[int]:
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


def load_folder(path: Path | str, resolution: int, *, labels: bool = False, fit: str = "crop",
                small: str = "tile", amplify_to: int | None = None, seed: int = 0,
                workers: int | None = None, cache_dir: Path | None = None, progress: bool = True,
                cache: bool = True, update_cache: bool = True, drop_near_duplicates: bool = False) -> Dataset:
    """Load every image under `path` as uint8 (N, R, R, 3) sRGB, with a report row per file.

    Args:
        resolution: side R of the square output, in px.
        labels: class ids from first-level subfolder names (files directly in `path` are skipped).
        fit: "crop" (aspect-preserving resize, centre crop), "pad" (fit inside, pad with paper
            white) or "random-crop" (seeded crop position per file).
        small: images smaller than R: "tile" (repeat the motif), "upscale" or "skip".
        amplify_to: add seeded flipped / brightness-contrast copies until there are this many
            images (the paper's 361 -> 821); None or <= originals adds none.
        drop_near_duplicates: skip perceptual near-duplicates (train.near_duplicates: the same
            artwork resized, re-encoded or slightly cropped) instead of only reporting them.
        workers: decode processes (default: all cores available to this process).
        cache_dir: where the normalised arrays are cached (None: `$INKWASH_CACHE/data`, default
            ~/.cache/inkwash-gan/data);
            cache=False neither reads nor writes it; update_cache=False reads it but never writes it
            (the torchrun ranks that wait for rank 0's cache).
    Raises:
        DataError: the folder holds no usable image; FileNotFoundError: it does not exist.
    """
    root = Path(path).expanduser().resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"{path}: no such folder; pass a folder of images (PNG, JPEG, WebP, BMP, TIFF, GIF)")
    if fit not in FITS:
        raise DataError(f"fit={fit!r}: use one of {', '.join(FITS)}")
    if small not in SMALLS:
        raise DataError(f"small={small!r}: use one of {', '.join(SMALLS)}")
    if int(resolution) < MIN_SIDE:
        raise DataError(f"resolution={resolution}: must be at least {MIN_SIDE} px")
    if amplify_to is not None and amplify_to < 0:
        raise DataError(f"amplify_to={amplify_to}: must be >= 0")
    if workers is None:
        workers = provenance.cpu_cores()
    settings = _settings(int(resolution), fit, small, seed)
    opts = Options(resolution=int(resolution), fit=fit, small=small, seed=seed)

    t0 = time.perf_counter()
    files = scan(root)
    store = _Cache(cache_dir or inkwash_cache_dir("data"), root, settings) if cache else None
    cached, cached_arr = store.load() if store else ({}, None)
    todo = [rel for rel, size, mtime in files
            if not (rel in cached and cached[rel]["size"] == size and cached[rel]["mtime_ns"] == mtime)]
    fresh, decode_cpu, used = decode_all(root, todo, opts, workers, progress)

    # Gather rows and arrays for every file in sorted order; unchanged files come from the cache.
    rows, arrays = [], []
    for rel, size, mtime in files:
        if rel in fresh:
            row, arr = fresh[rel]
        else:
            row = dict(cached[rel]["row"])
            arr = cached_arr[cached[rel]["slot"]] if cached[rel]["slot"] is not None else None
        row["path"] = rel
        rows.append(row)
        arrays.append(arr)
    if store is not None and update_cache and (todo or len(cached) != len(files)):
        _save_cache(store, files, rows, arrays, resolution)
    ds = _assemble(root, rows, arrays, labels=labels, amplify_to=amplify_to, seed=seed,
                   drop_near_duplicates=drop_near_duplicates)
    ds.timing = {"seconds": round(time.perf_counter() - t0, 4), "files_decoded": len(todo),
                 "files_from_cache": len(files) - len(todo), "decode_cpu_seconds": round(decode_cpu, 4),
                 "workers": used}
    return ds


def _save_cache(cache: _Cache, files, rows, arrays, resolution: int) -> None:
    entries, slots = {}, []
    for (rel, size, mtime), row, arr in zip(files, rows, arrays):
        slot = None
        if arr is not None:
            slot = len(slots)
            slots.append(arr)
        entries[rel] = {"size": size, "mtime_ns": mtime, "slot": slot,
                        "row": {k: v for k, v in row.items() if k != "path"}}
    stacked = np.stack(slots) if slots else np.zeros((0, resolution, resolution, 3), np.uint8)
    try:
        cache.save(entries, stacked)
    except OSError as e:  # a read-only cache folder must not stop the load
        log.warning("could not write the data cache %s (%s); continuing without it", cache.dir, e)


def _assemble(root: Path, rows: list[dict], arrays: list, *, labels: bool, amplify_to: int | None,
              seed: int, drop_near_duplicates: bool = False) -> Dataset:
    """Mark duplicates, near-duplicates and label-less files, pick the usable images, amplify, summarise."""
    first_by_hash: dict[str, str] = {}
    keep_rows, keep_arrays = [], []
    for row, arr in zip(rows, arrays):
        row.update(duplicate_of=None, near_duplicate_of=None, near_duplicate_distance=None, phash=None,
                   is_original=True, index=None, source_index=None, label=None)
        if row["status"] == "skipped":
            continue
        h = row["sha256"]
        if h in first_by_hash:
            row.update(status="skipped", reason="exact duplicate (same SHA-256)", duplicate_of=first_by_hash[h])
            continue
        first_by_hash[h] = row["path"]
        if labels:
            if "/" not in row["path"]:
                row.update(status="skipped", reason="not in a class subfolder (labels=True takes the "
                                                           "class from the first-level folder name)")
                continue
            row["label"] = row["path"].split("/")[0]
        keep_rows.append(row)
        keep_arrays.append(arr)
    keep = _mark_near_duplicates(rows, keep_rows, drop_near_duplicates)
    keep_rows, keep_arrays = [r for r, k in zip(keep_rows, keep) if k], [a for a, k in zip(keep_arrays, keep) if k]
    for i, row in enumerate(keep_rows):
        row["index"] = i

    counts = {s: sum(r["status"] == s for r in rows) for s in ("ok", "converted", "skipped")}
    if not keep_arrays:
        reasons: dict[str, int] = {}
        for r in rows:
            reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
        what = "; ".join(f"{n} x {why}" for why, n in sorted(reasons.items(), key=lambda kv: -kv[1])) or "nothing"
        raise DataError(f"{root}: no usable image among {len(rows)} files (found: {what}); "
                        "point --data at a folder of PNG, JPEG, WebP, BMP, TIFF or GIF images")
    class_names = sorted({r["label"] for r in keep_rows}) if labels else []
    label_ids = [class_names.index(r["label"]) for r in keep_rows] if labels else []

    images = np.stack(keep_arrays).astype(np.uint8, copy=False)
    is_original = np.ones(len(images), bool)
    sources = [r["path"] for r in keep_rows]
    lab = np.asarray(label_ids, np.int64) if labels else None
    report = list(rows)
    n_orig = len(images)
    if amplify_to and amplify_to > n_orig:
        copies, src_idx, actions = amplify(images, amplify_to - n_orig, seed)
        images = np.concatenate([images, copies])
        is_original = np.concatenate([is_original, np.zeros(len(copies), bool)])
        sources += [sources[i] for i in src_idx]
        if lab is not None:
            lab = np.concatenate([lab, lab[src_idx]])
        for k, (i, act) in enumerate(zip(src_idx, actions)):
            src = keep_rows[i]
            report.append({**src, "index": n_orig + k, "status": "converted", "reason": "self-amplified copy",
                           "actions": act, "is_original": False, "source_index": int(i)})
    elif amplify_to:
        log.info("amplify_to=%d <= %d usable images: no copies added", amplify_to, n_orig)

    summary_dict = {"files_found": len(rows), **counts, "images": int(len(images)),
                    "amplified": int(len(images) - n_orig),
                    "near_duplicates": sum(r["near_duplicate_of"] is not None for r in rows)}
    summary = _summary_text(root, rows, summary_dict, images.shape[1], class_names)
    log.info("%s", summary)
    return Dataset(images_u8=images, is_original=is_original, source_paths=sources, report=report,
                   class_names=class_names, label_ids=lab, summary_dict=summary_dict, summary=summary, root=root)


def _mark_near_duplicates(rows: list[dict], candidates: list[dict], drop: bool) -> list[bool]:
    """Give every usable row its perceptual hash and, for a later copy of an earlier usable image, its
    near_duplicate_of and distance (train.near_duplicates); take each row's thumbnail out of the report.
    Returns which candidates stay: all, or with `drop` all but the near-duplicates (then skipped)."""
    thumbs = {id(r): r.pop("thumb32", None) for r in rows}
    if not candidates:
        return []
    fp = near_duplicates.Fingerprints.of_thumbnails([near_duplicates.thumb_from_text(thumbs[id(r)])
                                                     for r in candidates])
    for row, h in zip(candidates, fp.hashes):
        row["phash"] = f"{int(h):016x}"
    keep = [True] * len(candidates)
    for i, j, d in near_duplicates.find(fp):
        candidates[i].update(near_duplicate_of=candidates[j]["path"], near_duplicate_distance=d)
        if drop:
            keep[i] = False
            candidates[i].update(status="skipped", reason=f"near duplicate: of {candidates[j]['path']} at "
                                                          f"distance {d} (--drop-near-duplicates)")
    return keep


def _summary_text(root: Path, rows: list[dict], c: dict, resolution: int, class_names: list[str]) -> str:
    reasons: dict[str, int] = {}
    for r in rows:
        if r["status"] == "skipped":
            key = r["reason"].split(":")[0].split(" (")[0]
            reasons[key] = reasons.get(key, 0) + 1
    skipped = ", ".join(f"{n} {why}" for why, n in sorted(reasons.items(), key=lambda kv: -kv[1]))
    text = (f"{root}: {c['files_found']} files found; {c['ok']} loaded as-is, {c['converted']} converted, "
            f"{c['skipped']} skipped" + (f" ({skipped})" if skipped else "") +
            f"; {c['images']} images of {resolution}x{resolution} px")
    if c["amplified"]:
        text += f", of which {c['amplified']} are self-amplified copies"
    if c["near_duplicates"]:
        kept = sum(r["near_duplicate_of"] is not None and r["status"] != "skipped" for r in rows)
        text += f"; {c['near_duplicates']} near-duplicates" + (" kept (--drop-near-duplicates drops them)" if kept else "")
    if class_names:
        text += f"; {len(class_names)} classes: {', '.join(class_names)}"
    return text + ". See data_report.csv for every file."


def amplify(images_u8: np.ndarray, n_copies: int, seed: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Seeded copies: random h/v flips, brightness x U(0.85, 1.15), contrast x U(0.85, 1.15).

    Sources cycle through seeded permutations of the originals, so each original is copied about
    equally often. Returns (copies uint8 (n, R, R, 3), source indices (n,), action strings).
    """
    rng = np.random.default_rng([seed, 821])
    n = len(images_u8)
    order = np.concatenate([rng.permutation(n) for _ in range(-(-n_copies // n))])[:n_copies]
    out = np.empty((n_copies, *images_u8.shape[1:]), np.uint8)
    actions = []
    for k, i in enumerate(order):
        x = images_u8[i].astype(np.float32)
        hflip, vflip = rng.random() < 0.5, rng.random() < 0.5
        b, c = rng.uniform(0.85, 1.15), rng.uniform(0.85, 1.15)
        if hflip:
            x = x[:, ::-1]
        if vflip:
            x = x[::-1]
        x = x * b                                   # brightness, as PIL.ImageEnhance.Brightness
        x = (x - x.mean()) * c + x.mean()           # contrast around the mean, as ImageEnhance.Contrast
        out[k] = np.clip(np.rint(x), 0, 255).astype(np.uint8)
        act = (["hflip"] if hflip else []) + (["vflip"] if vflip else []) + [f"brightness x{b:.3f}", f"contrast x{c:.3f}"]
        actions.append("; ".join(act))
    return out, order.astype(np.int64), actions

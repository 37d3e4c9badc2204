"""`python -m train prepare`: normalise a folder (or the demo set) and show what the model will see.

Writes into --out: `images/<class>/<index>_<name>.png` (the normalised set, copies included),
`data.npz` (images_u8, labels, is_original, source_paths, class_names), `data_report.csv` and
`data_report.json` (one row per file), `contact_sheet.png`, `prepare.json` (config + counts) and
`prepare_manifest.json`, the list of every file it wrote.

prepare never deletes or overwrites a file it did not write: a later prepare into the same --out
removes only the files the manifest lists, and a --out holding other files in those places, a
--out inside --data or a --data inside --out is refused before any work.
"""
from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from inkwash.atomic import atomic_file, write_text
from inkwash.cli import UserError
from train import data
from train.decode import FITS, MIN_SIDE, SMALLS
from train.images import grid, save_png

log = logging.getLogger(__name__)

SHEET_MAX_IMAGES = 100
MARK = (236, 0, 140)  # process magenta, no ink of a pattern: near-duplicate pairs on the contact sheet
MANIFEST = "prepare_manifest.json"
IMAGES = "images"
FIXED_OUTPUTS = ("data.npz", "data_report.csv", "data_report.json", "contact_sheet.png", "prepare.json")


@dataclass
class PrepareConfig:
    data: Path | None = None        # folder of patterns (searched recursively); None = built-in demo set
    out: Path = Path("prepared")    # output folder
    resolution: int = 256           # side of the square images, px
    amplify_to: int | None = None   # add flipped / brightness-contrast copies up to this many (paper: 821)
    fit: str = "crop"               # crop | pad | random-crop
    small: str = "tile"             # images smaller than the resolution: tile | upscale | skip
    labels: bool = False            # class labels from first-level subfolder names
    drop_near_duplicates: bool = False  # skip perceptual near-duplicates instead of only reporting them
    seed: int = 0                   # seed of amplification and random crops
    workers: int | None = None      # decode processes; None = all cores
    no_cache: bool = False          # neither read nor write the on-disk cache
    dry_run: bool = False           # print the resolved config and exit
    quiet: bool = False             # no progress bar


def configure(p: argparse.ArgumentParser) -> None:
    """The `prepare` verb's arguments (defaults from PrepareConfig)."""
    d = PrepareConfig
    p.add_argument("--data", type=Path, default=d.data, help="folder of images; omitted: the built-in demo set")
    p.add_argument("--out", type=Path, required=True, default=argparse.SUPPRESS, help="output folder (required)")
    p.add_argument("--resolution", type=int, default=d.resolution, help="side of the square images in px")
    p.add_argument("--amplify-to", type=int, default=d.amplify_to,
                   help="add seeded flip/brightness/contrast copies until there are this many images")
    p.add_argument("--fit", choices=FITS, default=d.fit, help="how a non-square image becomes square")
    p.add_argument("--small", choices=SMALLS, default=d.small, help="images smaller than --resolution")
    p.add_argument("--labels", action="store_true", help="class labels from first-level subfolder names")
    p.add_argument("--drop-near-duplicates", action="store_true",
                   help="skip perceptual near-duplicates (the same artwork resized, re-encoded or slightly cropped); "
                        "default: keep them, listed in data_report and framed on the contact sheet")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of amplification and random crops")
    p.add_argument("--workers", type=int, default=d.workers, help="decode processes; omitted: all cores")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the on-disk cache")
    p.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def validate(cfg: PrepareConfig) -> PrepareConfig:
    """Raise UserError naming the flag for any bad value; return `cfg`."""
    if cfg.resolution < MIN_SIDE:
        raise UserError(f"--resolution {cfg.resolution}: must be at least {MIN_SIDE} px")
    if cfg.amplify_to is not None and cfg.amplify_to < 1:
        raise UserError(f"--amplify-to {cfg.amplify_to}: must be a positive number of images")
    if cfg.workers is not None and cfg.workers < 1:
        raise UserError(f"--workers {cfg.workers}: must be at least 1")
    if cfg.data is not None and not cfg.data.is_dir():
        raise UserError(f"--data {cfg.data}: no such folder; pass a folder of images or omit --data for the demo set")
    if cfg.data is not None:
        check_apart(cfg.data, cfg.out)
    previous_outputs(cfg.out)
    return cfg


def check_apart(data_dir: Path, out: Path) -> None:
    """Refuse an output folder that is, or lies inside, the data folder, or one that contains it."""
    d, o = Path(data_dir).expanduser().resolve(), Path(out).expanduser().resolve()
    if o == d:
        raise UserError(f"--out {out}: is the --data folder; write the prepared set to a folder of its own")
    if o.is_relative_to(d):
        raise UserError(f"--out {out}: lies inside --data {data_dir} (its images would be read as patterns "
                        f"next time); choose an --out outside the data folder")
    if d.is_relative_to(o):
        raise UserError(f"--data {data_dir}: lies inside --out {out}; choose an --out that does not contain "
                        f"your patterns")


def previous_outputs(out: Path) -> set[str]:
    """The files (relative posix paths) a previous prepare wrote into `out`, from its manifest.

    Raises UserError when `out` holds a file where prepare writes (images/ or one of its fixed
    names) that no manifest lists: it is the user's, and prepare never replaces or deletes it.
    Hidden files (a Finder's .DS_Store) are neither ours nor in the way."""
    out = Path(out)
    ours: set[str] = set()
    manifest = out / MANIFEST
    if manifest.exists():
        try:
            listed = set(json.loads(manifest.read_text())["files"])
        except (OSError, ValueError, KeyError, TypeError):
            raise UserError(f"--out {out}: {MANIFEST} is not a prepare manifest; choose another --out") from None
        # Only names prepare itself writes: a hand-edited entry cannot point outside --out.
        ours = {f for f in listed if isinstance(f, str) and (f in FIXED_OUTPUTS or (
            f.startswith(IMAGES + "/") and ".." not in f.split("/")))}
    found = [name for name in FIXED_OUTPUTS if (out / name).exists()]
    if (out / IMAGES).is_dir():
        found += [p.relative_to(out).as_posix() for p in sorted((out / IMAGES).rglob("*"))
                  if not p.is_dir() and not any(part.startswith(".") for part in p.relative_to(out).parts)]
    foreign = [f for f in found if f not in ours]
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        raise UserError(f"--out {out}: holds {foreign[0]}{more}, which no earlier prepare wrote; prepare never "
                        f"replaces files it did not write: choose a new or empty --out")
    return ours


def run_args(args: argparse.Namespace) -> int:
    """`python -m train prepare`: validate, then prepare the set or print the config (--dry-run)."""
    cfg = validate(PrepareConfig(**vars(args)))
    if cfg.dry_run:
        print(json.dumps(_jsonable(asdict(cfg)), indent=1))
        return 0
    run(cfg)
    return 0


def run(cfg: PrepareConfig) -> data.Dataset:
    """Load, normalise and write the set described by `cfg`; returns the Dataset."""
    src = cfg.data
    if src is None:
        from train.demo import demo_folder
        src = demo_folder(workers=cfg.workers)
    ds = data.load_folder(src, cfg.resolution, labels=cfg.labels, fit=cfg.fit, small=cfg.small,
                          amplify_to=cfg.amplify_to, seed=cfg.seed, workers=cfg.workers,
                          progress=not cfg.quiet, cache=not cfg.no_cache,
                          drop_near_duplicates=cfg.drop_near_duplicates)
    out = Path(cfg.out)
    check_apart(src, out)
    old = previous_outputs(out)
    names = _png_names(ds)
    new = {*FIXED_OUTPUTS, *names}
    out.mkdir(parents=True, exist_ok=True)
    _write_manifest(out, old | new)   # a crash from here on leaves every file we may write listed
    for rel in sorted(old - new):
        (out / rel).unlink(missing_ok=True)
        folder = (out / rel).parent
        if folder != out and not any(folder.iterdir()):  # a class folder the new set no longer has
            folder.rmdir()
    for i, rel in enumerate(names):
        save_png(out / rel, ds.images_u8[i])
    _write_npz(out / "data.npz", ds)
    ds.write_report(out)
    save_png(out / "contact_sheet.png", contact_sheet(ds))
    doc = {"config": _jsonable(asdict(cfg)), "source": str(src), "counts": ds.summary_dict,
           "class_names": ds.class_names, "summary": ds.summary}
    write_text(out / "prepare.json", json.dumps(doc, indent=1))
    _write_manifest(out, new)
    log.info("wrote %d images, data.npz, data_report.csv/.json and contact_sheet.png to %s", len(ds), out)
    return ds


def contact_sheet(ds: data.Dataset, max_images: int = SHEET_MAX_IMAGES) -> np.ndarray:
    """uint8 HWC grid of up to `max_images` originals. Near-duplicate pairs come first, each copy
    right after its original, both framed in magenta, the copy with a filled corner; then the
    other originals, spread evenly over the set."""
    pairs = near_duplicate_pairs(ds)
    first = list(dict.fromkeys(i for pair in pairs for i in pair))[:max_images]
    shown = set(first)
    rest = [int(i) for i in np.flatnonzero(ds.is_original) if i not in shown]
    room = max_images - len(first)
    if len(rest) > room:
        rest = [rest[k] for k in np.linspace(0, len(rest) - 1, room).round().astype(int)] if room > 0 else []
    idx = first + list(rest)
    tiles = ds.images_u8[idx].copy()
    copies = {c for _, c in pairs}
    for k, i in enumerate(idx[:len(first)]):
        _mark(tiles[k], corner=i in copies)
    return grid(tiles, pad=2, fill=255)


def near_duplicate_pairs(ds: data.Dataset) -> list[tuple[int, int]]:
    """(original, copy) image indices of the kept near-duplicates in the report."""
    index = {r["path"]: r["index"] for r in ds.report if r.get("is_original") and r.get("index") is not None}
    return [(index[r["near_duplicate_of"]], r["index"]) for r in ds.report
            if r.get("near_duplicate_of") and r.get("is_original") and r.get("index") is not None
            and r["near_duplicate_of"] in index]


def _mark(tile: np.ndarray, corner: bool) -> None:
    """A magenta frame (and, for the copy, a filled top-left corner) painted into a uint8 HWC tile."""
    side = tile.shape[0]
    w = max(2, side // 32)
    tile[:w], tile[-w:], tile[:, :w], tile[:, -w:] = MARK, MARK, MARK, MARK
    if corner:
        for y in range(side // 4):
            tile[y, :side // 4 - y] = MARK


def _png_names(ds: data.Dataset) -> list[str]:
    """images/[<class>/]<index>_<name>[_copy].png for every image, relative to --out."""
    names = []
    for i in range(len(ds)):
        sub = ds.class_names[int(ds.label_ids[i])] + "/" if ds.label_ids is not None else ""
        kind = "" if ds.is_original[i] else "_copy"
        names.append(f"{IMAGES}/{sub}{i:05d}_{Path(ds.source_paths[i]).stem}{kind}.png")
    return names


def _write_manifest(out: Path, files: set[str]) -> None:
    write_text(out / MANIFEST, json.dumps({"written_by": "python -m train prepare", "files": sorted(files)}, indent=1))


def _write_npz(path: Path, ds: data.Dataset) -> None:
    with atomic_file(path, "wb") as f:
        np.savez(f, images_u8=ds.images_u8, is_original=ds.is_original,
                 labels=ds.label_ids if ds.label_ids is not None else np.zeros(0, np.int64),
                 source_paths=np.asarray(ds.source_paths), class_names=np.asarray(ds.class_names, dtype=str))


def _jsonable(d: dict) -> dict:
    return {k: str(v) if isinstance(v, Path) else v for k, v in d.items()}

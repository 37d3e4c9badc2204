"""Calibration of train.near_duplicates on the demo set: how close distinct patterns come, and how
far resized, JPEG-re-encoded and cropped copies drift. Writes results/near_duplicates.{json,md}.

    PYTHONPATH=. python benchmarks/near_duplicates_bench.py [--copies 80]

Distinct: every pair of the demo set's 363 patterns (all pairs, no hash stage), through the loader
(train.data.load_folder), whose rows carry each file's thumbnail. Copies: the first --copies demo
files composited on paper white as the loader does, transformed, written as files and decoded by
the loader's own train.decode.process_file, then compared with their original. The thresholds
HASH_BITS_MAX and DISTANCE_MAX must separate the two.
"""
from __future__ import annotations

import argparse
import io
import logging
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._provenance import markdown_table, write_bench  # noqa: E402
from inkwash.cli import setup_logging  # noqa: E402
from train import decode, near_duplicates as nd  # noqa: E402
from train.demo import demo_folder  # noqa: E402


def _jpeg(im: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def _crop(im: Image.Image, left: float, top: float, right: float, bottom: float) -> Image.Image:
    w, h = im.size
    return im.crop((round(w * left), round(h * top), round(w * (1 - right)), round(h * (1 - bottom))))


def _scale(im: Image.Image, s: float) -> Image.Image:
    return im.resize((max(16, round(im.width * s)), max(16, round(im.height * s))), Image.Resampling.LANCZOS)


TRANSFORMS = {
    "resized x0.5": lambda im: _scale(im, 0.5),
    "resized x0.25": lambda im: _scale(im, 0.25),
    "resized x1.5": lambda im: _scale(im, 1.5),
    "JPEG quality 50": lambda im: _jpeg(im, 50),
    "JPEG quality 85": lambda im: _jpeg(im, 85),
    "cropped 3% each side": lambda im: _crop(im, 0.03, 0.03, 0.03, 0.03),
    "cropped 5% left": lambda im: _crop(im, 0.05, 0, 0, 0),
    "cropped 8% top and left": lambda im: _crop(im, 0.08, 0.08, 0, 0),
    "cropped 8% each side": lambda im: _crop(im, 0.08, 0.08, 0.08, 0.08),
    "cropped 10% left": lambda im: _crop(im, 0.10, 0, 0, 0),
    "crop 5%, x0.6, JPEG 70": lambda im: _jpeg(_scale(_crop(im, 0.05, 0.02, 0, 0.04), 0.6), 70),
}


def _on_white(path: Path) -> Image.Image:
    im = Image.open(path)
    im.load()
    if im.mode in ("RGBA", "LA"):
        bg = Image.new("RGB", im.size, (255, 255, 255))
        bg.paste(im.convert("RGB"), mask=im.getchannel("A"))
        return bg
    return im.convert("RGB")


def _decoded_thumb(im: Image.Image, tmp: Path) -> np.ndarray:
    path = tmp / "copy.png"
    im.save(path, "PNG", compress_level=1)
    row, _ = decode.process_file(str(path), decode.Options(64))
    return nd.thumb_from_text(row["thumb32"])


def all_pair_distances(fp: nd.Fingerprints) -> np.ndarray:
    """(N, N) verification distances without the hash stage (diagonal: inf)."""
    views = np.stack([nd.crop_views(t) for t in fp.thumbs])            # (N, 81, 256)
    corr = np.einsum("ikd,jd->ijk", views, fp.whole).max(-1)            # crops of i against the whole of j
    d = 1.0 - np.maximum(corr, corr.T)
    np.fill_diagonal(d, np.inf)
    return d


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--copies", type=int, default=80, help="demo files to make copies of")
    args = p.parse_args(argv)
    with setup_logging(logging.WARNING):
        folder = demo_folder()
        files = sorted(q for q in folder.rglob("*") if q.suffix in (".png", ".jpg"))
        rows = [decode.process_file(str(f), decode.Options(64))[0] for f in files]
        fp = nd.Fingerprints.of_thumbnails([nd.thumb_from_text(r["thumb32"]) for r in rows])
        dist = all_pair_distances(fp)
        bits = nd.hamming(fp.hashes[:, None], fp.hashes[None, :])
        np.fill_diagonal(bits, 64)
        nearest = dist.min(1)
        i, j = np.unravel_index(np.argmin(dist), dist.shape)
        table = [{"pairs": f"distinct demo patterns ({len(files)}, all pairs)", "n": len(files) * (len(files) - 1) // 2,
                  "distance_min": round(float(dist.min()), 4),
                  "distance_p1_of_nearest": round(float(np.percentile(nearest, 1)), 4),
                  "hash_bits_min": int(bits.min()), "within_thresholds": int(len(nd.find(fp))),
                  "found": None}]
        with tempfile.TemporaryDirectory() as tmp:
            originals = [_on_white(f) for f in files[:args.copies]]
            for name, fn in TRANSFORMS.items():
                cp = nd.Fingerprints.of_thumbnails([_decoded_thumb(fn(im), Path(tmp)) for im in originals])
                ref = nd.Fingerprints(fp.thumbs[:len(cp)], fp.hashes[:len(cp)], fp.whole[:len(cp)])
                d = [nd.distance(cp, k, ref, k) for k in range(len(cp))]
                found = {a for a, b, _ in nd.find(cp, fp) if a == b}
                table.append({"pairs": f"{name} vs its original", "n": len(cp), "distance_max": round(max(d), 4),
                              "hash_bits_max": int(nd.hamming(cp.hashes, ref.hashes).max()),
                              "found": f"{len(found)}/{len(cp)}"})
    notes = [f"Thresholds: HASH_BITS_MAX {nd.HASH_BITS_MAX} of 64 bits, DISTANCE_MAX {nd.DISTANCE_MAX}; crop boxes "
             f"{', '.join(f'{c:.0%}' for c in nd.CROPS)} per side, {nd.VIEW} px views of {nd.THUMB} px thumbnails.",
             f"Closest distinct pair: {files[i].relative_to(folder)} and {files[j].relative_to(folder)}.",
             "`found`: the copy's closest near-duplicate in the whole demo set is its own original "
             "(a copy missed by the hash stage counts as not found)."]
    write_bench("near_duplicates", table, {"notes": notes})
    print(markdown_table(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())

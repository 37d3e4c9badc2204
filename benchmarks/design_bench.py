"""Design sheets: the seam-removal comparison and the seconds per sheet in results/design_sheet_demo.

    make demo    # writes runs/demo/export/generator.onnx, the model the sheets are made from
    PYTHONPATH=. python benchmarks/design_bench.py       # -> results/design_sheet_demo.{json,md,png}

1. Tiling: 12 patterns of the built-in demo set (evenly spaced over its sorted file list, so all
   three styles appear), loaded at 128 px as training sees them (`train.data.load_folder`), each
   made seamless by every method of `export.tiling` (band 0.125): per method the mean seam score
   before and after and the number of tiles at or below 1. No model is involved.
2. Sheets: `python -m export design` (its `make_sheets`) with the README's settings (6 designs from
   seed 0, all garments, repeat scale 0.3, rotation 15, PDF on) into a temporary folder; the wall
   time over the number of sheets (one model load included) and the seam scores of each tile.
   Then the pictured design alone (`--n 1 --seed 2`) into a fresh folder: its PNG and PDF must be
   the same bytes as in the first run (the README's reproducibility claim), and its PNG becomes
   results/design_sheet_demo.png (`--no-picture`: leave that file alone).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: make `benchmarks` importable
from benchmarks import _provenance  # noqa: E402
from export import design, tiling  # noqa: E402
from inkwash import provenance  # noqa: E402
from inkwash.hashing import sha256_file  # noqa: E402

NAME = "design_sheet_demo"
DEMO_MODEL = ROOT / "runs" / "demo" / "export" / "generator.onnx"  # what `make demo` writes
SHEET_SETTINGS = dict(n=6, seed=0, repeat_scale=0.3, rotation=15.0)  # the README's command


def demo_patterns(n: int, size: int) -> tuple[np.ndarray, list[str]]:
    """n demo-set images at `size` px, evenly spaced over the sorted file list: uint8 (n, size, size, 3)."""
    from train.data import load_folder
    from train.demo import demo_folder
    ds = load_folder(demo_folder(), size, progress=False)
    idx = np.linspace(0, len(ds) - 1, n).round().astype(int)
    return ds.images_u8[idx], [ds.source_paths[i] for i in idx]


def tiling_rows(images_u8: np.ndarray, band: float) -> list[dict]:
    """One row per method: mean seam score before / after over the images, tiles at or below 1."""
    rows = []
    for method in tiling.METHODS:
        res = [tiling.make_seamless(img, method, band) for img in images_u8]
        rows.append({"method": method, "patterns": len(res), "size_px": int(images_u8.shape[1]), "band": band,
                     "mean_seam_before": float(np.mean([r.seam_before for r in res])),
                     "mean_seam_after": float(np.mean([r.seam_after for r in res])),
                     "tiles_at_or_below_1": int(sum(r.seam_after <= 1.0 for r in res))})
    return rows


def time_sheets(model: Path, device: str, tmp: Path) -> tuple[list[dict], float, Path]:
    """make_sheets with SHEET_SETTINGS into tmp/all: (rows, seconds per sheet, output folder)."""
    cfg = design.DesignConfig(model=model, out=tmp / "all", device=device, quiet=True, **SHEET_SETTINGS)
    t0 = time.perf_counter()
    rows = design.make_sheets(cfg)
    return rows, (time.perf_counter() - t0) / len(rows), cfg.out


def reproduce(model: Path, device: str, seed: int, first: Path, tmp: Path) -> dict:
    """Design `seed` alone in a fresh folder; whether its PNG and PDF equal the first run's bytes."""
    cfg = design.DesignConfig(model=model, out=tmp / "one", device=device, quiet=True,
                              **{**SHEET_SETTINGS, "n": 1, "seed": seed})
    (row,) = design.make_sheets(cfg)
    side = json.loads((cfg.out / f"{row['design_id']}.json").read_text())
    out = {"design_id": row["design_id"], "seed": seed, "command": side["command"]}
    for ext in ("png", "pdf"):
        a, b = first / f"{row['design_id']}.{ext}", cfg.out / f"{row['design_id']}.{ext}"
        out[f"{ext}_sha256"] = sha256_file(b)
        out[f"{ext}_identical"] = a.read_bytes() == b.read_bytes()
    out["png_path"] = cfg.out / f"{row['design_id']}.png"
    return out


def _shown(path: Path) -> str:
    """A path relative to the repository when it lies inside it (results do not name this machine's folders)."""
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", type=Path, default=DEMO_MODEL, help="exported generator the sheets are made from")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="onnxruntime device")
    p.add_argument("--patterns", type=int, default=12, help="demo-set patterns in the tiling comparison")
    p.add_argument("--size", type=int, default=128, help="pattern size for the tiling comparison, px")
    p.add_argument("--picture-seed", type=int, default=2, help="the design shown in the README")
    p.add_argument("--no-picture", dest="picture", action="store_false",
                   help="do not rewrite results/design_sheet_demo.png")
    p.add_argument("--results", type=Path, default=_provenance.RESULTS, help="results folder")
    args = p.parse_args(argv)
    if not args.model.is_file():
        p.exit(2, f"{p.prog}: error: --model {args.model}: no such file; run `make demo` first or pass "
                  f"--model path/to/generator.onnx\n")
    load_at_start = provenance.load_average()
    images, sources = demo_patterns(args.patterns, args.size)
    rows = tiling_rows(images, tiling.DEFAULT_BAND)
    with tempfile.TemporaryDirectory() as d:
        sheets, seconds, first = time_sheets(args.model, args.device, Path(d))
        again = reproduce(args.model, args.device, args.picture_seed, first, Path(d))
        side = json.loads((first / f"{again['design_id']}.json").read_text())
        if args.picture:
            shutil.copyfile(again.pop("png_path"), args.results / f"{NAME}.png")
        else:
            again.pop("png_path")
    model = side["model"]
    extra = {
        "seconds_per_sheet": seconds, "sheets_timed": len(sheets),
        "sheet_command": side["full_command"].replace(str(first), "DIR"),
        "model": f"{model['name']} {model['resolution']} px, iteration {model['iteration']}, "
                 f"sha256 {model['sha256'][:12]}, {_shown(args.model)}",
        "provider": side["provider"], "load_average_at_start": load_at_start,
        "reproduced": again, "picture_rewritten": args.picture,
        "sheets": [{k: r[k] for k in ("design_id", "seed", "seam_before", "seam_after")} for r in sheets],
        "tiling_patterns": sources,
        "notes": [
            f"Tiling table: {args.patterns} demo-set patterns (evenly spaced over the sorted file list) at "
            f"{args.size} px, band {tiling.DEFAULT_BAND}; seam score = mean |jump| across the wrapped border / "
            "mean |step| between neighbours inside (export.tiling.seam_score). No model is involved.",
            f"seconds_per_sheet: wall time of make_sheets for {len(sheets)} sheets divided by {len(sheets)} "
            f"(one model load included), on {side['provider']}; most of it is drawing garments and compressing "
            "the PNG and PDF.",
            f"reproduced: design {again['design_id']} made alone in a fresh folder gave the same PNG bytes: "
            f"{again['png_identical']}, the same PDF bytes: {again['pdf_identical']}.",
            "picture: results/design_sheet_demo.png is that design's sheet" if args.picture else
            "picture: results/design_sheet_demo.png was not rewritten by this run (--no-picture)",
        ],
    }
    if args.model.resolve() != DEMO_MODEL.resolve():
        extra["notes"].append(f"model: not the demo model ({_shown(DEMO_MODEL)}, written by make demo); the sheets "
                              "and their seam scores describe this model only")
    json_path, md_path = _provenance.write_bench(NAME, rows, extra, results_dir=args.results)
    print(md_path.read_text())
    return 0 if again["png_identical"] and again["pdf_identical"] else 1


if __name__ == "__main__":
    sys.exit(main())

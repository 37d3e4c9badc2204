"""train.demo: deterministic, measurable traits of ink-wash painting, bad-file variant."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inkwash.hashing import sha256_file
from train import demo
from train.data import load_folder


def _digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): sha256_file(p)
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.name.startswith(".")}


def test_demo_is_deterministic_and_cached(tmp_path):
    a = demo.demo_folder(tmp_path / "a", per_style=2, workers=1)
    b = demo.demo_folder(tmp_path / "b", per_style=2, workers=2)
    assert a.name == "demo-v1-n2" and _digests(a) == _digests(b) and len(_digests(a)) == 6
    before = (a / ".complete").stat().st_mtime_ns
    assert demo.demo_folder(tmp_path / "a", per_style=2) == a  # second call: no regeneration
    assert (a / ".complete").stat().st_mtime_ns == before


@pytest.fixture(scope="module")
def demo_subset(tmp_path_factory):
    folder = demo.demo_folder(tmp_path_factory.mktemp("demo"), per_style=10)
    ds = load_folder(folder, 128, labels=True, cache=False, progress=False)
    return folder, ds


def test_demo_has_style_folders_mixed_formats_and_sizes(demo_subset):
    folder, ds = demo_subset
    assert ds.class_names == sorted(demo.STYLES) and Counter(ds.labels.tolist()) == {0: 10, 1: 10, 2: 10}
    rows = [r for r in ds.report if r["is_original"]]
    assert {r["format"] for r in rows} == {"PNG", "JPEG"}
    assert {"RGB", "L", "RGBA"} <= {r["mode"] for r in rows}
    assert any(r["width"] > r["height"] for r in rows) and any(r["width"] < r["height"] for r in rows)
    sides = [max(r["width"], r["height"]) for r in rows]
    assert min(sides) >= 150 and max(sides) <= 1200 and max(sides) - min(sides) > 500


def test_demo_looks_like_ink_wash(demo_subset):
    _, ds = demo_subset
    x = ds.images_u8.astype(np.int16)                          # (N, 128, 128, 3)
    lum = x.mean(axis=3)
    chroma = x.max(axis=3) - x.min(axis=3)
    paper = (lum >= 225) & (chroma <= 20)
    per_image = paper.mean(axis=(1, 2))
    assert 0.3 <= paper.mean() <= 0.7 and 0.3 <= np.median(per_image) <= 0.8  # generous blank space
    assert (chroma <= 24).mean() >= 0.9                         # mostly neutral greys
    accent = (chroma > 60).mean(axis=(1, 2)) > 0.003
    assert 0 < accent.sum() < len(ds) / 2                      # accent colour in a minority
    ink = lum < 225
    mid = (lum >= 60) & (lum < 200)
    soft = [mid[i][ink[i]].mean() for i in range(len(ds)) if ink[i].sum() > 100]
    assert np.median(soft) >= 0.25                              # washes and soft edges, not two-level
    levels = [len(np.unique(lum[i][ink[i]].round())) for i in range(len(ds)) if ink[i].sum() > 100]
    assert np.median(levels) >= 64


def test_demo_bad_files_are_reported(tmp_path):
    folder = demo.demo_folder(tmp_path, bad_files=True, per_style=2, workers=1)
    assert folder.name == "demo-v1-n2-bad"
    ds = load_folder(folder, 64, cache=False, progress=False, workers=1)
    reasons = {Path(r["path"]).name: r["reason"] for r in ds.report if r["status"] == "skipped"}
    assert set(reasons) == {"empty.png", "truncated.png", "notes.jpg", "bomb.png", "icon.png", "duplicate.png"}
    assert "decompression bomb" in reasons["bomb.png"] and "exact duplicate" in reasons["duplicate.png"]
    assert len(ds) == 6


@pytest.mark.slow
def test_default_demo_set_has_at_least_361_images():
    # The default cache ($INKWASH_CACHE or ~/.cache/inkwash-gan): shared with the training tests
    # that use the demo set, so the suite generates it once.
    folder = demo.demo_folder()
    files = [p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert len(files) >= 361
    assert Counter(p.parent.name for p in files) == {s: demo.PER_STYLE for s in demo.STYLES}
    sizes = [Image.open(p).size for p in files]
    assert min(min(s) for s in sizes) < 300 and max(max(s) for s in sizes) > 1000


def test_demo_made_by_other_code_is_regenerated(tmp_path):
    folder = demo.demo_folder(tmp_path, per_style=1, workers=1)
    marker = folder / ".complete"
    doc = json.loads(marker.read_text())
    marker.write_text(json.dumps({**doc, "code": "older-generator"}))
    (folder / "pools" / "stale.png").write_bytes(b"old")
    assert demo.demo_folder(tmp_path, per_style=1, workers=1) == folder
    assert not (folder / "pools" / "stale.png").exists()
    assert json.loads(marker.read_text())["code"] == doc["code"]

"""train.data: every mode, size and bad file of a messy folder; cache; amplification; labels."""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from train import data, decode
from train.data import DataError, load_folder

R = 32


def _load(folder, tmp_path, **kw):
    kw.setdefault("workers", 1)
    kw.setdefault("cache_dir", tmp_path / "cache")
    kw.setdefault("progress", False)
    return load_folder(folder, R, **kw)


def _image(ds, rel):
    return ds.images_u8[next(r["index"] for r in ds.report if r["path"] == rel and r["is_original"])]


def test_load_folder_reports_every_file_with_its_reason(tiny_folder, tiny_expected, tmp_path, caplog):
    EXPECTED = tiny_expected
    with caplog.at_level(logging.INFO, logger="train.data"):
        ds = _load(tiny_folder, tmp_path)
    rows = {r["path"]: r for r in ds.report}
    assert set(rows) == set(EXPECTED)  # hidden files are not scanned; nothing is silently dropped
    for rel, (status, text) in EXPECTED.items():
        row = rows[rel]
        assert row["status"] == status, (rel, row)
        assert text in (row["reason"] or "") + (row["actions"] or ""), (rel, row)
        if status != "skipped":
            assert len(row["sha256"]) == 64 and row["width"] and row["mode"]
    assert rows["zbad/duplicate.png"]["duplicate_of"] == "pools/rgb.png"
    near = {rel: row["near_duplicate_of"] for rel, row in rows.items() if row["near_duplicate_of"]}
    assert near == {"pools/rgb.png": "pools/palette.png", "pools/palette_transparent.png": "pools/palette.png",
                    "strokes/cmyk.jpg": "pools/rgb.png"}  # one pattern as RGB, 16-colour palette and CMYK JPEG
    n_good = sum(s != "skipped" for s, _ in EXPECTED.values())
    x = ds.images
    assert x.shape == (n_good, 3, R, R) and x.dtype == torch.float32
    assert float(x.min()) >= -1.0 and float(x.max()) <= 1.0
    assert ds.images_u8.shape == (n_good, R, R, 3) and ds.images_u8.dtype == np.uint8
    assert ds.labels is None and ds.class_names == [] and ds.is_original.all()
    assert ds.summary_dict == {"files_found": len(EXPECTED), "ok": 5, "converted": 12, "skipped": 6,
                               "images": n_good, "amplified": 0, "near_duplicates": 3}
    assert "23 files found" in caplog.text and "6 skipped" in caplog.text


def test_modes_are_normalised_not_naively_converted(tiny_folder, tmp_path):
    ds = _load(tiny_folder, tmp_path)
    rgba = _image(ds, "pools/rgba.png")
    assert (rgba[0, 0] == 255).all() and (rgba[-1, -1] == 255).all()  # transparent -> paper white, not black
    la = _image(ds, "pools/la.png")
    assert (la[0, 0] == 255).all()
    sixteen = _image(ds, "strokes/sixteen.png")
    assert sixteen.min() < 100 and sixteen.max() > 200  # scaled from 16 bits, not clipped to white
    green = _image(ds, "splatter/profile.png").astype(int)
    assert (green[..., 1] > green[..., 0] + 100).all()  # red under a swapped profile is green in sRGB
    rot = _image(ds, "splatter/rotated.jpg").astype(int)
    assert rot[: R // 2 - 2].mean() < 60 and rot[R // 2 + 2:].mean() > 200  # dark half on top after EXIF
    tile = _image(ds, "splatter/small_tile.png")
    assert np.array_equal(tile[:, :R - 24], tile[:, 24:])  # a 24-px motif repeated, not blurred up
    cmyk = _image(ds, "strokes/cmyk.jpg").astype(int)
    rgb = _image(ds, "pools/rgb.png").astype(int)
    assert np.abs(cmyk - rgb).mean() < 12


def test_fit_and_small_options(tiny_folder, tmp_path):
    pad = _load(tiny_folder, tmp_path, fit="pad")
    wide = _image(pad, "strokes/wide.webp")  # 90x36 -> 32x13 inside a white square
    assert (wide[:8] == 255).all() and (wide[-8:] == 255).all() and wide[16].min() < 250
    skip = _load(tiny_folder, tmp_path, small="skip")
    rows = {r["path"]: r for r in skip.report}
    assert rows["splatter/small_tile.png"]["status"] == "skipped"
    assert "smaller than 32 px" in rows["splatter/small_tile.png"]["reason"]
    up = _load(tiny_folder, tmp_path, small="upscale")
    assert "upscaled" in {r["path"]: r for r in up.report}["splatter/small_tile.png"]["actions"]
    a = _load(tiny_folder, tmp_path, fit="random-crop", seed=1, cache=False)
    b = _load(tiny_folder, tmp_path, fit="random-crop", seed=1, cache=False)
    c = _load(tiny_folder, tmp_path, fit="random-crop", seed=2, cache=False)
    assert np.array_equal(a.images_u8, b.images_u8) and not np.array_equal(a.images_u8, c.images_u8)
    with pytest.raises(ValueError, match="fit='squash'"):
        _load(tiny_folder, tmp_path, fit="squash")


def test_second_load_comes_from_the_cache_and_redecodes_only_changed_files(tiny_folder, tmp_path, monkeypatch):
    first = _load(tiny_folder, tmp_path)
    calls = []
    real = decode.process_file
    monkeypatch.setattr(decode, "process_file", lambda p, o: calls.append(p) or real(p, o))
    second = _load(tiny_folder, tmp_path)
    assert calls == [] and second.timing["files_decoded"] == 0
    assert second.timing["files_from_cache"] == first.timing["files_decoded"] == len(first.report)
    assert np.array_equal(first.images_u8, second.images_u8) and first.report == second.report
    changed = tiny_folder / "pools/grey.png"
    st = changed.stat()
    os.utime(changed, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    third = _load(tiny_folder, tmp_path)
    assert [Path(p).name for p in calls] == ["grey.png"] and third.timing["files_decoded"] == 1
    assert np.array_equal(first.images_u8, third.images_u8)
    other = _load(tiny_folder, tmp_path, fit="pad")  # other settings: another cache entry
    assert not np.array_equal(first.images_u8, other.images_u8)


def test_amplification_adds_seeded_marked_copies(tiny_folder, tmp_path):
    a = _load(tiny_folder, tmp_path, amplify_to=40, seed=3)
    n = int(a.is_original.sum())
    assert len(a) == 40 and a.summary_dict["amplified"] == 40 - n
    assert not a.is_original[n:].any() and a.is_original[:n].all()
    copies = [r for r in a.report if r["is_original"] is False]
    assert len(copies) == 40 - n and all(r["reason"] == "self-amplified copy" for r in copies)
    assert all(a.source_paths[r["index"]] == r["path"] for r in copies)
    b = _load(tiny_folder, tmp_path, amplify_to=40, seed=3)
    c = _load(tiny_folder, tmp_path, amplify_to=40, seed=4)
    assert np.array_equal(a.images_u8, b.images_u8)
    assert not np.array_equal(a.images_u8[n:], c.images_u8[n:])
    assert np.array_equal(a.images_u8[:n], c.images_u8[:n])  # originals untouched
    few = _load(tiny_folder, tmp_path, amplify_to=3)
    assert len(few) == n


def test_labels_come_from_first_level_folders(tiny_folder, tmp_path):
    ds = _load(tiny_folder, tmp_path, labels=True, amplify_to=30)
    assert ds.class_names == ["pools", "splatter", "strokes"]  # zbad holds no usable file
    assert ds.labels.dtype == torch.int64 and ds.labels.shape == (30,)
    for i, src in enumerate(ds.source_paths):
        assert ds.class_names[int(ds.labels[i])] == src.split("/")[0]
    loose = {r["path"]: r for r in ds.report}["loose.png"]
    assert loose["status"] == "skipped" and "class subfolder" in loose["reason"]


def test_parallel_workers_give_the_same_result(tiny_folder, tmp_path):
    one = _load(tiny_folder, tmp_path, workers=1, cache=False)
    two = _load(tiny_folder, tmp_path, workers=2, cache=False)
    assert np.array_equal(one.images_u8, two.images_u8) and one.report == two.report


def test_folder_without_usable_images_is_a_clear_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=r"empty: no usable image among 0 files"):
        _load(empty, tmp_path)
    (empty / "a.png").write_bytes(b"")
    (empty / "b.txt").write_text("notes")
    with pytest.raises(DataError, match=r"1 x empty file.*1 x not an image"):
        _load(empty, tmp_path)
    with pytest.raises(FileNotFoundError, match="no such folder"):
        _load(tmp_path / "missing", tmp_path)


def test_report_files_are_written(tiny_folder, tiny_expected, tmp_path):
    ds = _load(tiny_folder, tmp_path, amplify_to=25)
    csv_path, json_path = ds.write_report(tmp_path / "out")
    lines = csv_path.read_text().splitlines()
    assert lines[0].split(",")[:4] == ["index", "path", "status", "reason"]
    assert len(lines) == 1 + len(tiny_expected) + 25 - int(ds.is_original.sum())
    doc = json.loads(json_path.read_text())
    assert doc["counts"] == ds.summary_dict and len(doc["rows"]) == len(ds.report)


def test_scan_skips_hidden_entries_and_survives_link_cycles(tiny_folder):
    (tiny_folder / "pools" / "loop").symlink_to(tiny_folder, target_is_directory=True)
    (tiny_folder / ".git").mkdir()
    (tiny_folder / ".git" / "HEAD").write_text("ref")
    paths = [p for p, _, _ in data.scan(tiny_folder)]
    assert "pools/rgb.png" in paths and not any(".git" in p or "DS_Store" in p for p in paths)
    assert len(paths) == len(set(paths)) == 23

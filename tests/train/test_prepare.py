"""`python -m train prepare`: help, dry run, a real run on a tiny folder, bad input."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from train import __main__ as train_main


def test_prepare_help_lists_options_and_ends_with_an_example(capsys):
    with pytest.raises(SystemExit) as e:
        train_main.main(["prepare", "--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--data", "--out", "--resolution", "--amplify-to", "--fit", "--small", "--labels",
                 "--workers", "--dry-run"):
        assert flag in text
    assert text.rstrip().splitlines()[-1].startswith("example: python -m train prepare")


def test_prepare_dry_run_prints_config_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    assert train_main.main(["prepare", "--out", str(out), "--resolution", "64", "--dry-run"]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert cfg["resolution"] == 64 and cfg["data"] is None and cfg["fit"] == "crop"
    assert not out.exists()


def test_prepare_writes_set_report_and_contact_sheet(tiny_folder, tiny_expected, tmp_path, monkeypatch):
    monkeypatch.setenv("INKWASH_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    rc = train_main.main(["prepare", "--data", str(tiny_folder), "--out", str(out), "--resolution", "32",
                          "--amplify-to", "30", "--labels", "--workers", "1", "--quiet"])
    assert rc == 0
    pngs = sorted((out / "images").rglob("*.png"))
    assert len(pngs) == 30 and {p.parent.name for p in pngs} == {"pools", "splatter", "strokes"}
    assert sum("_copy" in p.name for p in pngs) == 30 - 16  # 17 usable files minus loose.png (no class)
    npz = np.load(out / "data.npz")
    assert npz["images_u8"].shape == (30, 32, 32, 3) and npz["labels"].shape == (30,)
    assert np.array_equal(np.asarray(Image.open(pngs[0])), npz["images_u8"][0])
    with open(out / "data_report.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["path"] for r in rows} == set(tiny_expected)
    assert json.loads((out / "prepare.json").read_text())["counts"]["images"] == 30
    sheet = Image.open(out / "contact_sheet.png")
    assert sheet.mode == "RGB" and sheet.width > 32 * 3


@pytest.mark.parametrize("args, text", [
    (["--data", "/nonexistent/patterns"], "--data /nonexistent/patterns: no such folder"),
    (["--resolution", "4"], "--resolution 4: must be at least"),
    (["--amplify-to", "0"], "--amplify-to 0: must be a positive"),
])
def test_prepare_bad_input_is_one_line_and_exit_2(args, text, tmp_path, capsys):
    assert train_main.main(["prepare", "--out", str(tmp_path / "o"), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("python -m train prepare: error: ") and text in err[0], err


def test_prepare_on_a_folder_without_images_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("INKWASH_CACHE", str(tmp_path / "cache"))
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("no pictures here")
    assert train_main.main(["prepare", "--data", str(tmp_path / "notes"), "--out", str(tmp_path / "o")]) == 2
    assert "no usable image among 1 files (found: 1 x not an image" in capsys.readouterr().err


def _prepare(data, out, *extra):
    return train_main.main(["prepare", "--data", str(data), "--out", str(out), "--resolution", "32",
                            "--workers", "1", "--quiet", *extra])


@pytest.mark.parametrize("where", ["same", "out-inside-data", "data-inside-out"])
def test_prepare_refuses_out_and_data_that_overlap_and_touches_nothing(where, tmp_path, capsys, monkeypatch,
                                                                       synthetic_images, write_images):
    monkeypatch.setenv("INKWASH_CACHE", str(tmp_path / "cache"))
    if where == "data-inside-out":
        out, data = tmp_path / "work", tmp_path / "work" / "images"
    else:
        data = tmp_path / "patterns"
        out = data if where == "same" else data / "prepared"
    mine = write_images(data, synthetic_images(3, size=40))
    write_images(data / "images", synthetic_images(2, size=40, seed=1))  # a user's own images/ subfolder
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert _prepare(data, out) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("python -m train prepare: error: --"), err
    assert ("inside" in err[0]) == (where != "same") and ("is the --data folder" in err[0]) == (where == "same")
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before and mine[0].is_file()


def test_a_second_prepare_removes_only_the_files_the_first_one_wrote(tmp_path, monkeypatch, synthetic_images,
                                                                     write_images):
    monkeypatch.setenv("INKWASH_CACHE", str(tmp_path / "cache"))
    data, out = tmp_path / "patterns", tmp_path / "prepared"
    for k, cls in enumerate(("a", "b")):
        write_images(data / cls, synthetic_images(3, size=40, seed=k))
    assert _prepare(data, out, "--labels") == 0
    first = json.loads((out / "prepare_manifest.json").read_text())["files"]
    assert sorted(str(p.relative_to(out)) for p in (out / "images").rglob("*.png")) == \
        sorted(f for f in first if f.startswith("images/"))
    (out / "images" / ".DS_Store").write_bytes(b"finder")  # hidden files are neither ours nor in the way
    assert _prepare(data, out) == 0  # without labels: images/<index>_<name>.png, class folders gone
    second = json.loads((out / "prepare_manifest.json").read_text())["files"]
    pngs = sorted(str(p.relative_to(out)) for p in (out / "images").rglob("*.png"))
    assert pngs == sorted(f for f in second if f.startswith("images/")) and len(pngs) == 6
    assert not (out / "images" / "a").exists() and (out / "images" / ".DS_Store").is_file()


def test_prepare_refuses_an_out_holding_files_it_did_not_write(tmp_path, capsys, monkeypatch, synthetic_images,
                                                               write_images):
    monkeypatch.setenv("INKWASH_CACHE", str(tmp_path / "cache"))
    data, out = tmp_path / "patterns", tmp_path / "work"
    write_images(data, synthetic_images(3, size=40))
    assert _prepare(data, out) == 0
    user = write_images(out / "images" / "sketches", synthetic_images(1, size=40, seed=5))[0]
    capsys.readouterr()
    assert _prepare(data, out) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "images/sketches/0000.png" in err[0] and "did not write" in err[0], err
    assert user.is_file()
    fresh = tmp_path / "elsewhere"
    (fresh / "contact_sheet.png").parent.mkdir()
    (fresh / "contact_sheet.png").write_bytes(b"the user's own sheet")
    assert _prepare(data, fresh) == 2 and (fresh / "contact_sheet.png").read_bytes() == b"the user's own sheet"


def test_contact_sheet_puts_near_duplicate_pairs_first_and_frames_them(tmp_path, monkeypatch, synthetic_images,
                                                                      write_images):
    from train.prepare import MARK
    monkeypatch.setenv("INKWASH_CACHE", str(tmp_path / "cache"))
    data, out = tmp_path / "patterns", tmp_path / "prepared"
    paths = write_images(data, synthetic_images(5, size=96, seed=2))
    Image.open(paths[3]).resize((48, 48), Image.Resampling.LANCZOS).save(data / "0003_small.png")
    assert _prepare(data, out) == 0
    rows = {r["path"]: r for r in csv.DictReader(open(out / "data_report.csv"))}
    assert rows["0003_small.png"]["near_duplicate_of"] == "0003.png" and rows["0003_small.png"]["status"] == "ok"
    sheet = np.asarray(Image.open(out / "contact_sheet.png"))
    tile = lambda k: sheet[2 + (k // 3) * 34: 2 + (k // 3) * 34 + 32, 2 + (k % 3) * 34: 2 + (k % 3) * 34 + 32]  # noqa: E731
    original, copy, other = tile(0), tile(1), tile(2)
    assert (original[0] == MARK).all() and (copy[:, -1] == MARK).all() and not (other[0] == MARK).all()
    assert (copy[3, 3] == MARK).all() and not (original[3, 3] == MARK).all()  # the copy's filled corner
    assert np.array_equal(original[8:24, 8:24], np.load(out / "data.npz")["images_u8"][3][8:24, 8:24])

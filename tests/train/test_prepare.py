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

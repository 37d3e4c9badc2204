"""python -m export onnx|sample: files written, formats, the PyTorch path, one-line errors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from export import load_sampler
from export.__main__ import main
from inkwash.hashing import sha256_file


def _read_pngs(folder: Path) -> np.ndarray:
    return np.stack([np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.glob("*.png"))
                     if p.name != "grid.png"])


def test_sample_writes_exactly_n_pngs_of_the_right_size(exported, tmp_path):
    model = exported / "export" / "generator.onnx"
    out = tmp_path / "s"
    assert main(["sample", str(model), "--n", "5", "--out", str(out), "--batch-size", "2", "--seed", "9",
                 "--grid", "--workers", "2", "--quiet"]) == 0
    names = sorted(p.name for p in out.glob("*.png"))
    assert names == [f"{i:06d}.png" for i in range(5)] + ["grid.png"]
    assert not list(out.glob("*.jp*g"))
    for p in out.glob("0*.png"):
        with Image.open(p) as im:
            assert im.format == "PNG" and im.size == (64, 64) and im.mode == "RGB"
    assert np.array_equal(_read_pngs(out), load_sampler(model, "cpu").sample(5, seed=9))  # lossless
    manifest = json.loads((out / "samples.json").read_text())
    assert manifest["n"] == 5 and manifest["seed"] == 9 and manifest["provider"] == "CPUExecutionProvider"


def test_sample_npz_holds_one_uint8_array(exported, tmp_path):
    model = exported / "export" / "generator.onnx"
    assert main(["sample", str(model), "--n", "3", "--out", str(tmp_path), "--format", "npz", "--quiet"]) == 0
    with np.load(tmp_path / "samples.npz") as f:
        images = f["images"]
    assert images.dtype == np.uint8 and images.shape == (3, 64, 64, 3)
    assert np.array_equal(images, load_sampler(model, "cpu").sample(3, seed=0))
    assert not list(tmp_path.glob("*.png"))


def test_torch_path_agrees_with_onnx_within_one_grey_level(exported, tmp_path):
    model = exported / "export" / "generator.onnx"
    assert main(["sample", "--torch", str(exported), "--n", "3", "--out", str(tmp_path / "t"), "--quiet"]) == 0
    assert main(["sample", str(model), "--n", "3", "--out", str(tmp_path / "o"), "--quiet"]) == 0
    a, b = _read_pngs(tmp_path / "t"), _read_pngs(tmp_path / "o")
    assert a.shape == b.shape == (3, 64, 64, 3)
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1


def test_conditional_sample_with_label(exported_cond, tmp_path):
    model = exported_cond / "export" / "generator.onnx"
    assert main(["sample", str(model), "--n", "2", "--out", str(tmp_path), "--label", "2", "--quiet"]) == 0
    assert np.array_equal(_read_pngs(tmp_path), load_sampler(model, "cpu").sample(2, labels=2))


def test_conditional_sample_takes_the_class_by_name(exported_cond, tmp_path):
    model = exported_cond / "export" / "generator.onnx"
    assert main(["sample", str(model), "--n", "2", "--out", str(tmp_path), "--label", "class2", "--quiet"]) == 0
    assert np.array_equal(_read_pngs(tmp_path), load_sampler(model, "cpu").sample(2, labels=2))


@pytest.mark.parametrize("run, label, needle", [("cond", "class7", "0 class0, 1 class1, 2 class2"),
                                                ("cond", "3", "0 class0, 1 class1, 2 class2"),
                                                ("uncond", "0", "unconditional")])
def test_unknown_label_is_one_line_listing_the_classes(exported_cond, exported, tmp_path, capsys, run, label, needle):
    model = (exported_cond if run == "cond" else exported) / "export" / "generator.onnx"
    assert main(["sample", str(model), "--n", "2", "--out", str(tmp_path), "--label", label, "--quiet"]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("python -m export")]  # log lines aside
    assert len(err) == 1 and err[0].startswith("python -m export sample: error: --label") and needle in err[0]
    assert not list(tmp_path.glob("*.png"))


def test_onnx_verb_no_ema_and_out(tiny_run, tmp_path, capsys):
    out = tmp_path / "exp"
    assert main(["onnx", str(tiny_run), "--no-ema", "--out", str(out)]) == 0
    meta = json.loads((out / "generator.json").read_text())
    assert meta["ema"] is False and meta["model_sha256"] == sha256_file(out / "generator.onnx")
    assert not (out / "generator_fp16.onnx").exists()
    assert capsys.readouterr().out.strip() == str(out / "generator.onnx")


@pytest.mark.parametrize("argv, needle", [
    (["sample", "missing.onnx", "--n", "2", "--out", "x"], "missing.onnx"),
    (["sample", "--n", "2"], "exactly one"),
    (["sample", "m.onnx", "--n", "0"], "--n"),
    (["sample", "m.onnx", "--format", "jpg"], "--format"),
    (["onnx", "no_such_run"], "latest.pt"),
    (["sample", "m.onnx", "--device", "tpu"], "--device"),
    (["frobnicate"], "invalid choice"),
])
def test_cli_errors_are_one_line_exit_2(argv, needle, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    try:
        code = main(argv)
    except SystemExit as e:  # argparse errors
        code = e.code
    err = capsys.readouterr().err.strip()
    assert code == 2 and needle in err and len(err.splitlines()) == 1, err



@pytest.mark.slow
def test_two_samples_into_one_folder_at_once_do_not_collide(exported, tmp_path, lockstep):
    """Both processes write samples.npz and samples.json at the same moment (lockstep): unique temp
    names, so both finish and each file is whole (the PNG workers use the same atomic writer)."""
    model = exported / "export" / "generator.onnx"
    out = tmp_path / "shared"
    results = lockstep(["sample", str(model), "--n", "6", "--out", str(out), "--format", "npz", "--quiet",
                        "--device", "cpu"])
    assert [code for code, _ in results] == [0, 0], results
    assert sorted(p.name for p in out.iterdir()) == ["samples.json", "samples.npz"]
    with np.load(out / "samples.npz") as f:
        assert np.array_equal(f["images"], load_sampler(model, "cpu").sample(6, seed=0))
    assert json.loads((out / "samples.json").read_text())["n"] == 6

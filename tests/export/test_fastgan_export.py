"""A FastGAN run (the demo preset's recipe) through the export path: ONNX with EMA weights and parity with
PyTorch, `python -m export sample` and `python -m export design`, unconditional and conditional."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from PIL import Image

from export import load_sampler
from export.__main__ import main
from export.onnx_export import PARITY_BOUND_FP16, PARITY_BOUND_FP32, export_run, make_latents, ort_session
from train import checkpoint

# The demo recipe for a few steps, DiffAugment on as in the preset. FastGAN's N(0, 0.02) init draws images
# near 0, which would make any parity bound trivially met: three generator steps of Adam at 1e-2 spread them
# over [-1, 1], and EMA at decay 0.5 keeps the EMA and the raw weights apart.
FASTGAN_RUN = dict(preset="demo", iters=3, ema_decay=0.5, lr_g=1e-2, lr_d=1e-3, diffaug=True)


@pytest.fixture(scope="module")
def fastgan_run(run_factory) -> Path:
    run = run_factory("fastgan", **FASTGAN_RUN)
    export_run(run, fp16=True)       # as `make demo` exports it
    return run


@pytest.fixture(scope="module")
def fastgan_cond(run_factory) -> Path:
    run = run_factory("fastgan_cond", classes=3, n_images=9, **FASTGAN_RUN)
    export_run(run)
    return run


def _torch_images(gen, z: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
    with torch.inference_mode():
        return gen(torch.from_numpy(z), None if labels is None else torch.from_numpy(labels)).numpy()


def test_fastgan_run_exports_its_ema_generator_and_onnxruntime_matches_torch(fastgan_run):
    state = checkpoint.load_checkpoint(fastgan_run / "checkpoints" / "latest.pt")
    assert state["model"]["name"] == "fastgan" and state["config"]["loss"] == "hinge"
    path = fastgan_run / "export" / "generator.onnx"
    onnx.checker.check_model(str(path), full_check=True)
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["name"] == "fastgan" and meta["ema"] is True and meta["resolution"] == 64
    assert meta["parity"]["max_abs_diff"] <= PARITY_BOUND_FP32
    ema, _ = checkpoint.load_generator(fastgan_run / "checkpoints" / "latest.pt", ema=True)
    raw, _ = checkpoint.load_generator(fastgan_run / "checkpoints" / "latest.pt", ema=False)
    sess = ort_session(path)
    for batch in (1, 5):
        z = make_latents(batch, 100, seed=3)
        got = sess.run(["images"], {"z": z})[0]
        ref = _torch_images(ema, z)
        assert got.shape == (batch, 3, 64, 64) and ref.std() > 0.1     # images, not the init's near-zeros
        assert np.abs(got - ref).max() <= PARITY_BOUND_FP32
    z = make_latents(2, 100, seed=3)
    assert np.abs(sess.run(["images"], {"z": z})[0] - _torch_images(raw, z)).max() > 1e-3   # EMA, not raw


def test_fastgan_fp16_export_passes_the_checker_and_its_parity_bound(fastgan_run):
    """The fp16 converter's output for FastGAN's Resize nodes needs repairs (export.onnx_export._repair_fp16)."""
    path = fastgan_run / "export" / "generator_fp16.onnx"
    onnx.checker.check_model(str(path), full_check=True)
    assert "Resize" in {n.op_type for n in onnx.load(str(path)).graph.node}
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["precision"] == "fp16" and 0 < meta["parity"]["max_abs_diff"] <= PARITY_BOUND_FP16
    ema, _ = checkpoint.load_generator(fastgan_run / "checkpoints" / "latest.pt")
    z = make_latents(3, 100, seed=8)
    assert np.abs(ort_session(path).run(["images"], {"z": z})[0] - _torch_images(ema, z)).max() <= PARITY_BOUND_FP16


def test_fastgan_samples_and_design_sheets_come_from_the_cli(fastgan_run, tmp_path):
    model = fastgan_run / "export" / "generator.onnx"
    assert main(["sample", str(model), "--n", "3", "--out", str(tmp_path / "s"), "--grid", "--quiet"]) == 0
    assert sorted(p.name for p in (tmp_path / "s").glob("*.png")) == ["000000.png", "000001.png", "000002.png",
                                                                       "grid.png"]
    assert main(["design", str(model), "--out", str(tmp_path / "d"), "--n", "1", "--seed", "2", "--steps", "3",
                 "--garments", "tote", "--quiet", "--no-pdf"]) == 0
    (side,) = (tmp_path / "d").glob("IW-*.json")
    assert json.loads(side.read_text())["model"]["name"] == "fastgan"
    assert (tmp_path / "d" / f"{side.stem}.png").read_bytes().startswith(b"\x89PNG")


def test_conditional_fastgan_exports_labels_and_samples_by_class_name(fastgan_cond, tmp_path):
    path = fastgan_cond / "export" / "generator.onnx"
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["name"] == "fastgan" and meta["class_names"] == ["class0", "class1", "class2"]
    gen, _ = checkpoint.load_generator(fastgan_cond / "checkpoints" / "latest.pt")
    z, labels = make_latents(4, 100, seed=5), np.array([0, 1, 2, 1], np.int64)
    got, ref = ort_session(path).run(["images"], {"z": z, "labels": labels})[0], _torch_images(gen, z, labels)
    assert ref.std() > 0.1 and np.abs(got - ref).max() <= PARITY_BOUND_FP32
    out = tmp_path / "s"
    assert main(["sample", str(path), "--n", "2", "--out", str(out), "--label", "class2", "--quiet"]) == 0
    written = np.stack([np.asarray(Image.open(p).convert("RGB")) for p in sorted(out.glob("0*.png"))])
    assert np.array_equal(written, load_sampler(path, "cpu").sample(2, labels=2))
    assert main(["design", str(path), "--out", str(tmp_path / "d"), "--n", "1", "--seed", "4", "--steps", "3",
                 "--garments", "scarf", "--label", "class1", "--quiet", "--no-pdf"]) == 0
    (side,) = (tmp_path / "d").glob("IW-*.json")
    assert json.loads(side.read_text())["class_name"] == "class1"

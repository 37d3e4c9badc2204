"""ONNX export of a tiny 64 px run: checker, shapes, parity at two batch sizes, fp16, sidecar."""
from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import onnx
import pytest
import torch

from export.onnx_export import (EXPORT_BATCH, PARITY_BOUND_FP16, PARITY_BOUND_FP32, ExportError, export_run,
                                make_latents, ort_session)
from export.sampler import spec_of
from inkwash.hashing import sha256_file
from train import checkpoint

SIDECAR_FIELDS = ("name", "latent_dim", "resolution", "num_classes", "class_names", "output_range", "critic_norm",
                  "opset", "source_checkpoint", "source_checkpoint_sha256", "model_sha256", "parity", "versions",
                  "date", "ema", "precision", "inputs", "output", "latents")


def _dims(value_info) -> list:
    return [d.dim_value if d.HasField("dim_value") else d.dim_param for d in value_info.type.tensor_type.shape.dim]


def _ort_vs_torch(path, gen, batch: int, labels=None) -> float:
    z = make_latents(batch, gen.latent_dim, seed=7)
    feed = {"z": z} if labels is None else {"z": z, "labels": labels}
    got = ort_session(path).run(["images"], feed)[0]
    with torch.inference_mode():
        ref = gen(torch.from_numpy(z), None if labels is None else torch.from_numpy(labels)).numpy()
    return float(np.abs(got - ref).max())


def test_export_passes_checker_with_dynamic_batch_and_static_size(exported):
    for name in ("generator.onnx", "generator_fp16.onnx"):
        path = exported / "export" / name
        onnx.checker.check_model(str(path), full_check=True)
        model = onnx.load(str(path))
        assert [i.name for i in model.graph.input] == ["z"]
        assert isinstance(_dims(model.graph.input[0])[0], str)  # symbolic batch
        assert _dims(model.graph.input[0])[1] == 100
        out = model.graph.output[0]
        assert out.name == "images" and out.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
        assert _dims(out)[1:] == [3, 64, 64] and isinstance(_dims(out)[0], str)


def test_fp32_parity_recorded_and_reproduced_at_two_batch_sizes(exported):
    meta = json.loads((exported / "export" / "generator.json").read_text())
    sizes = meta["parity"]["batch_sizes"]
    assert len(sizes) >= 2 and any(b != EXPORT_BATCH for b in sizes)
    assert set(meta["parity"]["max_abs_diff_per_batch"]) == {str(b) for b in sizes}
    assert meta["parity"]["max_abs_diff"] <= PARITY_BOUND_FP32 == meta["parity"]["bound"]
    gen, _ = checkpoint.load_generator(exported / "checkpoints" / "latest.pt", ema=True)
    for batch in (3, 8):  # batch sizes the export itself did not check
        assert _ort_vs_torch(exported / "export" / "generator.onnx", gen, batch) <= PARITY_BOUND_FP32


def test_export_uses_ema_weights_when_present(exported):
    path = exported / "export" / "generator.onnx"
    assert json.loads(path.with_suffix(".json").read_text())["ema"] is True
    raw, _ = checkpoint.load_generator(exported / "checkpoints" / "latest.pt", ema=False)
    assert _ort_vs_torch(path, raw, 2) > 1e-3  # the raw weights are not what was exported


def test_fp16_file_has_fp16_weights_fp32_io_and_parity_within_its_bound(exported):
    path = exported / "export" / "generator_fp16.onnx"
    model = onnx.load(str(path))
    big = [t for t in model.graph.initializer if np.prod(t.dims) > 1000]
    assert big and all(t.data_type == onnx.TensorProto.FLOAT16 for t in big)
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["precision"] == "fp16" and meta["parity"]["bound"] == PARITY_BOUND_FP16
    assert 0 < meta["parity"]["max_abs_diff"] <= PARITY_BOUND_FP16
    gen, _ = checkpoint.load_generator(exported / "checkpoints" / "latest.pt")
    assert _ort_vs_torch(path, gen, 3) <= PARITY_BOUND_FP16


def test_sidecar_has_every_field_and_true_checksums(exported):
    ckpt_path = exported / "checkpoints" / "latest.pt"
    spec = checkpoint.load_spec(checkpoint.load_checkpoint(ckpt_path))
    for stem in ("generator", "generator_fp16"):
        meta = json.loads((exported / "export" / f"{stem}.json").read_text())
        assert all(k in meta for k in SIDECAR_FIELDS), set(SIDECAR_FIELDS) - set(meta)
        assert spec_of(meta) == spec                                   # the sidecar serialises the ModelSpec
        assert meta["model_sha256"] == sha256_file(exported / "export" / f"{stem}.onnx")
        assert meta["source_checkpoint_sha256"] == sha256_file(ckpt_path)
        assert meta["source_checkpoint"] == str(ckpt_path.resolve())
        assert (meta["latent_dim"], meta["resolution"], meta["num_classes"]) == (100, 64, 0)
        assert meta["output_range"] == [-1.0, 1.0] and meta["class_names"] == []
        assert meta["opset"] == onnx.load(str(exported / "export" / f"{stem}.onnx")).opset_import[0].version
        assert {"torch", "onnx"} <= set(meta["versions"])
        assert {"onnxruntime", "onnxruntime-gpu"} & set(meta["versions"])  # whichever distribution is installed
        datetime.fromisoformat(meta["date"])


def test_conditional_export_takes_int64_labels(exported_cond):
    path = exported_cond / "export" / "generator.onnx"
    model = onnx.load(str(path))
    assert [i.name for i in model.graph.input] == ["z", "labels"]
    assert model.graph.input[1].type.tensor_type.elem_type == onnx.TensorProto.INT64
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["num_classes"] == 3 and meta["class_names"] == ["class0", "class1", "class2"]  # the subfolders
    assert meta["ema"] is False  # this checkpoint has generator_ema = None
    gen, _ = checkpoint.load_generator(exported_cond / "checkpoints" / "latest.pt")
    assert _ort_vs_torch(path, gen, 4, np.array([0, 1, 2, 1], np.int64)) <= PARITY_BOUND_FP32
    z = np.repeat(make_latents(1, 100), 2, axis=0)
    out = ort_session(path).run(["images"], {"z": z, "labels": np.array([0, 2], np.int64)})[0]
    assert np.abs(out[0] - out[1]).max() > 1e-4  # the label changes the image


def test_export_without_checkpoint_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="latest.pt"):
        export_run(tmp_path / "no_run")


def test_failed_parity_leaves_no_file(tiny_run, monkeypatch):
    import export.onnx_export as ox
    monkeypatch.setattr(ox, "PARITY_BOUND_FP32", -1.0)  # nothing can pass: the file must not appear
    with pytest.raises(ExportError, match="differs from PyTorch"):
        ox.export_run(tiny_run)
    assert not list((tiny_run / "export").iterdir())


def test_parity_figures_name_the_provider_they_came_from(exported):
    for stem in ("generator", "generator_fp16"):
        parity = json.loads((exported / "export" / f"{stem}.json").read_text())["parity"]
        cpu = parity["by_provider"]["CPUExecutionProvider"]  # the CPU figure is always kept
        assert 0 <= cpu["max_abs_diff"] <= parity["bound"]
        assert set(cpu["max_abs_diff_per_batch"]) == {str(b) for b in parity["batch_sizes"]}
        head = parity["by_provider"][parity["provider"]]
        assert parity["max_abs_diff"] == head["max_abs_diff"]
        if "CUDAExecutionProvider" not in parity["by_provider"]:
            assert parity["provider"] == "CPUExecutionProvider" and set(parity["by_provider"]) == {parity["provider"]}


class _ShiftedCuda:
    """A CPU session that reports the CUDA provider and adds `shift` to its output (no GPU here)."""

    def __init__(self, model: bytes, shift: float):
        self.sess, self.shift = ort_session(model), shift

    def get_providers(self):
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]

    def get_provider_options(self):
        return {"CUDAExecutionProvider": {"device_id": "0", "use_tf32": "0"}}

    def run(self, outputs, feed):
        return [self.sess.run(outputs, feed)[0] + np.float32(self.shift)]


def test_parity_is_measured_on_cuda_too_when_it_starts_and_its_figure_leads(exported, monkeypatch):
    import export.onnx_export as ox
    gen, _ = checkpoint.load_generator(exported / "checkpoints" / "latest.pt")
    data = (exported / "export" / "generator.onnx").read_bytes()
    monkeypatch.setattr(ox.providers, "cuda_session", lambda model: _ShiftedCuda(model, 5e-3))
    parity = ox.measure_parity(data, gen)
    assert set(parity["by_provider"]) == {"CPUExecutionProvider", "CUDAExecutionProvider"}
    assert parity["provider"] == "CUDAExecutionProvider" and parity["max_abs_diff"] == pytest.approx(5e-3, rel=0.1)
    assert parity["by_provider"]["CPUExecutionProvider"]["max_abs_diff"] <= PARITY_BOUND_FP32
    assert parity["by_provider"]["CUDAExecutionProvider"]["options"]["use_tf32"] == "0"


def test_export_fails_when_the_cuda_figure_breaks_the_bound(tiny_run, monkeypatch):
    import export.onnx_export as ox
    monkeypatch.setattr(ox.providers, "cuda_session", lambda model: _ShiftedCuda(model, 5e-3))
    with pytest.raises(ExportError, match=r"onnxruntime \(CUDAExecutionProvider\) differs"):
        ox.export_run(tiny_run)
    assert not list((tiny_run / "export").iterdir())


@pytest.mark.gpu
def test_fp16_parity_on_cuda_is_within_its_bound(exported):
    import export.onnx_export as ox
    gen, _ = checkpoint.load_generator(exported / "checkpoints" / "latest.pt")
    if ox.providers.cuda_session(exported / "export" / "generator.onnx") is None:
        pytest.skip("the onnxruntime CUDA provider does not start here (python -m export env says why)")
    for stem, bound in (("generator", PARITY_BOUND_FP32), ("generator_fp16", PARITY_BOUND_FP16)):
        parity = ox.measure_parity((exported / "export" / f"{stem}.onnx").read_bytes(), gen)
        assert parity["provider"] == "CUDAExecutionProvider" and parity["max_abs_diff"] <= bound, parity



@pytest.mark.slow
def test_two_exports_into_one_folder_at_once_do_not_collide(tiny_run, tmp_path, lockstep):
    """Both processes write each file at the same moment (lockstep): unique temp names, no collision."""
    out = tmp_path / "shared"
    results = lockstep(["onnx", str(tiny_run), "--out", str(out), "--fp16"])
    assert [code for code, _ in results] == [0, 0], results
    assert sorted(p.name for p in out.iterdir()) == ["generator.json", "generator.onnx", "generator_fp16.json",
                                                     "generator_fp16.onnx"]  # no temp file left behind
    for stem in ("generator", "generator_fp16"):
        meta = json.loads((out / f"{stem}.json").read_text())
        assert meta["model_sha256"] == sha256_file(out / f"{stem}.onnx")
        onnx.checker.check_model(str(out / f"{stem}.onnx"), full_check=True)

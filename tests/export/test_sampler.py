"""load_sampler: providers, determinism, agreement with PyTorch, file checks, conditional labels."""
from __future__ import annotations

import json
import logging
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import export.sampler as sampler_mod
from export import load_sampler, providers
from export.sampler import DeviceError, ModelFileError, TorchSampler
from inkwash.cli import UserError
from train import checkpoint
from train.images import to_uint8


@pytest.fixture(scope="module")
def cpu_sampler(exported):
    return load_sampler(exported / "export" / "generator.onnx", device="cpu")


def test_sampler_reports_real_provider_and_metadata(cpu_sampler):
    s = cpu_sampler
    assert s.provider == "CPUExecutionProvider" == s.session.get_providers()[0]
    assert (s.resolution, s.latent_dim, s.num_classes, s.class_names) == (64, 100, 0, [])
    assert s.meta["precision"] == "fp32"


def test_onnx_and_torch_samplers_carry_the_checkpoints_model_spec(exported, cpu_sampler, tmp_path):
    ckpt_path = exported / "checkpoints" / "latest.pt"
    spec = checkpoint.load_spec(checkpoint.load_checkpoint(ckpt_path))
    assert cpu_sampler.spec == spec and TorchSampler(ckpt_path, device="cpu").spec == spec
    shutil.copy(exported / "export" / "generator.onnx", tmp_path / "g.onnx")  # no sidecar: the graph's metadata
    assert load_sampler(tmp_path / "g.onnx", device="cpu").spec == spec


def test_same_seed_gives_same_bytes_and_documented_latents(cpu_sampler):
    s = cpu_sampler
    a, b = s.sample(5, seed=3), s.sample(5, seed=3)
    assert a.dtype == np.uint8 and a.shape == (5, 64, 64, 3)
    assert a.tobytes() == b.tobytes()
    assert not np.array_equal(a, s.sample(5, seed=4))
    expected = np.random.default_rng(3).standard_normal((5, 100), dtype=np.float32)
    assert np.array_equal(s.latents(5, seed=3), expected)
    assert np.array_equal(s.generate(expected), a)


def test_batch_size_does_not_change_images(cpu_sampler):
    assert np.array_equal(cpu_sampler.sample(7, seed=1, batch_size=3), cpu_sampler.sample(7, seed=1, batch_size=64))


def test_onnx_agrees_with_pytorch_within_one_grey_level(exported, cpu_sampler):
    ref = TorchSampler(exported / "checkpoints" / "latest.pt", device="cpu")
    a, b = cpu_sampler.sample(6, seed=2), ref.sample(6, seed=2)
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1


def test_fp16_file_agrees_with_fp32_within_a_few_grey_levels(exported, cpu_sampler):
    s16 = load_sampler(exported / "export" / "generator_fp16.onnx", device="cpu")
    diff = np.abs(s16.sample(4, seed=0).astype(int) - cpu_sampler.sample(4, seed=0).astype(int))
    assert diff.max() <= 3


def test_auto_without_a_working_cuda_provider_falls_back_to_cpu_and_says_so_once(exported, caplog, monkeypatch):
    monkeypatch.setattr(providers, "_said_cpu_fallback", False)
    monkeypatch.setattr(providers, "_cuda_failure", None)
    with caplog.at_level(logging.INFO, logger="export.providers"):
        s1 = load_sampler(exported / "export" / "generator.onnx", device="auto")
        s2 = load_sampler(exported / "export" / "generator.onnx", device="auto")
    if s1.provider == "CUDAExecutionProvider":
        pytest.skip("the CUDA provider starts on this machine; the fallback is not taken")
    assert s1.provider == s2.provider == "CPUExecutionProvider" and s1.bind_device is None
    assert sum("running on CPUExecutionProvider" in r.message for r in caplog.records) == 1


def test_cuda_without_working_provider_is_an_error(exported):
    if providers.cuda_session(exported / "export" / "generator.onnx") is not None:
        pytest.skip("the CUDA provider starts on this machine")
    with pytest.raises(DeviceError, match="device=cuda"):
        load_sampler(exported / "export" / "generator.onnx", device="cuda")


class _CudaSession:
    """A session whose CUDA provider runs on device 1 (a mock: no GPU here)."""

    def get_providers(self):
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]

    def get_provider_options(self):
        return {"CUDAExecutionProvider": {"device_id": "1"}, "CPUExecutionProvider": {}}


def test_io_binding_uses_the_cuda_providers_device_only_when_torch_has_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert sampler_mod.binding_device(_CudaSession()) == torch.device("cuda", 1)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert sampler_mod.binding_device(_CudaSession()) is None  # CPU torch: NumPy feeds, onnxruntime copies


def test_bind_names_the_device_the_tensor_lives_on():
    calls = []
    fake = SimpleNamespace(device=torch.device("cuda", 1), dtype=torch.float32, shape=(2, 100), data_ptr=lambda: 4096)
    sampler_mod.bind(lambda *a: calls.append(a), "z", fake)
    assert calls == [("z", "cuda", 1, np.float32, [2, 100], 4096)]


def test_quantisation_on_the_device_equals_to_uint8_bit_for_bit():
    k = np.arange(256, dtype=np.float64)
    edges = (k + 0.5) / 127.5 - 1.0  # half-way between grey levels: rounding decides
    x = np.concatenate([edges, np.nextafter(edges, 2), np.nextafter(edges, -2), k / 127.5 - 1.0,
                        [-1.0, 1.0, -1.5, 1.5, -0.0, 0.0, 1e6, -1e6]]).astype(np.float32)
    x = np.concatenate([x, np.random.default_rng(0).normal(0, 0.7, 4096).astype(np.float32)])
    x = np.resize(x, (len(x) // 48 + 1) * 48).reshape(-1, 3, 4, 4)
    got = sampler_mod.to_uint8_on_device(torch.from_numpy(x)).numpy()
    assert got.dtype == np.uint8 and np.array_equal(got, to_uint8(x))


def test_io_binding_path_gives_the_bytes_of_the_plain_path(exported, cpu_sampler):
    """The bound path run with a CPU stand-in: inputs and output bound on the CPU, quantised by torch."""
    s = load_sampler(exported / "export" / "generator.onnx", device="cpu")
    s.bind_device = torch.device("cpu")
    bound = []
    real = s.session.io_binding

    def recording():
        io = real()
        for name in ("bind_input", "bind_output"):
            orig = getattr(io, name)
            setattr(io, name, lambda *a, _o=orig, _n=name: (bound.append((_n, *a[:3])), _o(*a))[1])
        return io
    s.session = SimpleNamespace(io_binding=recording, run_with_iobinding=s.session.run_with_iobinding)
    assert np.array_equal(s.sample(5, seed=3, batch_size=2), cpu_sampler.sample(5, seed=3))
    assert bound[:2] == [("bind_input", "z", "cpu", 0), ("bind_output", "images", "cpu", 0)] and len(bound) == 6


def test_class_index_takes_an_index_or_a_name_and_lists_the_classes(exported_cond, cpu_sampler):
    s = load_sampler(exported_cond / "export" / "generator.onnx", device="cpu")
    assert [s.class_index(v) for v in ("class2", "2", 1, " class0 ")] == [2, 2, 1, 0]
    for bad in ("class9", "3", "-1", ""):
        with pytest.raises(UserError, match="0 class0, 1 class1, 2 class2") as e:
            s.class_index(bad)
        assert str(e.value).startswith("--label") and "\n" not in str(e.value)
    with pytest.raises(UserError, match="unconditional"):
        cpu_sampler.class_index("0")


@pytest.mark.gpu
def test_cuda_sampler_runs_on_cuda_and_matches_cpu(exported, cpu_sampler):
    import onnxruntime as ort
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip(f"this onnxruntime build ({ort.__version__}) has no CUDA provider; install onnxruntime-gpu")
    s = load_sampler(exported / "export" / "generator.onnx", device="cuda")
    assert s.provider == "CUDAExecutionProvider" and s.provider_options["use_tf32"] == "0"
    if torch.cuda.is_available():  # torch CUDA tensors are bound on the provider's own device
        assert s.bind_device == torch.device("cuda", int(s.provider_options["device_id"]))
    assert np.abs(s.sample(4).astype(int) - cpu_sampler.sample(4).astype(int)).max() <= 1


def test_checksum_mismatch_is_an_error(exported, tmp_path):
    shutil.copy(exported / "export" / "generator.json", tmp_path / "generator.json")
    data = bytearray((exported / "export" / "generator.onnx").read_bytes())
    data[-1] ^= 0xFF
    (tmp_path / "generator.onnx").write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="SHA-256 does not match") as e:
        load_sampler(tmp_path / "generator.onnx", device="cpu")
    assert "generator.onnx" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("kind", ["truncated", "text"])
def test_unreadable_model_is_one_line_naming_the_file(exported, tmp_path, kind):
    bad = tmp_path / "broken.onnx"
    src = (exported / "export" / "generator.onnx").read_bytes()
    bad.write_bytes(src[: len(src) // 3] if kind == "truncated" else b"this is not a model\n")
    with pytest.raises(ModelFileError) as e:
        load_sampler(bad, device="cpu")
    assert str(bad) in str(e.value) and "\n" not in str(e.value)


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(ModelFileError, match="no such model file"):
        load_sampler(tmp_path / "nothing.onnx")


def test_missing_sidecar_warns_and_reads_graph_metadata(exported, tmp_path, caplog, cpu_sampler):
    shutil.copy(exported / "export" / "generator.onnx", tmp_path / "g.onnx")
    with caplog.at_level(logging.WARNING, logger="export.sampler"):
        s = load_sampler(tmp_path / "g.onnx", device="cpu")
    assert any("no sidecar" in r.message for r in caplog.records)
    assert (s.resolution, s.latent_dim, s.num_classes) == (64, 100, 0)
    assert np.array_equal(s.sample(2, seed=5), cpu_sampler.sample(2, seed=5))


def test_conditional_sampler_uses_labels(exported_cond, tmp_path):
    path = exported_cond / "export" / "generator.onnx"
    s = load_sampler(path, device="cpu")
    assert s.num_classes == 3 and s.class_names == ["class0", "class1", "class2"]
    z = np.repeat(s.latents(1, seed=0), 3, axis=0)
    imgs = s.generate(z, labels=[0, 1, 2])
    assert not np.array_equal(imgs[0], imgs[1]) and not np.array_equal(imgs[1], imgs[2])
    assert np.array_equal(s.sample(3, seed=0), s.generate(s.latents(3, 0), labels=[0, 1, 2]))  # default cycle
    with pytest.raises(ValueError, match="labels"):
        s.sample(2, labels=[0, 3])
    # Without a sidecar the class count comes from the graph's metadata.
    shutil.copy(path, tmp_path / "c.onnx")
    assert load_sampler(tmp_path / "c.onnx", device="cpu").num_classes == 3
    assert json.loads(path.with_suffix(".json").read_text())["inputs"][1]["dtype"] == "int64"


@pytest.mark.gpu
def test_quantisation_on_a_cuda_device_equals_to_uint8_bit_for_bit():
    if not torch.cuda.is_available():
        pytest.skip("this torch has no CUDA device")
    x = torch.randn(16, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 0.8
    assert np.array_equal(sampler_mod.to_uint8_on_device(x.cuda()).cpu().numpy(), to_uint8(x))


@pytest.mark.gpu
def test_a_second_gpu_is_bound_where_torch_puts_the_tensors(exported, cpu_sampler):
    if not torch.cuda.is_available() or torch.cuda.device_count() < 2:
        pytest.skip("needs two CUDA devices visible to torch")
    providers._cuda_failure = None
    with torch.cuda.device(1):
        s = load_sampler(exported / "export" / "generator.onnx", device="cuda")
        assert s.provider_options["device_id"] == "1" and s.bind_device == torch.device("cuda", 1)
        assert np.abs(s.sample(4).astype(int) - cpu_sampler.sample(4).astype(int)).max() <= 1

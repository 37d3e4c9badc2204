"""Provider selection from the session onnxruntime gives back (mocked sessions: no GPU here), the
preloading of CUDA libraries, deterministic settings, and the torch / onnxruntime version check."""
from __future__ import annotations

import logging
import os

import onnxruntime as ort
import pytest
import torch

from export import providers
from export.providers import CPU, CUDA
from train.device import DeviceError

# What onnxruntime-gpu 1.31.1 writes to stderr on a machine without CUDA 13 (captured here).
ORT_FAILURE = [
    "2026-12-01 23:10:24.960096389 [E:onnxruntime:Default, provider_bridge_ort.cc:2458 operator()] "
    "/onnxruntime_src/onnxruntime/core/session/provider_bridge_ort.cc:2043 onnxruntime::Provider& "
    "onnxruntime::ProviderLibrary::Get() [ONNXRuntimeError] : 1 : FAIL : Failed to load library "
    "/site-packages/onnxruntime/capi/libonnxruntime_providers_cuda.so with error: libcublasLt.so.13: "
    "cannot open shared object file: No such file or directory",
    "2026-12-01 23:10:24.960172622 [W:onnxruntime:Default, onnxruntime_pybind_state.cc:1295 "
    "CreateExecutionProviderFactoryInstance] Failed to create CUDAExecutionProvider. Require cuDNN 9.* and "
    "CUDA 13.*. Please install all dependencies as mentioned in the GPU requirements page",
]


class FakeSession:
    """Stands in for onnxruntime.InferenceSession: records what was asked for and runs on `runs_on`."""
    created: list = []
    runs_on = CUDA
    stderr = b""

    def __init__(self, model, so, providers):
        FakeSession.created.append((model, so, providers))
        asked_cuda = any((p[0] if isinstance(p, tuple) else p) == CUDA for p in providers)
        if asked_cuda and FakeSession.stderr:
            os.write(2, FakeSession.stderr)  # as the native library does when the provider fails to load
        self._providers = [CUDA, CPU] if asked_cuda and FakeSession.runs_on == CUDA else [CPU]
        self._options = {p[0]: p[1] for p in providers if isinstance(p, tuple)}

    def get_providers(self):
        return self._providers

    def get_provider_options(self):
        return {p: self._options.get(p, {}) for p in self._providers}


@pytest.fixture
def fake_ort(monkeypatch):
    """onnxruntime with a CUDA provider compiled in, sessions faked, preload_dlls recorded; fresh state."""
    for name, value in (("_cuda_failure", None), ("_preloaded", False), ("_versions_checked", False),
                        ("_said_cpu_fallback", False)):
        monkeypatch.setattr(providers, name, value)
    calls = []
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", CPU])
    monkeypatch.setattr(ort, "preload_dlls", lambda: calls.append(("preload", len(FakeSession.created))),
                        raising=False)
    monkeypatch.setattr(ort, "InferenceSession", FakeSession)
    monkeypatch.setattr(FakeSession, "created", [])
    monkeypatch.setattr(FakeSession, "runs_on", CUDA)
    monkeypatch.setattr(FakeSession, "stderr", b"")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # a CPU build of torch
    return calls


def _asked(entry) -> list[str]:
    return [p[0] if isinstance(p, tuple) else p for p in entry[2]]


def test_auto_runs_on_cuda_when_the_session_does_even_with_a_cpu_torch(fake_ort):
    sess = providers.open_session("g.onnx", "auto")
    assert sess.get_providers()[0] == CUDA
    (entry,) = FakeSession.created
    assert _asked(entry) == [CUDA, CPU]
    assert sess.get_provider_options()[CUDA] == {"device_id": "0", "use_tf32": "0"}
    assert fake_ort == [("preload", 0)]  # preloaded once, before the first CUDA session
    providers.open_session("g.onnx", "cuda")
    assert fake_ort == [("preload", 0)]


def test_failed_cuda_provider_falls_back_with_one_log_line_and_no_stderr(fake_ort, monkeypatch, caplog, capfd):
    monkeypatch.setattr(FakeSession, "runs_on", CPU)
    monkeypatch.setattr(FakeSession, "stderr", ("\n".join(ORT_FAILURE) + "\n").encode())
    with caplog.at_level(logging.INFO, logger="export.providers"):
        first = providers.open_session("g.onnx", "auto")
        second = providers.open_session("g.onnx", "auto")
    assert first.get_providers() == second.get_providers() == [CPU]
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert len(said) == 1 and "running on CPUExecutionProvider" in said[0] and "libcublasLt.so.13" in said[0]
    assert [_asked(e) for e in FakeSession.created] == [[CUDA, CPU], [CPU]]  # CUDA is not asked for twice
    assert "libcublasLt" not in capfd.readouterr().err  # onnxruntime's own lines went to the debug log


def test_cuda_without_a_working_provider_is_one_line_naming_the_cause(fake_ort, monkeypatch):
    monkeypatch.setattr(FakeSession, "runs_on", CPU)
    monkeypatch.setattr(FakeSession, "stderr", ("\n".join(ORT_FAILURE) + "\n").encode())
    with pytest.raises(DeviceError, match="device=cuda") as e:
        providers.open_session("g.onnx", "cuda")
    assert "libcublasLt.so.13" in str(e.value) and "\n" not in str(e.value)


def test_a_build_without_cuda_never_asks_for_it(fake_ort, monkeypatch):
    monkeypatch.setattr(ort, "get_available_providers", lambda: [CPU])
    assert providers.open_session("g.onnx", "auto").get_providers() == [CPU]
    assert [_asked(e) for e in FakeSession.created] == [[CPU]] and fake_ort == []
    with pytest.raises(DeviceError, match="has no CUDAExecutionProvider"):
        providers.open_session("g.onnx", "cuda")


def test_cpu_device_asks_for_the_cpu_only(fake_ort):
    assert providers.open_session("g.onnx", "cpu").get_providers() == [CPU]
    assert [_asked(e) for e in FakeSession.created] == [[CPU]] and fake_ort == []


def test_cuda_session_runs_on_the_device_torch_uses(fake_ort, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)
    monkeypatch.setattr(providers, "check_cuda_versions", lambda: None)
    sess = providers.cuda_session(b"model")
    assert sess.get_provider_options()[CUDA]["device_id"] == "1"


def test_deterministic_pins_the_conv_algorithm_and_deterministic_compute(fake_ort):
    providers.open_session("g.onnx", "auto", deterministic=True)
    _, so, asked = FakeSession.created[0]
    assert so.use_deterministic_compute is True
    assert dict([asked[0]])[CUDA]["cudnn_conv_algo_search"] == "DEFAULT"
    assert "cudnn_conv_algo_search" not in providers.cuda_provider_options(0, deterministic=False)
    assert providers.session_options().use_deterministic_compute is False


def test_failure_reason_reads_onnxruntime_stderr():
    assert providers.failure_reason(ORT_FAILURE) == ("libcublasLt.so.13: cannot open shared object file: No such "
                                                     "file or directory (Require cuDNN 9.* and CUDA 13.*)")
    assert "without saying why" in providers.failure_reason([])


def test_preload_output_goes_to_the_debug_log_not_stdout(fake_ort, monkeypatch, capsys, caplog):
    monkeypatch.setattr(ort, "preload_dlls", lambda: print("Failed to load libcublasLt.so.13: cannot open"))
    with caplog.at_level(logging.DEBUG, logger="export.providers"):
        providers.open_session("g.onnx", "auto")
    assert capsys.readouterr().out == ""
    assert any("libcublasLt" in r.getMessage() and r.levelno == logging.DEBUG for r in caplog.records)


@pytest.mark.parametrize("torch_cuda, torch_cudnn, ort_cuda, ort_cudnn, needle", [
    ("12.8", 90100, "13.0", 9, "CUDA 12.8"),
    ("13.0", 8902, "13.0", 9, "cuDNN 8"),
    ("13.0", 91900, "13.0", 9, None),
    ("13.2", 92000, "13.0", 9, None),       # minor versions are compatible
    (None, None, "13.0", 9, None),          # a CPU build of torch: nothing to compare
])
def test_cuda_mismatch_names_each_major_version_difference(torch_cuda, torch_cudnn, ort_cuda, ort_cudnn, needle):
    got = providers.cuda_mismatch(torch_cuda, torch_cudnn, ort_cuda, ort_cudnn)
    assert (got is None) if needle is None else (needle in got)


def test_version_mismatch_is_warned_once(fake_ort, monkeypatch, caplog):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.version, "cuda", "12.8")
    monkeypatch.setattr(torch.backends.cudnn, "version", lambda: 90100)
    monkeypatch.setattr(providers, "build_info", lambda: {"distribution": "onnxruntime-gpu", "version": "1.31.1",
                                                          "cuda_version": "13.0", "cudnn_major": 9})
    with caplog.at_level(logging.WARNING, logger="export.providers"):
        assert "CUDA 12.8" in providers.check_cuda_versions()
        assert providers.check_cuda_versions() is None
    (record,) = caplog.records
    assert "onnxruntime-gpu 1.31.1" in record.getMessage() and "CUDA 13.0" in record.getMessage()


def test_the_installed_distribution_is_named():
    name, version = providers.distribution()
    assert version == ort.__version__ and name in providers.DISTRIBUTIONS
    info = providers.build_info()
    assert info["compiled_providers"] == ort.get_available_providers()
    if name == "onnxruntime-gpu":
        assert info["cuda_version"] and info["cudnn_major"] == 9  # from the wheel's nvidia-cudnn requirement

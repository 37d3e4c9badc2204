"""train.device: --device resolution and the TF32 switch (new fp32_precision API where it exists)."""
from __future__ import annotations

import pytest
import torch

from inkwash.cli import UserError
from train import device


def test_auto_is_the_cpu_without_a_gpu_and_cuda_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device.resolve_device("auto") == torch.device("cpu")
    with pytest.raises(device.DeviceError, match="--device cuda: no CUDA GPU"):
        device.resolve_device("cuda")
    with pytest.raises(UserError, match="unknown device"):
        device.resolve_device("tpu")


def test_tf32_uses_the_new_api_on_new_torch_and_restores_it():
    if not hasattr(torch.backends.cuda.matmul, "fp32_precision"):
        pytest.skip("torch < 2.9 has only the legacy allow_tf32 flags")
    before = (torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.conv.fp32_precision)
    with device.tf32(True):
        assert torch.backends.cuda.matmul.fp32_precision == "tf32" and device.tf32_enabled()
        with device.tf32(False):
            assert torch.backends.cudnn.conv.fp32_precision == "ieee" and not device.tf32_enabled()
    assert (torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.conv.fp32_precision) == before


def test_tf32_never_touches_the_legacy_flags_on_new_torch(monkeypatch):
    if not hasattr(torch.backends.cuda.matmul, "fp32_precision"):
        pytest.skip("torch < 2.9 has only the legacy allow_tf32 flags")
    touched = []
    monkeypatch.setattr(type(torch.backends.cudnn), "allow_tf32", property(lambda s: touched.append("get"),
                                                                             lambda s, v: touched.append("set")),
                        raising=False)
    with device.tf32(True):
        pass
    assert touched == []

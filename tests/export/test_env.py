"""python -m export env: the onnxruntime build, whether its CUDA provider starts, torch's CUDA."""
from __future__ import annotations

import json

import onnxruntime as ort
import torch

from export import env, providers
from export.__main__ import main


def test_env_json_names_the_installed_build_and_what_auto_runs_on(capsys):
    assert main(["env", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert (r["onnxruntime"]["distribution"], r["onnxruntime"]["version"]) == providers.distribution()
    assert r["onnxruntime"]["compiled_providers"] == ort.get_available_providers()
    assert r["torch"]["version"] == torch.__version__
    cuda = r["cuda_provider"]
    assert r["auto_runs_on"] == ("CUDAExecutionProvider" if cuda["starts"] else "CPUExecutionProvider")
    assert cuda["starts"] or cuda["reason"]  # a provider that does not start says why


def test_env_text_has_one_line_per_fact(capsys):
    assert main(["env"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split("  ")[0] for ln in lines[:5]] == ["onnxruntime", "compiled in", "CUDA provider",
                                                        "--device auto", "torch"]
    assert providers.describe_distribution() in lines[0]


class _CudaProbe:
    def __init__(self, fails: bool):
        self.fails = fails

    def run(self, outputs, feed):
        if self.fails:
            raise RuntimeError("CUDNN_STATUS_NOT_INITIALIZED\nmore")
        return [feed["x"]]

    def get_provider_options(self):
        return {"CUDAExecutionProvider": {"device_id": "0"}}


def test_a_provider_whose_first_run_fails_does_not_count_as_started(monkeypatch):
    monkeypatch.setattr(providers, "try_cuda", lambda model, name: (_CudaProbe(fails=True), None))
    status = env.cuda_status()
    assert status["starts"] is False and "first run fails: CUDNN_STATUS_NOT_INITIALIZED" in status["reason"]
    monkeypatch.setattr(providers, "try_cuda", lambda model, name: (_CudaProbe(fails=False), None))
    assert env.cuda_status() == {"starts": True, "reason": None, "options": {"device_id": "0"}}


def test_report_warns_when_torch_and_onnxruntime_cuda_differ(monkeypatch):
    monkeypatch.setattr(env, "cuda_status", lambda: {"starts": True, "reason": None, "options": {"device_id": "0"}})
    monkeypatch.setattr(env, "torch_status", lambda: {"version": "2.13.0+cu128", "cuda_build": "12.8", "cudnn": 91000,
                                                      "cuda_available": True, "devices": ["NVIDIA H100"]})
    monkeypatch.setattr(providers, "build_info", lambda: {"distribution": "onnxruntime-gpu", "version": "1.31.1",
                                                          "compiled_providers": ["CUDAExecutionProvider"],
                                                          "cuda_version": "13.0", "cudnn_major": 9})
    r = env.report()
    assert r["auto_runs_on"] == "CUDAExecutionProvider" and "CUDA 12.8" in r["cuda_mismatch"]
    text = env.format_report(r)
    assert "starts on device 0" in text and text.splitlines()[-1].startswith("warning")

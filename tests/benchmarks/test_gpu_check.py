"""benchmarks/gpu_check.py on a machine without a GPU: the dry run lists every piece, a real run
stops with one line."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"


def _run(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_dry_run_lists_every_piece_and_the_results_files():
    p = _run("--dry-run")
    assert p.returncode == 0, p.stderr
    names = [line.split()[0] for line in p.stdout.splitlines()]
    assert names == ["tests", "training", "sampling", "onnxruntime", "features", "ddp", "total"]
    assert "16,000" in p.stdout and "10000 images at 256 px" in p.stdout
    assert "gpu_check.{json,md}" in p.stdout


def test_dry_run_honours_only():
    p = _run("--dry-run", "--only", "sampling,ddp")
    assert [line.split()[0] for line in p.stdout.splitlines()] == ["sampling", "ddp", "total"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU: the real check would run")
def test_without_a_gpu_a_real_run_stops_with_one_line_and_writes_nothing(tmp_path):
    p = _run("--results", str(tmp_path))
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0 and "no CUDA GPU visible" in p.stderr
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_cpu_smoke_run_exercises_every_piece_and_writes_the_results(tmp_path):
    """The pieces' code paths (training, sampling, features) run at tiny sizes on the CPU, so the script
    works the first time a GPU is there."""
    import json
    p = _run("--device", "cpu", "--only", "training,sampling,onnxruntime,features", "--resolution", "64", "--batch-size", "4",
             "--warmup", "1", "--iters", "1", "--sample-n", "16", "--feature-images", "12", "--results", str(tmp_path), timeout=540)
    assert p.returncode == 0, p.stderr[-2000:]
    rows = json.loads((tmp_path / "gpu_check.json").read_text())["rows"]
    assert {r["piece"] for r in rows} == {"training", "sampling", "onnxruntime", "features"}
    assert all(not str(r["status"]).startswith("failed") for r in rows), rows
    assert "CPU smoke run" in (tmp_path / "gpu_check.md").read_text()

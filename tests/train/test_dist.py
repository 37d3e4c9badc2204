"""torchrun with 2 gloo CPU processes: rank 0 alone decodes the data, RNG states resume on another
process count, SIGTERM is handled within an iteration, not at a tick boundary."""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from train import checkpoint
from train.__main__ import main as train_main

REPO = Path(__file__).resolve().parents[2]
SMALL = ["--batch-size", "8", "--n-grid", "4", "--eval-n", "8", "--device", "cpu", "--quiet", "--no-diffaug"]


def _torchrun(tmp_path: Path, args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "INKWASH_CACHE": str(tmp_path / "cache")}
    return subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone",
                             "-m", "train", *args], env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def two_rank_run(tmp_path_factory, synthetic_images, write_images):
    """A 2-iteration run by 2 gloo processes on a folder of 10 files: (run folder, stderr)."""
    tmp = tmp_path_factory.mktemp("ddp")
    write_images(tmp / "data", synthetic_images(10, size=72))
    proc = _torchrun(tmp, ["--data", str(tmp / "data"), "--out", str(tmp / "runs"), "--name", "two", "--iters", "2",
                           "--tick", "1", *SMALL])
    _, err = proc.communicate(timeout=400)
    assert proc.returncode == 0, err[-3000:]
    return tmp / "runs" / "two", err


@pytest.mark.slow
@pytest.mark.timeout(500)
def test_rank0_alone_decodes_the_data_and_the_other_rank_reads_its_cache(two_rank_run):
    run_dir, err = two_rank_run
    assert "rank 0: data set of 10 images (10 files decoded here, 0 from the cache)" in err
    assert "rank 1: data set of 10 images (0 files decoded here, 10 from the cache)" in err
    assert "cache rank 0 wrote is not visible" not in err
    info = json.loads((run_dir / "run.json").read_text())
    assert info["world_size"] == 2 and len(set(info["rank_weight_digests"])) == 1


@pytest.mark.slow
@pytest.mark.timeout(500)
def test_a_two_process_checkpoint_resumes_on_one_process_reseeded_deterministically(two_rank_run, tmp_path, caplog):
    run_dir, _ = two_rank_run
    saved = checkpoint.load_checkpoint(run_dir / "checkpoints" / "latest.pt")
    assert len(saved["rng"]) == 2 and not torch.equal(saved["rng"][0]["torch"], saved["rng"][1]["torch"])
    weights = []
    for name in ("a", "b"):
        ckpt = tmp_path / name / "from.pt"
        ckpt.parent.mkdir()
        shutil.copy(run_dir / "checkpoints" / "latest.pt", ckpt)
        with caplog.at_level(logging.INFO, logger="train.state"):
            assert train_main(["--resume", str(ckpt), "--data", str(run_dir.parents[1] / "data"), "--out",
                               str(tmp_path / "runs"), "--name", name, "--iters", "3", "--tick", "1",
                               "--deterministic", *SMALL]) == 0
        weights.append(checkpoint.load_checkpoint(tmp_path / "runs" / name / "checkpoints" / "latest.pt"))
    assert caplog.text.count("RNG states saved by 2 process(es), running 1; reseeding rank 0") == 2
    assert weights[0]["iteration"] == weights[1]["iteration"] == 3
    for k, v in weights[0]["generator"].items():
        assert torch.equal(v, weights[1]["generator"][k]), k


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_sigterm_stops_both_ranks_at_the_next_iteration_with_a_checkpoint(tmp_path, synthetic_images, write_images):
    """torchrun forwards SIGTERM and kills about 30 s later: the ranks agree after every iteration,
    so the checkpoint holds the iteration under way when the signal came, not the next tick's."""
    write_images(tmp_path / "data", synthetic_images(6, size=64))
    run_dir = tmp_path / "runs" / "stop"
    proc = _torchrun(tmp_path, ["--data", str(tmp_path / "data"), "--out", str(tmp_path / "runs"), "--name", "stop",
                                "--iters", "100000", "--tick", "1000", "--ckpt-every", "1000", *SMALL])
    try:
        deadline = time.time() + 200
        while time.time() < deadline and proc.poll() is None and not (run_dir / "samples" / "grid_0000000.png").exists():
            time.sleep(0.2)
        time.sleep(3)  # a few iterations in
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)  # torchrun's own limit before it kills the ranks
    finally:
        proc.kill()
    done = {int(r): int(c) for r, c in re.findall(r"rank (\d): stop requested \(signal 15\) after iteration (\d+)", err)}
    assert set(done) == {0, 1}, err[-3000:]
    state = checkpoint.load_checkpoint(run_dir / "checkpoints" / "latest.pt")
    assert min(done.values()) <= state["iteration"] <= min(done.values()) + 1 < 1000, (done, state["iteration"])
    assert json.loads((run_dir / "run.json").read_text())["interrupted"] is True
    assert len(state["rng"]) == 2

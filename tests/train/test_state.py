"""train.state: per-rank RNG streams saved with this rank's CUDA state only, restored, or reseeded
deterministically when the process count changed."""
from __future__ import annotations

import logging
import random

import numpy as np
import torch

from train import config, dist, state


def test_rng_state_saves_only_the_ranks_own_gpu_stream(monkeypatch):
    asked = []

    def one_device(device=None):
        asked.append(device)
        return torch.full((16,), 7, dtype=torch.uint8)

    def every_device():
        raise AssertionError("every visible GPU's state: fails on resume with fewer GPUs")

    monkeypatch.setattr(torch.cuda, "get_rng_state", one_device)
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", every_device)
    saved = state.rng_state(torch.device("cuda", 3))
    assert asked == [torch.device("cuda", 3)] and torch.equal(saved["cuda_device"], torch.full((16,), 7, dtype=torch.uint8))
    assert state.rng_state(torch.device("cpu"))["cuda_device"] is None


def test_set_rng_state_restores_the_cpu_numpy_and_python_streams():
    torch.manual_seed(1), np.random.seed(1), random.seed(1)
    saved = state.rng_state(torch.device("cpu"))
    first = (torch.rand(3), np.random.rand(3), random.random())
    state.seed_all(99)
    state.set_rng_state(saved, torch.device("cpu"))
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(first[0], again[0]) and np.array_equal(first[1], again[1]) and first[2] == again[2]


def test_set_rng_state_reads_the_old_every_gpu_format_for_its_own_device(monkeypatch):
    restored = []
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda s, device=None: restored.append((int(s[0]), device)))
    saved = state.rng_state(torch.device("cpu"))
    del saved["cuda_device"]
    saved["cuda"] = [torch.full((4,), k, dtype=torch.uint8) for k in range(2)]  # two GPUs were visible
    state.set_rng_state(saved, torch.device("cuda", 1))
    state.set_rng_state(saved, torch.device("cuda", 5))  # no saved state for a fifth GPU: left as seeded
    assert restored == [(1, torch.device("cuda", 1))]


def test_resume_with_another_process_count_reseeds_every_rank_deterministically(caplog):
    cfg = config.resolve({"preset": "demo", "seed": 4, "device": "cpu"})
    saved = [state.rng_state(torch.device("cpu")) for _ in range(2)]  # two ranks wrote this checkpoint
    draws = []
    for _ in range(2):
        with caplog.at_level(logging.INFO, logger="train.state"):
            state.seed_streams(cfg, dist.DistInfo(), {"rng": saved}, 40, torch.device("cpu"))
        draws.append(torch.rand(4))
    assert torch.equal(draws[0], draws[1])
    assert "RNG states saved by 2 process(es), running 1; reseeding rank 0 from seed 4 and iteration 40" in caplog.text
    state.set_rng_state(saved[0], torch.device("cpu"))  # same count: the saved stream continues
    expected = torch.rand(4)
    state.seed_streams(cfg, dist.DistInfo(), {"rng": saved[:1]}, 40, torch.device("cpu"))
    assert torch.equal(torch.rand(4), expected) and not torch.equal(expected, draws[0])

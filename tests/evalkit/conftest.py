"""evalkit fixtures: a random-weight FID Inception file with calibrated BatchNorm statistics (no
download), and a private cache/torch-hub location for every test. Images come from the shared
`synthetic_images` / `write_images` fixtures of tests/conftest.py."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from evalkit import inception


@pytest.fixture(scope="session")
def inception_weights(tmp_path_factory, synthetic_images) -> Path:
    """A .pth in the official key layout: random weights, BN statistics calibrated on 10 images."""
    calib = synthetic_images(10, size=48, seed=123, style=0.5)
    state = inception.random_state_dict(calib, seed=0)
    path = tmp_path_factory.mktemp("inception") / "random-inception.pth"
    torch.save(state, path)
    return path


@pytest.fixture(autouse=True)
def _private_caches(tmp_path, monkeypatch):
    # No test reads or writes the user's caches or an official weights file.
    monkeypatch.setenv("INKWASH_CACHE", str(tmp_path / "inkwash-cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.delenv("EVALKIT_INCEPTION_WEIGHTS", raising=False)

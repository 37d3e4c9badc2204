"""Fixtures for the export tests: tiny 64 px run folders with real checkpoints, and their exports.

The run folders hold a paper-architecture generator after a few real optimiser steps (train mode,
so BatchNorm running statistics are not their defaults), saved by train.checkpoint.save_checkpoint
in the run-folder format of CONTRACTS.md.
"""
from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
import torch

from train import checkpoint, models

CLASS_NAMES = ["bamboo", "lotus", "plum"]


def make_tiny_run(root: Path, name: str = "tiny", ema: bool = True, num_classes: int = 0,
                  steps: int = 2, seed: int = 0) -> Path:
    """Write runs-style folder root/name with checkpoints/latest.pt after `steps` WGAN steps at 64 px."""
    torch.manual_seed(seed)
    gen, critic = models.build("paper", 64, 100, num_classes, "layer")
    opt_g = torch.optim.Adam(gen.parameters(), 1e-3, betas=(0.5, 0.9))
    opt_d = torch.optim.Adam(critic.parameters(), 1e-3, betas=(0.5, 0.9))
    gen_ema = copy.deepcopy(gen).eval() if ema else None
    real = torch.rand(2, 3, 64, 64) * 2 - 1
    y = torch.arange(2) % num_classes if num_classes else None
    for _ in range(steps):
        # Critic step.
        fake = gen(torch.randn(2, 100), y).detach()
        loss_d = critic(fake, y).mean() - critic(real, y).mean()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        # Generator step.
        loss_g = -critic(gen(torch.randn(2, 100), y), y).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        if gen_ema is not None:
            with torch.no_grad():
                for pe, p in zip(gen_ema.parameters(), gen.parameters()):
                    pe.lerp_(p, 0.5)
                for be, b in zip(gen_ema.buffers(), gen.buffers()):
                    be.copy_(b)
    run = Path(root) / name
    state = {
        "model": {"name": "paper", "resolution": 64, "latent_dim": 100, "num_classes": num_classes,
                  "critic_norm": "layer", "class_names": CLASS_NAMES[:num_classes]},
        "config": {"preset": "test", "model": "paper", "resolution": 64, "iters": steps, "seed": seed},
        "generator": gen.state_dict(), "critic": critic.state_dict(),
        "generator_ema": gen_ema.state_dict() if gen_ema is not None else None,
        "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(), "iteration": steps,
    }
    checkpoint.save_checkpoint(run / "checkpoints" / "latest.pt", state)
    return run


@pytest.fixture(scope="session")
def _tiny_run_master(tmp_path_factory) -> Path:
    return make_tiny_run(tmp_path_factory.mktemp("runs"), "master")


@pytest.fixture
def tiny_run(tmp_path: Path, _tiny_run_master: Path) -> Path:
    """A 64 px unconditional run folder with EMA weights in its checkpoint (trained once per session,
    copied per test)."""
    return Path(shutil.copytree(_tiny_run_master, tmp_path / "tiny"))


@pytest.fixture(scope="session")
def exported(tmp_path_factory, _tiny_run_master: Path) -> Path:
    """A tiny run (EMA) exported once for the session, fp32 and fp16: returns the run folder."""
    from export.onnx_export import export_run
    run = Path(shutil.copytree(_tiny_run_master, tmp_path_factory.mktemp("runs") / "exported"))
    export_run(run, fp16=True)
    return run


@pytest.fixture(scope="session")
def exported_cond(tmp_path_factory) -> Path:
    """A tiny 3-class conditional run without EMA weights, exported once (fp32): returns the run folder."""
    from export.onnx_export import export_run
    run = make_tiny_run(tmp_path_factory.mktemp("runs"), "cond", ema=False, num_classes=3)
    export_run(run)
    return run

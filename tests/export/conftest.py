"""Fixtures for the export tests: tiny 64 px runs trained by the real training code (tests/conftest.py's
`run_factory`), and their exports."""
from __future__ import annotations

from pathlib import Path

import pytest

CLASS_NAMES = ["class0", "class1", "class2"]  # the subfolders run_factory writes for classes=3
# EMA at decay 0.5 after a few Adam steps at 1e-3, so the EMA and the raw weights give different images.
EMA_RUN = dict(ema=True, ema_decay=0.5, lr_g=1e-3, lr_d=1e-3, iters=3)


@pytest.fixture
def tiny_run(run_factory) -> Path:
    """A 64 px unconditional run folder with EMA weights in its checkpoint (trained once per session,
    copied per test)."""
    return run_factory("tiny", **EMA_RUN)


@pytest.fixture(scope="session")
def exported(run_factory) -> Path:
    """A tiny run (EMA) exported once for the session, fp32 and fp16: returns the run folder."""
    from export.onnx_export import export_run
    run = run_factory("exported", **EMA_RUN)
    export_run(run, fp16=True)
    return run


@pytest.fixture(scope="session")
def exported_cond(run_factory) -> Path:
    """A tiny 3-class conditional run without EMA weights, exported once (fp32): returns the run folder."""
    from export.onnx_export import export_run
    run = run_factory("cond", classes=3, n_images=9, ema=False)
    export_run(run)
    return run

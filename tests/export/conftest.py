"""Fixtures for the export tests: tiny 64 px runs trained by the real training code (tests/conftest.py's
`run_factory`), and their exports."""
from __future__ import annotations

import os
import subprocess
import sys
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


# `python -m export ARGV` with every os.replace made a rendezvous: replace number k waits until the
# other process has reached its replace number k too. Two such processes doing the same work are
# then inside the same atomic write at the same moment, so a fixed temp name would make one of them
# fail (its temp file renamed away by the other), while unique temp names let both finish.
LOCKSTEP = r"""
import atexit, itertools, os, sys, time
from pathlib import Path
sync, turns, real_replace = Path(sys.argv[1]), itertools.count(), os.replace
atexit.register(lambda: (sync / f"exit-{os.getpid()}").touch())
def replace(src, dst, *args, **kwargs):
    k = next(turns)
    (sync / f"{k}-{os.getpid()}").touch()
    deadline = time.monotonic() + 300
    while len(list(sync.glob(f"{k}-*"))) < 2:
        if list(sync.glob("exit-*")) or time.monotonic() > deadline:
            raise RuntimeError(f"the other process ended or stalled before its replace number {k}")
        time.sleep(0.005)
    return real_replace(src, dst, *args, **kwargs)
os.replace = replace
from export.__main__ import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.fixture
def lockstep(tmp_path):
    """run(argv) -> [(exit code, stderr)] of two `python -m export ARGV` processes whose atomic writes
    happen together, turn by turn (LOCKSTEP). Only for work without worker processes (their replaces
    would not pair up)."""
    root = Path(__file__).resolve().parents[2]

    def run(argv: list[str]) -> list[tuple[int, str]]:
        sync = tmp_path / "lockstep"
        sync.mkdir()
        logs = [tmp_path / f"lockstep-{i}.err" for i in range(2)]
        procs = [subprocess.Popen([sys.executable, "-c", LOCKSTEP, str(sync), *argv], cwd=root,
                                  stdout=subprocess.DEVNULL, stderr=log.open("w"),
                                  env={**os.environ, "PYTHONPATH": str(root)}) for log in logs]
        codes = [p.wait(timeout=600) for p in procs]
        return [(code, log.read_text()) for code, log in zip(codes, logs)]
    return run

"""train.decode's worker pool: the README's loader example in a plain script and from stdin, workers
that never import torch or the caller's __main__, and the in-process fallback of a broken pool."""
from __future__ import annotations

import json
import logging
import multiprocessing
import multiprocessing.forkserver
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from train import decode
from train.data import load_folder

REPO = Path(__file__).resolve().parents[2]

# A user's script as the README shows it: torch imported first, no `if __name__ == "__main__":` guard.
USER_SCRIPT = """
import json, sys
import torch
print("top-level code ran", flush=True)
from train.data import load_folder
ds = load_folder({folder!r}, 32, labels=True, amplify_to=21, workers=2)
from train.decode import worker_pool
with worker_pool(2, "train.decode") as ex:
    seen = ex.submit(eval, "[m for m in ('torch', 'train.data') if m in __import__('sys').modules] + "
                           "[getattr(__import__('sys').modules['__main__'], '__file__', None)]").result()
print(json.dumps({{"n": len(ds), "shape": list(ds.images.shape), "workers": ds.timing["workers"],
                  "classes": ds.class_names, "worker_modules": seen}}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("how", ["script", "stdin"])
def test_readme_loader_example_runs_in_a_plain_script_and_from_stdin(how, tmp_path, synthetic_images, write_images):
    folder = tmp_path / "patterns"
    for k, cls in enumerate(("florals", "stripes")):
        write_images(folder / cls, synthetic_images(6, size=48, seed=k))  # 12 files: the pool path
    code = USER_SCRIPT.format(folder=str(folder))
    env = {**os.environ, "PYTHONPATH": str(REPO), "INKWASH_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    if how == "script":
        (tmp_path / "load.py").write_text(code)
        proc = subprocess.run([sys.executable, str(tmp_path / "load.py")], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)
    else:
        proc = subprocess.run([sys.executable, "-"], input=code, env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert lines.count("top-level code ran") == 1  # no worker re-ran the script
    out = json.loads(lines[-1])
    assert out["n"] == 21 and out["shape"] == [21, 3, 32, 32] and out["classes"] == ["florals", "stripes"]
    assert out["workers"] == 2 and "worker processes failed" not in proc.stderr  # decoded by the pool
    assert out["worker_modules"] == [None]  # neither torch nor the caller's script in a worker


def _dying_pool(workers: int, preload: str, method: str | None = None) -> decode.WorkerPool:
    """A real pool whose every worker exits as it starts: map raises BrokenProcessPool."""
    ctx = multiprocessing.get_context(method or decode.start_method())
    return decode.WorkerPool(max_workers=workers, mp_context=ctx, initializer=os._exit, initargs=(3,))


@pytest.mark.slow
def test_a_broken_pool_falls_back_to_this_process_with_one_warning(tmp_path, monkeypatch, caplog, synthetic_images,
                                                                   write_images):
    write_images(tmp_path / "patterns", synthetic_images(10, size=40))
    one = load_folder(tmp_path / "patterns", 32, workers=1, cache=False, progress=False)
    monkeypatch.setattr(decode, "worker_pool", _dying_pool)
    with caplog.at_level(logging.WARNING):
        broken = load_folder(tmp_path / "patterns", 32, workers=2, cache=False, progress=False)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "BrokenProcessPool" in warnings[0].getMessage(), caplog.text
    assert "remaining 10 of 10 jobs in this process" in warnings[0].getMessage()
    assert np.array_equal(one.images_u8, broken.images_u8) and one.report == broken.report
    assert broken.timing["workers"] == 1


def test_parallel_map_keeps_job_order_and_reports_the_processes_used():
    jobs = [(v,) for v in (-3, 5, -7, 11)]
    assert decode.parallel_map(abs, jobs, 1, "train.decode") == ([3, 5, 7, 11], 1)
    assert decode.parallel_map(abs, jobs, 2, "train.decode", on_result=lambda r: None) == ([3, 5, 7, 11], 2)


def _forget_forkserver(fs) -> None:
    """Stop and forget this process's forkserver, so the next pool starts a fresh one. Its descriptor is
    left alone (lost already, or soon reused by a file that is not ours to close)."""
    pid = fs._forkserver_pid
    if pid is not None:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # reaped already: the pid is no longer ours to signal
            done = pid
        if not done:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    fs._forkserver_pid = fs._forkserver_alive_fd = fs._forkserver_address = None


@pytest.mark.skipif(os.name != "posix", reason="the forkserver start method exists on POSIX only")
def test_a_lost_forkserver_is_given_up_for_spawn_and_the_pool_still_runs(monkeypatch, caplog):
    # What a CI run saw: the process's forkserver descriptor lost (OSError: Bad file descriptor,
    # then Connection refused on every later pool). The pool must still run, on spawned workers.
    monkeypatch.setattr(decode, "_forkserver_failed", None)
    jobs = [(v,) for v in (-3, 5, -7, 11)]
    fs = multiprocessing.forkserver._forkserver
    _forget_forkserver(fs)  # start from a fresh server, whatever earlier tests left
    assert decode.parallel_map(abs, jobs, 2, "train.decode") == ([3, 5, 7, 11], 2)
    assert fs._forkserver_alive_fd is not None  # that pool ran on the forkserver
    os.close(fs._forkserver_alive_fd)
    try:
        with caplog.at_level(logging.INFO, logger="train.decode"):
            assert decode.parallel_map(abs, jobs, 2, "train.decode") == ([3, 5, 7, 11], 2)
        assert decode.start_method() == "spawn" and decode._forkserver_failed  # why, kept for the process
        notes = [r.getMessage() for r in caplog.records if r.name == "train.decode"]
        assert len(notes) == 1 and "start by spawn from now on" in notes[0], notes
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert decode.parallel_map(abs, jobs, 2, "train.decode") == ([3, 5, 7, 11], 2)  # spawn straight away
    finally:
        _forget_forkserver(fs)

"""Helpers the study benchmarks share: procedural pattern folders, a study server started and
stopped as `python -m study_app`, and the server's CPU and memory read from /proc."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def write_patterns(folder: Path, n: int, size: int, noise: float, seed: int) -> None:
    """`n` procedural stripe patterns of `size` px with Gaussian grain of SD `noise` (grey levels)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    y, x = np.mgrid[0:size, 0:size]
    for i in range(n):
        f = rng.uniform(0.05, 0.3, 3)
        base = 140 + 90 * np.sin(x[..., None] * f + y[..., None] * f[::-1] + rng.uniform(0, 6, 3))
        a = np.clip(base + rng.normal(0, noise, (size, size, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(a).save(folder / f"p{i:03d}.png")


def start_server(url: str, study: str, port: int, log_path: Path | None = None, env: dict | None = None,
                 wait_s: float = 90, verb: str = "serve") -> subprocess.Popen:
    """`python -m study_app VERB --db URL --study STUDY --port PORT` (serve: the respondents'
    server; analyst: the analyst's) in its own session, once healthy."""
    return start_streamlit(["study_app", verb, "--db", url, "--study", study, "--port", str(port),
                            "--address", "127.0.0.1"], port, log_path, env, wait_s, "the study server")


def start_streamlit(module_args: list[str], port: int, log_path: Path | None = None, env: dict | None = None,
                    wait_s: float = 90, what: str = "the server") -> subprocess.Popen:
    """`python -m MODULE ARGS...` serving Streamlit on `port`, in its own session, once /_stcore/health
    answers (the study's servers here, the design studio in benchmarks/_studio.py)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL
    p = subprocess.Popen([sys.executable, "-m", *module_args], cwd=ROOT, env=env,
                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + wait_s
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok":
                return p
        except OSError:
            time.sleep(0.5)
        if p.poll() is not None:
            raise RuntimeError(f"{what} on port {port} exited; see {log_path or 'its output'}")
    stop_server(p)
    raise RuntimeError(f"{what} on port {port} did not come up in {wait_s:.0f} s")


def stop_server(p: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 15 s."""
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


class ProcMonitor:
    """CPU and RSS of server processes from /proc, sampled every `every` seconds."""

    def __init__(self, pids: list[int], every: float = 0.5):
        self.pids, self.every = pids, every
        self.tick = os.sysconf("SC_CLK_TCK")
        self.samples: list[tuple[float, float, float]] = []    # (time, cpu seconds, rss MiB)
        self._task = None

    def _read(self) -> tuple[float, float]:
        cpu = rss = 0.0
        for pid in self.pids:
            try:
                stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                cpu += (int(stat[11]) + int(stat[12])) / self.tick
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1]) / 1024
            except (FileNotFoundError, ProcessLookupError, IndexError):
                pass
        return cpu, rss

    async def _run(self):
        while True:
            cpu, rss = self._read()
            self.samples.append((time.perf_counter(), cpu, rss))
            await asyncio.sleep(self.every)

    def start(self):
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> dict:
        self._task.cancel()
        cpu, rss = self._read()
        self.samples.append((time.perf_counter(), cpu, rss))
        t = np.array([s[0] for s in self.samples])
        c = np.array([s[1] for s in self.samples])
        r = np.array([s[2] for s in self.samples])
        wall = t[-1] - t[0]
        # CPU % over 2 s windows (100 % = one core busy).
        win = [100 * (c[j] - c[i]) / (t[j] - t[i]) for i in range(len(t))
               for j in [int(np.searchsorted(t, t[i] + 2.0))] if j < len(t) and t[j] > t[i]]
        return {"server_cpu_s": round(float(c[-1] - c[0]), 2),
                "server_cpu_mean_pct": round(float(100 * (c[-1] - c[0]) / wall), 1) if wall else None,
                "server_cpu_peak_2s_pct": round(float(max(win)), 1) if win else None,
                "server_rss_start_mib": round(float(r[0]), 1),
                "server_rss_peak_mib": round(float(r.max()), 1),
                "server_rss_end_mib": round(float(r[-1]), 1)}

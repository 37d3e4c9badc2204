"""What the studio's benchmark and screenshot share: a studio server started as `python -m export studio`
and stopped, and Debian's Chromium driven by Playwright (the flags CI uses)."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_studio(paths: list[Path], store: Path, port: int, log_path: Path | None = None,
                 wait_s: float = 120) -> subprocess.Popen:
    """`python -m export studio PATHS --store STORE --port PORT --device cpu`, once healthy."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL
    p = subprocess.Popen([sys.executable, "-m", "export", "studio", *map(str, paths), "--store", str(store),
                          "--port", str(port), "--device", "cpu"], cwd=ROOT, env=env, stdout=out,
                         stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + wait_s
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok":
                return p
        except OSError:
            time.sleep(0.5)
        if p.poll() is not None:
            raise RuntimeError(f"the studio on port {port} exited; see {log_path or 'its output'}")
    stop_studio(p)
    raise RuntimeError(f"the studio on port {port} did not come up in {wait_s:.0f} s")


def stop_studio(p: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 15 s."""
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def grid_loaded(page, n: int, timeout_ms: float = 120_000, after: list[str] | None = None) -> list[str]:
    """Wait until the grid shows n decoded tile images whose sources differ from `after`; returns them."""
    old = after or []
    page.wait_for_function(
        """([n, old]) => { const imgs = [...document.querySelectorAll('[class*="st-key-tile_"] img')]
               .filter(i => !i.closest('[data-stale="true"]'));
             return imgs.length === n && imgs.every(i => i.complete && i.naturalWidth > 0)
                    && !imgs.some(i => old.includes(i.src)); }""", arg=[n, old], timeout=timeout_ms)
    return page.eval_on_selector_all('[class*="st-key-tile_"] img', "els => els.map(e => e.src)")


def button(page, key_prefix: str):
    """The button of the (not stale) widget whose key starts with `key_prefix`."""
    return page.locator(f'[class*="st-key-{key_prefix}"]:not([data-stale="true"]) button').first

"""What the studio's benchmark and screenshot share: a studio server started as `python -m export studio`
and stopped, and Debian's Chromium driven by Playwright (the flags CI uses)."""
from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

from benchmarks._study_server import start_streamlit, stop_server

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
    return start_streamlit(["export", "studio", *map(str, paths), "--store", str(store), "--port", str(port),
                            "--device", "cpu"], port, log_path, None, wait_s, "the studio")


stop_studio = stop_server   # SIGTERM, then SIGKILL after 15 s


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

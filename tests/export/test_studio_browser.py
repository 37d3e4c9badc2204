"""A designer in real Chromium: open the studio on a tiny exported model, favourite two tiles, ask for more
like them, open one, download its design sheet and find it byte-identical to `python -m export design`
run with the command the page shows; models that cannot be used, and a folder without any, are one
message on the page.

Drives Debian's Chromium through Playwright against `python -m export studio` on a free loopback port.
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks._study_server import start_streamlit, stop_server
from export.__main__ import main as export_main

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
WAIT_MS = 300_000     # a design sheet on a busy 2-core machine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def serve(tmp_path):
    """(paths) -> base URL of `python -m export studio PATHS` (stopped after the test)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} missing; install Debian's chromium (tests/services.sh)")
    procs = []

    def start(paths: list[Path]) -> str:
        port = _free_port()
        procs.append(start_streamlit(["export", "studio", *map(str, paths), "--port", str(port),
                                      "--store", str(tmp_path / "desks"), "--device", "cpu"], port,
                                     log_path=tmp_path / f"studio_{port}.log", wait_s=120, what="the studio"))
        return f"http://127.0.0.1:{port}"
    yield start
    for proc in procs:
        stop_server(proc)


@pytest.fixture
def models(run_factory, tmp_path) -> Path:
    """A folder with a tiny model exported by `python -m export onnx` (demo/), a copy changed after its
    export (x_changed/) and a file that is no ONNX at all (y_corrupt/)."""
    run = run_factory("studio", ema=True, ema_decay=0.5, lr_g=1e-3, lr_d=1e-3, iters=3)
    folder = tmp_path / "models"
    assert export_main(["onnx", str(run), "--out", str(folder / "demo")]) == 0
    shutil.copytree(folder / "demo", folder / "x_changed")
    changed = folder / "x_changed" / "generator.onnx"
    changed.write_bytes(changed.read_bytes()[:-16] + bytes(16))
    (folder / "y_corrupt").mkdir()
    (folder / "y_corrupt" / "generator.onnx").write_bytes(b"these are not the bytes of a model" * 40)
    return folder


def _button(page, key_prefix: str):
    return page.locator(f'[class*="st-key-{key_prefix}"]:not([data-stale="true"]) button').first


def _grid(page, n: int, old: list[str] | None = None) -> list[str]:
    """Wait for n decoded tiles whose sources are new; returns the recipes under them."""
    page.wait_for_function(
        """([n, old]) => { const imgs = [...document.querySelectorAll('[class*="st-key-tile_"] img')]
               .filter(i => !i.closest('[data-stale="true"]'));
             return imgs.length === n && imgs.every(i => i.complete && i.naturalWidth > 0)
                    && !imgs.some(i => old.includes(i.src)); }""", arg=[n, old or []], timeout=WAIT_MS)
    return page.eval_on_selector_all('[class*="st-key-tile_"] img', "els => els.map(e => e.src)")


def _recipes(page) -> list[str]:
    return [t.strip() for t in page.locator('[data-testid="stMain"] [data-testid="stCaptionContainer"] code').all_inner_texts()]


def _pick_model(page, label_part: str) -> None:
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
    page.get_by_role("option").filter(has_text=label_part).first.click()


def test_a_designer_favourites_steers_and_leaves_with_the_command_lines_sheet(serve, models, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    base = serve([models])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100}, accept_downloads=True)
        page.set_default_timeout(WAIT_MS)
        page.goto(f"{base}/?desk=walk")
        first = _grid(page, 16)
        seeds = _recipes(page)
        assert len(seeds) == 16 and all(t.endswith(f"seed({k})") for k, t in enumerate(seeds))

        # Favourite tiles 2 and 9.
        for i in (2, 9):
            _button(page, f"tile_fav_{i}_").click()
            expect(page.locator(f'[class*="st-key-tile_fav_{i}_"] button[kind="primary"]').first).to_be_visible(
                timeout=WAIT_MS)
        desk = json.loads((tmp_path / "desks" / "walk.json").read_text())
        assert desk["favourites"] == [seeds[2], seeds[9]]

        # More like these: 16 new tiles drawn around the two.
        page.get_by_text("More like these", exact=True).click()
        _grid(page, 16, old=first)
        around = _recipes(page)
        assert all("around(seed(2),seed(9);spread=0.5,draw=" in t for t in around) and len(set(around)) == 16

        # Open the fourth proposal and download its design sheet.
        _button(page, "tile_open_3_").click()
        page.get_by_role("button", name="Design sheet PDF").wait_for()
        expect(page.locator('[data-testid="stCode"]').first).to_contain_text(around[3], timeout=WAIT_MS)
        command = page.locator('[data-testid="stCode"]').nth(1).inner_text().strip()
        with page.expect_download(timeout=WAIT_MS) as dl:
            page.get_by_role("button", name="Design sheet PDF").click()
        download = dl.value
        pdf = Path(download.path()).read_bytes()
        name = download.suggested_filename
        browser.close()

    # The same sheet from the command line the page showed (DIR = a fresh folder), byte for byte.
    assert command.startswith("python -m export design generator.onnx --out DIR --recipe ")
    out = tmp_path / "cli"
    argv = [str(models / "demo" / "generator.onnx") if w == "generator.onnx" else str(out) if w == "DIR" else w
            for w in shlex.split(command)]
    done = subprocess.run([sys.executable, *argv[1:], "--quiet", "--device", "cpu"], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=WAIT_MS / 1000)
    assert done.returncode == 0, done.stderr
    assert pdf.startswith(b"%PDF") and (out / name).read_bytes() == pdf


def _one_error(page, words: str) -> None:
    from playwright.sync_api import expect
    alert = page.locator('[data-testid="stAlertContentError"]')
    expect(alert.filter(has_text=words)).to_have_count(1, timeout=WAIT_MS)
    expect(alert).to_have_count(1)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[class*="st-key-tile_"] img').count() == 0


def test_models_that_cannot_be_used_and_an_empty_folder_are_one_message_each(serve, models, tmp_path):
    from playwright.sync_api import sync_playwright

    empty = tmp_path / "nothing_here"
    empty.mkdir()
    base, bare = serve([models]), serve([empty])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(WAIT_MS)
        page.goto(base)
        _grid(page, 16)
        _pick_model(page, "x_changed")
        _one_error(page, "SHA-256 does not match its sidecar")
        _pick_model(page, "y_corrupt")
        _one_error(page, "not a usable ONNX model")
        page.goto(bare)
        _one_error(page, "No exported models under")
        browser.close()

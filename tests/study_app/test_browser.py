"""A respondent in real Chromium: consent, demographics, 50 answers with a reload in the middle.

Drives Debian's Chromium through Playwright against `python -m study_app` on a free loopback port
with a temporary SQLite database. Set STUDY_SCREENSHOTS_DIR to save a screenshot of every page.
"""
from __future__ import annotations

import hashlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from study_app.store import Store

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
MEDIA_RE = re.compile(r"/media/[0-9a-f]+\.png")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(base: str, proc: subprocess.Popen, seconds: float = 60) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {proc.stdout.read()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                if r.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("server did not become healthy in time")


@pytest.fixture
def server(study, sqlite_url):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} missing; install Debian's chromium (tests/services.sh)")
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "study_app", "--db", sqlite_url, "--study",
                             study["name"], "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, proc)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _shot(page, name: str) -> None:
    out = os.environ.get("STUDY_SCREENSHOTS_DIR")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(out) / f"{name}.png"), full_page=True)


def _trial_state(page) -> tuple[str, str]:
    """The current trial's image URL and the main block's HTML with that URL and digits masked,
    read until two reads 100 ms apart agree (the page has settled)."""
    last = None
    for _ in range(20):
        now = _read_trial(page)
        if now == last:
            break
        last = now
        page.wait_for_timeout(100)
    return last


def _read_trial(page) -> tuple[str, str]:
    src = page.locator('[data-testid="stImage"] img').first.get_attribute("src")
    # Leftovers of the previous run (data-stale) were compared on their own trial; drop them.
    html = page.locator('[data-testid="stMainBlockContainer"]').evaluate(
        "el => { const c = el.cloneNode(true);"
        " c.querySelectorAll('[data-stale=\"true\"]').forEach(e => e.remove()); return c.innerHTML; }")
    html = re.sub(r'id="react-aria[^"]*"', "", MEDIA_RE.sub("IMG", html))   # per-render ids
    return src, re.sub(r"\d+", "N", html)


def test_respondent_completes_study_in_chromium_with_reload(server, study, sqlite_url):
    from playwright.sync_api import expect, sync_playwright

    store = Store(sqlite_url)
    images = store.images_frame(study["name"]).set_index("image_id")
    ids_and_paths = list(images.index) + list(images["path"])
    answers, shown = {}, {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1000, "height": 1100})
        page.set_default_timeout(30_000)
        page.goto(server)

        # Consent.
        page.get_by_role("button", name="I agree").wait_for()
        _shot(page, "consent")
        page.get_by_role("button", name="I agree").click()

        # Demographics: an empty submit is refused with messages, then the form is filled.
        page.get_by_text("A few questions about you").wait_for()
        _shot(page, "demographics")
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_text("Please choose your age band.")).to_be_visible()
        expect(page.get_by_text("Please complete the answers marked in red.")).to_be_visible()
        _shot(page, "demographics_validation")
        page.get_by_text("Female", exact=True).click()
        page.locator('[data-testid="stSelectbox"] input').click()
        page.keyboard.type("21-30")
        page.keyboard.press("Enter")
        expect(page.get_by_role("combobox", name="Age")).to_have_value("21-30")
        page.get_by_text("Yes", exact=True).click()
        page.get_by_label("Your background in a few words").fill("Textile design student")
        page.get_by_role("button", name="Continue").click()

        # Instructions.
        page.get_by_role("button", name="Start").wait_for()
        assert "pid=" in page.url
        _shot(page, "instructions")
        page.get_by_role("button", name="Start").click()

        # 50 trials; reload after the 20th answer, which must resume at 21.
        bodies: dict[str, bytes] = {}

        def capture(route):   # keep every image's bytes exactly as the browser receives them
            response = route.fetch()
            bodies[MEDIA_RE.search(route.request.url).group(0)] = response.body()
            route.fulfill(response=response)

        page.route(MEDIA_RE, capture)
        src = None
        for k in range(1, 51):
            page.get_by_text(f"{k} of 50", exact=True).wait_for()
            for choice in ("real", "generated"):   # both buttons drawn before the page is read
                page.locator(f".st-key-answer_{k - 1}_{choice} button").wait_for()
            img = page.locator('[data-testid="stImage"] img').first
            if src is not None and k != 21:   # wait for the new image to replace the last one
                expect(img).not_to_have_attribute("src", src)
            src, masked = _trial_state(page)
            key = MEDIA_RE.search(src).group(0)
            img.evaluate("i => i.complete || new Promise(r => i.addEventListener('load', r))")
            shown[k - 1] = (src, masked, bodies[key])
            if k == 1:
                _shot(page, "trial")
            answer = "Real" if (k * 7) % 3 else "Generated"
            answers[k - 1] = answer.lower()
            # Buttons are keyed by trial index; a stale copy of the last trial may linger briefly.
            page.locator(f".st-key-answer_{k - 1}_{answer.lower()} button").click()
            if k == 20:
                page.get_by_text("21 of 50", exact=True).wait_for()
                page.reload()
        page.get_by_text("Thank you for taking part!").wait_for()
        expect(page.locator('[data-testid="stCode"]')).to_have_text(re.compile(r"\s*[A-Z2-9]{10}\s*"))
        code = page.locator('[data-testid="stCode"]').inner_text().strip()
        _shot(page, "thank_you")
        browser.close()

    # The database holds exactly the 50 answers given, each for the image that was shown.
    trials = store.trials_frame(study["name"])
    assert len(trials) == 50 and trials["trial_index"].tolist() == list(range(50))
    assert trials["answer"].tolist() == [answers[i] for i in range(50)]
    assert trials["is_generated"].sum() == 25 and (trials["kind"] == "main").all()
    for row in trials.itertuples():   # the recorded image (and so its class) is the one shown
        assert store.image_png(row.image_id) == shown[row.trial_index][2]
    served = {hashlib.sha256(shown[i][2]).digest(): i for i in range(50)}
    assert len(served) == 50   # 50 different images, each sent once per trial
    resp = store.respondents_frame(study["name"])
    assert resp["completion_code"].tolist() == [code]
    assert resp[["gender", "age_band", "background"]].values.tolist() == \
        [["female", "21-30", "Textile design student"]]
    assert (trials["response_ms"] > 0).all()

    # Nothing the browser saw gives the class away.
    assert len({len(b) for _, _, b in shown.values()}) == 1, "byte lengths differ"
    assert all(MEDIA_RE.fullmatch(src.split("?")[0].replace(server, "")) for src, _, _ in shown.values())
    assert len({m for _, m, _ in shown.values()}) == 1, "page source differs between trials"
    page_text = " ".join(m for _, m, _ in shown.values())
    assert not any(x in page_text for x in ids_and_paths)
    store.close()

"""A respondent in real Chromium: consent, demographics, 50 answers with a reload in the middle.

Drives Debian's Chromium through Playwright against `python -m study_app` on a free loopback port
with a temporary SQLite database. Set STUDY_SCREENSHOTS_DIR to save a screenshot of every page.
The integrity cases (double clicks, the viewing floor, stale tabs, a deleted database, CSV cells)
are in test_browser_integrity.py; the helpers a test shares with it are here.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

import pytest

from study_app.store import Store

pytestmark = [pytest.mark.browser, pytest.mark.slow]
IMAGE_RE = re.compile(r"images/[0-9a-f]{40}\.png")
UNLOCKED = ".trial button:not([aria-disabled])"


@pytest.fixture(scope="module")
def served(tmp_path_factory, study_template, serve) -> tuple[str, str, str]:
    """(base URL, database URL, study name) of a server on a copy of the template study."""
    db = tmp_path_factory.mktemp("served") / "study.db"
    shutil.copyfile(study_template[0], db)
    url = f"sqlite:///{db}"
    name = study_template[1]["name"]
    return serve(url, name), url, name


def shot(page, name: str) -> None:
    out = os.environ.get("STUDY_SCREENSHOTS_DIR")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(out) / f"{name}.png"), full_page=True)


def fill_form(page, background: str = "Textile design student", gender: str = "Female") -> None:
    """The demographics form, filled and submitted."""
    page.get_by_text(gender, exact=True).click()
    page.locator('[data-testid="stSelectbox"] input').click()
    page.keyboard.type("21-30")
    page.keyboard.press("Enter")
    page.get_by_text("Yes", exact=True).click()
    page.get_by_label(re.compile("Your background in a few words")).fill(background)
    page.get_by_role("button", name="Continue").click()


def to_first_trial(page, base: str, background: str = "Textile design student") -> str:
    """Consent, form and Start for a new respondent; returns their pid."""
    page.goto(base)
    page.get_by_role("button", name="I agree").click()
    page.get_by_text("A few questions about you").wait_for()
    fill_form(page, background)
    page.get_by_role("button", name="Start").click()
    page.locator(UNLOCKED).first.wait_for()
    return re.search(r"pid=([\w-]+)", page.url).group(1)


def trial_html(page) -> tuple[str, str]:
    """The trial's image URL and the main block's HTML (the trial component's shadow root
    included) with that URL and digits masked, read once the trial has settled (unlocked)."""
    page.locator(UNLOCKED).first.wait_for()
    src = page.locator(".trial img").get_attribute("src")
    html = page.locator('[data-testid="stMainBlockContainer"]').evaluate(
        "el => { const c = el.cloneNode(true);"
        " c.querySelectorAll('[data-stale=\"true\"]').forEach(e => e.remove()); return c.innerHTML; }")
    html += page.locator(".trial").evaluate("el => el.outerHTML")
    html = re.sub(r'id="react-aria[^"]*"', "", IMAGE_RE.sub("IMG", html))   # per-render ids
    return src, re.sub(r"\d+", "N", html)


def test_respondent_completes_study_in_chromium_with_reload(served, chromium):
    from playwright.sync_api import expect
    base, url, name = served
    store = Store(url)
    images = store.images_frame(name).set_index("image_id")
    ids_and_paths = list(images.index) + list(images["path"])
    answers, shown, bodies = {}, {}, {}
    page = chromium.new_context(viewport={"width": 1000, "height": 1100}).new_page()
    page.set_default_timeout(30_000)

    def capture(route):   # keep every image's bytes exactly as the browser receives them
        response = route.fetch()
        bodies[IMAGE_RE.search(route.request.url).group(0)] = response.body()
        route.fulfill(response=response)

    page.route(re.compile(r"/images/[0-9a-f]{40}\.png"), capture)
    page.goto(base)
    page.get_by_role("button", name="I agree").wait_for()
    shot(page, "consent")
    page.get_by_role("button", name="I agree").click()

    # Demographics: an empty submit is refused with messages, then the form is filled.
    page.get_by_text("A few questions about you").wait_for()
    shot(page, "demographics")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("Please choose your age band.")).to_be_visible()
    expect(page.get_by_text("Please complete the answers marked in red.")).to_be_visible()
    shot(page, "demographics_validation")
    fill_form(page)
    page.get_by_role("button", name="Start").wait_for()
    assert "pid=" in page.url
    shot(page, "instructions")
    page.get_by_role("button", name="Start").click()

    # 50 trials; reload after the 20th answer, which must resume at 21.
    for k in range(1, 51):
        page.get_by_text(f"{k} of 50", exact=True).wait_for()
        src, masked = trial_html(page)
        shown[k - 1] = (src, masked, bodies[src])
        if k == 1:
            shot(page, "trial")
        answer = "Real" if (k * 7) % 3 else "Generated"
        answers[k - 1] = answer.lower()
        page.locator(UNLOCKED).get_by_text(answer, exact=True).click()
        if k == 20:
            page.get_by_text("21 of 50", exact=True).wait_for()
            page.reload()
    page.get_by_text("Thank you for taking part!").wait_for()
    expect(page.locator('[data-testid="stCode"]')).to_have_text(re.compile(r"\s*[A-Z2-9]{10}\s*"))
    code = page.locator('[data-testid="stCode"]').inner_text().strip()
    shot(page, "thank_you")
    pid = re.search(r"pid=([\w-]+)", page.url).group(1)
    page.context.close()

    # The database holds exactly the 50 answers given, each for the image that was shown.
    rid = store.find_respondent(pid).id
    trials = store.trials_frame(name)
    trials = trials[trials["respondent_id"] == rid]
    assert len(trials) == 50 and trials["trial_index"].tolist() == list(range(50))
    assert trials["answer"].tolist() == [answers[i] for i in range(50)]
    assert trials["is_generated"].sum() == 25 and (trials["kind"] == "main").all()
    for row in trials.itertuples():   # the recorded image (and so its class) is the one shown
        assert store.image_png(row.image_id) == shown[row.trial_index][2]
    assert len({hashlib.sha256(shown[i][2]).digest() for i in range(50)}) == 50
    resp = store.respondents_frame(name).set_index("respondent_id").loc[rid]
    assert resp["completion_code"] == code
    assert [resp["gender"], resp["age_band"], resp["background"]] == ["female", "21-30", "Textile design student"]
    # Each time runs from the image on screen (browser) and is at least the viewing floor.
    assert (trials["response_ms"] >= 500).all() and (trials["server_ms"] >= trials["response_ms"]).all()

    # Nothing the browser saw gives the class away.
    assert len({len(b) for _, _, b in shown.values()}) == 1, "byte lengths differ"
    assert all(IMAGE_RE.fullmatch(src) for src, _, _ in shown.values())
    assert len({m for _, m, _ in shown.values()}) == 1, "page source differs between trials"
    page_text = " ".join(m for _, m, _ in shown.values())
    assert not any(x in page_text for x in ids_and_paths)
    store.close()

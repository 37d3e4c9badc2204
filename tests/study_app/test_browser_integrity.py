"""Every answer is the respondent's intent, in real Chromium (issue 15): a double click 150 or 400
ms apart stores one answer, an answer before the viewing floor is refused with a visible reason and
the floor is recorded, a stale tab cannot change demographics, a deleted database stops the study
with a plain page, and a background that is a spreadsheet formula is neutralised in every CSV.

Raw mouse clicks (page.mouse) go where a person's would, without Playwright's wait for an enabled
button, so clicks on locked buttons happen as they would.
"""
from __future__ import annotations

import importlib.util
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.engine import make_url

from study_app.__main__ import main as cli
from study_app.store import Store

pytestmark = [pytest.mark.browser, pytest.mark.slow]
_spec = importlib.util.spec_from_file_location("study_browser", Path(__file__).with_name("test_browser.py"))
B = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(B)
served = B.served
LOCKED_TEXT = "Please look at the pattern first: the buttons unlock 0.5 s after each image appears."


def _answers(url: str, pid: str) -> dict[int, str]:
    store = Store(url)
    try:
        rid = store.find_respondent(pid).id
        t = store.trials_frame(store.study_names()[0])
        t = t[t["respondent_id"] == rid]
        return dict(zip(t["trial_index"], t["answer"]))
    finally:
        store.close()


def _centre(page, label: str) -> tuple[float, float]:
    box = page.locator(".trial button").get_by_text(label, exact=True).bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


@pytest.mark.parametrize("gap_ms", [150, 400])
def test_a_double_click_stores_one_answer_and_the_second_click_says_why(gap_ms, served, chromium):
    base, url, _ = served
    page = chromium.new_context(viewport={"width": 1000, "height": 1000}).new_page()
    pid = B.to_first_trial(page, base)
    x, y = _centre(page, "Generated")
    page.mouse.click(x, y)
    page.wait_for_timeout(gap_ms)
    page.mouse.click(x, y)                          # the second click of the double click
    page.get_by_text("2 of 50", exact=True).wait_for()
    page.locator(B.UNLOCKED).first.wait_for()       # the next trial on screen and unlocked
    page.wait_for_timeout(300)
    assert _answers(url, pid) == {0: "generated"}   # trial 2 was not answered by the second click
    page.context.close()


def test_an_answer_before_the_viewing_floor_is_refused_visibly_and_the_floor_recorded(served, chromium, tmp_path):
    base, url, name = served
    page = chromium.new_context(viewport={"width": 1000, "height": 1000}).new_page()
    pid = B.to_first_trial(page, base)
    page.locator(B.UNLOCKED).get_by_text("Real", exact=True).click()
    page.get_by_text("2 of 50", exact=True).wait_for()
    x, y = _centre(page, "Real")
    page.mouse.click(x, y)                          # at once: the new image has just appeared
    hint = page.locator(".trial .hint")
    assert hint.inner_text() in (LOCKED_TEXT, "The image is still loading: the buttons unlock once it is shown.")
    B.shot(page, "trial_locked")
    page.wait_for_timeout(100)
    assert _answers(url, pid) == {0: "real"}
    page.locator(B.UNLOCKED).first.wait_for()
    page.mouse.click(x, y)                          # now it counts
    page.get_by_text("3 of 50", exact=True).wait_for()
    store = Store(url)
    rid = store.find_respondent(pid).id
    t = store.trials_frame(name)
    t = t[t["respondent_id"] == rid].set_index("trial_index")
    assert list(t["answer"]) == ["real", "real"] and (t["response_ms"] >= 500).all()
    assert (t["server_ms"] >= t["response_ms"]).all()
    assert store.get_study(name).options.min_view_ms == 500
    store.close()
    assert cli(["export", "--db", url, "--out", str(tmp_path / "e"), "--n-bootstrap", "100"]) == 0
    assert "Minimum viewing time: 500 ms." in (tmp_path / "e" / "codebook.md").read_text()
    page.context.close()


def test_a_stale_tab_cannot_change_demographics(served, chromium):
    base, url, name = served
    context = chromium.new_context(viewport={"width": 1000, "height": 1000})
    tab_a = context.new_page()
    tab_a.goto(base)
    tab_a.get_by_role("button", name="I agree").click()
    tab_a.get_by_text("A few questions about you").wait_for()
    tab_b = context.new_page()                      # the same link in a second tab, on the form
    tab_b.goto(tab_a.url)
    tab_b.get_by_text("A few questions about you").wait_for()
    B.fill_form(tab_a, "Weaver")
    tab_a.get_by_role("button", name="Start").click()
    tab_a.locator(B.UNLOCKED).get_by_text("Real", exact=True).click()
    tab_a.get_by_text("2 of 50", exact=True).wait_for()
    B.fill_form(tab_b, "Something else entirely", gender="Male")
    tab_b.get_by_text("This session has moved on in another tab or window", exact=False).wait_for()
    tab_b.locator(B.UNLOCKED).first.wait_for()
    B.shot(tab_b, "stale_tab")
    pid = tab_a.url.split("pid=")[1].split("&")[0]
    store = Store(url)
    row = store.respondents_frame(name).set_index("pid").loc[pid]
    assert (row["gender"], row["background"]) == ("female", "Weaver")
    store.close()
    context.close()


def test_a_formula_typed_as_background_is_neutralised_in_every_csv(served, chromium, serve, tmp_path):
    base, url, name = served
    formula = '=HYPERLINK("http://evil.example","click me")'
    page = chromium.new_context(viewport={"width": 1000, "height": 1000}, accept_downloads=True).new_page()
    pid = B.to_first_trial(page, base, background=formula)
    store = Store(url)
    assert store.respondents_frame(name).set_index("pid").loc[pid, "background"] == formula   # kept as typed
    rid = str(store.find_respondent(pid).id)
    store.close()
    assert cli(["export", "--db", url, "--out", str(tmp_path / "e"), "--n-bootstrap", "100"]) == 0
    exported = pd.read_csv(tmp_path / "e" / "respondents.csv", dtype=str, keep_default_na=False)
    assert exported.set_index("respondent_id").loc[rid, "background"] == "'" + formula
    # The analyst page's download of the same file, from an analyst server.
    analyst = serve(url, verb="analyst", env={"STUDY_ANALYST_PASSWORD": "pw"})
    page.goto(analyst)
    box = page.get_by_label("Analyst password", exact=True)
    box.fill("pw")
    box.press("Enter")
    with page.expect_download(timeout=120_000) as download:
        page.get_by_role("button", name="respondents.csv").click()
    saved = tmp_path / "download.csv"
    download.value.save_as(saved)
    downloaded = pd.read_csv(saved, dtype=str, keep_default_na=False)
    assert downloaded.set_index("respondent_id").loc[rid, "background"] == "'" + formula
    page.context.close()


def test_a_deleted_database_stops_the_study_with_a_plain_page(study_template, serve, chromium, tmp_path):
    db = tmp_path / "study.db"
    shutil.copyfile(study_template[0], db)
    url = f"sqlite:///{db}"
    base = serve(url, study_template[1]["name"])
    page = chromium.new_context(viewport={"width": 1000, "height": 1000}).new_page()
    B.to_first_trial(page, base)
    db.unlink()
    (tmp_path / "study.db-wal").unlink(missing_ok=True)
    page.locator(B.UNLOCKED).get_by_text("Real", exact=True).click()
    page.get_by_text("The study is paused.").wait_for()
    B.shot(page, "study_paused")
    text = page.locator('[data-testid="stMainBlockContainer"]').inner_text()
    assert "Traceback" not in text and str(db) not in text and "sqlite" not in text.lower()
    page.reload()                                   # and so does every page after it
    page.get_by_text("The study is paused.").wait_for()
    assert not Path(make_url(url).database).exists()   # nothing recreated an empty database
    page.context.close()
    time.sleep(0.1)

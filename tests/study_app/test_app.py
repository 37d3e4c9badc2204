"""The app as respondents meet it (AppTest on app.py, so routing decides every page): consent,
demographics, instructions, trials (with practice), resume by ?pid=, stale tabs, thank-you."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from streamlit.testing.v1 import AppTest

from study_app.store import Store

from .conftest import answer_trial, make_study, trial_data

APP = str(Path(__file__).resolve().parents[2] / "study_app" / "app.py")


@pytest.fixture
def open_app(monkeypatch, sqlite_url):
    """open_app(pid=None) -> a fresh browser session (AppTest) on the test's database."""
    monkeypatch.setenv("STUDY_DB_URL", sqlite_url)
    monkeypatch.delenv("STUDY_NAME", raising=False)

    def _open(pid: str | None = None) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=30)
        if pid:
            at.query_params["pid"] = pid
        at.run()
        assert not at.exception
        return at
    return _open


def _texts(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption]
                     + [e.value for e in at.error] + [i.value for i in at.info]
                     + [s.value for s in at.success] + [w.value for w in at.warning])


def _progress(at: AppTest) -> str:
    return at.get("progress")[0].proto.text


def _click(at: AppTest, key: str) -> AppTest:
    at.button(key=key).click().run()
    assert not at.exception
    return at


def _fill_demographics(at: AppTest, background: str = "Textile design student") -> AppTest:
    at.radio(key="demo_gender").set_value("non-binary")
    at.selectbox(key="demo_age").set_value("31-40")
    at.radio(key="demo_clothing").set_value("no")
    at.text_input(key="demo_background").input(background)
    at.form_submit_button(key="demo_submit").click().run()
    assert not at.exception
    return at


def _answer(at: AppTest, answer: str) -> AppTest:
    return answer_trial(at, answer)


def _to_trials(open_app) -> tuple[AppTest, str]:
    at = _click(open_app(), "consent_agree")
    pid = at.query_params["pid"][0] if isinstance(at.query_params["pid"], list) else at.query_params["pid"]
    _fill_demographics(at)
    _click(at, "instructions_start")
    return at, pid


def test_consent_page_shows_text_version_and_choices(study, open_app, sqlite_url):
    at = open_app()
    text = _texts(at)
    assert "About this study" in text
    version = Store(sqlite_url).get_study(study["name"]).consent_version
    assert f"Consent text version {version}" in text
    assert {b.key for b in at.button} == {"consent_agree", "consent_decline"}


def test_declining_consent_stores_nothing(study, open_app, sqlite_url):
    at = _click(open_app(), "consent_decline")
    assert "You chose not to take part" in _texts(at)
    assert Store(sqlite_url).respondents_frame(study["name"]).empty


def test_agreeing_starts_a_respondent_and_opens_demographics(study, open_app, sqlite_url):
    at = _click(open_app(), "consent_agree")
    assert "A few questions about you" in _texts(at)
    frame = Store(sqlite_url).respondents_frame(study["name"])
    assert len(frame) == 1 and frame["consented_at"].notna().all()
    assert frame["pid"].item() == at.query_params["pid"]
    assert frame["consent_version"].item() == Store(sqlite_url).get_study(study["name"]).consent_version


def test_demographics_form_validates_each_field(study, open_app, sqlite_url):
    at = _click(open_app(), "consent_agree")
    at.form_submit_button(key="demo_submit").click().run()
    text = _texts(at)
    for message in ("Please complete the answers marked in red.", "Please choose an answer for gender",
                    "Please choose your age band.", "clothing-related job.",
                    "Please describe your background in a few words."):
        assert message in text
    assert Store(sqlite_url).respondents_frame(study["name"])["gender"].isna().all()

    _fill_demographics(at, background="   ")
    text = _texts(at)
    assert "Please describe your background" in text and "Please choose your age band." not in text
    assert Store(sqlite_url).respondents_frame(study["name"])["gender"].isna().all()

    _fill_demographics(at, background="  Pattern cutter ")
    assert "How it works" in _texts(at)
    row = Store(sqlite_url).respondents_frame(study["name"]).iloc[0]
    assert (row.gender, row.age_band, row.clothing_work, row.background) == \
        ("non-binary", "31-40", False, "Pattern cutter")


def test_instructions_state_the_task_without_the_ratio_by_default(study, open_app):
    at = _fill_demographics(_click(open_app(), "consent_agree"))
    text = _texts(at)
    assert "50 pattern images" in text and "half" not in text


def test_instructions_disclose_the_ratio_when_the_study_says_so(sqlite_url, tiny_folders, tmp_path, open_app):
    make_study(sqlite_url, tiny_folders, name="told", disclose_ratio=True, image_dir=tmp_path / "i")
    at = _fill_demographics(_click(open_app(), "consent_agree"))
    assert "Exactly half of the images (25) are generated." in _texts(at)


def test_trials_store_every_answer_then_thank_you_shows_the_code(study, open_app, sqlite_url):
    at, pid = _to_trials(open_app)
    given = []
    for k in range(1, 51):
        assert _progress(at) == f"{k} of 50"
        shown = trial_data(at)                 # one image, the common alt text, an opaque URL
        assert shown["alt"] == "Pattern to judge" and re.fullmatch(r"images/[0-9a-f]{40}\.png", shown["src"])
        answer = "generated" if k % 4 == 0 else "real"
        given.append(answer)
        _answer(at, answer)
    assert "Thank you for taking part!" in _texts(at)
    trials = Store(sqlite_url).trials_frame(study["name"])
    assert trials["answer"].tolist() == given and trials["response_ms"].notna().all()
    assert trials["kind"].eq("main").all() and trials["is_generated"].sum() == 25
    code = Store(sqlite_url).respondents_frame(study["name"])["completion_code"].item()
    assert at.code[0].value == code
    # The link reopened later shows the same code.
    assert open_app(pid).code[0].value == code


def test_reopened_link_resumes_at_the_next_unanswered_trial(study, open_app, sqlite_url):
    at, pid = _to_trials(open_app)
    for _ in range(17):
        _answer(at, "real")
    again = open_app(pid)            # a reload: new session, same ?pid=
    assert _progress(again) == "18 of 50"
    _answer(again, "generated")
    trials = Store(sqlite_url).trials_frame(study["name"])
    assert len(trials) == 18 and trials["answer"].iloc[-1] == "generated"


def test_link_before_demographics_resumes_at_demographics(study, open_app):
    at = _click(open_app(), "consent_agree")
    again = open_app(at.query_params["pid"])
    assert "A few questions about you" in _texts(again)


def test_a_stale_second_tab_neither_duplicates_nor_overwrites(study, open_app, sqlite_url):
    tab_a, pid = _to_trials(open_app)
    tab_b = _click(open_app(pid), "instructions_start")   # no answer yet: instructions first
    assert _progress(tab_a) == _progress(tab_b) == "1 of 50"
    _answer(tab_a, "real")
    _answer(tab_b, "generated")          # tab B still showed trial 1: its click is ignored
    assert _progress(tab_b) == "2 of 50"
    trials = Store(sqlite_url).trials_frame(study["name"])
    assert trials["answer"].tolist() == ["real"]


def test_practice_trials_give_feedback_then_the_main_trials_start(sqlite_url, tiny_folders, tmp_path, open_app):
    make_study(sqlite_url, tiny_folders, name="practice", practice=2, catch=1, image_dir=tmp_path / "i")
    at, _ = _to_trials(open_app)
    assert _progress(at) == "Practice 1 of 2"
    _answer(at, "real")
    assert "this pattern is" in _texts(at) and (at.success or at.warning)
    _click(at, "practice_next_0")
    assert _progress(at) == "Practice 2 of 2"
    _answer(at, "generated")
    assert "The study starts with the next image." in _texts(at)
    _click(at, "practice_next_1")
    assert _progress(at) == "1 of 51"
    trials = Store(sqlite_url).trials_frame("practice")
    assert trials["kind"].tolist() == ["practice", "practice"]


def test_unknown_link_says_so_and_offers_a_new_session(study, open_app):
    at = open_app("not-a-real-token")
    assert "This link does not match any session" in _texts(at)
    _click(at, "consent_restart")
    assert "About this study" in _texts(at)


def test_database_without_a_study_says_no_study_is_available(open_app, sqlite_url):
    Store(sqlite_url, create=True).close()
    at = open_app()
    assert "No study is available at this address." in _texts(at)


@pytest.mark.db
def test_respondent_path_on_postgresql(pg_url, tiny_folders, tmp_path, monkeypatch):
    make_study(pg_url, tiny_folders, name="pg", per_class=5, image_dir=tmp_path / "i")
    monkeypatch.setenv("STUDY_DB_URL", pg_url)
    monkeypatch.delenv("STUDY_NAME", raising=False)
    at = AppTest.from_file(APP, default_timeout=30).run()
    _click(at, "consent_agree")
    _fill_demographics(at)
    _click(at, "instructions_start")
    for k in range(1, 4):
        assert _progress(at) == f"{k} of 10"
        _answer(at, "real")
    again = AppTest.from_file(APP, default_timeout=30)
    again.query_params["pid"] = at.query_params["pid"]
    again.run()
    assert _progress(again) == "4 of 10"
    store = Store(pg_url)
    assert store.trials_frame("pg")["answer"].tolist() == ["real"] * 3
    store.close()



def test_busy_database_on_answer_asks_to_press_again_and_loses_nothing(study, open_app, sqlite_url):
    import sqlite3

    at, _ = _to_trials(open_app)
    other = sqlite3.connect(make_url(sqlite_url).database, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")             # another writer holds the lock past the app's timeout
    try:
        _answer(at, "real")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert _progress(at) == "1 of 50"                       # same trial again, saying why
    assert trial_data(at)["notice"].startswith("The server was too busy to save your last click")
    assert Store(sqlite_url).trials_frame(study["name"]).empty
    _answer(at, "generated")
    assert _progress(at) == "2 of 50" and trial_data(at)["notice"] == ""
    assert Store(sqlite_url).trials_frame(study["name"])["answer"].tolist() == ["generated"]


def test_a_long_background_is_measured_and_refused_not_dropped(study, open_app, sqlite_url):
    at = _click(open_app(), "consent_agree")
    assert not at.text_input(key="demo_background").max_chars     # the browser would drop a long paste
    _fill_demographics(at, background="x" * 250)
    assert "Please shorten your background to at most 200 characters (it has 250)." in _texts(at)
    assert Store(sqlite_url).respondents_frame(study["name"])["background"].isna().all()


def test_a_stale_tab_cannot_change_demographics_once_trials_began(study, open_app, sqlite_url):
    tab_a = _click(open_app(), "consent_agree")
    pid = tab_a.query_params["pid"]
    tab_b = open_app(pid)                          # a second tab, still on the form
    _fill_demographics(tab_a, background="Weaver")
    _click(tab_a, "instructions_start")
    _answer(tab_a, "real")
    at = _fill_demographics(tab_b, background="Something else")
    assert _progress(at) == "2 of 50"                # on to the trial the session is at, told why
    assert trial_data(at)["notice"].startswith("This session has moved on in another tab or window")
    row = Store(sqlite_url).respondents_frame(study["name"]).iloc[0]
    assert row.background == "Weaver"


def test_a_link_from_another_study_in_the_same_database_is_refused(study, open_app, sqlite_url,
                                                                   tiny_folders, tmp_path, monkeypatch):
    make_study(sqlite_url, tiny_folders, name="other", image_dir=tmp_path / "o")
    store = Store(sqlite_url)
    stranger = store.create_respondent("other")
    store.record_consent(stranger.id, store.get_study("other").consent_version)
    monkeypatch.setenv("STUDY_NAME", study["name"])
    at = open_app(stranger.pid)
    assert "This link does not match any session of this study" in _texts(at)


def test_a_deleted_database_stops_the_study_with_a_plain_page(study, open_app, sqlite_url):
    import os
    at, _ = _to_trials(open_app)
    os.unlink(make_url(sqlite_url).database)
    _answer(at, "real")
    text = _texts(at)
    assert "The study is paused." in text and "sqlite" not in text and "Traceback" not in text
    assert at.get("bidi_component") == [] or not len(at.get("bidi_component"))


@pytest.mark.parametrize("viewed_ms, waited_ms", [(120, None), (900, 200)])
def test_an_answer_faster_than_the_viewing_floor_is_refused_with_a_reason(viewed_ms, waited_ms, study,
                                                                         open_app, sqlite_url):
    at, _ = _to_trials(open_app)
    answer_trial(at, "real", viewed_ms=viewed_ms, waited_ms=waited_ms)   # by the browser's or the server's clock
    assert _progress(at) == "1 of 50"
    assert trial_data(at)["notice"] == "Please look at each pattern for at least 0.5 s before answering."
    assert Store(sqlite_url).trials_frame(study["name"]).empty
    answer_trial(at, "real", viewed_ms=640)
    trials = Store(sqlite_url).trials_frame(study["name"])
    assert trials["response_ms"].tolist() == [640] and trials["server_ms"].iloc[0] >= 640


def test_a_locked_database_on_i_agree_says_busy_not_a_traceback(study, open_app, sqlite_url):
    import sqlite3
    at = open_app()
    other = sqlite3.connect(make_url(sqlite_url).database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")               # another writer holds the lock
    try:
        _click(at, "consent_agree")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert "The server was too busy to save your last click" in _texts(at)
    assert "About this study" in _texts(at)        # still the consent page: press again
    assert Store(sqlite_url).respondents_frame(study["name"]).empty
    assert "A few questions about you" in _texts(_click(at, "consent_agree"))

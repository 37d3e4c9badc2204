"""Each page file of study_app/views on its own (AppTest.from_file), and the order of stages."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from study_app import views
from study_app.store import Store

from .conftest import answer_trial, trial_data


@pytest.fixture
def env(study, sqlite_url, monkeypatch) -> Store:
    """The test study as the one the app serves; returns a Store on it."""
    monkeypatch.setenv("STUDY_DB_URL", sqlite_url)
    monkeypatch.setenv("STUDY_NAME", study["name"])
    return Store(sqlite_url)


def respondent_at(store: Store, study: str, stage: str) -> str:
    """The pid of a new respondent whose stored state puts them on `stage`."""
    r = store.create_respondent(study)
    if stage != "consent":
        store.record_consent(r.id, store.get_study(study).consent_version)
    if stage in ("instructions", "trials", "thanks"):
        store.save_demographics(r.id, "female", "21-30", True, "Pattern cutter")
    if stage == "trials":
        store.record_answer(r.id, 0, "real")
    if stage == "thanks":
        for i in range(len(r.plan)):
            store.record_answer(r.id, i, "generated")
    return r.pid


def open_page(name: str, pid: str | None = None) -> AppTest:
    at = AppTest.from_file(str(views.HERE / f"{name}.py"), default_timeout=30)
    if pid:
        at.query_params["pid"] = pid
    return at.run()


def _text(at: AppTest) -> str:
    return "\n".join(e.value for e in [*at.markdown, *at.caption, *at.error, *at.info, *at.code])


@pytest.mark.parametrize("stage", ["consent", "about_you", "instructions", "trials", "thanks"])
def test_stored_state_decides_the_stage(stage, env, study):
    r = env.find_respondent(respondent_at(env, study["name"], stage))
    assert views.stage_of(r, {}) == stage
    if stage == "instructions":   # "Start" pressed in this session: the trials come next
        assert views.stage_of(r, {"instructions_done": True}) == "trials"


def test_no_respondent_yet_belongs_on_consent():
    assert views.stage_of(None, {}) == views.RESPONDENT[0] == "consent"


def test_every_page_has_its_own_url_path():
    names = [*views.RESPONDENT, views.ANALYST]
    assert len({views.module(n).URL_PATH for n in names}) == len(names)


@pytest.mark.parametrize("name", views.RESPONDENT)
def test_every_respondent_page_file_runs_alone(name, env, study):
    at = open_page(name, respondent_at(env, study["name"], name))
    assert not at.exception
    page = views.module(name)
    assert page.TITLE and page.URL_PATH and callable(page.belongs)


def test_consent_page_agreeing_stores_consent(env, study):
    at = open_page("consent")
    assert not at.exception
    assert f"Consent text version {env.get_study(study['name']).consent_version}" in _text(at)
    at.button(key="consent_agree").click().run()
    assert not at.exception
    (row,) = env.respondents_frame(study["name"]).itertuples()
    assert row.pid == at.session_state["pid"] and row.consented_at is not None


def test_about_you_page_saves_the_form(env, study):
    pid = respondent_at(env, study["name"], "about_you")
    at = open_page("about_you", pid)
    assert not at.exception and "A few questions about you" in _text(at)
    at.radio(key="demo_gender").set_value("male")
    at.selectbox(key="demo_age").set_value("41-50")
    at.radio(key="demo_clothing").set_value("yes")
    at.text_input(key="demo_background").input("Knitwear designer")
    at.form_submit_button(key="demo_submit").click().run()
    assert not at.exception
    assert env.find_respondent(pid).demographics_done


def test_instructions_page_counts_the_trials_and_starts(env, study):
    at = open_page("instructions", respondent_at(env, study["name"], "instructions"))
    assert not at.exception and "You will see **50 pattern images**" in _text(at)
    at.button(key="instructions_start").click().run()
    assert not at.exception and at.session_state["instructions_done"] is True


def test_trials_page_shows_the_next_unanswered_trial_and_stores_the_click(env, study):
    pid = respondent_at(env, study["name"], "trials")     # trial 1 already answered
    at = open_page("trials", pid)
    assert not at.exception
    assert at.get("progress")[0].proto.text == "2 of 50" and trial_data(at)["trial"] == 1
    answer_trial(at, "generated")
    assert env.find_respondent(pid).answered == {0, 1}
    assert env.trials_frame(study["name"])["answer"].tolist() == ["real", "generated"]


def test_thanks_page_finishes_the_respondent_and_shows_the_code(env, study):
    pid = respondent_at(env, study["name"], "thanks")
    at = open_page("thanks", pid)
    assert not at.exception
    stored = env.find_respondent(pid)
    assert stored.finished and at.code[0].value == stored.completion_code

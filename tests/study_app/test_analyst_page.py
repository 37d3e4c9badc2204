"""The analyst page (AppTest): locked without a configured password, gated by it, full with it."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from study_app.exports import CODEBOOK

PAGE = str(Path(__file__).resolve().parents[2] / "study_app" / "views" / "analyst.py")
APP = str(Path(__file__).resolve().parents[2] / "study_app" / "app.py")


@pytest.fixture
def analyst_db(small_study, tmp_path, monkeypatch) -> str:
    """A small study with 8 simulated respondents; the app reads it from $STUDY_DB_URL. The
    password throttle starts afresh, as in a new server process."""
    from study_app import throttle
    monkeypatch.setattr(throttle, "ANALYST", throttle.LoginThrottle())
    url = small_study(tmp_path, respondents=8, seed=1)
    monkeypatch.setenv("STUDY_DB_URL", url)
    monkeypatch.delenv("STUDY_ANALYST_PASSWORD", raising=False)
    monkeypatch.delenv("STUDY_NAME", raising=False)
    return url


def test_without_a_configured_password_the_page_shows_nothing(analyst_db):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert "STUDY_ANALYST_PASSWORD" in at.warning[0].value and "analyst_password" in at.warning[0].value
    assert len(at.text_input) == 0 and len(at.dataframe) == 0 and len(at.metric) == 0


def test_wrong_password_is_refused_and_right_one_opens_the_page(analyst_db):
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.secrets["analyst_password"] = "s3cret"
    at.run()
    assert not at.exception and len(at.metric) == 0
    at.text_input(key="analyst_pw_input").input("wrong").run()
    assert at.error[0].value == "Wrong password." and len(at.metric) == 0
    at.text_input(key="analyst_pw_input").input("s3cret").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Started": "8", "Finished": "8", "Excluded": "0", "Analysed": "8"}
    assert any("SIMULATED DATA: 8 of 8" in w.value for w in at.warning)
    text = " ".join(m.value for m in at.markdown)
    for phrase in ("respondents scored reliably above chance", "Overall accuracy",
                   "Mean sensitivity d'", "Clothing workers", "Per 10 trials later"):
        assert phrase in text, phrase
    assert len(at.get("download_button")) == len(CODEBOOK) + 2
    assert len(at.image) >= 2                                         # Table 6, histogram
    assert len(at.dataframe) >= 4                                     # Table 5 x3, Table 7, ...


def test_password_from_the_environment(analyst_db, monkeypatch):
    monkeypatch.setenv("STUDY_ANALYST_PASSWORD", "envpw")
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.text_input(key="analyst_pw_input").input("envpw").run()
    assert not at.exception and len(at.metric) == 4


def test_an_analyst_server_has_the_analyst_page_only(analyst_db, monkeypatch):
    monkeypatch.setenv("STUDY_ROLE", "analyst")
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["analyst_password"] = "pw"
    at.run()
    assert not at.exception and at.title[0].value == "Study results (analyst)"
    at.text_input(key="analyst_pw_input").input("pw").run()
    assert not at.exception and len(at.metric) == 4


def test_a_respondent_server_has_no_analyst_page(analyst_db, monkeypatch):
    monkeypatch.setenv("STUDY_ROLE", "respondent")
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("views/analyst.py")


def test_wrong_passwords_back_off_and_a_right_one_waits_its_turn(analyst_db, caplog):
    from study_app.throttle import FREE_FAILURES
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.secrets["analyst_password"] = "s3cret"
    at.run()
    for k in range(FREE_FAILURES):
        at.text_input(key="analyst_pw_input").input(f"guess{k}").run()
        assert at.error[0].value == "Wrong password."
    at.text_input(key="analyst_pw_input").input("another").run()
    assert at.error[0].value == "Wrong password. Wait 2 s before the next try."
    at.text_input(key="analyst_pw_input").input("s3cret").run()      # right, but too soon
    assert at.error[0].value.startswith("Too many wrong passwords: try again in ")
    assert len(at.metric) == 0
    assert caplog.text.count("wrong analyst password from") == FREE_FAILURES + 1

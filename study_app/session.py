"""One browser session: the session-state keys every page may read (initialised here, in one
place), the one Store shared by every session, the respondent's pid and the current study.

State that must survive a reload lives in the database, keyed by the opaque `?pid=` token in the
URL; st.session_state only holds what one tab needs between two script runs.
"""
from __future__ import annotations

import os

import streamlit as st

from study_app.config import ENV_STUDY, default_db_url
from study_app.store import Respondent, Store, Study


def _defaults() -> dict:
    """Every session key with its starting value (fresh containers for each session)."""
    return {
        "pid": None,                 # the respondent's token once they agreed (also in ?pid=)
        "declined": False,           # pressed "I do not agree"
        "demo_errors": {},           # demographics field -> message of the last refused submit
        "instructions_done": False,  # pressed "Start" on the instructions page
        "shown_at": {},              # trial index -> when its image was first sent (server UTC)
        "save_failed": None,         # trial index whose answer the busy database refused
        "feedback": None,            # (respondent id, trial, answer, truth) of the practice trial just answered
        "analyst_ok": False,         # the analyst password was given in this session
        "analyst_pw_error": False,   # the last analyst password was wrong
    }


def init() -> None:
    """Set every missing session key to its starting value (once per browser session)."""
    for key, value in _defaults().items():
        if key not in st.session_state:
            st.session_state[key] = value


@st.cache_resource(show_spinner=False)
def _store(url: str) -> Store:
    return Store(url)


def store() -> Store:
    """The one Store (engine and pool) for the app's database, shared by every session."""
    return _store(default_db_url())


@st.cache_data(show_spinner=False, max_entries=4096)
def _image_bytes(url: str, image_id: str) -> bytes:
    return _store(url).image_png(image_id)


def image_bytes(image_id: str) -> bytes:
    """A study image's PNG bytes (immutable, so cached once for every session)."""
    return _image_bytes(default_db_url(), image_id)


def pid() -> str | None:
    """The respondent's token: from the URL, else from this session."""
    return st.query_params.get("pid") or st.session_state.get("pid")


def respondent() -> Respondent | None:
    """The respondent of this session's pid, as stored now (None without a pid or for an unknown one)."""
    token = pid()
    return store().find_respondent(token) if token else None


def served_study() -> Study | None:
    """The study this server shows new respondents: $STUDY_NAME, else the newest; None if that
    study is not in the database."""
    names = store().study_names()
    name = os.environ.get(ENV_STUDY) or (names[0] if names else None)
    return store().get_study(name) if name in names else None


def study_of(r: Respondent) -> Study:
    """The study a respondent belongs to."""
    return store().get_study(r.study)

"""One browser session: the session-state keys every page may read (initialised here, in one
place), the one Store shared by every session, the respondent's pid, the served study, and how
database trouble in a widget callback reaches the page.

State that must survive a reload lives in the database, keyed by the opaque `?pid=` token in the
URL; st.session_state only holds what one tab needs between two script runs.
"""
from __future__ import annotations

import functools
import logging
import os

import streamlit as st

from study_app.config import ENV_STUDY, default_db_url
from study_app.records import Respondent, StoreError, Study
from study_app.schema import APP_BUSY_MS
from study_app.store import Store

log = logging.getLogger("study_app.app")


def _defaults() -> dict:
    """Every session key with its starting value (fresh containers for each session)."""
    return {
        "pid": None,                 # the respondent's token once they agreed (also in ?pid=)
        "declined": False,           # pressed "I do not agree"
        "demo_errors": {},           # demographics field -> message of the last refused submit
        "instructions_done": False,  # pressed "Start" on the instructions page
        "notice": None,              # a line for the next page: why the last click did not count
        "problem": None,             # the StoreError a callback met (the page shows it)
        "answered": None,            # trial indexes answered, as this session knows them
        "shown_at": {},              # trial index -> when its image was first sent (server UTC)
        "render": 0,                 # counts the trial's renders (the browser tells them apart)
        "feedback": None,            # (respondent id, trial, answer, truth) of the practice trial just answered
        "analyst_ok": False,         # the analyst password was given in this session
        "analyst_pw_error": None,    # why the last analyst password was refused
    }


def init() -> None:
    """Set every missing session key to its starting value (once per browser session)."""
    for key, value in _defaults().items():
        if key not in st.session_state:
            st.session_state[key] = value


@st.cache_resource(show_spinner=False)
def _store(url: str) -> Store:
    return Store(url, busy_ms=APP_BUSY_MS)


def store() -> Store:
    """The one Store (engine and pool) for the app's database, shared by every session."""
    return _store(default_db_url())


def pid() -> str | None:
    """The respondent's token: from the URL, else from this session."""
    return st.query_params.get("pid") or st.session_state.get("pid")


def served_study() -> Study | None:
    """The study this server shows: $STUDY_NAME (set by `serve`), else the newest; None if that
    study is not in the database."""
    name = os.environ.get(ENV_STUDY)
    if not name:
        names = store().study_names()
        name = names[0] if names else None
    return store().find_study(name) if name else None


def respondent() -> Respondent | None:
    """The respondent of this session's pid in the served study, as stored now (None without a
    pid, for an unknown one, or for one of another study: a link belongs to one study)."""
    token, study = pid(), served_study()
    return store().find_respondent(token, study.id) if token and study else None


def study_of(r: Respondent) -> Study:
    """The study a respondent belongs to."""
    return store().get_study(r.study)


def report(e: StoreError) -> None:
    """Keep a database problem for the page to show (the details go to the server log only)."""
    log.error("%s: %s", type(e).__name__, e)
    st.session_state.problem = e


def guarded(callback):
    """`callback` with its StoreErrors (busy, gone, refused) reported instead of raised: a widget
    callback's exception would otherwise end the script run with a traceback in the browser."""
    @functools.wraps(callback)
    def run(*args, **kwargs):
        try:
            return callback(*args, **kwargs)
        except StoreError as e:
            report(e)
    return run

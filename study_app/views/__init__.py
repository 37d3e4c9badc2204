"""The study's pages, one file each (Streamlit's `st.navigation` + `st.Page(file)` shape). The
folder is not called `pages/`: beside app.py that name switches Streamlit to its legacy multipage
mode, which runs page files without the entry point (and so without routing).

RESPONDENT names the respondent's pages in the order a respondent meets them. Each page module
defines TITLE, URL_PATH and `belongs(r, state)`: whether a respondent with stored state `r` (None
before consent) and session state `state` belongs on that page; it is asked only after every
earlier page said no, and the last page takes everyone left. A page renders only when Streamlit
runs its file (`if __name__ == "__main__": page()`), so importing a page module here draws
nothing. Adding a respondent page is a new file in this folder and its name in RESPONDENT.
"""
from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

import streamlit as st

from study_app import session
from study_app.records import DatabaseBusy, Respondent, StoreError

RESPONDENT = ("consent", "about_you", "instructions", "trials", "thanks")
ANALYST = "analyst"
HERE = Path(__file__).resolve().parent
HEADER = "Real or generated? A study of textile patterns"
BUSY_TEXT = ("The server was too busy to save your last click, so nothing was saved. Please "
             "press it again.")


def module(name: str) -> ModuleType:
    """The page module `name` (imported, not run)."""
    return importlib.import_module(f"{__name__}.{name}")


def stage_of(r: Respondent | None, state: Mapping) -> str:
    """The respondent page `r` belongs on: the first in RESPONDENT whose belongs() says yes."""
    return next(name for name in RESPONDENT if module(name).belongs(r, state))


def page(name: str, default: bool = False) -> st.Page:
    """The st.Page of the page file `name`.py."""
    m = module(name)
    return st.Page(HERE / f"{name}.py", title=m.TITLE, url_path=m.URL_PATH, default=default)


def respondent_pages() -> dict[str, st.Page]:
    """The respondent pages by name, in order; the first (consent) is the default page."""
    return {name: page(name, default=i == 0) for i, name in enumerate(RESPONDENT)}


def begin(trial_page: bool = False) -> Respondent | None:
    """Start drawing a respondent page: session keys set, the header line and the last click's
    notice drawn (the trial page has neither: its component shows the notice), a problem a callback
    met shown; returns the respondent of this session's link (None: none, or an unknown link)."""
    session.init()
    if not trial_page:
        st.markdown(f"#### {HEADER}")
        if st.session_state.notice:
            st.info(st.session_state.notice)
            st.session_state.notice = None
    problem, st.session_state.problem = st.session_state.problem, None
    if isinstance(problem, DatabaseBusy):
        st.warning(BUSY_TEXT)
    elif problem is not None:
        problem_page(problem)
        st.stop()
    return session.respondent()


def problem_page(e: StoreError) -> None:
    """What a respondent sees when the database cannot be used: a plain explanation, no details
    (they are in the server log)."""
    if isinstance(e, DatabaseBusy):
        st.warning(BUSY_TEXT)
        return
    st.error("**The study is paused.** This server cannot save answers at the moment, so please "
             "stop here: anything answered now would not be kept. Please let the research team "
             "know. Once the study is running again, your link continues where you stopped.")

"""Streamlit entry point: routing only. Run it through `python -m study_app` (serve or analyst).

A respondent server (the default role) has the respondent's pages only, which follow their stored
stage (a reload, a dropped connection or the reopened `?pid=` link lands on the right page). An
analyst server (`STUDY_ROLE=analyst`, the `analyst` verb) has the analyst page only, so nothing a
respondent's browser is sent names it. A database that cannot be used shows a plain page; the
details go to the server log.
"""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:   # `streamlit run study_app/app.py` puts only study_app/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from study_app import session, views  # noqa: E402
from study_app.config import ENV_ROLE  # noqa: E402
from study_app.records import StoreError  # noqa: E402


def route(current: st.Page, by_stage: dict[str, st.Page]) -> None:
    """Send a respondent to the page of their stage."""
    stage_at = {p.url_path: stage for stage, p in by_stage.items()}
    pid = session.pid()
    if pid and st.query_params.get("pid") != pid:
        st.query_params["pid"] = pid
    r = session.respondent()
    want = "consent" if pid and r is None else views.stage_of(r, st.session_state)   # unknown link: consent says so
    if stage_at[current.url_path] != want:
        st.switch_page(by_stage[want], query_params={"pid": pid} if pid else None)


def _log_to_stderr() -> None:
    """study_app's log lines (database problems, refused passwords) into the server's log."""
    logger = logging.getLogger("study_app")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def run() -> None:
    """Route the request to a page and run it."""
    st.set_page_config(page_title="Pattern study", layout="centered",
                       initial_sidebar_state="collapsed")
    _log_to_stderr()
    session.init()
    if os.environ.get(ENV_ROLE) == "analyst":
        st.navigation([views.page(views.ANALYST, default=True)], position="hidden").run()
        return
    by_stage = views.respondent_pages()
    current = st.navigation(list(by_stage.values()), position="hidden")
    try:
        route(current, by_stage)
        current.run()
    except StoreError as e:
        session.report(e)
        st.session_state.problem = None
        views.problem_page(e)


if __name__ == "__main__":   # Streamlit runs this file as __main__; importing it draws nothing
    run()

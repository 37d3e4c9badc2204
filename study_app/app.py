"""Streamlit entry point: routing only. Run it through `python -m study_app`.

The respondent's pages follow their stored stage (a reload, a dropped connection or the reopened
`?pid=` link lands on the right page); the analyst page is reached at /analyst.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:   # `streamlit run study_app/app.py` puts only study_app/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from study_app import session, views  # noqa: E402
from study_app.store import StoreError  # noqa: E402


def route(current: st.Page, by_stage: dict[str, st.Page]) -> None:
    """Send a respondent to the page of their stage (other pages, e.g. the analyst's, pass)."""
    stage_at = {p.url_path: stage for stage, p in by_stage.items()}
    if current.url_path not in stage_at:
        return
    pid = session.pid()
    if pid and st.query_params.get("pid") != pid:
        st.query_params["pid"] = pid
    try:
        r = session.respondent()
    except StoreError:
        return   # the page shows the error
    want = "consent" if pid and r is None else views.stage_of(r, st.session_state)   # unknown link: consent says so
    if stage_at[current.url_path] != want:
        st.switch_page(by_stage[want], query_params={"pid": pid} if pid else None)


def run() -> None:
    """Route the request to a page and run it."""
    st.set_page_config(page_title="Pattern study", layout="centered",
                       initial_sidebar_state="collapsed")
    session.init()
    by_stage = views.respondent_pages()
    current = st.navigation([*by_stage.values(), views.page(views.ANALYST)], position="hidden")
    route(current, by_stage)
    current.run()


if __name__ == "__main__":   # Streamlit runs this file as __main__; importing it draws nothing
    run()

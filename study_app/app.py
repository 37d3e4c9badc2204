"""Streamlit entry point: page routing only. Run it through `python -m study_app`."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:   # `streamlit run study_app/app.py` puts only study_app/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from study_app import analyst, respond  # noqa: E402


def run() -> None:
    """Route the request to a page; respondent pages follow the respondent's stage."""
    st.set_page_config(page_title="Pattern study", layout="centered",
                       initial_sidebar_state="collapsed")
    pages = respond.pages()
    current = st.navigation(list(pages.values()) + [analyst.streamlit_page()], position="hidden")
    respond.route(current, pages)
    current.run()


run()

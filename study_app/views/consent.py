"""Consent: the study's consent text, agree or decline; agreeing starts a respondent."""
from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from study_app import session
from study_app.records import Respondent
from study_app.views import begin

TITLE = "Consent"
URL_PATH = "consent"


def belongs(r: Respondent | None, state: Mapping) -> bool:
    """Before agreeing (an unknown link lands here too)."""
    return r is None or not r.consented


@session.guarded
def _agree(study: str, consent_version: str) -> None:
    if st.session_state.pid:       # a second click on "I agree" changes nothing
        return
    store = session.store()
    r = store.create_respondent(study)
    store.record_consent(r.id, consent_version)
    st.session_state.pid = r.pid
    st.query_params["pid"] = r.pid


def _decline() -> None:
    st.session_state.declined = True


def _restart() -> None:
    st.session_state.pid = None
    st.query_params.clear()


def page() -> None:
    """Draw the consent page."""
    if begin() is None and session.pid():
        st.error("This link does not match any session of this study. Please check the link, "
                 "or start a new session.")
        st.button("Start a new session", key="consent_restart", on_click=_restart)
        return
    study = session.served_study()
    if study is None:
        st.error("No study is available at this address. Please contact the research team.")
        return
    if st.session_state.declined:
        st.info("You chose not to take part. Nothing was recorded. You can close this page now.")
        return
    with st.container(border=True):
        st.markdown(study.consent_text)
    st.caption(f"Consent text version {study.consent_version}")
    with st.container(horizontal=True):
        st.button("I agree", key="consent_agree", type="primary", on_click=_agree,
                  args=(study.name, study.consent_version))
        st.button("I do not agree", key="consent_decline", on_click=_decline)


if __name__ == "__main__":
    page()

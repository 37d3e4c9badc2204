"""About you: gender, age band, clothing-related work and background, in one validated form."""
from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from study_app import session
from study_app.config import AGE_BANDS, GENDERS
from study_app.records import Respondent
from study_app.store import BACKGROUND_MAX
from study_app.views import begin

TITLE = "About you"
URL_PATH = "about-you"
GENDER_LABELS = {"female": "Female", "male": "Male", "non-binary": "Non-binary",
                 "prefer not to say": "Prefer not to say"}
AGE_LABELS = {b: ("Other" if b == "other" else b) for b in AGE_BANDS}
MOVED_ON = ("This session has moved on in another tab or window: the study's images have begun, "
            "so your answers about yourself are kept as first saved and cannot be changed here.")


def belongs(r: Respondent, state: Mapping) -> bool:
    """After consent, until the form is saved."""
    return not r.demographics_done


def validate(ss: Mapping) -> dict[str, str]:
    """Field -> message for every field of the form that needs another answer."""
    errors = {}
    if ss.get("demo_gender") not in GENDERS:
        errors["gender"] = "Please choose an answer for gender (“Prefer not to say” is fine)."
    if ss.get("demo_age") not in AGE_BANDS:
        errors["age"] = "Please choose your age band."
    if ss.get("demo_clothing") not in ("yes", "no"):
        errors["clothing"] = "Please say whether you work in a clothing-related job."
    background = (ss.get("demo_background") or "").strip()
    if len(background) < 2:
        errors["background"] = "Please describe your background in a few words."
    elif len(background) > BACKGROUND_MAX:
        errors["background"] = (f"Please shorten your background to at most {BACKGROUND_MAX} "
                                f"characters (it has {len(background)}).")
    return errors


@session.guarded
def _submit(respondent_id: int) -> None:
    ss = st.session_state
    ss.demo_errors = validate(ss)
    if not ss.demo_errors and not session.store().save_demographics(
            respondent_id, ss.demo_gender, ss.demo_age, ss.demo_clothing == "yes",
            ss.demo_background.strip()):
        ss.notice = MOVED_ON     # a stale tab: the trials have begun, the stored answers stay


def _error_line(errors: dict[str, str], field: str) -> None:
    if field in errors:
        st.markdown(f":red[{errors[field]}]")


def page() -> None:
    """Draw the demographics form."""
    r = begin()
    if r is None:
        return
    errors = st.session_state.demo_errors
    st.markdown("##### A few questions about you")
    st.caption("Step 1 of 3 · These answers are stored without your name.")
    if errors:
        st.error("Please complete the answers marked in red.")
    with st.form("demographics", border=True):
        st.radio("Gender", list(GENDER_LABELS), format_func=GENDER_LABELS.get, index=None,
                 horizontal=True, key="demo_gender")
        _error_line(errors, "gender")
        st.selectbox("Age", list(AGE_LABELS), format_func=AGE_LABELS.get, index=None,
                     placeholder="Choose your age band", key="demo_age")
        _error_line(errors, "age")
        st.radio("Do you work in a clothing-related job (design, production, retail, ...)?",
                 ["yes", "no"], format_func=str.capitalize, index=None, horizontal=True,
                 key="demo_clothing")
        _error_line(errors, "clothing")
        # No max_chars: the browser would then drop a longer paste without a word; the length
        # is checked on submit and the message says by how much it is over.
        st.text_input(f"Your background in a few words (at most {BACKGROUND_MAX} characters)",
                      placeholder="e.g. textile design student, nurse, software engineer",
                      key="demo_background")
        _error_line(errors, "background")
        st.form_submit_button("Continue", type="primary", key="demo_submit",
                               on_click=_submit, args=(r.id,))


if __name__ == "__main__":
    page()

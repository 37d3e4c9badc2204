"""Thank you: the completion code and a short debriefing."""
from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from study_app import session
from study_app.store import Respondent
from study_app.views import begin

TITLE = "Thank you"
URL_PATH = "thanks"


def belongs(r: Respondent, state: Mapping) -> bool:
    """Every trial answered (the last page: everyone the earlier pages did not take)."""
    return True


def page() -> None:
    """Draw the completion code (finishing the respondent on the first visit)."""
    r = begin()
    if r is None:
        return
    code = r.completion_code if r.finished else session.store().finish(r.id)
    st.markdown("##### Thank you for taking part!")
    st.caption("All your answers are saved.")
    st.markdown("Your completion code (quote it if you were asked to):")
    st.code(code, language=None)
    st.markdown(
        "**About the study.** The images you saw were a mix of real textile patterns and "
        "patterns made by a generative adversarial network (GAN) trained on real ones. Your "
        "answers help us measure how well people can tell them apart. You can close this page now.")


if __name__ == "__main__":
    page()

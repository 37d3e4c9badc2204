"""Instructions (and the practice announcement) before the first trial."""
from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from study_app import session
from study_app.config import StudyOptions
from study_app.store import Respondent
from study_app.views import begin

TITLE = "Instructions"
URL_PATH = "instructions"


def belongs(r: Respondent, state: Mapping) -> bool:
    """Before the first answer, until "Start" is pressed in this session."""
    return not r.answered and not state.get("instructions_done")


def lines(o: StudyOptions) -> list[str]:
    """The instructions for a study with options `o`, one bullet each."""
    out = [
        f"You will see **{o.n_trials} pattern images**, one at a time.",
        "Some are photographs or scans of **real** textile patterns; others were **generated** "
        "by a computer program.",
        "For each image, press **Real** or **Generated**. There is no time limit, but your first "
        "impression is usually best. You cannot go back to an earlier image.",
    ]
    if o.disclose_ratio:
        out.insert(2, f"Exactly half of the images ({o.per_class}) are generated." if not o.catch else
                   f"Apart from {o.catch} instruction images, exactly half of the images "
                   f"({o.per_class} of {2 * o.per_class}) are generated.")
    if o.min_view_ms:
        out.append(f"The buttons unlock {o.min_view_ms / 1000:g} s after each image appears, so "
                   "that every answer is about an image you have seen.")
    if o.catch:
        out.append("A few images ask you to press a particular button: please follow them.")
    if o.practice:
        out.append(f"First come **{o.practice} practice images**, after each of which we tell "
                   "you the right answer. They do not count.")
    out.append("If the page is reloaded or the connection drops, open the same link again: you "
               "continue where you stopped.")
    return out


def _start() -> None:
    st.session_state.instructions_done = True


def page() -> None:
    """Draw the instructions."""
    r = begin()
    if r is None:
        return
    st.markdown("##### How it works")
    st.caption("Step 2 of 3 · Instructions")
    st.markdown("\n".join(f"- {line}" for line in lines(session.study_of(r).options)))
    st.button("Start", key="instructions_start", type="primary", on_click=_start)


if __name__ == "__main__":
    page()

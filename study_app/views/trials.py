"""The trials: one image at display size, Real / Generated, progress; practice trials get feedback.

Each answer is written in the button's on_click callback (insert-or-ignore on the trial), with the
server-side time from first sending the image to receiving the click. Widget keys carry the trial
index, so a second click on an answered trial (double click, stale second tab) is ignored.
"""
from __future__ import annotations

from collections.abc import Mapping

import streamlit as st
from sqlalchemy.exc import OperationalError

from study_app import images, session
from study_app.schema import utcnow
from study_app.store import Respondent
from study_app.views import begin

TITLE = "Study"
URL_PATH = "study"
CHOICES = (("real", "Real"), ("generated", "Generated"))


def belongs(r: Respondent, state: Mapping) -> bool:
    """While a trial of the plan has no answer."""
    return len(r.answered) < len(r.plan)


def _answer(respondent_id: int, trial_index: int, answer: str, practice_truth: str | None) -> None:
    answered_at = utcnow()
    shown_at = st.session_state.shown_at.get(trial_index)
    ms = None if shown_at is None else round((answered_at - shown_at).total_seconds() * 1000)
    try:
        new = session.store().record_answer(respondent_id, trial_index, answer, shown_at=shown_at,
                                            answered_at=answered_at, response_ms=ms)
    except OperationalError:
        # A busy database (SQLite lock held past its timeout under heavy load): nothing was
        # stored, so the same trial is shown again with a request to press once more.
        st.session_state.save_failed = trial_index
        return
    st.session_state.save_failed = None
    if new and practice_truth is not None:
        st.session_state.feedback = (respondent_id, trial_index, answer, practice_truth)


def _next() -> None:
    st.session_state.feedback = None


def _practice_feedback(n_practice: int) -> None:
    """The right answer to the practice trial just answered, and a Next button."""
    _, trial_index, answer, truth = st.session_state.feedback
    st.markdown(f"##### Practice {trial_index + 1} of {n_practice}")
    if answer == truth:
        st.success(f"Correct: this pattern is {truth}.")
    else:
        st.warning(f"Not quite: this pattern is {truth}.")
    if trial_index + 1 == n_practice:
        st.info("That was the last practice image. The study starts with the next image.")
    st.button("Next", key=f"practice_next_{trial_index}", type="primary", on_click=_next)


def _progress(i: int, n_practice: int, n_main: int) -> None:
    if i < n_practice:
        st.progress(i / n_practice, text=f"Practice {i + 1} of {n_practice}")
    else:
        st.progress((i - n_practice) / n_main, text=f"{i - n_practice + 1} of {n_main}")


def page() -> None:
    """Draw the next unanswered trial (or the feedback on the practice trial just answered)."""
    r = begin(show_header=False)
    if r is None:
        return
    options = session.study_of(r).options
    n_practice = options.practice
    fb = st.session_state.feedback
    if fb is not None and fb[0] == r.id:
        _practice_feedback(n_practice)
        return
    remaining = set(range(len(r.plan))) - r.answered
    if not remaining:     # the last answer came from another tab since routing: go to thanks
        st.rerun()
    i = min(remaining)
    info = session.store().pool(r.study_id)[r.plan[i]]
    _progress(i, n_practice, len(r.plan) - n_practice)
    st.session_state.shown_at.setdefault(i, utcnow())   # the first time this session shows trial i
    if st.session_state.save_failed == i:
        st.warning("Your answer could not be saved because the server is busy. Please press it again.")
    truth = ("generated" if info.is_generated else "real") if info.kind == "practice" else None
    with st.container(horizontal_alignment="center", key="trial_image"):
        images.show(session.image_bytes(r.plan[i]), options.display_size)
        st.markdown("Is this pattern **real** or **generated**?", text_alignment="center")
        with st.container(horizontal=True, horizontal_alignment="center", key="trial_buttons"):
            for answer, label in CHOICES:
                st.button(label, key=f"answer_{i}_{answer}", width=124, on_click=_answer,
                          args=(r.id, i, answer, truth))


if __name__ == "__main__":
    page()

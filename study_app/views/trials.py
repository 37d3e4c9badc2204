"""The trials: one image at display size, Real / Generated, progress; practice trials get feedback.

The image and its buttons are the trial component (study_app.trial_view): the browser measures how
long the image was on screen and keeps the buttons locked for the study's minimum viewing time.
Each answer is written in the component's callback (insert-or-ignore on the trial) after the
server checks it: for the trial on screen, viewed at least the minimum time (by the browser's
clock and by the server's, trial sent -> answer received). A click that does not count says why.
"""
from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from study_app import images, session, trial_view
from study_app.records import DatabaseBusy, Respondent, Study
from study_app.schema import utcnow
from study_app.views import BUSY_TEXT, begin

TITLE = "Study"
URL_PATH = "study"
PRELOAD = 2                 # next images fetched into the browser's cache while one is judged
TOO_FAST = "Please look at each pattern for at least {s:g} s before answering."
OTHER_TAB = ("That image had already been answered in another tab or window, and that answer is "
             "kept. Here is the next one.")


def belongs(r: Respondent, state: Mapping) -> bool:
    """While a trial of the plan has no answer."""
    return len(r.answered) < len(r.plan)


def _answer(r: Respondent, min_view_ms: int, practice_truth: dict[int, str]) -> None:
    """The component's callback: check the click, store it, say why if it does not count."""
    click, ss = trial_view.clicked(), st.session_state
    if click is None or click.trial in ss.answered or click.trial != _current(r):
        return              # a malformed or stale click: the page shows the current trial anyway
    shown_at, now = ss.shown_at.get(click.trial), utcnow()
    server_ms = None if shown_at is None else round((now - shown_at).total_seconds() * 1000)
    if click.viewed_ms < min_view_ms or (server_ms is not None and server_ms < min_view_ms):
        ss.notice = TOO_FAST.format(s=min_view_ms / 1000)
        return
    try:
        new = session.store().record_answer(
            r.id, click.trial, click.answer, shown_at=shown_at, answered_at=now,
            response_ms=click.viewed_ms if server_ms is None else min(click.viewed_ms, server_ms),
            server_ms=server_ms)
    except DatabaseBusy as e:
        session.log.warning("%s (respondent %d, trial %d)", e, r.id, click.trial)
        ss.notice = BUSY_TEXT
        return
    if new:
        ss.answered.add(click.trial)
        if click.trial in practice_truth:
            ss.feedback = (r.id, click.trial, click.answer, practice_truth[click.trial])
    else:               # another tab answered it first: take what is stored
        ss.answered = set(session.store().find_respondent(r.pid).answered)
        ss.notice = OTHER_TAB


def _current(r: Respondent) -> int | None:
    """The first trial this session knows to be unanswered."""
    return next((i for i in range(len(r.plan)) if i not in st.session_state.answered), None)


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
    r = begin(trial_page=True)
    if r is None:
        return
    ss = st.session_state
    if ss.answered is None or not set(r.answered) <= ss.answered:
        ss.answered = set(r.answered)       # a new session, or another tab answered meanwhile
    _trial(r, session.study_of(r))


@st.fragment
def _trial(r: Respondent, study: Study) -> None:
    """The trial part of the page. A fragment: an answer reruns only this function (no routing,
    no respondent lookup, no redraw of the rest), so an answer costs one database write."""
    ss = st.session_state
    if ss.problem is not None:          # the callback met a database problem: the page says so
        st.rerun(scope="app")
    options, pool = study.options, session.store().pool(r.study_id)
    n_practice = options.practice
    if ss.feedback is not None and ss.feedback[0] == r.id:
        _practice_feedback(n_practice)
        return
    i = _current(r)
    if i is None:       # the last answer is stored: on to the thanks page
        st.rerun(scope="app")
    _progress(i, n_practice, len(r.plan) - n_practice)
    ss.shown_at.setdefault(i, utcnow())     # the first time this session sends trial i
    ss.render += 1
    notice, ss.notice = ss.notice, None
    practice_truth = {j: ("generated" if pool[r.plan[j]].is_generated else "real")
                      for j in range(n_practice)}
    upcoming = [j for j in range(i + 1, len(r.plan)) if j not in ss.answered][:PRELOAD]
    with st.container(horizontal_alignment="center", key="trial"):
        trial_view.show(i, images.image_url(study.url_key, r.plan[i]),
                        [images.image_url(study.url_key, r.plan[j]) for j in upcoming],
                        options.display_size, options.min_view_ms, ss.render, notice,
                        on_answer=session.guarded(lambda: _answer(r, options.min_view_ms, practice_truth)))


if __name__ == "__main__":
    page()

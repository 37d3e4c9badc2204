"""The trial as a Streamlit component (st.components.v2): image, question and answer buttons run
in the respondent's browser (trial_view.js, styled by trial_view.css).

Why a component and not st.image + two st.buttons: only the browser knows when an image is on
screen. The component measures the viewing time from that moment, keeps the buttons locked for the
study's minimum viewing time, and sends one answer per render, so the second click of a double
click can never answer the next image. The image itself is a plain URL (served by study_app.asgi
under an opaque name), which the browser caches and preloads.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from study_app.images import ALT_TEXT

HERE = Path(__file__).resolve().parent
KEY = "trial_view"         # the component's widget key: one instance, new data per render
EVENT = "answer"           # its trigger: {"trial", "answer", "viewed_ms", "render"}
CHOICES = (("real", "Real"), ("generated", "Generated"))
PROMPT = "Is this pattern <b>real</b> or <b>generated</b>?"
_render = st.components.v2.component(
    "study_app.trial", js=(HERE / "trial_view.js").read_text(encoding="utf-8"),
    css=(HERE / "trial_view.css").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Click:
    """One answer as the browser sent it."""
    trial: int          # trial index the buttons belonged to
    answer: str         # real | generated
    viewed_ms: int      # the image was on screen this long when the button was pressed
    render: int         # which server render of the trial the click came from


def show(trial: int, src: str, preload: list[str], size: int, min_view_ms: int, render: int,
         notice: str | None, on_answer: Callable[[], None]) -> None:
    """Draw trial `trial` with image URL `src` at `size` px; `preload` are the next images' URLs,
    `render` a number that changes with every server render, `notice` a line shown under the
    buttons (why a click was refused). `on_answer` runs when the respondent answers; it reads the
    click with `clicked()`."""
    seconds = f"{min_view_ms / 1000:g}"
    _render(key=KEY, on_answer_change=on_answer, data={
        "trial": trial, "src": src, "preload": preload, "size": size, "min_view_ms": min_view_ms,
        "render": render, "notice": notice or "", "alt": ALT_TEXT, "prompt": PROMPT,
        "choices": [list(c) for c in CHOICES],
        "text_locked": f"Please look at the pattern first: the buttons unlock {seconds} s after "
                       "each image appears.",
        "text_loading": "The image is still loading: the buttons unlock once it is shown.",
        "text_sent": "Your answer was received; the next image is on its way.",
        "text_failed": "The image could not be loaded. Please reload the page (your answers so "
                       "far are saved)."})


def clicked() -> Click | None:
    """The click that triggered this run (inside `on_answer`), None if malformed."""
    raw = getattr(st.session_state.get(KEY), EVENT, None)
    try:
        click = Click(trial=int(raw["trial"]), answer=str(raw["answer"]),
                      viewed_ms=int(raw["viewed_ms"]), render=int(raw["render"]))
    except (TypeError, KeyError, ValueError):
        return None
    return click if click.answer in dict(CHOICES) and click.viewed_ms >= 0 else None

"""The respondent's pages: consent -> about you -> instructions (+ practice) -> trials -> thanks.

State lives in the database, keyed by the opaque `?pid=` token in the URL, so a reload, a
dropped connection or the reopened link resumes at the next unanswered trial. Each answer is
written in the button's on_click callback (insert-or-ignore on the trial), with the server-side
time from sending the image to receiving the click. Widget keys carry the trial index, so a
second click on an already answered trial (double click, stale second tab) is ignored.
"""
from __future__ import annotations

import os

import streamlit as st
from sqlalchemy.exc import OperationalError

from study_app import images
from study_app.config import AGE_BANDS, ENV_STUDY, GENDERS, default_db_url
from study_app.store import Store, StoreError, utcnow

STAGES = ("consent", "demographics", "instructions", "trials", "thanks")
GENDER_LABELS = {"female": "Female", "male": "Male", "non-binary": "Non-binary",
                 "prefer not to say": "Prefer not to say"}
AGE_LABELS = {b: ("Other" if b == "other" else b) for b in AGE_BANDS}
TITLE = "Real or generated? A study of textile patterns"


@st.cache_resource(show_spinner=False)
def get_store(url: str) -> Store:
    """One Store (engine and pool) per database URL, shared by every session."""
    return Store(url)


@st.cache_data(show_spinner=False, max_entries=4096)
def image_bytes(url: str, image_id: str) -> bytes:
    """A study image's PNG bytes (immutable, so cached for every session)."""
    return get_store(url).image_png(image_id)


def _init_state() -> None:
    """Session keys every page may read; set once per browser session."""
    for key, value in (("pid", None), ("shown_at", {}), ("feedback", None),
                       ("instructions_done", False), ("demo_errors", {}), ("declined", False),
                       ("save_failed", None)):
        if key not in st.session_state:
            st.session_state[key] = value


def _url() -> str:
    return default_db_url()


def _pid() -> str | None:
    return st.query_params.get("pid") or st.session_state.get("pid")


def _study_name(store: Store) -> str | None:
    names = store.study_names()
    wanted = os.environ.get(ENV_STUDY)
    if wanted:
        return wanted if wanted in names else None
    return names[0] if names else None


def _respondent() -> dict | None:
    pid = _pid()
    return get_store(_url()).find_respondent(pid) if pid else None


def stage_of(r: dict | None) -> str:
    """The page a respondent belongs on, from their stored state."""
    if r is None or not r["consented"]:
        return "consent"
    if not r["demographics_done"]:
        return "demographics"
    if len(r["answered"]) >= len(r["plan"]):
        return "thanks"
    if not r["answered"] and not st.session_state.get("instructions_done"):
        return "instructions"
    return "trials"


def pages() -> dict[str, st.Page]:
    """The respondent pages, by stage (consent is the default page)."""
    return {
        "consent": st.Page(consent_page, title="Consent", url_path="consent", default=True),
        "demographics": st.Page(demographics_page, title="About you", url_path="about-you"),
        "instructions": st.Page(instructions_page, title="Instructions", url_path="instructions"),
        "trials": st.Page(trials_page, title="Study", url_path="study"),
        "thanks": st.Page(thanks_page, title="Thank you", url_path="thanks"),
    }


def route(current: st.Page, by_stage: dict[str, st.Page]) -> None:
    """Send a respondent to the page of their stage (other pages, e.g. the analyst's, pass)."""
    _init_state()
    mine = {p.url_path: stage for stage, p in by_stage.items()}
    if current.url_path not in mine:
        return
    pid = _pid()
    if pid and st.query_params.get("pid") != pid:
        st.query_params["pid"] = pid
    try:
        r = _respondent()
    except StoreError:
        return   # the page shows the error
    if pid and r is None:
        want = "consent"   # unknown link: the consent page says so
    else:
        want = stage_of(r)
    if mine[current.url_path] != want:
        st.switch_page(by_stage[want], query_params={"pid": pid} if pid else None)


def _header() -> None:
    st.markdown(f"#### {TITLE}")


def _agree(study: str, consent_version: str) -> None:
    if st.session_state.pid:       # a second click on "I agree" changes nothing
        return
    store = get_store(_url())
    r = store.create_respondent(study)
    store.record_consent(r["respondent_id"], consent_version)
    st.session_state.pid = r["pid"]
    st.query_params["pid"] = r["pid"]


def _decline() -> None:
    st.session_state.declined = True


def _restart() -> None:
    st.session_state.pid = None
    st.query_params.clear()


def consent_page() -> None:
    """Consent: the study's consent text, agree or decline; agreeing starts a respondent."""
    _init_state()
    _header()
    store = get_store(_url())
    if _pid() and _respondent() is None:
        st.error("This link does not match any session of this study. Please check the link, "
                 "or start a new session.")
        st.button("Start a new session", key="consent_restart", on_click=_restart)
        return
    study = _study_name(store)
    if study is None:
        st.error("No study is available at this address. Please contact the research team.")
        return
    if st.session_state.declined:
        st.info("You chose not to take part. Nothing was recorded. You can close this page now.")
        return
    s = store.get_study(study)
    with st.container(border=True):
        st.markdown(s["consent_text"])
    st.caption(f"Consent text version {s['consent_version']}")
    with st.container(horizontal=True):
        st.button("I agree", key="consent_agree", type="primary", on_click=_agree,
                  args=(study, s["consent_version"]))
        st.button("I do not agree", key="consent_decline", on_click=_decline)


def _validate_demographics() -> dict[str, str]:
    ss = st.session_state
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
    elif len(background) > 200:
        errors["background"] = "Please shorten your background to at most 200 characters."
    return errors


def _submit_demographics(respondent_id: int) -> None:
    errors = _validate_demographics()
    st.session_state.demo_errors = errors
    if errors:
        return
    ss = st.session_state
    get_store(_url()).save_demographics(respondent_id, ss.demo_gender, ss.demo_age,
                                        ss.demo_clothing == "yes", ss.demo_background.strip())


def demographics_page() -> None:
    """About you: gender, age band, clothing-related work, background, in one validated form."""
    _init_state()
    _header()
    r = _respondent()
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
        if "gender" in errors:
            st.markdown(f":red[{errors['gender']}]")
        st.selectbox("Age", list(AGE_LABELS), format_func=AGE_LABELS.get, index=None,
                     placeholder="Choose your age band", key="demo_age")
        if "age" in errors:
            st.markdown(f":red[{errors['age']}]")
        st.radio("Do you work in a clothing-related job (design, production, retail, ...)?",
                 ["yes", "no"], format_func=str.capitalize, index=None, horizontal=True,
                 key="demo_clothing")
        if "clothing" in errors:
            st.markdown(f":red[{errors['clothing']}]")
        st.text_input("Your background in a few words", max_chars=200,
                      placeholder="e.g. textile design student, nurse, software engineer",
                      key="demo_background")
        if "background" in errors:
            st.markdown(f":red[{errors['background']}]")
        st.form_submit_button("Continue", type="primary", key="demo_submit",
                               on_click=_submit_demographics, args=(r["respondent_id"],))


def _start() -> None:
    st.session_state.instructions_done = True


def instructions_page() -> None:
    """Instructions (and the practice announcement) before the first trial."""
    _init_state()
    _header()
    r = _respondent()
    if r is None:
        return
    s = get_store(_url()).get_study(r["study"])
    n = 2 * s["per_class"] + s["catch"]
    st.markdown("##### How it works")
    st.caption("Step 2 of 3 · Instructions")
    lines = [
        f"You will see **{n} pattern images**, one at a time.",
        "Some are photographs or scans of **real** textile patterns; others were **generated** "
        "by a computer program.",
        "For each image, press **Real** or **Generated**. There is no time limit, but your first "
        "impression is usually best. You cannot go back to an earlier image.",
    ]
    if s["disclose_ratio"]:
        lines.insert(2, f"Exactly half of the images ({s['per_class']}) are generated." if not s["catch"] else
                     f"Apart from {s['catch']} instruction images, exactly half of the images "
                     f"({s['per_class']} of {2 * s['per_class']}) are generated.")
    if s["catch"]:
        lines.append("A few images ask you to press a particular button: please follow them.")
    if s["practice"]:
        lines.append(f"First come **{s['practice']} practice images**, after each of which we tell "
                     "you the right answer. They do not count.")
    lines.append("If the page is reloaded or the connection drops, open the same link again: you "
                 "continue where you stopped.")
    st.markdown("\n".join(f"- {line}" for line in lines))
    st.button("Start", key="instructions_start", type="primary", on_click=_start)


def _answer(respondent_id: int, trial_index: int, answer: str, practice_truth: str | None) -> None:
    answered_at = utcnow()
    shown_at = st.session_state.shown_at.get(trial_index)
    ms = None if shown_at is None else round((answered_at - shown_at).total_seconds() * 1000)
    try:
        new = get_store(_url()).record_answer(respondent_id, trial_index, answer, shown_at=shown_at,
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


def _practice_feedback(plan_len_practice: int) -> bool:
    """Show the feedback for the practice trial just answered; True if shown."""
    fb = st.session_state.feedback
    if fb is None:
        return False
    _, trial_index, answer, truth = fb
    st.markdown(f"##### Practice {trial_index + 1} of {plan_len_practice}")
    if answer == truth:
        st.success(f"Correct: this pattern is {truth}.")
    else:
        st.warning(f"Not quite: this pattern is {truth}.")
    if trial_index + 1 == plan_len_practice:
        st.info("That was the last practice image. The study starts with the next image.")
    st.button("Next", key=f"practice_next_{trial_index}", type="primary", on_click=_next)
    return True


def trials_page() -> None:
    """One trial: the image at display size, Real / Generated buttons, progress."""
    _init_state()
    r = _respondent()
    if r is None:
        return
    store = get_store(_url())
    s = store.get_study(r["study"])
    pool = store.pool(r["study_id"])
    plan = r["plan"]
    n_practice, n_main = s["practice"], len(plan) - s["practice"]
    fb = st.session_state.feedback
    if fb is not None and fb[0] == r["respondent_id"] and _practice_feedback(n_practice):
        return
    remaining = set(range(len(plan))) - r["answered"]
    if not remaining:     # the last answer came from another tab since routing: go to thanks
        st.rerun()
    i = min(remaining)
    info = pool[plan[i]]
    practice = info.kind == "practice"
    if practice:
        st.progress(i / n_practice, text=f"Practice {i + 1} of {n_practice}")
    else:
        k = i - n_practice
        st.progress(k / n_main, text=f"{k + 1} of {n_main}")
    st.session_state.shown_at.setdefault(i, utcnow())
    if st.session_state.save_failed == i:
        st.warning("Your answer could not be saved because the server is busy. Please press it again.")
    with st.container(horizontal_alignment="center", key="trial_image"):
        images.show(image_bytes(_url(), plan[i]), s["display_size"])
        st.markdown("Is this pattern **real** or **generated**?", text_alignment="center")
        truth = ("generated" if info.is_generated else "real") if practice else None
        with st.container(horizontal=True, horizontal_alignment="center", key="trial_buttons"):
            for answer, label in (("real", "Real"), ("generated", "Generated")):
                st.button(label, key=f"answer_{i}_{answer}", width=124, on_click=_answer,
                          args=(r["respondent_id"], i, answer, truth))


def thanks_page() -> None:
    """Thank you: completion code and a short debriefing."""
    _init_state()
    _header()
    r = _respondent()
    if r is None:
        return
    code = r["completion_code"] if r["finished"] else get_store(_url()).finish(r["respondent_id"])
    st.markdown("##### Thank you for taking part!")
    st.caption("All your answers are saved.")
    st.markdown("Your completion code (quote it if you were asked to):")
    st.code(code, language=None)
    st.markdown(
        "**About the study.** The images you saw were a mix of real textile patterns and "
        "patterns made by a generative adversarial network (GAN) trained on real ones. Your "
        "answers help us measure how well people can tell them apart. You can close this page now.")

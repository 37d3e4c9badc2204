"""The analyst's page: live progress, Tables 5-7, fool rates, statistics and downloads.

Behind a password from Streamlit secrets (`analyst_password` in .streamlit/secrets.toml) or the
environment variable STUDY_ANALYST_PASSWORD, compared in constant time (hmac.compare_digest), with
wrong passwords slowed down per client and over all clients (study_app.throttle) and logged.
Without one configured the page says how to set it and shows nothing else. It is the only page of
an analyst server (`python -m study_app analyst`); respondents' servers do not have it.
"""
from __future__ import annotations

import hmac
import json
import logging
import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import streamlit as st  # noqa: E402

from study_app import inference as I  # noqa: E402
from study_app import session  # noqa: E402
from study_app import tables as T  # noqa: E402
from study_app.analysis import Analysis  # noqa: E402
from study_app.config import ENV_STUDY, default_db_url  # noqa: E402
from study_app.exports import (CODEBOOK, analyse_study, codebook_markdown, figure_png,  # noqa: E402
                               frames, jsonable, table6_figure, to_csv)
from study_app.store import StoreError  # noqa: E402
from study_app import throttle as throttle_module  # noqa: E402

TITLE = "Analyst"
URL_PATH = "analyst"

ENV_PASSWORD = "STUDY_ANALYST_PASSWORD"
SECRET_KEY = "analyst_password"
REFRESH_SECONDS = 10          # how stale the live numbers may be
log = logging.getLogger("study_app.analyst")
STAT_TITLES = {
    I.KEY_BINOMIAL: "Each respondent against chance (exact binomial, Holm; Wilson intervals)",
    I.KEY_ACCURACY: "Overall accuracy and HYPE-style error (respondent bootstrap, 10,000 resamples)",
    I.KEY_SDT: "Sensitivity and bias (d', criterion c, log-linear correction)",
    I.KEY_WELCH: "Clothing workers vs others: Welch's t on respondent accuracy",
    I.KEY_GEE: "Clothing workers vs others: logistic GEE on trials, clustered on respondent",
    I.KEY_ORDER: "Order / fatigue effect (trial position)",
}


def configured_password() -> str | None:
    """The analyst password from st.secrets, else from $STUDY_ANALYST_PASSWORD; None if neither."""
    try:
        pw = st.secrets.get(SECRET_KEY)
    except Exception:   # noqa: BLE001 - no secrets.toml at all raises; that means "not set"
        pw = None
    return str(pw) if pw else (os.environ.get(ENV_PASSWORD) or None)


@st.cache_data(ttl=REFRESH_SECONDS, show_spinner="Analysing ...")
def _analysis(url: str, study: str) -> Analysis:
    """The study analysed (cached per database and study for REFRESH_SECONDS)."""
    return analyse_study(session.store(), study, I.N_BOOTSTRAP, seed=0)


@st.cache_data(ttl=600, show_spinner=False)
def _table6_png(url: str, study: str) -> bytes:
    return figure_png(table6_figure(session.store(), study), dpi=100)


def _client() -> str:
    """The address a password comes from (behind a proxy: the proxy's, so the limit is shared)."""
    ip = st.context.ip_address
    return ip if isinstance(ip, str) and ip else "unknown address"


def _check_password(expected: str) -> None:
    ss, client, throttle = st.session_state, _client(), throttle_module.ANALYST
    guess, ss.analyst_pw_input = ss.analyst_pw_input, ""
    wait = throttle.wait_s(client)
    if wait > 0:
        ss.analyst_pw_error = f"Too many wrong passwords: try again in {math.ceil(wait)} s."
        return
    if hmac.compare_digest(guess.encode(), expected.encode()):
        throttle.succeeded(client)
        ss.analyst_ok, ss.analyst_pw_error = True, None
        return
    n, wait = throttle.failed(client)
    log.warning("wrong analyst password from %s (%d in a row)", client, n)
    ss.analyst_pw_error = "Wrong password." + (f" Wait {math.ceil(wait)} s before the next try."
                                               if wait else "")


def _gate() -> bool:
    """True once this session has given the right password; otherwise draws the prompt."""
    expected = configured_password()
    if expected is None:
        st.warning(
            "The analyst page is locked because no analyst password is configured. Set one in "
            f"`.streamlit/secrets.toml` as `{SECRET_KEY} = \"...\"`, or in the environment "
            f"variable `{ENV_PASSWORD}` before starting the server, then reload this page.")
        return False
    if st.session_state.analyst_ok:
        return True
    st.text_input("Analyst password", type="password", key="analyst_pw_input",
                  on_change=_check_password, args=(expected,))
    if st.session_state.analyst_pw_error:
        st.error(st.session_state.analyst_pw_error)
    return False


def _accuracy_histogram(res: Analysis):
    r = res.respondents[res.respondents["included"]]
    fig, ax = plt.subplots(figsize=(6, 2.8))
    ax.hist(100 * r["accuracy"].astype(float), bins=list(range(0, 101, 4)), color="#4a6fa5",
            edgecolor="white")
    ax.axvline(50, color="#b33", ls="--", lw=1, label="chance (50 %)")
    ax.set_xlabel("respondent accuracy, % of main trials correct")
    ax.set_ylabel("respondents")
    ax.set_xlim(0, 100)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def _progress(res: Analysis) -> None:
    p = res.progress
    c = st.columns(4)
    c[0].metric("Started", p["started"])
    c[1].metric("Finished", p["finished"])
    c[2].metric("Excluded", p["excluded"])
    c[3].metric("Analysed", p["included"])
    st.caption("Exclusion rules (set per study, applied before any table or test): "
               + "; ".join(res.rules.describe()) + ". Excluded per rule: "
               + (", ".join(f"{k} {v}" for k, v in p["excluded_by_rule"].items()) or "none") + ".")


def _tables(res: Analysis, url: str, study: str) -> None:
    st.subheader("Table 5: respondents by gender and age band")
    for tab, group in zip(st.tabs(["All", "Clothing-related work", "Other work"]),
                          ["all", "clothing work", "other work"]):
        with tab:
            n = T.table5_wide(res.table5, group, "n")
            prop = T.table5_wide(res.table5, group, "proportion")
            st.dataframe(n.astype(int).astype(str) + " (" + (100 * prop).round(1).astype(str)
                         + " %)", key=f"t5_{group}")
    st.subheader("Table 6: real and generated patterns")
    st.image(_table6_png(url, study), caption="Study images, one row per class/model, labelled "
             "with the first characters of their id")
    st.subheader("Table 7: respondents per accuracy band")
    t7 = res.table7.assign(percent=lambda d: (100 * d["proportion"]).round(1))
    st.dataframe(t7[["band", "n", "percent", "n_simulated"]], hide_index=True, key="t7")
    st.caption(T.BAND_RULE)
    st.subheader("Accuracy of each respondent")
    fig = _accuracy_histogram(res)
    st.pyplot(fig)
    plt.close(fig)
    st.subheader("Fool rates")
    if len(res.models) > 2:
        st.caption("Per model (several generators in this study):")
    st.dataframe(res.models, hide_index=True, key="models")
    shown = res.images[res.images["kind"] == "main"].sort_values("fool_rate", ascending=False)
    st.dataframe(shown[["image_id", "class", "model", "n_answers", "n_fooled", "fool_rate",
                        "fool_ci_low", "fool_ci_high"]], hide_index=True, key="images")


def _statistics(res: Analysis) -> None:
    st.subheader("Statistics")
    st.markdown(f"**Exclusions.** {res.stats['exclusions']['reading']}")
    for key, title in STAT_TITLES.items():
        s = res.stats[key]
        st.markdown(f"**{title}.** {s['reading']}")
        with st.expander("numbers", expanded=False):
            st.json(jsonable({k: v for k, v in s.items() if k != "reading"}))


def _downloads(res: Analysis, study: str) -> None:
    st.subheader("Downloads")
    files = {name: to_csv(df) for name, df in frames(res).items()}
    files["stats.json"] = json.dumps(jsonable(res.stats), indent=2)
    files["codebook.md"] = codebook_markdown(study, session.store().get_study(study).options)
    cols = st.columns(3)
    for i, (name, data) in enumerate(files.items()):
        mime = "text/csv" if name.endswith(".csv") else "application/octet-stream"
        cols[i % 3].download_button(name, data, file_name=f"{study}_{name}", mime=mime,
                                    key=f"dl_{name}")
    st.caption(f"{len(CODEBOOK)} CSV files; `python -m study_app export` writes the same files "
               "plus table6.png and the study images (images.csv's path column).")


def page() -> None:
    """The analyst page (password first)."""
    session.init()
    st.title("Study results (analyst)")
    if not _gate():
        return
    url = default_db_url()
    try:
        names = session.store().study_names()
    except StoreError as e:
        st.error(str(e))
        return
    if not names:
        st.info("No study in the database yet. Create one with `python -m study_app create`.")
        return
    default = os.environ.get(ENV_STUDY)
    study = st.selectbox("Study", names, index=names.index(default) if default in names else 0,
                         key="analyst_study")
    if st.button("Refresh now", key="analyst_refresh"):
        _analysis.clear()
    res = _analysis(url, study)
    if res.progress["simulated"]:
        st.warning(f"SIMULATED DATA: {res.progress['simulated']} of {res.progress['started']} "
                   "respondents in this study were made by `python -m study_app simulate`, "
                   "not by people.")
    _progress(res)
    if res.progress["included"] == 0:
        st.info("No finished, included respondent yet: tables and statistics appear once the "
                "first respondent finishes.")
    else:
        _tables(res, url, study)
        _statistics(res)
    _downloads(res, study)          # the data so far, finished or not


if __name__ == "__main__":
    page()

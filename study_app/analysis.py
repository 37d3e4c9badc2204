"""The study's analysis: exclusions first, then Tables 5 and 7 (`tables`), fool rates and every
statistic (`inference`). No streamlit here.

Inputs are the frames `Store.respondents_frame`, `Store.trials_frame` and `Store.images_frame`
(their docstrings list the columns) and the study's ExclusionRules. `analyse(...)` returns all that
the analyst page and the `export` verb show.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from study_app import inference as I
from study_app import tables as T
from study_app.config import ExclusionRules


@dataclass
class Analysis:
    """Everything derived from one study's frames."""
    respondents: pd.DataFrame   # respondents frame + scores, finished, excluded, exclusion_reason, included
    trials: pd.DataFrame        # trials frame + simulated, included
    images: pd.DataFrame        # images frame + n_answers, n_fooled, fool_rate, fool_ci_low/high
    models: pd.DataFrame        # per class/model fool rates
    table5: pd.DataFrame        # long: group, gender, age_band, n, proportion, n_simulated
    table7: pd.DataFrame        # band, lower_pct, upper_pct, n, proportion, n_simulated
    progress: dict              # started, consented, finished, excluded (+ per rule), included, simulated
    stats: dict                 # inference.KEY_* and "exclusions" -> dict with numbers and "reading"
    rules: ExclusionRules       # the rules applied


def _exclusions_reading(prog: dict) -> str:
    by_rule = ", ".join(f"{k}: {v}" for k, v in prog["excluded_by_rule"].items()) or "none"
    simulated = f", {prog['simulated']} of all respondents are SIMULATED" if prog["simulated"] else ""
    return (f"{prog['excluded']} of {prog['finished']} finished respondents were excluded before "
            f"any test ({by_rule}); {prog['included']} are analysed{simulated}.")


def analyse(respondents: pd.DataFrame, trials: pd.DataFrame, images: pd.DataFrame,
            rules: ExclusionRules | None = None, n_boot: int = I.N_BOOTSTRAP,
            seed: int = 0) -> Analysis:
    """Exclusions first, then Tables 5 and 7, fool rates and every statistic."""
    rules = rules or ExclusionRules()
    resp = T.apply_exclusions(respondents, trials, rules)
    tr = trials.merge(resp[["respondent_id", "simulated", "included"]], on="respondent_id",
                      how="left")
    tr["included"] = tr["included"].astype("boolean").fillna(False).astype(bool)
    tr["simulated"] = tr["simulated"].astype("boolean").fillna(False).astype(bool)
    resp, s_binom = I.binomial_tests(resp)
    resp, s_sdt = I.signal_detection(resp)
    img, models = I.fool_rates(tr, images, n_boot, seed)
    prog = T.progress(resp)
    st = {I.KEY_BINOMIAL: s_binom, I.KEY_ACCURACY: I.bootstrap_accuracy(resp, n_boot, seed),
          I.KEY_SDT: s_sdt, I.KEY_WELCH: I.welch_clothing(resp), I.KEY_GEE: I.gee_clothing(resp, tr),
          I.KEY_ORDER: I.order_effect(resp, tr),
          "exclusions": {"rules": rules.describe(), **prog, "reading": _exclusions_reading(prog)}}
    return Analysis(respondents=resp, trials=tr, images=img, models=models, table5=T.table5(resp),
                    table7=T.table7(resp), progress=prog, stats=st, rules=rules)

"""What is counted: respondents' scores, the exclusion rules applied to them, Tables 5 and 7 and the
progress counts. Pure pandas on the Store's frames (columns as in `Store.respondents_frame` and
`Store.trials_frame`); only main trials are scored, catch trials feed the exclusion rule, practice
trials are ignored.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from study_app.config import AGE_BANDS, GENDERS, ExclusionRules

TOTAL = "total"

# Table 7: accuracy bands, top first. Each band owns its lower edge; 100 % belongs to the top band.
BANDS = (("[80, 100]", 80), ("[60, 80)", 60), ("[40, 60)", 40), ("[20, 40)", 20), ("[0, 20)", 0))
BAND_RULE = ("Accuracy = correct main trials / main trials answered, in percent. Bands are "
             "[80, 100], [60, 80), [40, 60), [20, 40), [0, 20): a respondent exactly on an edge "
             "(80, 60, 40 or 20 %) belongs to the band above it, and 100 % to the top band. "
             "With 50 trials one respondent's accuracy has a 95 % interval about +/-13 points wide, "
             "so bands describe noisy individual scores, not stable skill.")


def score_respondents(trials: pd.DataFrame) -> pd.DataFrame:
    """Per-respondent counts on main trials (fake = "generated" is the signal) and catch trials.

    Returns columns respondent_id, n_main, n_correct, accuracy, n_generated, n_real, hits
    (generated called generated), false_alarms (real called generated), fakes_called_real,
    reals_called_fake, median_response_ms, n_catch, n_catch_failed, identical_answers."""
    main = trials[trials["kind"] == "main"]
    gen = main["is_generated"].astype(bool)
    said_gen = main["answer"] == "generated"
    parts = pd.DataFrame({
        "respondent_id": main["respondent_id"],
        "n_main": 1, "n_correct": main["correct"].astype(int),
        "n_generated": gen.astype(int), "n_real": (~gen).astype(int),
        "hits": (gen & said_gen).astype(int), "false_alarms": (~gen & said_gen).astype(int),
        "fakes_called_real": (gen & ~said_gen).astype(int),
        "reals_called_fake": (~gen & said_gen).astype(int)})
    out = parts.groupby("respondent_id").sum()
    out["accuracy"] = out["n_correct"] / out["n_main"]
    rt = pd.to_numeric(main["response_ms"], errors="coerce").astype(float)
    out["median_response_ms"] = rt.groupby(main["respondent_id"]).median()
    out["identical_answers"] = main.groupby("respondent_id")["answer"].nunique() == 1
    catch = trials[trials["kind"] == "catch"]
    out["n_catch"] = catch.groupby("respondent_id").size().reindex(out.index, fill_value=0)
    out["n_catch_failed"] = ((~catch["correct"].astype(bool)).groupby(catch["respondent_id"]).sum()
                             .reindex(out.index, fill_value=0))
    return out.reset_index()


def apply_exclusions(respondents: pd.DataFrame, trials: pd.DataFrame,
                     rules: ExclusionRules) -> pd.DataFrame:
    """Respondents + scores + finished, excluded, exclusion_reason ("; "-joined rule names) and
    included (finished and not excluded). Rules are checked on finished respondents only."""
    scores = score_respondents(trials)
    df = respondents.merge(scores, on="respondent_id", how="left")
    for c in ("n_main", "n_correct", "n_generated", "n_real", "hits", "false_alarms",
              "fakes_called_real", "reals_called_fake", "n_catch", "n_catch_failed"):
        df[c] = df[c].fillna(0).astype(int)
    df["identical_answers"] = df["identical_answers"].astype("boolean").fillna(False).astype(bool)
    df["finished"] = df["finished_at"].notna() & (df["n_main"] > 0)
    reasons = [[] for _ in range(len(df))]
    for i, row in enumerate(df.itertuples(index=False)):
        if not row.finished:
            continue
        if rules.exclude_failed_catch and row.n_catch_failed > 0:
            reasons[i].append("failed catch trial")
        if rules.exclude_identical_answers and row.identical_answers:
            reasons[i].append("identical answers")
        if (rules.min_median_response_ms > 0 and pd.notna(row.median_response_ms)
                and row.median_response_ms < rules.min_median_response_ms):
            reasons[i].append("too fast")
    df["exclusion_reason"] = pd.Series(["; ".join(r) for r in reasons], index=df.index, dtype=object)
    df["excluded"] = df["exclusion_reason"] != ""
    df["included"] = df["finished"] & ~df["excluded"]
    return df


def accuracy_band(n_correct: int, n: int) -> str:
    """The Table 7 band of n_correct / n, decided in integers so edges are exact."""
    for name, lower in BANDS:
        if 100 * n_correct >= lower * n:
            return name
    raise ValueError(f"n_correct {n_correct}, n {n}: not a valid score")


def table7(resp: pd.DataFrame) -> pd.DataFrame:
    """Number and share of included respondents per accuracy band (BAND_RULE)."""
    r = resp[resp["included"]]
    bands = [accuracy_band(k, n) for k, n in zip(r["n_correct"], r["n_main"])]
    sim = r["simulated"].astype(bool).to_numpy()
    rows = []
    uppers = [100] + [lower for _, lower in BANDS[:-1]]
    for (name, lower), upper in zip(BANDS, uppers):
        hit = np.array([b == name for b in bands], dtype=bool)
        rows.append({"band": name, "lower_pct": lower, "upper_pct": upper, "n": int(hit.sum()),
                     "proportion": float(hit.sum() / len(r)) if len(r) else float("nan"),
                     "n_simulated": int((hit & sim).sum())})
    rows.append({"band": TOTAL, "lower_pct": 0, "upper_pct": 100, "n": len(r),
                 "proportion": 1.0 if len(r) else float("nan"), "n_simulated": int(sim.sum())})
    return pd.DataFrame(rows)


def _crosstab(r: pd.DataFrame, group: str) -> list[dict]:
    rows = []
    genders = list(GENDERS) + sorted(set(r["gender"].dropna()) - set(GENDERS))
    bands = list(AGE_BANDS) + sorted(set(r["age_band"].dropna()) - set(AGE_BANDS))
    n_all = len(r)
    for g in genders + [TOTAL]:
        for a in bands + [TOTAL]:
            m = np.ones(n_all, dtype=bool)
            if g != TOTAL:
                m &= (r["gender"] == g).to_numpy()
            if a != TOTAL:
                m &= (r["age_band"] == a).to_numpy()
            rows.append({"group": group, "gender": g, "age_band": a, "n": int(m.sum()),
                         "proportion": float(m.sum() / n_all) if n_all else float("nan"),
                         "n_simulated": int((m & r["simulated"].astype(bool).to_numpy()).sum())})
    return rows


def table5(resp: pd.DataFrame) -> pd.DataFrame:
    """Gender x age band counts and proportions (of the group's total) for the included
    respondents: group "all", then "clothing work" and "other work"; margins are "total"."""
    r = resp[resp["included"]]
    cw = r["clothing_work"].astype("boolean").fillna(False).astype(bool)
    rows = (_crosstab(r, "all") + _crosstab(r[cw], "clothing work")
            + _crosstab(r[~cw], "other work"))
    return pd.DataFrame(rows)


def table5_wide(t5: pd.DataFrame, group: str = "all", value: str = "n") -> pd.DataFrame:
    """One group of Table 5 as the paper lays it out: genders down, age bands across."""
    t = t5[t5["group"] == group]
    wide = t.pivot(index="gender", columns="age_band", values=value)
    order_g = list(dict.fromkeys(t["gender"]))
    order_a = list(dict.fromkeys(t["age_band"]))
    return wide.loc[order_g, order_a]


def progress(resp: pd.DataFrame) -> dict:
    """Counts for the live progress line: started, consented, finished, excluded (+ per rule),
    included, simulated."""
    counts: dict[str, int] = {}
    for reason in resp.loc[resp["excluded"], "exclusion_reason"]:
        for rule in str(reason).split("; "):
            counts[rule] = counts.get(rule, 0) + 1
    return {"started": int(len(resp)), "consented": int(resp["consented_at"].notna().sum()),
            "finished": int(resp["finished"].sum()), "excluded": int(resp["excluded"].sum()),
            "excluded_by_rule": counts,
            "included": int(resp["included"].sum()), "simulated": int(resp["simulated"].sum())}

"""What is estimated: fool rates, per-respondent binomial tests, the respondent bootstrap, signal
detection, and the clothing-work and trial-order comparisons, each with a one-line plain-language
reading. Pure scipy/statsmodels on the frames `study_app.tables` scores (included respondents only).
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

N_BOOTSTRAP = 10_000
ALPHA = 0.05

# Keys of the statistics dict (stats.json), one per question.
KEY_BINOMIAL = "per_respondent_binomial"
KEY_ACCURACY = "overall_accuracy"
KEY_SDT = "signal_detection"
KEY_WELCH = "clothing_welch_t"
KEY_GEE = "clothing_gee"
KEY_ORDER = "order_effect"


def wilson(k, n) -> tuple[np.ndarray, np.ndarray]:
    """95 % Wilson interval of k successes in n (vectorised)."""
    lo, hi = proportion_confint(np.asarray(k), np.asarray(n), alpha=ALPHA, method="wilson")
    return np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)


def resample_weights(n: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n) how often each of n respondents is drawn in each bootstrap resample (n draws
    with replacement); weights @ per-respondent counts gives the resampled totals."""
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    weights = np.zeros((n_boot, n), dtype=np.int64)
    np.add.at(weights, (np.arange(n_boot)[:, None], idx), 1)
    return weights


def _clustered_intervals(answers: pd.DataFrame, keys: pd.DataFrame, n_boot: int,
                         seed: int) -> tuple[np.ndarray, np.ndarray]:
    """95 % percentile intervals of each class/model's fool rate (rows of `keys`) from `answers`
    (respondent_id, class, model, fooled), resampling respondents with all their answers: a
    respondent gives many answers, which are not independent of each other."""
    nan = np.full(len(keys), np.nan)
    if answers.empty:
        return nan, nan.copy()
    cols = pd.MultiIndex.from_frame(keys[["class", "model"]])
    per = answers.groupby(["respondent_id", "class", "model"])["fooled"].agg(["sum", "size"])
    fooled = per["sum"].unstack(["class", "model"], fill_value=0).reindex(columns=cols, fill_value=0)
    shown = per["size"].unstack(["class", "model"], fill_value=0).reindex(columns=cols, fill_value=0)
    w = resample_weights(len(shown), n_boot, seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = (w @ fooled.to_numpy()) / (w @ shown.to_numpy())      # (n_boot, len(keys))
    lo, hi = nan, nan.copy()
    for j in range(len(keys)):
        finite = rates[np.isfinite(rates[:, j]), j]
        if len(finite):
            lo[j], hi[j] = np.percentile(finite, [2.5, 97.5])
    return lo, hi


def fool_rates(trials: pd.DataFrame, images: pd.DataFrame, n_boot: int = N_BOOTSTRAP,
               seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per image: answers, times fooled (generated called real, or real called generated) and
    the fool rate with a Wilson interval (one answer per respondent per image: independent); per
    class/model: the same pooled, with a respondent-clustered bootstrap interval. Main trials of
    included respondents only."""
    t = trials[trials["included"] & (trials["kind"] == "main")]
    fooled = ~t["correct"].astype(bool)
    g = pd.DataFrame({"image_id": t["image_id"], "n_fooled": fooled.astype(int), "n_answers": 1})
    per = g.groupby("image_id").sum()
    img = images.merge(per, left_on="image_id", right_index=True, how="left")
    img["n_answers"] = img["n_answers"].fillna(0).astype(int)
    img["n_fooled"] = img["n_fooled"].fillna(0).astype(int)
    img["fool_rate"] = np.where(img["n_answers"] > 0,
                                img["n_fooled"] / img["n_answers"].where(img["n_answers"] > 0, 1),
                                np.nan)
    lo, hi = wilson(img["n_fooled"], img["n_answers"].where(img["n_answers"] > 0, 1))
    img["fool_ci_low"] = np.where(img["n_answers"] > 0, lo, np.nan)
    img["fool_ci_high"] = np.where(img["n_answers"] > 0, hi, np.nan)
    img["class"] = np.where(img["is_generated"], "generated", "real")
    shown = img[img["kind"] == "main"].copy()
    shown["model"] = shown["model"].where(shown["is_generated"], "real").fillna("(unnamed)")
    models = (shown.groupby(["class", "model"], sort=True)
              .agg(n_images=("image_id", "size"), n_answers=("n_answers", "sum"),
                   n_fooled=("n_fooled", "sum")).reset_index())
    models["fool_rate"] = models["n_fooled"] / models["n_answers"].where(models["n_answers"] > 0)
    answers = t[["respondent_id", "image_id"]].assign(fooled=fooled.astype(int)).merge(
        shown[["image_id", "class", "model"]], on="image_id", how="inner")
    models["fool_ci_low"], models["fool_ci_high"] = _clustered_intervals(answers, models, n_boot, seed)
    return img, models


def binomial_tests(resp: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Per respondent: exact one-sided binomial test of accuracy > 50 %, Holm-adjusted over the
    included respondents, and the 95 % Wilson interval of their accuracy."""
    r = resp.copy()
    for c in ("p_value", "p_holm", "acc_ci_low", "acc_ci_high"):
        r[c] = np.nan
    inc = r["included"].to_numpy()
    k, n = r.loc[inc, "n_correct"].to_numpy(), r.loc[inc, "n_main"].to_numpy()
    if inc.sum() == 0:
        return r, {"n": 0, "reading": "No included respondent yet: nothing to test."}
    p = np.array([stats.binomtest(int(a), int(b), 0.5, alternative="greater").pvalue
                  for a, b in zip(k, n)])
    p_holm = multipletests(p, alpha=ALPHA, method="holm")[1]
    lo, hi = wilson(k, n)
    r.loc[inc, "p_value"], r.loc[inc, "p_holm"] = p, p_holm
    r.loc[inc, "acc_ci_low"], r.loc[inc, "acc_ci_high"] = lo, hi
    above = int((p_holm < ALPHA).sum())
    above_raw = int((p < ALPHA).sum())
    n_typ = int(np.median(n))
    # With few trials (fewer than 5 at alpha 0.05) not even a perfect score beats chance.
    k_needed = next((j for j in range(n_typ + 1)
                     if stats.binomtest(j, n_typ, 0.5, alternative="greater").pvalue < ALPHA), None)
    needed = (f"a single respondent needs {k_needed} correct ({100 * k_needed / n_typ:.0f} %) to "
              "beat chance on their own" if k_needed is not None else
              f"no single respondent can beat chance on their own, not even with all {n_typ} correct")
    summary = {"n": int(inc.sum()), "above_chance_holm": above, "above_chance_unadjusted": above_raw,
               "alpha": ALPHA, "typical_n_trials": n_typ, "correct_needed_unadjusted": k_needed,
               "reading": (f"{above} of {int(inc.sum())} respondents scored reliably above chance "
                           f"(exact binomial test, Holm-corrected p < {ALPHA}); {above_raw} did "
                           f"without correction. With {n_typ} trials {needed}.")}
    return r, summary


def bootstrap_accuracy(resp: pd.DataFrame, n_boot: int = N_BOOTSTRAP, seed: int = 0) -> dict:
    """Overall accuracy, HYPE-style error rate and its split (fakes called real / generated shown,
    reals called fake / reals shown), each with a 95 % percentile interval from `n_boot`
    resamples of respondents with replacement (Zhou et al. 2019)."""
    r = resp[resp["included"]]
    if len(r) == 0:
        return {"n": 0, "reading": "No included respondent yet."}
    counts = r[["n_correct", "n_main", "fakes_called_real", "n_generated",
                "reals_called_fake", "n_real"]].to_numpy(dtype=float)
    sums = resample_weights(len(r), n_boot, seed) @ counts      # (n_boot, 6)
    tot = counts.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        boot = {"accuracy": sums[:, 0] / sums[:, 1], "fakes_error": sums[:, 2] / sums[:, 3],
                "reals_error": sums[:, 4] / sums[:, 5]}
        point = {"accuracy": tot[0] / tot[1], "fakes_error": tot[2] / tot[3],
                 "reals_error": tot[4] / tot[5]}
    boot["error_rate"], point["error_rate"] = 1 - boot["accuracy"], 1 - point["accuracy"]
    out = {"n": int(len(r)), "n_answers": int(tot[1]), "n_bootstrap": n_boot, "seed": seed}
    for key in ("accuracy", "error_rate", "fakes_error", "reals_error"):
        b = boot[key][np.isfinite(boot[key])]
        lo, hi = (np.percentile(b, [2.5, 97.5]) if len(b) else (np.nan, np.nan))
        out[key] = {"value": float(point[key]), "ci_low": float(lo), "ci_high": float(hi),
                    "bootstrap_sd": float(b.std(ddof=1)) if len(b) > 1 else float("nan")}
    a, e = out["accuracy"], out["error_rate"]
    verdict = ("includes 50 %, so the group as a whole did not tell real from generated better "
               "than chance" if a["ci_low"] <= 0.5 <= a["ci_high"] else
               "excludes 50 %, so the group as a whole did better than chance" if a["ci_low"] > 0.5
               else "lies below 50 %: generated images were judged real more often than real ones")
    out["reading"] = (f"Overall accuracy {100 * a['value']:.1f} % (95 % CI {100 * a['ci_low']:.1f}"
                      f"-{100 * a['ci_high']:.1f}); the interval {verdict}. Error rate "
                      f"{100 * e['value']:.1f} %: {100 * out['fakes_error']['value']:.1f} % of "
                      f"generated images were called real, {100 * out['reals_error']['value']:.1f} "
                      "% of real ones were called generated.")
    return out


def signal_detection(resp: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Per respondent hit rate H = P(say generated | generated), false-alarm rate F =
    P(say generated | real), with the log-linear correction (k + 0.5) / (n + 1) (Hautus 1995);
    d' = z(H) - z(F), c = -(z(H) + z(F)) / 2; means tested against 0 (one-sample t)."""
    r = resp.copy()
    h = (r["hits"] + 0.5) / (r["n_generated"] + 1)
    f = (r["false_alarms"] + 0.5) / (r["n_real"] + 1)
    r["hit_rate"], r["false_alarm_rate"] = h, f
    r["d_prime"] = stats.norm.ppf(h) - stats.norm.ppf(f)
    r["criterion_c"] = -(stats.norm.ppf(h) + stats.norm.ppf(f)) / 2
    inc = r[r["included"]]
    out = {"n": int(len(inc))}
    if len(inc) == 0:
        out["reading"] = "No included respondent yet."
        return r, out
    for key in ("hit_rate", "false_alarm_rate", "d_prime", "criterion_c"):
        out[key] = {"mean": float(inc[key].mean()),
                    "sd": float(inc[key].std(ddof=1)) if len(inc) > 1 else float("nan")}
    for key in ("d_prime", "criterion_c"):
        if len(inc) > 1 and inc[key].std(ddof=1) > 0:
            t = stats.ttest_1samp(inc[key], 0.0)
            out[key].update(t=float(t.statistic), p_value=float(t.pvalue))
        else:
            out[key].update(t=None, p_value=None, note="not estimable: fewer than 2 respondents "
                            "or no spread")
    d, c = out["d_prime"], out["criterion_c"]
    d_txt = ("not testable" if d.get("p_value") is None else
             f"{'different' if d['p_value'] < ALPHA else 'not reliably different'} from 0 "
             f"(p = {d['p_value']:.3g})")
    bias = ("practically none" if abs(c["mean"]) < 0.1 else
            "a bias towards answering 'generated'" if c["mean"] < 0 else
            "a bias towards answering 'real'")
    out["reading"] = (f"Mean sensitivity d' = {d['mean']:.2f}, {d_txt}: 0 means no ability to tell "
                      f"the classes apart. Mean criterion c = {c['mean']:.2f}, response bias: {bias}; "
                      f"hit rate {100 * out['hit_rate']['mean']:.1f} %, false-alarm rate "
                      f"{100 * out['false_alarm_rate']['mean']:.1f} %.")
    return r, out


def welch_clothing(resp: pd.DataFrame) -> dict:
    """Welch's t test of respondent accuracy, clothing-related work vs other work."""
    r = resp[resp["included"]]
    cw = r["clothing_work"].astype("boolean").fillna(False).astype(bool)
    a, b = r.loc[cw, "accuracy"].astype(float), r.loc[~cw, "accuracy"].astype(float)
    out = {"n_clothing": int(len(a)), "n_other": int(len(b)),
           "mean_clothing": float(a.mean()) if len(a) else None,
           "mean_other": float(b.mean()) if len(b) else None}
    if len(a) < 2 or len(b) < 2 or (a.var(ddof=1) == 0 and b.var(ddof=1) == 0):
        out.update(estimable=False, reading="Not estimable: Welch's t needs at least 2 respondents "
                   "in each group and some spread in accuracy.")
        return out
    t = stats.ttest_ind(a, b, equal_var=False)
    out.update(estimable=True, t=float(t.statistic), df=float(t.df), p_value=float(t.pvalue))
    out["reading"] = (f"Clothing workers averaged {100 * out['mean_clothing']:.1f} % and others "
                      f"{100 * out['mean_other']:.1f} %; Welch's t = {out['t']:.2f}, "
                      f"p = {out['p_value']:.3g}: the groups "
                      f"{'differ' if out['p_value'] < ALPHA else 'do not reliably differ'}.")
    return out


def _gee(formula: str, data: pd.DataFrame, term: str) -> dict:
    """Binomial GEE with exchangeable correlation clustered on respondent; the odds ratio of
    `term`. Degenerate data (one cluster, no variation, singular fit) -> estimable False."""
    import statsmodels.api as sm
    import statsmodels.formula.api as smf
    if data["respondent_id"].nunique() < 2 or data["correct"].nunique() < 2:
        return {"estimable": False, "why": "fewer than 2 respondents or no variation in correctness"}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = smf.gee(formula, groups="respondent_id", data=data,
                          family=sm.families.Binomial(),
                          cov_struct=sm.cov_struct.Exchangeable()).fit()
        if term not in fit.params.index:
            return {"estimable": False, "why": f"term {term} dropped from the model"}
        beta, se, p = float(fit.params[term]), float(fit.bse[term]), float(fit.pvalues[term])
        if not all(np.isfinite([beta, se, p])) or se <= 0 or abs(beta) > 20:
            return {"estimable": False, "why": "the fit did not converge to finite estimates"}
    except (ValueError, np.linalg.LinAlgError, ZeroDivisionError, KeyError) as e:
        return {"estimable": False, "why": f"the fit failed ({type(e).__name__}: {e})"}
    z = stats.norm.ppf(1 - ALPHA / 2)
    return {"estimable": True, "formula": formula, "n_trials": int(len(data)),
            "n_respondents": int(data["respondent_id"].nunique()), "log_odds": beta, "se": se,
            "odds_ratio": float(np.exp(beta)), "or_ci_low": float(np.exp(beta - z * se)),
            "or_ci_high": float(np.exp(beta + z * se)), "p_value": p}


def _trial_table(resp: pd.DataFrame, trials: pd.DataFrame) -> pd.DataFrame:
    t = trials[trials["included"] & (trials["kind"] == "main")]
    cols = ["respondent_id", "clothing_work", "gender", "age_band"]
    d = t.merge(resp[cols], on="respondent_id", how="left")
    d["correct"] = d["correct"].astype(int)
    d["clothing_work"] = d["clothing_work"].astype("boolean").fillna(False).astype(int)
    d["is_generated"] = d["is_generated"].astype(int)
    d["gender"] = d["gender"].fillna("missing").astype(str)
    d["age_band"] = d["age_band"].fillna("missing").astype(str)
    # Position among the respondent's main trials, in tens (odds ratio per 10 trials).
    d["position10"] = d.groupby("respondent_id")["trial_index"].rank(method="first").sub(1) / 10
    return d


def gee_clothing(resp: pd.DataFrame, trials: pd.DataFrame) -> dict:
    """Trial-level logistic GEE clustered on respondent: correct ~ clothing_work + gender +
    age band + image class; covariates with a single level are left out."""
    d = _trial_table(resp, trials)
    terms, covariates = ["clothing_work"], []
    for c, term, name in (("gender", "C(gender)", "gender"), ("age_band", "C(age_band)", "age band"),
                          ("is_generated", "is_generated", "image class")):
        if d[c].nunique() > 1:
            terms.append(term)
            covariates.append(name)
    if d["clothing_work"].nunique() < 2:
        out = {"estimable": False, "why": "only one work group among included respondents"}
    else:
        out = _gee("correct ~ " + " + ".join(terms), d, "clothing_work")
    if out["estimable"]:
        out["reading"] = (f"Adjusted for {', '.join(covariates) or 'nothing'}, clothing "
                          f"work multiplies the odds of a correct answer by "
                          f"{out['odds_ratio']:.2f} (95 % CI {out['or_ci_low']:.2f}-"
                          f"{out['or_ci_high']:.2f}, p = {out['p_value']:.3g}; GEE clustered on "
                          f"respondent): {'a reliable' if out['p_value'] < ALPHA else 'no reliable'}"
                          " difference.")
    else:
        out["reading"] = f"Not estimable: {out['why']}."
    return out


def order_effect(resp: pd.DataFrame, trials: pd.DataFrame) -> dict:
    """Order/fatigue: does accuracy change with trial position? GEE correct ~ position (per 10
    trials) + image class, clustered on respondent; plus accuracy in the first and second half."""
    d = _trial_table(resp, trials)
    out = {}
    if len(d):
        half = d.groupby("respondent_id")["position10"].transform(lambda s: s > s.median())
        out["accuracy_first_half"] = float(d.loc[~half, "correct"].mean())
        out["accuracy_second_half"] = float(d.loc[half, "correct"].mean()) if half.any() else None
    formula = "correct ~ position10" + (" + is_generated" if d["is_generated"].nunique() > 1 else "")
    out.update(_gee(formula, d, "position10") if len(d) else
               {"estimable": False, "why": "no trials"})
    if out["estimable"]:
        direction = "rises" if out["odds_ratio"] > 1 else "falls"
        out["reading"] = (f"Per 10 trials later in the sequence the odds of a correct answer are "
                          f"multiplied by {out['odds_ratio']:.2f} (95 % CI {out['or_ci_low']:.2f}-"
                          f"{out['or_ci_high']:.2f}, p = {out['p_value']:.3g}): accuracy "
                          f"{direction} with position, "
                          f"{'reliably' if out['p_value'] < ALPHA else 'but not reliably'}.")
    else:
        out["reading"] = f"Not estimable: {out['why']}."
    return out

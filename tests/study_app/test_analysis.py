"""study_app.analysis (with its parts `tables` and `inference`): Tables 5 and 7 from a data set
built with the paper's counts, exclusions, and every statistic against a hand computation."""
from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from study_app import inference as I
from study_app import tables as T
from study_app.analysis import analyse
from study_app.config import AGE_BANDS, ExclusionRules

T0 = pd.Timestamp("2026-01-01 10:00", tz="UTC")
N_PER_CLASS = 25


def build_frames(people: list[dict], n_catch: int = 0):
    """Respondents, trials and images frames (the Store's frame columns) for `people`, each a dict with
    gender, age_band, clothing_work, n_correct (of 50 main trials) and optionally simulated,
    finished, catch_fail, identical ("real" on every trial), rt_ms, correct_first (correct
    answers on the first trials instead of the last)."""
    real = [f"r{i:02d}" for i in range(N_PER_CLASS)]
    fake = [f"g{i:02d}" for i in range(N_PER_CLASS)]
    catch = [f"c{i}" for i in range(n_catch)]
    images = pd.DataFrame({
        "image_id": real + fake + catch,
        "is_generated": [False] * N_PER_CLASS + [True] * N_PER_CLASS + [True] * n_catch,
        "model": [None] * N_PER_CLASS + ["paper"] * N_PER_CLASS + [None] * n_catch,
        "kind": ["main"] * (2 * N_PER_CLASS) + ["catch"] * n_catch,
        "path": [f"/x/{i}.png" for i in real + fake + catch]})
    resp, rows = [], []
    for rid, p in enumerate(people, start=1):
        order = [x for pair in zip(fake, real) for x in pair]     # alternate classes
        k = p["n_correct"]
        correct = ([False] * (50 - k) + [True] * k) if not p.get("correct_first") else \
                  ([True] * k + [False] * (50 - k))
        for i, (img, ok) in enumerate(zip(order, correct)):
            gen = img.startswith("g")
            if p.get("identical"):
                ans = "real"
            else:
                ans = ("generated" if gen else "real") if ok else ("real" if gen else "generated")
            rows.append((rid, i, img, gen, "paper" if gen else None, "main", ans,
                         (ans == "generated") == gen, p.get("rt_ms", 1500)))
        for j, img in enumerate(catch):
            ans = "real" if p.get("catch_fail") else "generated"
            rows.append((rid, 50 + j, img, True, None, "catch", ans, ans == "generated", 1500))
        finished = p.get("finished", True)
        resp.append({"respondent_id": rid, "pid": f"p{rid}", "gender": p["gender"],
                     "age_band": p["age_band"], "clothing_work": p["clothing_work"],
                     "background": "test", "consent_version": "v1", "consented_at": T0,
                     "started_at": T0, "finished_at": T0 + pd.Timedelta(minutes=10) if finished
                     else pd.NaT, "completion_code": "C" if finished else None, "seed": rid,
                     "simulated": p.get("simulated", False)})
    trials = pd.DataFrame(rows, columns=["respondent_id", "trial_index", "image_id", "is_generated",
                                         "model", "kind", "answer", "correct", "response_ms"])
    trials["shown_at"] = T0
    trials["answered_at"] = T0 + pd.Timedelta(seconds=2)
    trials["response_ms"] = trials["response_ms"].astype("Int64")
    resp = pd.DataFrame(resp, columns=["respondent_id", "pid", "gender", "age_band", "clothing_work",
                                       "background", "consent_version", "consented_at",
                                       "started_at", "finished_at", "completion_code", "seed",
                                       "simulated"])
    resp["clothing_work"] = resp["clothing_work"].astype("boolean")
    return resp, trials, images


# The paper's design: 60 respondents, 40 in clothing-related work and 20 not; Table 7 has 52 of
# 60 in the 60-40 band. Cells of Table 5 (gender x age band), split by work.
TABLE5_CLOTHING = {("female", "11-20"): 4, ("female", "21-30"): 14, ("female", "31-40"): 6,
                   ("female", "41-50"): 3, ("female", "51-60"): 1, ("male", "21-30"): 6,
                   ("male", "31-40"): 4, ("male", "41-50"): 2}
TABLE5_OTHER = {("female", "11-20"): 2, ("female", "21-30"): 6, ("female", "31-40"): 2,
                ("female", "61-70"): 1, ("male", "11-20"): 1, ("male", "21-30"): 5,
                ("male", "51-60"): 2, ("non-binary", "21-30"): 1}
# Table 7 bands (top first) with one respondent on each of the edges 80, 60, 40, 20 %.
BAND_SCORES = ([40] + [31, 33, 37, 30] + [20] + [25] * 27 + [24, 26, 27, 28, 29, 23, 22, 21] * 3
               + [10, 19] + [9])
EXPECTED_TABLE7 = [1, 4, 52, 2, 1]


def paper_people() -> list[dict]:
    cells = ([(g, a, True) for (g, a), n in TABLE5_CLOTHING.items() for _ in range(n)]
             + [(g, a, False) for (g, a), n in TABLE5_OTHER.items() for _ in range(n)])
    assert len(cells) == 60 and len(BAND_SCORES) == 60
    people = [{"gender": g, "age_band": a, "clothing_work": c, "n_correct": k}
              for (g, a, c), k in zip(cells, BAND_SCORES)]
    # Respondents the rules must drop before any table: none of them may appear in Table 5/7.
    people += [{"gender": "male", "age_band": "61-70", "clothing_work": True, "n_correct": 50,
                "catch_fail": True},
               {"gender": "male", "age_band": "61-70", "clothing_work": True, "n_correct": 25,
                "identical": True},
               {"gender": "male", "age_band": "61-70", "clothing_work": False, "n_correct": 48,
                "rt_ms": 150},
               {"gender": "male", "age_band": "61-70", "clothing_work": False, "n_correct": 50,
                "finished": False}]
    return people


@pytest.fixture(scope="module")
def paper():
    resp, trials, images = build_frames(paper_people(), n_catch=2)
    return analyse(resp, trials, images, ExclusionRules(), n_boot=2000, seed=1)


def test_exclusions_are_counted_per_rule_and_applied_first(paper):
    p = paper.progress
    assert (p["started"], p["finished"], p["excluded"], p["included"]) == (64, 63, 3, 60)
    assert p["excluded_by_rule"] == {"failed catch trial": 1, "identical answers": 1, "too fast": 1}
    dropped = paper.respondents[paper.respondents["excluded"]]
    assert list(dropped["exclusion_reason"]) == ["failed catch trial", "identical answers", "too fast"]
    assert paper.stats[I.KEY_BINOMIAL]["n"] == 60


def test_table7_reproduces_the_paper_counts_with_band_edges(paper):
    t7 = paper.table7
    assert list(t7["band"]) == [b for b, _ in T.BANDS] + [T.TOTAL]
    assert list(t7["n"]) == EXPECTED_TABLE7 + [60]
    assert t7.loc[t7["band"] == "[40, 60)", "n"].item() == 52
    np.testing.assert_allclose(t7["proportion"], np.array(EXPECTED_TABLE7 + [60]) / 60)


@pytest.mark.parametrize("k,n,band", [(50, 50, "[80, 100]"), (40, 50, "[80, 100]"),
                                      (39, 50, "[60, 80)"), (30, 50, "[60, 80)"),
                                      (20, 50, "[40, 60)"), (10, 50, "[20, 40)"),
                                      (9, 50, "[0, 20)"), (0, 50, "[0, 20)"), (3, 5, "[60, 80)"),
                                      (1, 3, "[20, 40)")])
def test_band_edges_belong_to_the_band_above(k, n, band):
    assert T.accuracy_band(k, n) == band


def test_table5_reproduces_gender_by_age_counts_and_split_by_work(paper):
    t5 = paper.table5
    for group, cells in (("clothing work", TABLE5_CLOTHING), ("other work", TABLE5_OTHER)):
        wide = T.table5_wide(t5, group)
        for (g, a), n in cells.items():
            assert wide.loc[g, a] == n
        assert wide.loc[T.TOTAL, T.TOTAL] == sum(cells.values())
        assert wide.drop(index=T.TOTAL, columns=T.TOTAL).to_numpy().sum() == sum(cells.values())
    allw = T.table5_wide(t5, "all")
    assert allw.loc[T.TOTAL, T.TOTAL] == 60
    assert allw.loc["female", "21-30"] == 20 and allw.loc["male", "61-70"] == 0
    assert allw.loc["female", T.TOTAL] == 39 and allw.loc[T.TOTAL, "21-30"] == 32
    prop = T.table5_wide(t5, "all", "proportion")
    assert prop.loc["female", "21-30"] == pytest.approx(20 / 60)
    assert list(allw.columns) == list(AGE_BANDS) + [T.TOTAL]


def test_simulated_respondents_are_counted_in_the_tables():
    people = [{"gender": "female", "age_band": "21-30", "clothing_work": True, "n_correct": 25,
               "simulated": i % 2 == 0} for i in range(6)]
    res = analyse(*build_frames(people), n_boot=200)
    assert res.table7.loc[res.table7["band"] == T.TOTAL, "n_simulated"].item() == 3
    assert res.progress["simulated"] == 3
    assert "SIMULATED" in res.stats["exclusions"]["reading"]


def test_binomial_holm_and_wilson_match_hand_computation(paper):
    r = paper.respondents[paper.respondents["included"]]
    # Exact one-sided p of k/50 by summing binomial terms.
    for k in (40, 31, 25):
        row = r[r["n_correct"] == k].iloc[0]
        hand = sum(math.comb(50, j) for j in range(k, 51)) / 2 ** 50
        assert row["p_value"] == pytest.approx(hand, rel=1e-9)
    # Holm: sort, multiply by (m - rank), running maximum, cap at 1.
    p = r["p_value"].to_numpy()
    order = np.argsort(p)
    adj = np.minimum(1, np.maximum.accumulate(p[order] * (len(p) - np.arange(len(p)))))
    hand_holm = np.empty_like(adj)
    hand_holm[order] = adj
    np.testing.assert_allclose(r["p_holm"], hand_holm, rtol=1e-12)
    # Wilson interval of 30/50 in closed form.
    z, ph, n = NormalDist().inv_cdf(0.975), 30 / 50, 50
    centre = (ph + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(ph * (1 - ph) / n + z * z / (4 * n * n))
    lo, hi = I.wilson(30, 50)
    assert (float(lo), float(hi)) == pytest.approx((centre - half, centre + half), abs=1e-12)
    s = paper.stats[I.KEY_BINOMIAL]
    assert s["correct_needed_unadjusted"] == 32          # 32/50 = 64 %: the 50-trial threshold
    assert s["above_chance_unadjusted"] == int((p < 0.05).sum())
    assert "respondents scored reliably above chance" in s["reading"]


def test_signal_detection_log_linear_matches_hand_computation():
    # 20 of 25 generated called generated (hits), 5 of 25 real called generated (false alarms).
    resp = pd.DataFrame({"respondent_id": [1], "hits": [20], "n_generated": [25],
                         "false_alarms": [5], "n_real": [25], "included": [True]})
    r, s = I.signal_detection(resp)
    z = NormalDist().inv_cdf
    h, f = 20.5 / 26, 5.5 / 26
    assert r["d_prime"].item() == pytest.approx(z(h) - z(f), abs=1e-12)
    assert r["criterion_c"].item() == pytest.approx(-(z(h) + z(f)) / 2, abs=1e-12)
    assert s["d_prime"]["p_value"] is None               # one respondent: not testable
    # A perfect respondent stays finite thanks to the correction.
    r2, _ = I.signal_detection(resp.assign(hits=[25], false_alarms=[0]))
    assert r2["d_prime"].item() == pytest.approx(z(25.5 / 26) - z(0.5 / 26))


def test_bootstrap_is_seeded_and_collapses_without_spread():
    people = [{"gender": "female", "age_band": "21-30", "clothing_work": True, "n_correct": 30}
              for _ in range(5)]
    frames = build_frames(people)
    a = analyse(*frames, n_boot=500, seed=3).stats[I.KEY_ACCURACY]
    assert a["accuracy"] == pytest.approx({"value": 0.6, "ci_low": 0.6, "ci_high": 0.6,
                                           "bootstrap_sd": 0.0}, abs=1e-12)
    assert a["error_rate"]["value"] == pytest.approx(0.4)
    # Correct answers are the last 30 of the alternating order g,r,g,r...: the 20 errors are the
    # first 20 trials, 10 generated called real and 10 real called generated.
    assert a["fakes_error"]["value"] == pytest.approx(10 / 25)
    assert a["reals_error"]["value"] == pytest.approx(10 / 25)
    mixed = build_frames([dict(p, n_correct=k) for p, k in zip(people, [20, 25, 30, 35, 40])])
    b1 = analyse(*mixed, n_boot=500, seed=3).stats[I.KEY_ACCURACY]
    b2 = analyse(*mixed, n_boot=500, seed=3).stats[I.KEY_ACCURACY]
    assert b1 == b2 and b1["accuracy"]["ci_low"] < 0.6 < b1["accuracy"]["ci_high"]


def test_welch_t_matches_hand_computation():
    acc_c, acc_o = [25, 30, 35], [20, 25]
    people = ([{"gender": "female", "age_band": "21-30", "clothing_work": True, "n_correct": k}
               for k in acc_c] + [{"gender": "male", "age_band": "31-40", "clothing_work": False,
                                   "n_correct": k} for k in acc_o])
    w = analyse(*build_frames(people), n_boot=100).stats[I.KEY_WELCH]
    a, b = np.array(acc_c) / 50, np.array(acc_o) / 50
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    t = (a.mean() - b.mean()) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    assert (w["t"], w["df"]) == pytest.approx((t, df), rel=1e-10)


def test_degenerate_data_reports_not_estimable_instead_of_crashing():
    one = [{"gender": "female", "age_band": "21-30", "clothing_work": True, "n_correct": 30}]
    res = analyse(*build_frames(one), n_boot=100)
    for key in (I.KEY_WELCH, I.KEY_GEE, I.KEY_ORDER):
        assert res.stats[key]["estimable"] is False
        assert res.stats[key]["reading"].startswith("Not estimable")
    same_group = [dict(one[0], n_correct=k) for k in (20, 30, 40)]
    res = analyse(*build_frames(same_group), n_boot=100)
    assert res.stats[I.KEY_GEE]["estimable"] is False
    assert "one work group" in res.stats[I.KEY_GEE]["why"]


def test_gee_finds_a_real_group_difference_and_order_effect():
    rng = np.random.default_rng(0)
    people = []
    for i in range(30):
        cw = i < 15
        k = int(rng.binomial(50, 0.8 if cw else 0.5))
        people.append({"gender": ["female", "male"][i % 2], "age_band": ["21-30", "31-40"][i % 3 > 0],
                       "clothing_work": cw, "n_correct": k, "correct_first": False})
    res = analyse(*build_frames(people), n_boot=200)
    g = res.stats[I.KEY_GEE]
    assert g["estimable"] and g["odds_ratio"] > 2 and g["p_value"] < 0.01
    assert "clothing work multiplies the odds" in g["reading"]
    # Errors first, correct answers last (build_frames' default): accuracy rises with position.
    o = res.stats[I.KEY_ORDER]
    assert o["estimable"] and o["odds_ratio"] > 1 and o["p_value"] < 0.01
    assert o["accuracy_second_half"] > o["accuracy_first_half"]


def test_a_study_without_respondents_analyses_to_empty_tables():
    res = analyse(*build_frames([]), n_boot=100)
    assert res.progress["started"] == 0 and res.progress["excluded_by_rule"] == {}
    assert list(res.table7["n"]) == [0] * 6
    assert res.stats[I.KEY_ACCURACY]["n"] == 0 and res.stats[I.KEY_GEE]["estimable"] is False


def _split_people(n: int) -> list[dict]:
    """n respondents, half never fooled (all 50 correct), half always fooled (none correct)."""
    return [{"gender": "female", "age_band": "21-30", "clothing_work": True,
             "n_correct": 50 if i % 2 else 0} for i in range(n)]


def test_model_fool_rate_interval_resamples_respondents_not_answers():
    rules = ExclusionRules(exclude_identical_answers=False)
    res = analyse(*build_frames(_split_people(20)), rules, n_boot=2000, seed=1)
    m = res.models.set_index("model").loc["paper"]
    assert m.n_answers == 500 and m.fool_rate == 0.5
    lo, hi = I.wilson(m.n_fooled, m.n_answers)          # what pooling 500 answers would claim
    assert hi - lo < 0.1
    # 20 respondents who are either always or never fooled: the rate is as uncertain as a share of
    # 20 people (sd about 0.11), not of 500 answers.
    assert m.fool_ci_low < 0.35 and m.fool_ci_high > 0.65
    assert m.fool_ci_high - m.fool_ci_low > 3 * (hi - lo)


def test_model_fool_rate_interval_is_the_respondent_bootstrap_by_definition():
    people = [{"gender": "male", "age_band": "31-40", "clothing_work": False, "n_correct": k}
              for k in (10, 20, 25, 30, 35, 40, 45)]
    res = analyse(*build_frames(people), n_boot=100, seed=5)
    t = res.trials[res.trials["kind"] == "main"]
    ids = sorted(t["respondent_id"].unique())
    idx = np.random.default_rng(5).integers(0, len(ids), size=(100, len(ids)))
    for model, gen in (("paper", True), ("real", False)):
        rates = []
        for draw in idx:        # one resample: the drawn respondents' answers, repeats included
            sub = pd.concat([t[(t["respondent_id"] == ids[j]) & (t["is_generated"] == gen)] for j in draw])
            rates.append((~sub["correct"]).mean())
        row = res.models.set_index("model").loc[model]
        assert (row.fool_ci_low, row.fool_ci_high) == pytest.approx(tuple(np.percentile(rates, [2.5, 97.5])))

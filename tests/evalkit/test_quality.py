"""The weights-free quality metrics as the metric table runs them: per-side caps, the real-vs-real
null beside the C2ST, per-level Laplacian SWD columns, and the tables their verbs print."""
from __future__ import annotations

import numpy as np

from evalkit import c2st, quality
from evalkit.table import METRICS

FAST = dict(folds=3, epochs=6, threads=1)


def test_cap_is_a_seeded_subset_in_the_original_order(synthetic_images):
    x = np.arange(50)[:, None, None, None].repeat(3, axis=3).astype(np.uint8)
    picked = quality.cap(x, 20, seed=3)
    assert len(picked) == 20 and np.all(np.diff(picked[:, 0, 0, 0].astype(int)) > 0)
    assert np.array_equal(picked, quality.cap(x, 20, seed=3)) and not np.array_equal(picked, quality.cap(x, 20, 4))
    assert quality.cap(x, 50, seed=3) is x


def test_c2st_caps_each_side_and_runs_the_null_on_halves_of_the_real_set(synthetic_images):
    real, gen = synthetic_images(30, 16, seed=0), synthetic_images(40, 16, seed=1)
    r = quality.c2st_real_vs_generated(real, gen, folds=2, epochs=2, threads=1, max_per_side=20)
    assert (r["n_per_side"], r["null_n_per_side"], r["n_given"]) == (20, 10, [30, 40])
    assert r["c2st_null_auc"] == r["null"]["c2st_auc"]
    assert r[quality.KEY_NULL_LOW] <= r["c2st_null_auc"] <= r[quality.KEY_NULL_HIGH]
    cols = METRICS["c2st"].column_names("40", r)
    assert {"c2st_auc", "c2st_auc_ci_low", "c2st_auc_ci_high", "c2st_null_auc", "c2st_n_per_side"} <= set(cols.values())


def test_the_null_is_measured_once_per_real_set_and_options(monkeypatch, synthetic_images):
    calls = []
    fresh = c2st.c2st_null
    monkeypatch.setattr(c2st, "c2st_null", lambda *a, **k: calls.append(k) or fresh(*a, **k))
    monkeypatch.setattr(quality, "_NULLS", {})
    real, opts = synthetic_images(20, 16, seed=0), dict(folds=2, epochs=1, threads=1)
    r1 = quality.c2st_real_vs_generated(real, synthetic_images(20, 16, seed=1), **opts)
    r2 = quality.c2st_real_vs_generated(real, synthetic_images(20, 16, seed=2), **opts)
    assert len(calls) == 1 and r1["null"] == r2["null"] == fresh(real, **opts)   # as measured afresh
    quality.c2st_real_vs_generated(real, synthetic_images(20, 16, seed=2), **{**opts, "epochs": 2})
    quality.c2st_real_vs_generated(real[::-1], synthetic_images(20, 16, seed=2), **opts)
    assert len(calls) == 3                                                   # other options, other real set


def test_a_real_vs_real_split_scores_near_chance(synthetic_images):
    # 2 x 64 images at 32 px: the generated side is a second draw of the real distribution.
    real, gen = synthetic_images(128, 32, seed=0), synthetic_images(64, 32, seed=1)
    r = quality.c2st_real_vs_generated(real, gen, **FAST)
    assert r["null_n_per_side"] == 64 and r["n_per_side"] == 64
    for x in (r, r["null"]):
        assert 0.3 < x["c2st_auc"] < 0.7
    # The split itself: its 95 % interval covers chance. (Two separate draws can land just outside at
    # 64 per side: DeLong's interval treats the cross-fitted classifiers as fixed.)
    assert r["c2st_null_auc_ci_low"] < 0.5 < r["c2st_null_auc_ci_high"]


def test_lapswd_has_a_column_per_pyramid_level(synthetic_images):
    a, b = synthetic_images(12, 32, seed=0), synthetic_images(16, 32, seed=1)
    r = quality.lapswd_real_vs_generated(a, b, max_per_side=10)
    assert r["n"] == 10 and r["n_given"] == [12, 16]
    cols = METRICS["lapswd"].column_names("16", r)
    assert cols == {"lapswd_x1e3": "lapswd_x1e3", "n": "lapswd_n_per_side", "lapswd_x1e3_32": "lapswd_x1e3_32",
                    "lapswd_x1e3_16": "lapswd_x1e3_16"}
    assert r["lapswd_x1e3"] == np.mean([r["lapswd_x1e3_32"], r["lapswd_x1e3_16"]])
    # Without a result (a metric that could not run) only the fixed columns are known.
    assert set(METRICS["lapswd"].column_names("16")) == {"lapswd_x1e3", "n"}


def test_spectral_curves_stay_out_of_the_compare_provenance(synthetic_images):
    m = METRICS["spectral"]
    r = m(synthetic_images(4, 32, seed=0), synthetic_images(4, 32, seed=1), values={})
    facts = m.provenance({}, r)["result"]
    assert "curve_a_db" not in facts and "spectral_db" not in facts and facts["band_start_cpi"] == 8


def test_each_verb_prints_a_small_table_that_says_which_way_is_better(synthetic_images):
    a, b = synthetic_images(20, 32, seed=0), synthetic_images(20, 32, seed=1)
    c = quality.human_c2st(quality.c2st_real_vs_generated(a, b, folds=2, epochs=1, threads=1))
    assert "0.5 = indistinguishable" in c and "real vs real (null)" in c and "images per side" in c
    lines = quality.human_lapswd(quality.lapswd_real_vs_generated(a, b)).splitlines()
    assert "lower is better" in lines[0] and [ln.split()[0] for ln in lines[2:5]] == ["32", "16", "mean"]
    s = quality.human_spectral(METRICS["spectral"](a, b, values={}))
    assert "lower is better" in s and "dB" in s and "20 real, 20 generated" in s

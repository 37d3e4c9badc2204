"""Classifier two-sample test: DeLong AUC, chance on same-distribution sets, detection of real
differences, determinism and the guards against trivial cues. Tiny sets (16 px, 3 folds)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from evalkit import c2st
from inkwash.cli import UserError

FAST = dict(folds=3, epochs=20, threads=1)


def _pairwise_auc(pos, neg) -> float:
    return float(np.mean([1.0 if p > q else 0.5 if p == q else 0.0 for p, q in itertools.product(pos, neg)]))


def test_delong_auc_matches_the_pairwise_definition_with_ties():
    rng = np.random.default_rng(0)
    pos, neg = rng.integers(0, 6, 30).astype(float), rng.integers(0, 5, 20).astype(float)
    auc, var = c2st.delong_auc(pos, neg)
    assert auc == pytest.approx(_pairwise_auc(pos, neg), abs=1e-12)
    assert 0 < var < 0.02


def test_delong_variance_agrees_with_the_bootstrap():
    rng = np.random.default_rng(1)
    pos, neg = rng.normal(1.0, 1.0, 200), rng.normal(0.0, 1.0, 200)
    _, var = c2st.delong_auc(pos, neg)
    boot = [c2st.delong_auc(rng.choice(pos, 200), rng.choice(neg, 200))[0] for _ in range(400)]
    assert np.sqrt(var) == pytest.approx(np.std(boot), rel=0.2)


def test_separated_and_reversed_scores_give_auc_one_and_zero():
    assert c2st.delong_auc([2.0, 3.0], [0.0, 1.0])[0] == 1.0
    assert c2st.delong_auc([0.0, 1.0], [2.0, 3.0])[0] == 0.0


def _checker(images_u8: np.ndarray, amplitude: int) -> np.ndarray:
    side = images_u8.shape[1]
    sign = (np.add.outer(np.arange(side), np.arange(side)) % 2 * 2 - 1)[None, :, :, None]
    return np.clip(images_u8.astype(np.int16) + amplitude * sign, 0, 255).astype(np.uint8)


def test_two_draws_of_one_distribution_score_near_chance(synthetic_images):
    a, b = synthetic_images(48, 16, seed=0), synthetic_images(48, 16, seed=1)
    r = c2st.c2st(a, b, **FAST)
    assert 0.3 < r[c2st.KEY_AUC] < 0.7
    assert r[c2st.KEY_AUC_LOW] < 0.5 < r[c2st.KEY_AUC_HIGH]
    assert r["n_per_side"] == 48 and len(r["auc_folds"]) == 3


def test_an_injected_checkerboard_is_detected(synthetic_images):
    a, b = synthetic_images(48, 16, seed=0), synthetic_images(48, 16, seed=1)
    r = c2st.c2st(a, _checker(b, 20), **FAST)
    assert r[c2st.KEY_AUC] > 0.95
    assert r["log_loss"] < np.log(2)


def test_a_shifted_distribution_is_detected(synthetic_images):
    a, shifted = synthetic_images(48, 16, seed=0), synthetic_images(48, 16, seed=1, style=1.0)
    assert c2st.c2st(a, shifted, **FAST)[c2st.KEY_AUC] > 0.75


def test_the_null_split_is_reported_beside_the_test(synthetic_images):
    real, fake = synthetic_images(48, 16, seed=0), _checker(synthetic_images(48, 16, seed=1), 20)
    r = c2st.c2st_with_null(real, fake, **FAST)
    assert r["null"]["n_per_side"] == 24
    assert r[c2st.KEY_NULL_AUC] == r["null"][c2st.KEY_AUC] < r[c2st.KEY_AUC]


def test_c2st_is_repeatable_and_leaves_torch_settings_alone(synthetic_images):
    a, b = synthetic_images(24, 16, seed=0), synthetic_images(30, 16, seed=1)
    threads, det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    rng_before = torch.get_rng_state()
    r1 = c2st.c2st(a, b, folds=2, epochs=2, threads=1, seed=5)
    assert r1 == c2st.c2st(a, b, folds=2, epochs=2, threads=1, seed=5)
    assert r1["n_per_side"] == 24          # the larger set is subsampled: balanced classes
    assert torch.get_num_threads() == threads and torch.are_deterministic_algorithms_enabled() == det
    assert torch.equal(torch.get_rng_state(), rng_before)


def test_c2st_refuses_sets_that_differ_in_size_or_are_too_small(synthetic_images):
    with pytest.raises(UserError, match="sizes differ"):
        c2st.c2st(synthetic_images(20, 16), synthetic_images(20, 32))
    with pytest.raises(UserError, match="at least"):
        c2st.c2st(synthetic_images(6, 16), synthetic_images(6, 16))

"""evalkit.prdc: improved precision and recall on feature sets with known answers."""
from __future__ import annotations

import numpy as np
import pytest

from evalkit import prdc


def test_knn_radii_on_a_line():
    x = np.arange(10, dtype=float)[:, None]  # points 0..9
    r = prdc.knn_radii(x, k=3)
    # Point 0: neighbours at 1, 2, 3 -> radius 3; point 4: 3, 5, 2|6 -> radius 2.
    np.testing.assert_allclose(r, [3, 2, 2, 2, 2, 2, 2, 2, 2, 3])


def test_precision_recall_known_answer():
    real = np.arange(10, dtype=float)[:, None]  # real manifold covers [-3, 12]
    gen = np.array([0.5, 1.5, 2.5, 11.0, 20.0, 21.0, 22.0, 23.0])[:, None]
    out = prdc.precision_recall(real, gen, k=3)
    # Inside the real manifold: 0.5, 1.5, 2.5, 11 (9 + radius 3 = 12) -> 4 of 8.
    assert out["precision"] == pytest.approx(4 / 8)
    # Generated radius of 0.5 (k=3): neighbours 1.5, 2.5, 11 -> 10.5, a ball over all of 0..9 -> recall 1.
    assert out["recall"] == pytest.approx(1.0)


def test_identical_sets_have_full_precision_and_recall():
    a = np.random.default_rng(0).normal(size=(300, 32))
    out = prdc.precision_recall(a, a.copy())
    assert out["precision"] == 1.0 and out["recall"] == 1.0


def test_mode_dropping_lowers_recall_not_precision():
    rng = np.random.default_rng(1)
    centres = np.array([[0.0, 0.0], [50.0, 0.0]])
    real = np.concatenate([c + rng.normal(size=(200, 2)) for c in centres])
    gen = centres[0] + rng.normal(size=(200, 2))  # only the first mode
    out = prdc.precision_recall(real, gen)
    assert out["precision"] > 0.95
    assert 0.4 < out["recall"] < 0.6


def test_disjoint_sets_score_zero():
    a = np.random.default_rng(2).normal(size=(100, 8))
    out = prdc.precision_recall(a, a + 1000.0)
    assert out["precision"] == 0.0 and out["recall"] == 0.0


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="equal D"):
        prdc.precision_recall(np.zeros((5, 3)), np.zeros((5, 4)))

"""Closed forms and invariances of the metric functions (pure array maths, no network)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from evalkit import metrics


def _feats(n, d=32, seed=0, shift=0.0, scale=1.0):
    # Correlated Gaussian features; one fixed mixing matrix, so equal shift/scale = one distribution.
    mix = np.random.default_rng(12345).standard_normal((d, d)) / np.sqrt(d)
    return np.random.default_rng(seed).standard_normal((n, d)) @ mix * scale + shift


def _fid(a, b):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return metrics.fid(a, b)


def test_fid_of_a_set_with_itself_is_zero():
    for n in (20, 100):                          # below and above the feature dimension
        a = _feats(n)
        assert abs(_fid(a, a)["value"]) < 1e-9 * np.trace(np.cov(a, rowvar=False))


def test_fid_with_equal_covariances_is_the_squared_mean_difference():
    a = _feats(60, seed=1)
    shift = np.random.default_rng(2).standard_normal(32)
    assert _fid(a, a + shift)["value"] == pytest.approx(float(shift @ shift), rel=1e-9)


def test_fid_equals_the_stats_form_and_is_symmetric():
    a, b = _feats(50, seed=3), _feats(80, seed=4, scale=1.5, shift=0.3)
    mu_a, s_a = metrics.feature_stats(a)
    mu_b, s_b = metrics.feature_stats(b)
    ref = metrics.frechet_distance(mu_a, s_a, mu_b, s_b)
    assert _fid(a, b)["value"] == pytest.approx(ref, rel=1e-9)
    assert _fid(b, a)["value"] == pytest.approx(ref, rel=1e-9)


def test_fid_of_gaussians_matches_the_closed_form():
    # N(0, I) vs N(m, 4I) in d dims: |m|^2 + d + 4d - 2 * 2d = |m|^2 + d.
    d, m = 4, np.full(4, 0.5)
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((200_000, d)), rng.standard_normal((200_000, d)) * 2 + m
    assert metrics.fid(a, b)["value"] == pytest.approx(m @ m + d, rel=1e-2)


def test_fid_below_2048_images_warns_and_flags():
    with pytest.warns(UserWarning, match="2048"):
        r = metrics.fid(_feats(10), _feats(12, seed=1))
    assert r["small_n_warning"] and (r["n_a"], r["n_b"]) == (10, 12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not metrics.fid(_feats(2048, d=4), _feats(2048, d=4, seed=1))["small_n_warning"]


def test_is_of_uniform_predictions_is_one():
    r = metrics.inception_score(np.zeros((50, 1008)))
    assert r["mean"] == pytest.approx(1.0, abs=1e-12) and r["std"] < 1e-12
    assert (r["n"], r["splits"]) == (50, 10)


def test_is_of_confident_diverse_predictions_is_the_number_of_classes():
    k, per = 7, 30
    logits = np.full((k * per, 1008), -60.0)
    logits[np.arange(k * per), np.repeat(np.arange(k), per)] = 60.0
    assert metrics.inception_score(logits, splits=1)["mean"] == pytest.approx(k, rel=1e-9)
    # One class only: no diversity.
    assert metrics.inception_score(logits[:per], splits=3)["mean"] == pytest.approx(1.0, rel=1e-9)


def test_is_split_boundaries_and_seeded_shuffle():
    logits = np.random.default_rng(0).standard_normal((23, 1008)) * 4
    x = logits[np.random.RandomState(2020).permutation(23)]
    p = np.exp(x) / np.exp(x).sum(1, keepdims=True)
    scores = []
    for k in range(10):
        c = p[k * 23 // 10:(k + 1) * 23 // 10]
        scores.append(np.exp((c * (np.log(c) - np.log(c.mean(0)))).sum(1).mean()))
    r = metrics.inception_score(logits)
    assert r["mean"] == pytest.approx(np.mean(scores), rel=1e-12)
    assert r["std"] == pytest.approx(np.std(scores), rel=1e-9)
    assert metrics.inception_score(logits, seed=1)["mean"] != r["mean"]


def _mmd_brute(x, y):
    k = lambda u, v: (u @ v.T / u.shape[1] + 1) ** 3
    m = len(x)
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    off = ~np.eye(m, dtype=bool)
    return kxx[off].mean() + kyy[off].mean() - 2 * kxy.mean()


@pytest.mark.parametrize("subsets", [1, 10])      # per-subset kernels / whole kernel matrices
def test_kid_is_the_unbiased_mmd_over_seeded_subsets(subsets):
    a, b = _feats(60, seed=6), _feats(70, seed=7, shift=0.2)
    rs = np.random.RandomState(2020)
    ref = [_mmd_brute(a[rs.choice(60, 50, replace=False)], b[rs.choice(70, 50, replace=False)])
           for _ in range(subsets)]
    r = metrics.kid(a, b, subsets=subsets, subset_size=50)
    assert r["mean"] == pytest.approx(np.mean(ref), rel=1e-10)
    assert r["std"] == pytest.approx(np.std(ref), abs=1e-12)


def test_kid_of_identical_sets_is_about_zero_and_subset_size_is_recorded():
    a, b = _feats(300, seed=8), _feats(300, seed=9, shift=0.5)
    other = metrics.kid(a, b, subsets=5)["mean"]
    # Identical sets (m = n): exactly -2/(m-1) (mean diagonal - mean of K), O(1/m).
    k = (a @ a.T / a.shape[1] + 1) ** 3
    same = metrics.kid(a, a, subsets=5)
    assert same["mean"] == pytest.approx(-2 / 299 * (np.diag(k).mean() - k.mean()), rel=1e-9)
    assert abs(same["mean"]) < 0.05 * other
    # Independent samples of one distribution: about zero.
    assert abs(metrics.kid(a, _feats(300, seed=10), subsets=5)["mean"]) < 1e-2 * other
    small = metrics.kid(a[:40], b, subsets=3)
    assert same["subset_size"] == 300 and small["subset_size"] == 40
    assert small["subset_size_requested"] == 1000


def test_ms_ssim_of_an_image_with_itself_is_one_and_symmetric(synthetic_images):
    a = synthetic_images(2, size=176, seed=1)
    b = synthetic_images(2, size=176, seed=2, style=1.0)
    np.testing.assert_allclose(metrics.ms_ssim(a, a), 1.0, atol=1e-12)
    ab, ba = metrics.ms_ssim(a, b), metrics.ms_ssim(b, a)
    np.testing.assert_allclose(ab, ba, atol=1e-12)
    assert np.all((ab >= 0) & (ab < 1))


def test_ms_ssim_needs_161_px():
    x = np.zeros((1, 160, 200, 3), np.uint8)
    with pytest.raises(ValueError, match="161"):
        metrics.ms_ssim(x, x)


def test_ms_ssim_diversity_upsamples_small_images_and_labels_it(synthetic_images):
    imgs = synthetic_images(5, size=32, seed=3)
    r = metrics.ms_ssim_diversity(imgs, pairs=4, seed=0)
    assert r["upsampled"] and r["label"] == "ms_ssim_up256"
    assert r == metrics.ms_ssim_diversity(imgs, pairs=4, seed=0)          # seeded
    assert r["sem"] == pytest.approx(r["std"] / np.sqrt(4))
    same = metrics.ms_ssim_diversity(np.repeat(imgs[:1], 3, axis=0), pairs=2)
    assert same["mean"] == pytest.approx(1.0, abs=1e-9)                   # pairs of copies
    assert 0 <= r["mean"] < same["mean"]


def test_ms_ssim_diversity_pairs_are_distinct_images(synthetic_images):
    # Two images: every pair is (0, 1) or (1, 0), never an image with itself.
    imgs = synthetic_images(2, size=176, seed=4)
    r = metrics.ms_ssim_diversity(imgs, pairs=3, seed=1)
    assert not r["upsampled"] and r["label"] == "ms_ssim"
    assert r["mean"] == pytest.approx(float(metrics.ms_ssim(imgs[:1], imgs[1:])[0]), abs=1e-12)


def test_knn_radii_on_a_line():
    x = np.arange(10, dtype=float)[:, None]  # points 0..9
    r = metrics.knn_radii(x, k=3)
    # Point 0: neighbours at 1, 2, 3 -> radius 3; point 4: 3, 5, 2|6 -> radius 2.
    np.testing.assert_allclose(r, [3, 2, 2, 2, 2, 2, 2, 2, 2, 3])


def test_precision_recall_known_answer():
    real = np.arange(10, dtype=float)[:, None]  # real manifold covers [-3, 12]
    gen = np.array([0.5, 1.5, 2.5, 11.0, 20.0, 21.0, 22.0, 23.0])[:, None]
    out = metrics.precision_recall(real, gen, k=3)
    # Inside the real manifold: 0.5, 1.5, 2.5, 11 (9 + radius 3 = 12) -> 4 of 8.
    assert out["precision"] == pytest.approx(4 / 8)
    # Generated radius of 0.5 (k=3): neighbours 1.5, 2.5, 11 -> 10.5, a ball over all of 0..9 -> recall 1.
    assert out["recall"] == pytest.approx(1.0)


def test_identical_sets_have_full_precision_and_recall():
    a = np.random.default_rng(0).normal(size=(300, 32))
    out = metrics.precision_recall(a, a.copy())
    assert out["precision"] == 1.0 and out["recall"] == 1.0


def test_mode_dropping_lowers_recall_not_precision():
    rng = np.random.default_rng(1)
    centres = np.array([[0.0, 0.0], [50.0, 0.0]])
    real = np.concatenate([c + rng.normal(size=(200, 2)) for c in centres])
    gen = centres[0] + rng.normal(size=(200, 2))  # only the first mode
    out = metrics.precision_recall(real, gen)
    assert out["precision"] > 0.95
    assert 0.4 < out["recall"] < 0.6


def test_disjoint_sets_score_zero():
    a = np.random.default_rng(2).normal(size=(100, 8))
    out = metrics.precision_recall(a, a + 1000.0)
    assert out["precision"] == 0.0 and out["recall"] == 0.0


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="equal D"):
        metrics.precision_recall(np.zeros((5, 3)), np.zeros((5, 4)))

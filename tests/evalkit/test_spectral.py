"""Spectral artefact score (Durall et al. 2020): known answers on generated images."""
from __future__ import annotations

import numpy as np
import pytest

from evalkit import spectral
from inkwash.cli import UserError


def _checker(images_u8: np.ndarray, amplitude: int) -> np.ndarray:
    side = images_u8.shape[1]
    sign = (np.add.outer(np.arange(side), np.arange(side)) % 2 * 2 - 1)[None, :, :, None]
    return np.clip(images_u8.astype(np.int16) + amplitude * sign, 0, 255).astype(np.uint8)


def _box_blur(images_u8: np.ndarray) -> np.ndarray:
    x = images_u8.astype(np.float32)
    x = (x + np.roll(x, 1, 1) + np.roll(x, -1, 1)) / 3
    x = (x + np.roll(x, 1, 2) + np.roll(x, -1, 2)) / 3
    return np.rint(x).astype(np.uint8)


def test_a_cosine_puts_its_power_on_its_own_ring():
    side, k = 32, 5
    xx = np.arange(side)[None, :]
    grey = 128 + 100 * np.cos(2 * np.pi * k * xx / side) * np.ones((side, 1))
    image = np.repeat(np.rint(grey)[None, :, :, None], 3, axis=3).astype(np.uint8)
    curve = spectral.radial_spectrum(image)[0]
    assert int(np.argmax(curve)) == k


def test_rings_reach_the_corner_of_the_spectrum():
    assert spectral.ring_index(64).max() == round(32 * np.sqrt(2))
    assert spectral.ring_index(64)[0, 0] == 0


def test_identical_sets_score_zero(synthetic_images):
    a = synthetic_images(8, 32, seed=0)
    r = spectral.spectral_score(a, a.copy())
    assert r[spectral.KEY_SPECTRAL] == 0.0 and r[spectral.KEY_SPECTRAL_BIAS] == 0.0


def test_checkerboard_raises_the_score_far_above_a_same_distribution_set(synthetic_images):
    a, b = synthetic_images(16, 32, seed=0), synthetic_images(16, 32, seed=1)
    null = spectral.spectral_score(a, b)[spectral.KEY_SPECTRAL]
    hit = spectral.spectral_score(a, _checker(b, 8))
    assert hit[spectral.KEY_SPECTRAL] > 3 * null
    assert hit[spectral.KEY_SPECTRAL_BIAS] > 0      # too much high-frequency power


def test_blur_shows_as_missing_high_frequency_power(synthetic_images):
    a, b = synthetic_images(16, 32, seed=0), synthetic_images(16, 32, seed=1)
    r = spectral.spectral_score(a, _box_blur(b))
    assert r[spectral.KEY_SPECTRAL_BIAS] < 0
    assert r[spectral.KEY_SPECTRAL] > 3 * spectral.spectral_score(a, b)[spectral.KEY_SPECTRAL]


def test_the_score_does_not_depend_on_the_batch_size(synthetic_images):
    a = synthetic_images(10, 32, seed=0)
    np.testing.assert_allclose(spectral.radial_spectrum(a, batch=3), spectral.radial_spectrum(a, batch=256))


def test_spectral_refuses_mismatched_or_non_square_sets(synthetic_images):
    with pytest.raises(UserError, match="sizes differ"):
        spectral.spectral_score(synthetic_images(2, 32), synthetic_images(2, 16))
    with pytest.raises(UserError, match="square"):
        spectral.radial_spectrum(np.zeros((1, 16, 32, 3), np.uint8))

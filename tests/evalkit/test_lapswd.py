"""Laplacian-pyramid SWD (Karras et al. 2018): known answers on tiny generated sets."""
from __future__ import annotations

import numpy as np
import pytest

from evalkit import lapswd
from inkwash.cli import UserError


def _checker(images_u8: np.ndarray, amplitude: int) -> np.ndarray:
    """Add a pixel-period checkerboard of +-amplitude (what stride-2 transposed convs leave)."""
    side = images_u8.shape[1]
    sign = (np.add.outer(np.arange(side), np.arange(side)) % 2 * 2 - 1)[None, :, :, None]
    return np.clip(images_u8.astype(np.int16) + amplitude * sign, 0, 255).astype(np.uint8)


def test_laplacian_pyramid_reconstructs_the_image_exactly():
    x = np.random.default_rng(0).uniform(0, 255, (2, 3, 32, 32)).astype(np.float32)
    levels = lapswd.laplacian_pyramid(x, 2)
    assert [lv.shape[-1] for lv in levels] == [32, 16]
    np.testing.assert_allclose(levels[0] + lapswd.pyr_up(levels[1]), x, atol=1e-3)


def test_pyr_down_keeps_a_constant_image_constant():
    x = np.full((1, 3, 32, 32), 7.0, np.float32)
    np.testing.assert_allclose(lapswd.pyr_down(x), 7.0, rtol=1e-6)
    np.testing.assert_allclose(lapswd.pyr_up(lapswd.pyr_down(x)), 7.0, rtol=1e-6)


def test_levels_run_from_full_resolution_down_to_16_px():
    assert lapswd.level_sizes(64) == [64, 32, 16]
    assert lapswd.level_sizes(256) == [256, 128, 64, 32, 16]


def test_swd_of_identical_sets_is_zero_at_every_level(synthetic_images):
    a = synthetic_images(12, 32, seed=0)
    r = lapswd.laplacian_swd(a, a.copy(), nhoods_per_image=16)
    assert r["levels_px"] == [32, 16]
    assert r[lapswd.KEY_SWD_MEAN] == 0.0
    assert r["lapswd_x1e3_32"] == 0.0 and r["lapswd_x1e3_16"] == 0.0


def test_checkerboard_raises_the_finest_level_above_a_same_distribution_set(synthetic_images):
    a, b = synthetic_images(24, 32, seed=0), synthetic_images(24, 32, seed=1)
    null = lapswd.laplacian_swd(a, b, nhoods_per_image=32)
    hit = lapswd.laplacian_swd(a, _checker(b, 12), nhoods_per_image=32)
    assert hit["lapswd_x1e3_32"] > 2 * null["lapswd_x1e3_32"]
    # The checkerboard is all in the finest band: the low-pass level barely moves.
    assert hit["lapswd_x1e3_16"] < 1.5 * null["lapswd_x1e3_16"]


def test_a_shifted_distribution_scores_above_a_same_distribution_set(synthetic_images):
    a, b = synthetic_images(24, 32, seed=0), synthetic_images(24, 32, seed=1)
    shifted = synthetic_images(24, 32, seed=1, style=1.0)
    assert (lapswd.laplacian_swd(a, shifted, nhoods_per_image=32)[lapswd.KEY_SWD_MEAN]
            > 1.5 * lapswd.laplacian_swd(a, b, nhoods_per_image=32)[lapswd.KEY_SWD_MEAN])


def test_swd_is_repeatable_for_a_seed_and_uses_the_smaller_count(synthetic_images):
    a, b = synthetic_images(10, 32, seed=0), synthetic_images(14, 32, seed=1)
    r1 = lapswd.laplacian_swd(a, b, seed=3, nhoods_per_image=8)
    assert r1 == lapswd.laplacian_swd(a, b, seed=3, nhoods_per_image=8)
    assert r1["n"] == 10


def test_swd_refuses_sets_of_different_sizes(synthetic_images):
    with pytest.raises(UserError, match="sizes differ"):
        lapswd.laplacian_swd(synthetic_images(4, 32), synthetic_images(4, 16))
    with pytest.raises(UserError, match="uint8"):
        lapswd.laplacian_swd(synthetic_images(4, 32).astype(np.float32), synthetic_images(4, 32))


def test_a_global_brightness_shift_is_normalised_away_as_published(synthetic_images):
    # Karras et al. normalise each set's descriptors by that set's own mean and std per channel, so a
    # global tone change is not what this metric measures (texture and structure are).
    a, b = synthetic_images(24, 32, seed=0), synthetic_images(24, 32, seed=1)
    brighter = np.clip(b.astype(np.int16) + 40, 0, 255).astype(np.uint8)
    null = lapswd.laplacian_swd(a, b, nhoods_per_image=32)[lapswd.KEY_SWD_MEAN]
    assert lapswd.laplacian_swd(a, brighter, nhoods_per_image=32)[lapswd.KEY_SWD_MEAN] < 1.1 * null

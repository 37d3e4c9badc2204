"""Seamless tiles: the seam score's closed form, seam removal, and an untouched interior."""
from __future__ import annotations

import numpy as np
import pytest

from export import tiling


def _pattern(seed: int = 0, size: int = 64) -> np.ndarray:
    """A non-periodic test pattern: colour ramps, waves, strokes and grain."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    f = rng.uniform(4, 14, 3)
    img = np.stack([190 * x + 30 * np.sin(f[0] * y), 160 * y + 25 * np.cos(f[1] * x + 4 * y),
                    90 + 90 * x * y + 30 * np.sin(f[2] * (x + y))], -1)
    img[size // 5::size // 4, :, :] -= 60          # dark strokes
    img += rng.normal(0, 3, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def test_seam_score_of_a_ramp_matches_its_closed_form():
    h, w, k = 16, 24, 5
    ramp = np.broadcast_to((np.arange(w) * k)[None, :, None], (h, w, 3)).astype(np.uint8)
    # Jumps: x-wrap pairs k*(w-1) (h of them), y-wrap pairs 0 (w of them).
    jump = h * k * (w - 1) / (h + w)
    step = h * (w - 1) * k / (h * (w - 1) + (h - 1) * w)
    assert tiling.seam_jump(ramp) == pytest.approx(jump)
    assert tiling.interior_step(ramp) == pytest.approx(step)
    assert tiling.seam_score(ramp) == pytest.approx(jump / step)


def test_seam_score_of_a_flat_image_is_zero():
    assert tiling.seam_score(np.full((16, 16, 3), 90, np.uint8)) == 0.0


@pytest.mark.parametrize("method", tiling.METHODS)
def test_tile_seam_score_improves_to_interior_level(method):
    img = _pattern(1)
    res = tiling.make_seamless(img, method)
    assert res.seam_before == pytest.approx(tiling.seam_score(img))
    assert res.seam_before > 3.0
    assert res.seam_after == pytest.approx(tiling.seam_score(res.tile_u8))
    assert res.seam_after < res.seam_before / 3
    assert res.seam_after <= 1.25  # the seam is no more visible than the design's own steps


@pytest.mark.parametrize("method", tiling.METHODS)
@pytest.mark.parametrize("band", [0.06, 0.125, 0.25])
def test_tile_interior_is_unchanged_away_from_the_seam(method, band):
    img = _pattern(2, 96)
    res = tiling.make_seamless(img, method, band)
    bp = tiling.band_pixels(96, band)
    assert res.band_px == bp
    keep = ~tiling.band_mask(96, 96, bp, bp)
    assert keep.sum() == (96 - 2 * bp) ** 2
    np.testing.assert_array_equal(res.tile_u8[keep], img[keep])
    assert (res.tile_u8 != img).any(axis=-1)[~keep].mean() > 0.3  # the band really was rebuilt


def test_poisson_leaves_a_periodic_image_as_it_is():
    y, x = np.mgrid[0:64, 0:64] / 64
    img = np.rint(128 + 100 * np.sin(2 * np.pi * np.stack([x, y, x + y], -1))).astype(np.uint8)
    res = tiling.make_seamless(img, "poisson")
    assert np.abs(res.tile_u8.astype(int) - img).max() <= 1  # guidance = own gradients: same image


def test_poisson_returns_uint8_of_the_input_shape():
    img = _pattern(3)
    a = tiling.make_seamless(img)
    assert a.tile_u8.dtype == np.uint8 and a.tile_u8.shape == img.shape


def test_repeat_lays_the_tile_edge_to_edge():
    t = _pattern(4, 32)
    r = tiling.repeat(t, 3, 3)
    assert r.shape == (96, 96, 3)
    np.testing.assert_array_equal(r[32:64, 64:96], t)


@pytest.mark.parametrize("bad, kwargs, match", [
    (np.zeros((16, 16, 3), np.float32), {}, "uint8"),
    (np.zeros((4, 4, 3), np.uint8), {}, "8x8"),
    (np.zeros((16, 16, 3), np.uint8), {"method": "blur"}, "method"),
    (np.zeros((16, 16, 3), np.uint8), {"band": 0.0}, "band"),
])
def test_bad_input_names_the_problem(bad, kwargs, match):
    with pytest.raises(ValueError, match=match):
        tiling.make_seamless(bad, **kwargs)


def _stroke_on_paper(size: int = 64) -> np.ndarray:
    """Ink-wash-like: a dark diagonal stroke on paper, cut by the top border, and one blot in the centre."""
    y, x = np.mgrid[0:size, 0:size].astype(float)
    img = np.full((size, size, 3), 240.0)
    stroke = np.abs((x - 10) - 0.6 * y) < 3 + 0 * y
    stroke &= y < size * 0.45
    blot = (x - size / 2) ** 2 + (y - size * 0.6) ** 2 < (size * 0.12) ** 2
    img[stroke | blot] = 40.0
    img += np.random.default_rng(5).normal(0, 1.5, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def test_poisson_fades_cut_strokes_without_copying_motifs_into_the_band():
    img = _stroke_on_paper()
    bp = tiling.band_pixels(64, tiling.DEFAULT_BAND)
    band = tiling.band_mask(64, 64, bp, bp)
    ink = lambda t: (t.mean(-1) < 120) & band  # noqa: E731
    res = tiling.make_seamless(img, "poisson")
    assert res.seam_before > 1.5 and res.seam_after < 1.0
    assert (ink(res.tile_u8) & ~ink(img)).sum() == 0   # the cut stroke fades; no ink appears elsewhere
    offset = tiling.make_seamless(img, "poisson-offset")
    assert (ink(offset.tile_u8) & ~ink(img)).sum() > 0  # the centre blot is copied towards the border

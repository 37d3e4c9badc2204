"""Garment mock-ups: every silhouette renders, prints the tile at the asked scale and angle, shades it."""
from __future__ import annotations

import numpy as np
import pytest

from export import garments

SIZE = (180, 220)
BG = garments.DEFAULT_BACKGROUND


def _stripes(period: int = 32) -> np.ndarray:
    """Vertical black/white stripes: one dark and one light half per tile."""
    t = np.full((period, period, 3), 235, np.uint8)
    t[:, : period // 2] = 20
    return t


def _garment_mask(img: np.ndarray) -> np.ndarray:
    return np.abs(img.astype(int) - np.array(BG)).sum(-1) > 40


def _transitions(row: np.ndarray) -> int:
    dark = row.mean(-1) < 110
    return int(np.count_nonzero(dark[1:] != dark[:-1]))


@pytest.mark.parametrize("name", garments.GARMENTS)
def test_every_garment_renders_the_print(name):
    tile = np.zeros((16, 16, 3), np.uint8)
    tile[..., 0] = 200  # a red print
    img = garments.render_garment(name, tile, size=SIZE)
    assert img.shape == (SIZE[1], SIZE[0], 3) and img.dtype == np.uint8
    mask = _garment_mask(img)
    assert 0.12 < mask.mean() < 0.8
    reddish = (img[..., 0].astype(int) - img[..., 1]) > 60
    assert reddish[mask].mean() > 0.5  # most of the garment carries the print


@pytest.mark.parametrize("name", garments.GARMENTS)
def test_garment_shading_varies_the_brightness_of_a_flat_print(name):
    tile = np.full((8, 8, 3), 160, np.uint8)
    img = garments.render_garment(name, tile, size=SIZE)
    inside = img[_garment_mask(img) & (np.abs(img.astype(int) - 160).sum(-1) < 150)].mean(-1)
    assert inside.std() > 4.0          # folds, light and edge darkening
    assert inside.max() - inside.min() > 40


def test_repeat_scale_sets_the_number_of_repeats_across():
    # The tote's body is a wide, upright region: count stripe edges along a row through it.
    y = int(0.7 * SIZE[1])
    x0, x1 = int(0.3 * SIZE[0]), int(0.7 * SIZE[0])
    fine = garments.render_garment("tote", _stripes(), repeat_scale=0.1, size=SIZE)
    coarse = garments.render_garment("tote", _stripes(), repeat_scale=0.2, size=SIZE)
    n_fine, n_coarse = _transitions(fine[y, x0:x1]), _transitions(coarse[y, x0:x1])
    # 0.4 of the width = 4 repeats (8 edges) at 0.1, 2 repeats (4 edges) at 0.2, give or take folds.
    assert 6 <= n_fine <= 10 and 3 <= n_coarse <= 5


def test_rotation_turns_the_print():
    y = int(0.7 * SIZE[1])
    x0, x1 = int(0.3 * SIZE[0]), int(0.7 * SIZE[0])
    upright = garments.render_garment("tote", _stripes(), repeat_scale=0.1, rotation_deg=0, size=SIZE)
    turned = garments.render_garment("tote", _stripes(), repeat_scale=0.1, rotation_deg=90, size=SIZE)
    assert _transitions(turned[y, x0:x1]) <= 1 < _transitions(upright[y, x0:x1])
    col = int(0.5 * SIZE[0])
    assert _transitions(turned[int(0.5 * SIZE[1]):int(0.85 * SIZE[1]), col]) >= 4


@pytest.mark.parametrize("name, kwargs, match", [
    ("hat", {}, "garment"),
    ("tshirt", {"repeat_scale": 0.0}, "repeat_scale"),
    ("tshirt", {"repeat_scale": 5.0}, "repeat_scale"),
])
def test_bad_garment_options_name_the_field(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        garments.render_garment(name, np.zeros((8, 8, 3), np.uint8), size=SIZE, **kwargs)

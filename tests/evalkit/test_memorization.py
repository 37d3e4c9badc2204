"""evalkit.memorization: nearest real neighbours flag copying generators, not independent ones."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from evalkit import memorization as mm


def _patterns(n: int, seed: int, size: int = 64) -> np.ndarray:
    """Smooth random colour patterns, uint8 (n, size, size, 3), all from one distribution."""
    base = np.random.default_rng(seed).random((n, 6, 6, 3))
    return np.stack([np.asarray(Image.fromarray((b * 255).astype(np.uint8)).resize((size, size), Image.BICUBIC))
                     for b in base])


def test_cone_geometry():
    rgb = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.5, 0.5], [0, 0, 0], [1, 1, 1]], float)
    c = mm._cone_mapping()[1](rgb[None, None])[0, 0]   # the mapping memorisation really uses
    ang = np.degrees(np.arctan2(c[:3, 1], c[:3, 0])) % 360
    np.testing.assert_allclose(ang, [0, 120, 240], atol=1e-9)
    np.testing.assert_allclose(np.hypot(c[:3, 0], c[:3, 1]), 1.0)
    np.testing.assert_allclose(c[3:, :2], 0.0)  # greys on the axis
    np.testing.assert_allclose(c[3:, 2], [0.5, 1.0, 0.0])  # black at the apex (z = 1 - V)


def _cropped(images: np.ndarray, frac: float = 0.05) -> np.ndarray:
    """Each image cropped by `frac` at the left and top, resized back: a slightly cropped copy."""
    size = images.shape[1]
    cut = round(size * frac)
    return np.stack([np.asarray(Image.fromarray(im[cut:, cut:]).resize((size, size), Image.BICUBIC)) for im in images])


def test_dedupe_drops_exact_and_flipped_copies():
    real = _patterns(6, 0)
    stacked = np.concatenate([real, real[:2], real[2:4, :, ::-1], real[4:5, ::-1, ::-1]])
    keep = mm.dedupe(stacked)
    np.testing.assert_array_equal(keep, np.arange(6))


def test_dedupe_drops_near_duplicates_of_an_earlier_original():
    real = _patterns(6, 0)
    keep = mm.dedupe(np.concatenate([real, _cropped(real[1:3])]))
    np.testing.assert_array_equal(keep, np.arange(6))


def test_slightly_cropped_and_flipped_copies_are_flagged_as_near_duplicates():
    real = _patterns(30, 8)
    gen = np.concatenate([_cropped(real[:6]), _cropped(real[6:9])[:, :, ::-1], _patterns(5, 9)])
    near = mm.memorisation(gen, real)["near_duplicate"]
    np.testing.assert_array_equal(near["flagged"], [True] * 9 + [False] * 5)
    np.testing.assert_array_equal(near["nn_index"][:9], np.arange(9))
    assert near["nn_flip"][:9] == ["none"] * 6 + ["h"] * 3 and near["flagged_share"] == 9 / 14
    assert np.all(near["distance"][:9] <= near["distance_max"]) and np.isnan(near["distance"][9:]).all()


def test_verbatim_copies_are_flagged():
    real = _patterns(60, 1)
    gen = real[np.random.default_rng(0).integers(0, 60, 40)]
    out = mm.memorisation(gen, real)
    s = out["hsv64"]
    assert s["flagged_share"] == 1.0
    np.testing.assert_allclose(s["nn_dist"], 0.0, atol=1e-6)
    assert s["threshold"] > 0 and s["n_real"] == 60


def test_flipped_copies_are_flagged():
    real = _patterns(40, 2)
    out = mm.memorisation(real[:20, :, ::-1], real)
    assert out["hsv64"]["flagged_share"] == 1.0
    assert set(out["hsv64"]["nn_flip"]) == {"h"}


def test_independent_generator_is_not_flagged():
    real = _patterns(80, 3)
    gen = _patterns(60, 4)  # same distribution, different images
    out = mm.memorisation(gen, real)
    assert out["hsv64"]["flagged_share"] < 0.25
    assert out["hsv64"]["nn_median"] > out["hsv64"]["threshold"]
    assert out["near_duplicate"]["flagged_share"] == 0.0


def test_inception_space_when_features_are_given():
    real = _patterns(30, 5)
    rng = np.random.default_rng(0)
    real_f = rng.normal(size=(30, 16))
    out = mm.memorisation(real[:10], real, gen_incv3=real_f[:10], real_incv3=real_f)
    assert out["incv3"]["flagged_share"] == 1.0
    assert mm.memorisation(real[:10], real)["incv3"] is None


def test_closest_pairs_grid_shows_gen_and_real_side_by_side():
    real = _patterns(20, 6)
    out = mm.memorisation(real[:5], real)
    g = mm.closest_pairs_grid(real[:5], real, out["hsv64"], pairs=4)
    assert g.dtype == np.uint8 and g.shape == (2 + 2 * 66, 2 + 4 * 66, 3)
    np.testing.assert_array_equal(g[2:66, 2:66], g[2:66, 68:132])  # a verbatim copy next to its original


def test_needs_two_distinct_real_images():
    real = _patterns(1, 7)
    with pytest.raises(ValueError, match="2 distinct"):
        mm.memorisation(real, np.concatenate([real, real]))

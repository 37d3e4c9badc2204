"""benchmarks/_quality.py: colour statistics, style shares and panels on small generated sets."""
import colorsys

import numpy as np

from benchmarks import _quality as q


def test_hsv_matches_colorsys():
    rng = np.random.default_rng(0)
    px = rng.integers(0, 256, (1, 20, 1, 3), dtype=np.uint8)
    h, s, v = q.hsv(px)
    for i, rgb in enumerate(px.reshape(-1, 3) / 255.0):
        eh, es, ev = colorsys.rgb_to_hsv(*rgb)
        assert np.allclose([h[i], s[i], v[i]], [eh, es, ev], atol=1e-6)


def _paper_with_accent(n, colour, size=16):
    x = np.full((n, size, size, 3), 245, np.uint8)
    x[:, :4, :4] = colour
    return x


def test_identical_sets_have_zero_hue_distance_and_the_same_shares():
    real = _paper_with_accent(8, (200, 30, 30))
    row = q.colour_row(real, q.colour_stats(real))
    assert row["hue_tv"] == 0.0
    assert row["accent_images"] == 1.0
    assert 0.9 < row["paper_white"] < 1.0


def test_a_different_accent_hue_is_far():
    real, blue = _paper_with_accent(8, (200, 30, 30)), _paper_with_accent(8, (30, 30, 200))
    assert q.colour_row(blue, q.colour_stats(real))["hue_tv"] > 0.99
    grey = np.full((8, 16, 16, 3), 120, np.uint8)
    row = q.colour_row(grey, q.colour_stats(real))
    assert row["accent_images"] == 0.0 and row["paper_white"] == 0.0


def test_style_knn_separates_distinct_styles():
    dark, light = np.full((10, 16, 16, 3), 20, np.uint8), np.full((10, 16, 16, 3), 235, np.uint8)
    real = np.concatenate([dark, light])
    knn = q.StyleKNN(real, np.repeat([0, 1], 10), ["dark", "light"], k=3)
    assert knn.loo_accuracy() == 1.0
    assert knn.shares(light[:4]) == {"dark": 0.0, "light": 1.0}


def test_side_by_side_pads_to_the_tallest_panel():
    a, b = np.zeros((10, 5, 3), np.uint8), np.zeros((20, 7, 3), np.uint8)
    out = q.side_by_side([q.labelled(a, "a"), b], gap=3)
    assert out.shape == (max(10 + 22, 20), 5 + 3 + 7, 3)


def test_style_features_tell_dots_from_bands():
    dots = np.full((6, 64, 64, 3), 240, np.uint8)
    for i in range(6):
        for y, x in np.random.default_rng(i).integers(2, 62, (30, 2)):
            dots[i, y - 1:y + 1, x - 1:x + 1] = 20
    bands = np.full((6, 64, 64, 3), 240, np.uint8)
    bands[:, 28:36, 4:60] = 20
    knn = q.StyleKNN(np.concatenate([dots, bands]), np.repeat([0, 1], 6), ["splatter", "strokes"], k=3)
    assert knn.loo_accuracy() == 1.0
    f = q.style_features(np.concatenate([dots[:1], bands[:1]]))
    assert f[0, 3] > f[1, 3] and f[1, 5] > f[0, 5]   # more regions / more elongated


def test_cached_recomputes_only_when_the_key_changes(tmp_path):
    calls = []
    compute = lambda: calls.append(1) or {"v": len(calls)}
    assert q.cached(tmp_path / "c.json", {"a": 1}, compute) == {"v": 1}
    assert q.cached(tmp_path / "c.json", {"a": 1}, compute) == {"v": 1}
    assert q.cached(tmp_path / "c.json", {"a": 2}, compute) == {"v": 2}
    assert len(calls) == 2


def test_the_cue_check_blur_removes_a_checkerboard_and_keeps_flat_tones():
    from evalkit.spectral import radial_spectrum, ring_index
    flat = np.full((4, 32, 32, 3), 180, np.uint8)
    assert np.array_equal(q.blurred(flat), flat)              # a flat tone is left as it is
    board = flat.copy()
    board[:, ::2, ::2] = 60                                    # the checkerboard of stride-2 up-sampling
    ring = ring_index(32)[16, 16]                              # its ring: (16, 16) cycles per image
    before, after = radial_spectrum(board)[:, ring], radial_spectrum(q.blurred(board))[:, ring]
    assert np.all(before - after > 30)                         # dB: the blur takes it out
    assert abs(float(q.blurred(board).mean()) - float(board.mean())) < 1.0   # the mean tone stays

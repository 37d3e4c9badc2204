"""inkwash.decode: every tricky file decodes to the sRGB pixels it shows, and training's loader and
the study's images decode it identically (one decoding for the model and for the people judging it).

The tricky files: 16-bit grey PNG, PNG with a non-sRGB ICC profile, EXIF-rotated JPEG, RGBA and LA
with transparency, palette with and without transparency, CMYK JPEG. All are square at SIZE px, so
training's loader at resolution SIZE neither resizes nor crops and its array is the decoding alone.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inkwash.decode import PAPER_WHITE, to_srgb

SIZE = 48
_spec = importlib.util.spec_from_file_location(   # the ICC test profile the train tests build
    "train_test_fixtures", Path(__file__).resolve().parents[1] / "train" / "conftest.py")
_train_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_train_fixtures)


def _ramp() -> np.ndarray:
    """uint8 (SIZE, SIZE, 3): distinct colours everywhere, so any misplaced pixel shows."""
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    return np.dstack([x * 5, y * 5, (x + y) * 2 + 10]).astype(np.uint8)


@pytest.fixture(scope="module")
def tricky(tmp_path_factory) -> dict[str, Path]:
    """name -> file, one per kind of file that decodes differently from plain 8-bit RGB."""
    root = tmp_path_factory.mktemp("tricky")
    rgb = _ramp()
    alpha = np.full((SIZE, SIZE), 255, np.uint8)
    alpha[8:24, 8:40] = 0
    alpha[30:40] = 128
    grey16 = (np.arange(SIZE * SIZE).reshape(SIZE, SIZE) % 256).astype(np.uint16) * 257
    files = {"sixteen": "sixteen.png", "icc": "icc.png", "exif": "exif.jpg", "rgba": "rgba.png",
             "la": "la.png", "palette": "palette.png", "palette_alpha": "palette_alpha.png",
             "cmyk": "cmyk.jpg"}
    paths = {k: root / v for k, v in files.items()}
    Image.fromarray(grey16).save(paths["sixteen"])
    red = np.zeros((SIZE, SIZE, 3), np.uint8)
    red[..., 0] = 255
    Image.fromarray(red).save(paths["icc"], icc_profile=_train_fixtures.make_icc_swapped_rg())
    exif = Image.Exif()
    exif[0x0112] = 6                      # shown rotated 90 degrees clockwise
    halves = np.full((SIZE, SIZE, 3), 250, np.uint8)
    halves[:, :SIZE // 2] = 20            # dark left half: on display it is the top half
    Image.fromarray(halves).save(paths["exif"], "JPEG", exif=exif, quality=95)
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(paths["rgba"])
    Image.fromarray(np.dstack([rgb[..., 0], alpha]), "LA").save(paths["la"])
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(paths["palette"])
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(
        paths["palette_alpha"], transparency=0)
    Image.fromarray(rgb).convert("CMYK").save(paths["cmyk"], "JPEG", quality=95)
    return paths


def _decode(path: Path) -> tuple[np.ndarray, list[tuple[str, bool]]]:
    actions: list[tuple[str, bool]] = []
    with Image.open(path) as im:
        im.load()
        out = to_srgb(im, actions)
    return np.asarray(out), actions


def test_sixteen_bit_png_maps_its_full_range_onto_8_bits(tricky):
    a, actions = _decode(tricky["sixteen"])
    want = (np.arange(SIZE * SIZE).reshape(SIZE, SIZE) % 256).astype(np.uint8)
    assert a.shape == (SIZE, SIZE, 3) and (a == want[..., None]).all()   # not clipped to white
    assert any("I;16" in text for text, _ in actions)


def test_icc_profile_is_converted_to_srgb(tricky):
    a, actions = _decode(tricky["icc"])
    r, g, _ = a.reshape(-1, 3).mean(0)
    assert g > 150 and r < 100          # the profile swaps red and green: stored red is green
    assert ("ICC profile 'Swapped RG test profile' -> sRGB", True) in actions


def test_exif_orientation_is_applied(tricky):
    a, actions = _decode(tricky["exif"])
    assert a[: SIZE // 2 - 4].mean() < 60 and a[SIZE // 2 + 4:].mean() > 200   # dark half on top
    assert ("EXIF orientation 6 applied", True) in actions


@pytest.mark.parametrize("name", ["rgba", "la", "palette_alpha"])
def test_transparency_is_composited_on_paper_white(tricky, name):
    a, actions = _decode(tricky[name])
    with Image.open(tricky[name]) as im:
        transparent = np.asarray(im.convert("RGBA"))[..., 3] == 0
    assert transparent.any() and (a[transparent] == PAPER_WHITE).all()
    assert any("paper white" in text for text, _ in actions)


def test_palette_and_cmyk_become_their_rgb_colours(tricky):
    for name in ("palette", "cmyk"):
        a, _ = _decode(tricky[name])
        with Image.open(tricky[name]) as im:
            assert (a == np.asarray(im.convert("RGB"))).all(), name


def test_plain_rgb_passes_unchanged_with_no_action():
    im = Image.fromarray(_ramp())
    actions: list = []
    assert (np.asarray(to_srgb(im, actions)) == _ramp()).all() and actions == []


def test_training_loader_decodes_every_tricky_file_as_to_srgb_does(tricky, tmp_path):
    from train.data import load_folder    # test only: inkwash never imports train
    ds = load_folder(next(iter(tricky.values())).parent, SIZE, workers=1, cache=False, progress=False)
    by_name = dict(zip((Path(p).name for p in ds.source_paths), ds.images_u8))
    assert set(by_name) == {p.name for p in tricky.values()}
    for name, path in tricky.items():
        assert (by_name[path.name] == _decode(path)[0]).all(), name


def test_study_images_decode_as_to_srgb_does(tricky):
    from study_app.images import load_rgb
    for name, path in tricky.items():
        assert (np.asarray(load_rgb(path)) == _decode(path)[0]).all(), name

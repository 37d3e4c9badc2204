"""train.near_duplicates: copies made by resizing, JPEG re-encoding and small crops are found; distinct
patterns (the synthetic ones and the demo set's 363) are not; the loader reports, keeps or drops them."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from train import near_duplicates as nd
from train.data import load_folder


def _jpeg(im: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _crop(im: Image.Image, left: float, top: float, right: float, bottom: float) -> Image.Image:
    w, h = im.size
    return im.crop((round(w * left), round(h * top), round(w * (1 - right)), round(h * (1 - bottom))))


COPIES = {
    "half size": lambda im: im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS),
    "double size": lambda im: im.resize((im.width * 2, im.height * 2), Image.Resampling.BICUBIC),
    "JPEG 60": lambda im: _jpeg(im, 60),
    "crop 4% left and top": lambda im: _crop(im, 0.04, 0.04, 0, 0),
    "crop 3% each side": lambda im: _crop(im, 0.03, 0.03, 0.03, 0.03),
    "crop, shrink, JPEG": lambda im: _jpeg(_crop(im, 0.05, 0, 0, 0.02).resize((110, 120)), 75),
    "darker, more contrast": lambda im: Image.eval(im, lambda v: int(min(255, max(0, (v - 128) * 1.2 + 110)))),
}


@pytest.fixture(scope="module")
def patterns(synthetic_images):
    """Eight distinct 160 px colour patterns (gradients, blobs, stripes)."""
    return [Image.fromarray(a) for a in synthetic_images(8, size=160, seed=11)]


@pytest.mark.parametrize("kind", list(COPIES))
def test_each_copy_is_found_as_a_near_duplicate_of_its_own_original(kind, patterns):
    originals = nd.Fingerprints.of_thumbnails([nd.thumbnail(im) for im in patterns])
    copies = nd.Fingerprints.of_thumbnails([nd.thumbnail(COPIES[kind](im)) for im in patterns])
    found = nd.find(copies, originals)
    assert [(i, j) for i, j, _ in found] == [(k, k) for k in range(len(patterns))], found
    assert all(0 <= d <= nd.DISTANCE_MAX for _, _, d in found)


def test_distinct_patterns_are_not_near_duplicates(patterns):
    fp = nd.Fingerprints.of_thumbnails([nd.thumbnail(im) for im in patterns])
    assert nd.find(fp) == []
    d = min(nd.distance(fp, i, fp, j) for i in range(len(fp)) for j in range(i))
    assert d > 2 * nd.DISTANCE_MAX  # not a near miss


def test_an_image_is_its_own_near_duplicate_at_distance_zero_and_thumbnails_round_trip(patterns):
    t = nd.thumbnail(patterns[0])
    assert t.shape == (32, 32) and t.dtype == np.uint8
    assert np.array_equal(nd.thumb_from_text(nd.thumb_text(t)), t)
    fp = nd.Fingerprints.of_thumbnails([t, t])
    assert nd.find(fp) == [(1, 0, 0.0)] and nd.hamming(fp.hashes[0], fp.hashes[1]) == 0
    assert nd.fingerprint(np.asarray(patterns[0])[None]).hashes[0] == fp.hashes[0]


def test_the_loader_reports_near_duplicates_keeps_them_by_default_and_drops_them_on_request(tmp_path, patterns):
    folder = tmp_path / "patterns"
    folder.mkdir()
    for k, im in enumerate(patterns[:4]):
        im.save(folder / f"a{k}.png")
    COPIES["half size"](patterns[0]).save(folder / "b_small.png")
    COPIES["JPEG 60"](patterns[1]).save(folder / "b_reencoded.jpg", quality=95)
    COPIES["crop 4% left and top"](patterns[2]).save(folder / "b_cropped.png")
    kw = dict(workers=1, cache_dir=tmp_path / "cache", progress=False)
    kept = load_folder(folder, 32, **kw)
    rows = {r["path"]: r for r in kept.report}
    assert {p: r["near_duplicate_of"] for p, r in rows.items() if r["near_duplicate_of"]} == \
        {"b_small.png": "a0.png", "b_reencoded.jpg": "a1.png", "b_cropped.png": "a2.png"}
    assert all(0 <= rows[p]["near_duplicate_distance"] <= nd.DISTANCE_MAX for p in ("b_small.png", "b_cropped.png"))
    assert len(kept) == 7 and kept.summary_dict["near_duplicates"] == 3 and "3 near-duplicates kept" in kept.summary
    assert all(len(r["phash"]) == 16 and "thumb32" not in r for r in kept.report)
    dropped = load_folder(folder, 32, drop_near_duplicates=True, **kw)
    rows = {r["path"]: r for r in dropped.report}
    assert len(dropped) == 4 and rows["b_small.png"]["status"] == "skipped"
    assert rows["b_small.png"]["reason"].startswith("near duplicate: of a0.png at distance")
    assert sorted(r["index"] for r in dropped.report if r["index"] is not None) == [0, 1, 2, 3]


@pytest.mark.slow
def test_the_demo_sets_363_distinct_patterns_hold_no_near_duplicates(tmp_path):
    from train.demo import demo_folder
    ds = load_folder(demo_folder(), 64, cache_dir=tmp_path / "cache", progress=False)
    assert ds.summary_dict["images"] == 363 and ds.summary_dict["near_duplicates"] == 0

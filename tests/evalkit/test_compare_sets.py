"""evalkit.compare_sets: class labels in the real proportions, the real set per class, metrics that
cannot run on a small class."""
from __future__ import annotations

import numpy as np
import pytest

from evalkit import compare_sets
from evalkit.table import METRICS


@pytest.mark.parametrize(("n", "counts", "want"), [(10, [5, 3, 2], [5, 3, 2]), (7, [5, 3, 2], [4, 2, 1]),
                                                   (24, [10, 10, 10], [8, 8, 8]), (5, [1, 1], [3, 2])])
def test_class_labels_follow_the_real_proportions(n, counts, want):
    labels = compare_sets.class_labels(n, counts, seed=0)
    assert labels.dtype == np.int64 and len(labels) == n
    assert np.bincount(labels, minlength=len(counts)).tolist() == want


def test_class_labels_are_shuffled_with_the_seed():
    a = compare_sets.class_labels(60, [1, 1, 1], seed=3)
    assert np.array_equal(a, compare_sets.class_labels(60, [1, 1, 1], seed=3))
    assert not np.array_equal(a, compare_sets.class_labels(60, [1, 1, 1], seed=4))
    assert len(set(a[:12].tolist())) == 3                # mixed, not in class blocks


def test_real_classes_come_from_the_subfolders(tmp_path, synthetic_images, write_images):
    write_images(tmp_path / "real" / "stripes", synthetic_images(3, size=64, seed=1))
    write_images(tmp_path / "real" / "dots", synthetic_images(2, size=64, seed=2))
    classes = compare_sets.load_real_classes(tmp_path / "real", 64)
    assert {k: v.shape for k, v in classes.items()} == {"dots": (2, 64, 64, 3), "stripes": (3, 64, 64, 3)}
    compare_sets.check_classes("run", ["stripes", "dots"], classes, tmp_path / "real")
    with pytest.raises(compare_sets.CompareError, match=r"\['dots', 'stripes'\] differ .*\['stripes', 'waves'\]"):
        compare_sets.check_classes("run", ["stripes", "waves"], classes, tmp_path / "real")


def test_a_flat_real_folder_has_no_classes(tmp_path, synthetic_images, write_images):
    write_images(tmp_path / "flat", synthetic_images(3, size=64, seed=1))
    with pytest.raises(compare_sets.CompareError, match="one subfolder per class"):
        compare_sets.load_real_classes(tmp_path / "flat", 64)


def test_a_metric_that_cannot_run_on_a_class_names_the_reason(synthetic_images):
    real = {"images": synthetic_images(4, size=64, seed=1)}
    gen = {"images": synthetic_images(1, size=64, seed=2)}    # one image: no MS-SSIM pair
    pooled = {"msssim": METRICS["msssim"](synthetic_images(3, size=64, seed=3), values={"pairs": 2})}
    real["reference"] = compare_sets.references(real, False, {"pairs": 2})
    with pytest.raises(Exception, match="MS-SSIM"):
        compare_sets.measure(real, gen, {"pairs": 2}, "cls", has_weights=False)
    row = compare_sets.measure(real, gen, {"pairs": 2}, "cls", has_weights=False, tolerate=pooled)
    assert row["ms_ssim_up256_cls"].startswith("not computed: MS-SSIM diversity needs >= 2 images")
    assert isinstance(row["ms_ssim_up256_real"], float)       # the real class's own value still shows
    assert row["fid_cls"].startswith("unavailable")          # no weights: Inception columns say so


def test_a_class_with_fewer_than_two_samples_is_not_measured(synthetic_images):
    real_class = {"images": synthetic_images(3, size=64, seed=1), "reference": {}}
    gen = {"images": synthetic_images(5, size=64, seed=2)}
    pooled = {"msssim": METRICS["msssim"](gen["images"], values={"pairs": 2})}
    rows = compare_sets.per_class_rows("run", gen, np.array([0, 0, 0, 0, 1]), ["big", "rare"],
                                       {"big": real_class, "rare": real_class}, {"pairs": 2}, False, pooled)
    assert [(r["class"], r["n_gen"]) for r in rows] == [("big", 4), ("rare", 1)]
    assert isinstance(rows[0]["ms_ssim_up256_cls"], float)
    assert rows[1]["ms_ssim_up256_cls"] == rows[1]["fid_cls"] == "not computed: 1 samples of this class (raise --n)"

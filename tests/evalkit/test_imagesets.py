"""Inputs of the weights-free quality metrics: pairs that differ in format, mode or size are refused."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from evalkit import imagesets
from inkwash.cli import UserError


def test_arrays_of_different_sizes_or_types_are_refused(synthetic_images):
    with pytest.raises(UserError, match="sizes differ"):
        imagesets.check_pair("m", synthetic_images(2, 16), synthetic_images(2, 32))
    with pytest.raises(UserError, match="uint8"):
        imagesets.check_pair("m", synthetic_images(2, 16).astype(np.float32), synthetic_images(2, 16))
    with pytest.raises(UserError, match="square"):
        imagesets.check_pair("m", np.zeros((1, 16, 32, 3), np.uint8), np.zeros((1, 16, 32, 3), np.uint8))


def test_image_files_of_another_format_or_mode_are_refused(tmp_path, synthetic_images, write_images):
    a = write_images(tmp_path / "a", synthetic_images(3, 16, seed=0))
    jpeg = write_images(tmp_path / "b", synthetic_images(3, 16, seed=1), suffix=".jpg")
    with pytest.raises(UserError, match="JPEG"):
        imagesets.read_image_sets(a, jpeg)
    grey = tmp_path / "grey.png"
    Image.fromarray(synthetic_images(1, 16)[0, :, :, 0], "L").save(grey)
    with pytest.raises(UserError, match="grey.png"):
        imagesets.read_image_sets(a, [grey])
    big = write_images(tmp_path / "c", synthetic_images(1, 32), prefix="big")
    with pytest.raises(UserError, match="32x32"):
        imagesets.read_image_sets(a, big)


def test_image_files_of_one_kind_decode_to_the_arrays_written(tmp_path, synthetic_images, write_images):
    ia, ib = synthetic_images(3, 16, seed=0), synthetic_images(2, 16, seed=1)
    a, b = imagesets.read_image_sets(write_images(tmp_path / "a", ia), write_images(tmp_path / "b", ib))
    assert np.array_equal(a, ia) and np.array_equal(b, ib)


def test_a_pair_of_folders_is_fitted_to_the_resolution_alike(tmp_path, synthetic_images, write_images):
    ia, ib = synthetic_images(4, 32, seed=0), synthetic_images(3, 32, seed=1)
    write_images(tmp_path / "a", ia), write_images(tmp_path / "b", ib)
    a, b, facts = imagesets.load_pair("m", tmp_path / "a", tmp_path / "b", 16)
    assert a.shape == (4, 16, 16, 3) and b.shape == (3, 16, 16, 3)
    assert facts == {"resolution": 16, "source_size": [32, 32], "resized": True, "n_images": [4, 3],
                     "kinds": ["folder", "folder"]}
    assert np.array_equal(a, imagesets.fit_square(ia, 16)) and np.array_equal(b, imagesets.fit_square(ib, 16))
    same, _, facts = imagesets.load_pair("m", tmp_path / "a", tmp_path / "b", 32)
    assert np.array_equal(same, ia) and not facts["resized"]


def test_fit_square_crops_the_centre_of_a_wide_image():
    wide = np.zeros((1, 16, 32, 3), np.uint8)
    wide[:, :, 8:24] = 200                       # the centre square is uniform, the sides black
    assert np.all(imagesets.fit_square(wide, 8) == 200)


def test_a_folder_beside_an_npz_must_be_lossless_rgb(tmp_path, synthetic_images, write_images):
    ia, ib = synthetic_images(3, 16, seed=0), synthetic_images(3, 16, seed=1)
    np.savez(tmp_path / "b.npz", images_u8=ib)
    write_images(tmp_path / "png", ia)
    a, b, facts = imagesets.load_pair("m", tmp_path / "png", tmp_path / "b.npz", 16)
    assert np.array_equal(a, ia) and np.array_equal(b, ib) and facts["kinds"] == ["folder", "npz"]
    write_images(tmp_path / "jpg", ia, suffix=".jpg")
    with pytest.raises(UserError, match="JPEG RGB files but .*b.npz is raw uint8"):
        imagesets.load_pair("m", tmp_path / "jpg", tmp_path / "b.npz", 16)


def test_arrays_of_different_sizes_are_refused_before_any_resize(tmp_path, synthetic_images):
    np.savez(tmp_path / "a.npz", images_u8=synthetic_images(3, 16))
    np.savez(tmp_path / "b.npz", images_u8=synthetic_images(3, 32))
    with pytest.raises(UserError, match="16x16 but .*32x32"):
        imagesets.load_pair("m", tmp_path / "a.npz", tmp_path / "b.npz", 16)

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

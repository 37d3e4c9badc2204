import numpy as np
import torch

from train.images import from_uint8, grid, to_uint8


def test_to_uint8_rounds_and_clips():
    x = torch.tensor([-2.0, -1.0, 0.0, 1.0 / 255, 1.0, 3.0]).view(1, 1, 1, 6).expand(1, 3, 1, 6)
    u = to_uint8(x)
    assert u.shape == (1, 1, 6, 3) and u.dtype == np.uint8
    assert u[0, 0, :, 0].tolist() == [0, 0, 128, 128, 255, 255]


def test_uint8_round_trip_is_exact():
    u = np.random.default_rng(0).integers(0, 256, (2, 5, 7, 3), dtype=np.uint8)
    assert np.array_equal(to_uint8(from_uint8(u)), u)


def test_grid_places_images():
    u = np.zeros((3, 4, 4, 3), np.uint8)
    u[2] = 7
    g = grid(u, nrow=2, pad=1)
    assert g.shape == (2 * 5 + 1, 2 * 5 + 1, 3)
    assert (g[6:10, 1:5] == 7).all()

"""train.augment.diff_augment: shapes, gradients, seeding and what each policy does."""
from __future__ import annotations

import pytest
import torch

from train.augment import diff_augment, rand_cutout, rand_translation


def _batch(n=4, c=3, h=16, w=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, c, h, w, generator=g) * 2 - 1


def test_diff_augment_keeps_shape_and_passes_gradients():
    x = _batch().requires_grad_(True)
    y = diff_augment(x, generator=torch.Generator().manual_seed(1))
    assert y.shape == x.shape and y.dtype == x.dtype
    y.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_diff_augment_is_seeded_by_the_generator():
    x = _batch()
    a = diff_augment(x, generator=torch.Generator().manual_seed(5))
    b = diff_augment(x, generator=torch.Generator().manual_seed(5))
    c = diff_augment(x, generator=torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_empty_policy_is_identity_and_unknown_policy_is_refused():
    x = _batch()
    assert torch.equal(diff_augment(x, policy=""), x)
    with pytest.raises(ValueError, match="'zoom'"):
        diff_augment(x, policy="color,zoom")


def test_translation_is_an_integer_shift_with_zero_fill():
    x = _batch(n=6, h=16, w=16) + 3.0  # no zeros in the input, so zeros mark the fill
    y = rand_translation(x, ratio=0.125, generator=torch.Generator().manual_seed(2))
    for i in range(len(x)):
        found = False
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                ref = torch.zeros_like(x[i])
                ys, yd = (slice(dy, 16), slice(0, 16 - dy)) if dy >= 0 else (slice(0, 16 + dy), slice(-dy, 16))
                xs, xd = (slice(dx, 16), slice(0, 16 - dx)) if dx >= 0 else (slice(0, 16 + dx), slice(-dx, 16))
                ref[:, yd, xd] = x[i][:, ys, xs]
                found |= torch.equal(ref, y[i])
        assert found, f"image {i} is not a shift of at most 2 px"


def test_cutout_zeroes_one_square_of_half_the_side():
    x = torch.ones(8, 3, 16, 16)
    y = rand_cutout(x, ratio=0.5, generator=torch.Generator().manual_seed(3))
    for i in range(len(x)):
        zero = (y[i, 0] == 0)
        rows, cols = zero.any(1).nonzero().flatten(), zero.any(0).nonzero().flatten()
        assert 0 < int(zero.sum()) <= 64
        assert int(zero.sum()) == len(rows) * len(cols)  # one axis-aligned rectangle
        assert len(rows) <= 8 and len(cols) <= 8
        assert torch.equal(y[i, 0], y[i, 2])  # same mask on every channel


def test_color_keeps_a_flat_image_flat():
    x = torch.full((5, 3, 8, 8), 0.2)
    y = diff_augment(x, policy="color", generator=torch.Generator().manual_seed(4))
    assert torch.allclose(y, y[:, :, :1, :1].expand_as(y))
    assert not torch.allclose(y, x)

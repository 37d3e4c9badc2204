"""The FID Inception network and its preprocessing: layout, TF1 resize, scaling."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from evalkit import fused, inception, weights


def test_fid_inception_has_566_tensors_and_23885486_values():
    state = inception.FIDInception().state_dict()
    assert len(state) == inception.N_TENSORS == 566
    assert sum(v.numel() for v in state.values()) == inception.N_VALUES == 23_885_486
    assert state["fc.weight"].shape == (1008, 2048)
    assert state["Mixed_7c.branch3x3dbl_3b.bn.running_var"].shape == (384,)


def test_tf1_resize_matches_hand_computed_2x2_to_3x3():
    x = torch.tensor([[0.0, 10.0], [20.0, 30.0]]).view(1, 1, 2, 2)
    # TF1: source = i * 2/3 = 0, 0.667, 1.333 -> lo (0, 0, 1), hi clamped (1, 1, 1), frac (0, 2/3, 1/3).
    expected = torch.tensor([[0.0, 20 / 3, 10.0],
                             [40 / 3, 20.0, 70 / 3],
                             [20.0, 80 / 3, 30.0]])
    got = inception.tf1_resize_bilinear(x, (3, 3))[0, 0]
    assert torch.allclose(got, expected, atol=1e-5)
    # PyTorch's half-pixel bilinear gives other values: the convention the test pins down.
    pt = F.interpolate(x, size=(3, 3), mode="bilinear", align_corners=False)[0, 0]
    assert not torch.allclose(pt, expected, atol=1e-2)


def test_tf1_resize_downsample_samples_without_half_pixel_offset():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    got = inception.tf1_resize_bilinear(x, (2, 2))[0, 0]
    assert torch.equal(got, torch.tensor([[0.0, 2.0], [8.0, 10.0]]))    # rows/cols 0 and 2, no averaging


def test_preprocess_scales_by_x_minus_128_over_128():
    u8 = torch.tensor([0, 128, 255], dtype=torch.uint8).view(1, 1, 3, 1).expand(1, 1, 3, 3).contiguous()
    u8 = u8.view(1, 1, 3, 3).permute(0, 2, 3, 1).expand(1, 3, 3, 3).contiguous()   # NHWC, 3 channels
    x = inception.preprocess(u8)
    assert x.shape == (1, 3, 299, 299) and x.dtype == torch.float32
    assert x.is_contiguous(memory_format=torch.channels_last)
    assert x[0, :, 0, 0].tolist() == [-1.0, -1.0, -1.0]
    assert float(x.max()) == 127 / 128

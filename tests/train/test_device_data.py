"""train.device_data: where the data set lives (mocked free-memory figures) and batches from either place."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from train import config
from train.data import Dataset
from train.device_data import DEVICE, GPU_DATA_SHARE, HOST, DeviceData, choose_placement

GIB = 2**30


@pytest.mark.parametrize("data_gib, free_gib, where", [
    (0.16, 79.0, DEVICE),      # the paper's 821 images at 256 px on an 80 GB GPU
    (19.0, 79.0, DEVICE),      # 100k images at 256 px: under a quarter of 79 GiB
    (21.0, 79.0, HOST),        # over a quarter
    (2.0, 6.0, HOST),          # a small GPU, mostly taken
    (1.5, 6.0, DEVICE),        # exactly the share
])
def test_the_data_set_stays_on_the_gpu_only_within_its_share_of_free_memory(data_gib, free_gib, where):
    chosen, reason = choose_placement(int(data_gib * GIB), int(free_gib * GIB))
    assert chosen == where and f"{GPU_DATA_SHARE:.0%} of {free_gib:.2f} GiB free GPU memory" in reason
    assert ("asynchronously" in reason) == (where == HOST)


def test_on_the_cpu_the_data_set_is_in_host_memory_already():
    assert choose_placement(50 * GIB, None) == (DEVICE, "the CPU trains from host memory")


def test_host_and_resident_data_give_the_same_batches_on_the_cpu():
    """Both placements draw indices from the CPU stream on the CPU: the same images, float [-1, 1]."""
    rng = np.random.default_rng(0)
    ds = Dataset.from_arrays(rng.integers(0, 256, (10, 64, 64, 3), dtype=np.uint8), label_ids=np.arange(10) % 2,
                             class_names=["a", "b"])
    cfg = config.resolve({"preset": "demo", "conditional": True, "device": "cpu"})
    batches = {}
    for where in (DEVICE, HOST):
        data = DeviceData(ds, cfg, torch.device("cpu"), 4, placement=where)
        assert data.placement == where and data.placement_reason == f"{where} (asked for)"
        torch.manual_seed(3)
        batches[where] = data.real_batch()
    (x_dev, y_dev), (x_host, y_host) = batches[DEVICE], batches[HOST]
    assert x_host.shape == (4, 3, 64, 64) and x_host.dtype == torch.float32
    assert torch.equal(x_dev, x_host) and torch.equal(y_dev, y_host)
    assert float(x_host.min()) >= -1.0 and float(x_host.max()) <= 1.0


@pytest.mark.gpu
def test_host_placement_on_cuda_copies_pinned_batches_of_the_same_images():
    rng = np.random.default_rng(1)
    images_u8 = rng.integers(0, 256, (12, 64, 64, 3), dtype=np.uint8)
    cfg = config.resolve({"preset": "paper-demo", "device": "cuda"})
    data = DeviceData(Dataset.from_arrays(images_u8), cfg, torch.device("cuda"), 4, placement=HOST)
    torch.manual_seed(5)
    x, _ = data.real_batch()
    torch.manual_seed(5)
    idx = torch.randint(0, 12, (4,)).numpy()
    expected = torch.from_numpy(images_u8[idx]).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    assert data.u8.device.type == "cpu" and x.device.type == "cuda"
    torch.testing.assert_close(x.cpu(), expected, rtol=0, atol=1e-6)


def test_xflip_mirrors_about_half_of_the_images_and_nothing_else():
    rng = np.random.default_rng(2)
    images_u8 = rng.integers(0, 256, (6, 64, 64, 3), dtype=np.uint8)
    ds = Dataset.from_arrays(images_u8)
    batches = {}
    for xflip in (False, True):
        cfg = config.resolve({"preset": "demo", "device": "cpu", "xflip": xflip})
        data = DeviceData(ds, cfg, torch.device("cpu"), 64)
        torch.manual_seed(7)
        batches[xflip], _ = data.real_batch()
    plain, flipped = batches[False], batches[True]
    same = (flipped == plain).flatten(1).all(1)
    mirrored = (flipped == plain.flip(3)).flatten(1).all(1)
    assert bool((same | mirrored).all())          # each image is itself or its mirror, the same draw of images
    assert 16 <= int(mirrored.sum()) <= 48         # about half of 64 are mirrored (binomial, seeded)

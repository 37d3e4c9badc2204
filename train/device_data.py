"""The training images where the steps read them: resident on the GPU when they fit, else in host
memory with each batch copied over asynchronously.

A data set is kept as uint8 NCHW (a quarter of float32's bytes) and converted to float [-1, 1] per
batch on the device. On CUDA it stays on the GPU when it takes at most GPU_DATA_SHARE of the free
GPU memory (torch.cuda.mem_get_info) at the start: the rest is left to the networks, their
activations, the optimiser states and the gradient penalty's double backward. A larger set stays
in host memory; each batch is gathered into a pinned buffer and copied with non_blocking=True,
so the copy overlaps the GPU's work. Pinning only the batch, not the whole set, keeps page-locked
memory small; the pinned-memory allocator does not reuse a buffer before its copy has finished.
"""
from __future__ import annotations

import logging

import numpy as np
import torch

from inkwash.cli import UserError
from train import state
from train.config import TrainConfig
from train.data import Dataset

log = logging.getLogger(__name__)

GPU_DATA_SHARE = 0.25  # of the free GPU memory at start: at most this much for the resident data set
DEVICE, HOST = "device", "host"


def choose_placement(data_bytes: int, free_bytes: int | None, share: float = GPU_DATA_SHARE) -> tuple[str, str]:
    """Where the data set lives: (DEVICE or HOST, the reason in words). A pure function.

    Args:
        data_bytes: size of the uint8 data set.
        free_bytes: free memory of the training device (torch.cuda.mem_get_info()[0]); None for
            the CPU, whose memory already is the host's.
    """
    if free_bytes is None:
        return DEVICE, "the CPU trains from host memory"
    limit = share * free_bytes
    gib = lambda b: f"{b / 2**30:.2f} GiB"  # noqa: E731
    if data_bytes <= limit:
        return DEVICE, f"{gib(data_bytes)} fits in {share:.0%} of {gib(free_bytes)} free GPU memory"
    return HOST, (f"{gib(data_bytes)} exceeds {share:.0%} of {gib(free_bytes)} free GPU memory: host memory, "
                  f"batches copied asynchronously")


class DeviceData:
    """The data set as uint8 NCHW (on the device or in host memory) and random batches of it."""

    def __init__(self, ds: Dataset, cfg: TrainConfig, device: torch.device, local_batch: int,
                 placement: str | None = None):
        """`placement` (DEVICE or HOST) overrides the choice from free memory (tests)."""
        self.class_names = list(ds.class_names) if cfg.conditional else []
        if cfg.conditional and len(self.class_names) < 2:
            raise UserError(f"conditional: {ds.root} has {len(self.class_names)} class subfolder(s); need at least 2")
        u8 = torch.from_numpy(np.ascontiguousarray(ds.images_u8)).permute(0, 3, 1, 2).contiguous()
        if tuple(u8.shape[2:]) != (cfg.resolution, cfg.resolution):
            raise UserError(f"resolution: data is {tuple(u8.shape[2:])} px but the model needs {cfg.resolution}")
        free = torch.cuda.mem_get_info(device)[0] if device.type == "cuda" else None
        chosen, self.placement_reason = choose_placement(u8.numel(), free, GPU_DATA_SHARE)
        self.placement = placement or chosen
        if placement:
            self.placement_reason = f"{placement} (asked for)"
        log.info("data set: %s (%s)", self.placement, self.placement_reason)
        self.u8 = u8.to(device) if self.placement == DEVICE else u8
        self.labels = ds.labels.to(device) if self.class_names else None
        self.n, self.batch, self.device = u8.shape[0], local_batch, device
        self.xflip = cfg.xflip
        self._pin = device.type == "cuda" and self.placement == HOST

    def real_batch(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A random batch: float (B, 3, R, R) in [-1, 1] (channels-last) and its labels or None; with
        cfg.xflip each image is mirrored left-right with probability 1/2 (the device's RNG stream).

        Resident data: indices from the device's RNG stream. Host data: from the CPU stream, so
        no step waits for the device (a run's batches therefore depend on its placement)."""
        if self.placement == DEVICE:
            idx = torch.randint(0, self.n, (self.batch,), device=self.device)
            x_u8 = self.u8[idx]
        else:
            idx_host = torch.randint(0, self.n, (self.batch,))
            buf = torch.empty((self.batch, *self.u8.shape[1:]), dtype=torch.uint8, pin_memory=self._pin)
            torch.index_select(self.u8, 0, idx_host, out=buf)
            x_u8 = buf.to(self.device, non_blocking=self._pin)
            idx = idx_host.to(self.device, non_blocking=self._pin)
        x = x_u8.float().div_(127.5).sub_(1.0)
        if self.xflip:  # each image mirrored left-right with probability 1/2 (FastGAN's RandomHorizontalFlip)
            flip = torch.rand(self.batch, device=self.device) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(3), x)
        if state.CHANNELS_LAST:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, (self.labels[idx] if self.labels is not None else None)

    def fake_labels(self) -> torch.Tensor | None:
        """Labels for a fake batch, drawn with the data's class frequencies (None: unconditional)."""
        if self.labels is None:
            return None
        return self.labels[torch.randint(0, self.n, (self.batch,), device=self.device)]

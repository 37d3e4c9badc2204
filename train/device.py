"""Device resolution and numeric settings: the one place that turns `--device auto|cpu|cuda` into a
torch.device (training, PyTorch sampling and evalkit's networks alike)."""
from __future__ import annotations

import torch

from inkwash.cli import UserError

DEVICES = ("auto", "cpu", "cuda")


class DeviceError(UserError):
    """A device was asked for that this machine does not have."""


def resolve_device(name: str, flag: str = "--device") -> torch.device:
    """'auto' -> cuda when a GPU is visible, else cpu; 'cuda' without a GPU is a DeviceError naming `flag`."""
    if name not in DEVICES:
        raise UserError(f"{flag} {name}: unknown device; choose one of {', '.join(DEVICES)}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"{flag} cuda: no CUDA GPU is visible; use {flag} cpu or auto")
    return torch.device(name)

"""Device resolution and numeric settings: the one place that turns `--device auto|cpu|cuda` into a
torch.device (training, PyTorch sampling and evalkit's networks alike)."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

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


def _tf32_knobs() -> list[tuple[object, str]]:
    """(object, attribute) pairs that switch TF32 for CUDA matmuls and cuDNN convolutions.

    torch >= 2.9 has the `fp32_precision` API ("ieee" | "tf32"); mixing it with the legacy
    `allow_tf32` flags raises a RuntimeError, and Inductor sets the new one, so the legacy flags
    are used only on older torch."""
    if hasattr(torch.backends.cuda.matmul, "fp32_precision"):
        return [(torch.backends.cuda.matmul, "fp32_precision"), (torch.backends.cudnn.conv, "fp32_precision")]
    return [(torch.backends.cuda.matmul, "allow_tf32"), (torch.backends.cudnn, "allow_tf32")]


def set_tf32(enabled: bool) -> None:
    """Allow (True) or forbid (False) TF32 in CUDA matmuls and convolutions; no effect on the CPU."""
    for obj, attr in _tf32_knobs():
        if attr == "fp32_precision":
            setattr(obj, attr, "tf32" if enabled else "ieee")
        else:
            setattr(obj, attr, enabled)


def tf32_enabled() -> bool:
    """Whether CUDA matmuls and convolutions may use TF32 now (both must allow it)."""
    values = [getattr(obj, attr) for obj, attr in _tf32_knobs()]
    return all(v is True or v == "tf32" for v in values)


@contextlib.contextmanager
def tf32(enabled: bool) -> Iterator[None]:
    """Set TF32 for the block, then restore every knob as it was."""
    saved = [(obj, attr, getattr(obj, attr)) for obj, attr in _tf32_knobs()]
    set_tf32(enabled)
    try:
        yield
    finally:
        for obj, attr, value in saved:
            setattr(obj, attr, value)

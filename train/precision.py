"""The numeric precision of each piece of a training step, chosen in one place.

`--dtype auto|fp32|bf16|fast` and the device's facts decide whether the networks' forward passes run
under bf16 autocast; everything that must stay exact runs in fp32 whatever the choice:

| piece                                   | bf16-autocast run            | fp32 run |
|-----------------------------------------|------------------------------|----------|
| generator forward (critic and G steps)  | bf16 autocast, output -> fp32| fp32     |
| critic body on real and fake batches    | bf16 autocast                | fp32     |
| critic head (final Linear, projection)  | fp32 (autocast off)          | fp32     |
| losses (Wasserstein, BCE)               | fp32                         | fp32     |
| gradient penalty, its double backward   | fp32 (no autocast)           | fp32     |
| HSV-cone term                           | fp32 (autocast off)          | fp32     |
| optimiser steps, EMA, weights           | fp32                         | fp32     |

The generator's output is cast to fp32 in both steps, so the critic (and DiffAugment) sees fakes of
one dtype in critic and generator steps alike. bf16 keeps fp32's exponent range, so no loss scaler
is needed. `auto` picks bf16 only on GPUs with native bf16 (compute capability >= 8.0: A100, H100,
RTX 30xx and later); older GPUs (V100, T4) emulate bf16 slowly and train in fp32 instead. fp16 with
a GradScaler is not offered: two optimisers and a penalty differentiated through the critic would
each need their own scaling, none of which can be tested without such a GPU.

On the CPU, `auto` is fp32 and bf16 autocast is opt-in (`--dtype bf16`), offered only where the CPU
has native bf16 instructions (the `avx512_bf16` or `amx_bf16` flags of /proc/cpuinfo: Intel Cooper
Lake / Sapphire Rapids and later, AMD Zen 4 and later); elsewhere bf16 would be emulated, and slower.
`fast` is bf16 autocast wherever the device has it natively, CPU included, and fp32 elsewhere: it
never refuses, so a command line can use it on any machine (`make demo` does).
`benchmarks/train_bench.py` measures it per model beside fp32 (results/train_bench.md).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import torch

from inkwash.cli import UserError

BF16_MIN_CAPABILITY = (8, 0)  # Ampere: native bf16 tensor cores
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo flags of native bf16 arithmetic


@dataclass(frozen=True)
class Precision:
    """What a run computes in: `name` goes to run.json's `dtype`, `reason` to `dtype_reason`."""
    name: str                     # "bf16-autocast" | "fp32"
    reason: str                   # why this choice, in words
    device_type: str = "cpu"      # "cpu" | "cuda": autocast's device type
    bf16: bool = False            # forward passes of the networks under bf16 autocast

    def autocast(self) -> contextlib.AbstractContextManager:
        """The context for the networks' forward passes (a no-op for fp32)."""
        if self.bf16:
            return torch.autocast(self.device_type, dtype=torch.bfloat16)
        return contextlib.nullcontext()


def choose(device_type: str, dtype: str, capability: tuple[int, int] | None, bf16_supported: bool) -> Precision:
    """The precision for `--dtype` on a device: a pure function of the device's facts.

    Args:
        device_type: "cpu" or "cuda".
        dtype: "auto", "fp32", "bf16" or "fast" (the --dtype flag).
        capability: the CUDA compute capability (major, minor), None on the CPU.
        bf16_supported: on CUDA, torch.cuda.is_bf16_supported() without emulation; on the CPU, whether
            it has native bf16 instructions (`cpu_native_bf16()`).
    Raises:
        UserError: bf16 asked for where it is not native (a CPU without bf16 instructions, a GPU before
            compute capability 8.0).
    """
    if dtype == "fp32":
        return Precision("fp32", "--dtype fp32", device_type)
    if device_type != "cuda":
        if dtype == "bf16":
            if not bf16_supported:
                raise UserError("dtype: this CPU has no native bf16 instructions (" + " or ".join(CPU_BF16_FLAGS)
                                + "), so bf16 autocast would be emulated and slower; use --dtype fp32 or auto")
            return Precision("bf16-autocast", "--dtype bf16: the CPU has native bf16 instructions", device_type,
                             bf16=True)
        if dtype == "fast":
            if bf16_supported:
                return Precision("bf16-autocast", "--dtype fast: the CPU has native bf16 instructions", device_type,
                                 bf16=True)
            return Precision("fp32", "--dtype fast: this CPU has no native bf16 instructions; fp32", device_type)
        return Precision("fp32", "auto on the CPU: fp32 (bf16 autocast is opt-in there: --dtype bf16)", device_type)
    native = bool(bf16_supported) and capability is not None and tuple(capability) >= BF16_MIN_CAPABILITY
    cc = f"{capability[0]}.{capability[1]}" if capability is not None else "unknown"
    if native:
        how = f"--dtype {dtype}" if dtype in ("bf16", "fast") else "auto"
        return Precision("bf16-autocast", f"{how}: compute capability {cc} has native bf16", device_type, bf16=True)
    why = f"compute capability {cc}" + ("" if bf16_supported else ", torch.cuda.is_bf16_supported() is False")
    if dtype == "bf16":
        raise UserError(f"dtype: this GPU ({why}) has no native bf16 (needs compute capability >= 8.0); "
                        f"use --dtype auto or fp32")
    how = "--dtype fast" if dtype == "fast" else "auto"
    return Precision("fp32", f"{how}: {why} has no native bf16 (emulated bf16 is slower); fp32", device_type)


def detect(device: torch.device, dtype: str) -> Precision:
    """`choose` with the facts of `device` as torch reports them."""
    if device.type != "cuda":
        return choose(device.type, dtype, None, device.type == "cpu" and cpu_native_bf16())
    capability = tuple(torch.cuda.get_device_capability(device))
    try:
        supported = torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # torch < 2.4 has no including_emulation and counts only native support
        supported = torch.cuda.is_bf16_supported()
    return choose("cuda", dtype, capability, supported)


def cpu_native_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU has native bf16 arithmetic (a CPU_BF16_FLAGS flag in /proc/cpuinfo; False where
    that file does not exist, e.g. macOS)."""
    try:
        text = Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
    return any(f in flags for f in CPU_BF16_FLAGS)

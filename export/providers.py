"""onnxruntime sessions: which execution provider a session really runs on, and with which settings.

Whether the CUDA provider works is read from the session onnxruntime gives back
(`session.get_providers()` after asking for CUDA), never from torch: a CPU build of torch says
nothing about onnxruntime's CUDA, and the GPU wheel lists CUDA as available even where no CUDA
library exists. When the provider fails to load, onnxruntime writes errors to stderr and falls
back to the CPU; that output is caught here and its cause goes into one log line (device "auto")
or into the error (device "cuda"). A provider that failed once is not asked for again in the
same process: the libraries it missed will not appear meanwhile.

    from export.providers import open_session
    sess = open_session("generator.onnx", "auto")   # CUDA when it starts, else CPU (logged once)
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import torch

from inkwash.cli import UserError
from train.device import DEVICES, DeviceError

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
DISTRIBUTIONS = ("onnxruntime-gpu", "onnxruntime")  # both install the module `onnxruntime`
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_REQUIRES = re.compile(r"Require cuDNN [0-9.*]+ and CUDA [0-9.*]+")

_cuda_failure: str | None = None  # why the CUDA provider did not start in this process
_preloaded = False
_versions_checked = False
_said_cpu_fallback = False        # "auto" tells about falling back to the CPU once per process


class ModelFileError(UserError):
    """A model file that cannot be used (missing, not ONNX, checksum mismatch); the message names it."""


def distribution() -> tuple[str, str] | None:
    """(name, version) of the installed onnxruntime distribution, read without importing it."""
    for name in DISTRIBUTIONS:
        with contextlib.suppress(metadata.PackageNotFoundError):
            return name, metadata.version(name)
    return None


def describe_distribution() -> str:
    """One phrase for help texts: 'onnxruntime-gpu 1.31.1' (or that none is installed)."""
    dist = distribution()
    return f"{dist[0]} {dist[1]}" if dist else "no onnxruntime installed"


def ort_cudnn_major() -> int | None:
    """The cuDNN major version this onnxruntime build needs: its build info, else the cuDNN
    requirement its wheel declares (onnxruntime-gpu: `nvidia-cudnn-cu13~=9.0; extra == "cudnn"`)."""
    from onnxruntime.capi import build_and_package_info as info
    if getattr(info, "cudnn_version", None):
        return int(str(info.cudnn_version).split(".")[0])
    dist = distribution()
    for req in (metadata.requires(dist[0]) or []) if dist else []:
        m = re.match(r"nvidia-cudnn-cu\d+\s*~=\s*(\d+)", req)
        if m:
            return int(m.group(1))
    return None


def build_info() -> dict:
    """Which onnxruntime this machine has: distribution, version, compiled-in providers, CUDA/cuDNN build."""
    import onnxruntime as ort
    from onnxruntime.capi import build_and_package_info as info
    dist = distribution()
    cuda = getattr(info, "cuda_version", None) or None
    return {"distribution": dist[0] if dist else getattr(info, "package_name", "onnxruntime"),
            "version": ort.__version__, "compiled_providers": list(ort.get_available_providers()),
            "cuda_version": cuda, "cudnn_major": ort_cudnn_major() if cuda else None}


def session_options(threads: int | None = None, deterministic: bool = False):
    """The toolkit's onnxruntime SessionOptions. `deterministic`: onnxruntime's deterministic compute."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.log_severity_level = 3  # errors only
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = threads or 0  # 0: onnxruntime's default (one per physical core)
    so.inter_op_num_threads = 1  # the graph is a chain: no parallel branches to run
    # Idle worker threads sleep instead of spinning. On a busy CPU spinning steals the cores the
    # other threads need: benchmarks/sample_bench.py's "session settings" table measured sleeping
    # fastest at load 13-16. On an idle 2-core machine spinning is about 12 % faster at 64 px
    # (results/sample_bench.md); we keep the setting that does not collapse under load.
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.use_deterministic_compute = deterministic
    return so


def cuda_provider_options(device_id: int, deterministic: bool = False) -> dict[str, str]:
    """CUDA provider options: the device, IEEE fp32 (no TF32: the fp32 file's parity bound holds
    on the GPU too; the fp16 file is the fast path), and for `deterministic` a fixed cuDNN
    convolution algorithm instead of the exhaustive timing search, which may pick another
    kernel in another session."""
    opts = {"device_id": str(device_id), "use_tf32": "0"}
    if deterministic:
        opts["cudnn_conv_algo_search"] = "DEFAULT"
    return opts


def torch_cuda_device() -> int | None:
    """torch's current CUDA device when this torch sees a GPU, else None."""
    return torch.cuda.current_device() if torch.cuda.is_available() else None


def cudnn_major(version: int) -> int:
    """Major version of a cuDNN version number: 90100 -> 9 (cuDNN >= 9), 8902 -> 8 (cuDNN 8)."""
    return version // 10000 if version >= 10000 else version // 1000


def cuda_mismatch(torch_cuda: str | None, torch_cudnn: int | None, ort_cuda: str | None,
                  ort_cudnn: int | None) -> str | None:
    """What differs in major version between torch's CUDA/cuDNN and onnxruntime's, or None."""
    problems = []
    if torch_cuda and ort_cuda and torch_cuda.split(".")[0] != ort_cuda.split(".")[0]:
        problems.append(f"torch uses CUDA {torch_cuda}, onnxruntime is built for CUDA {ort_cuda}")
    if torch_cudnn and ort_cudnn and cudnn_major(torch_cudnn) != ort_cudnn:
        problems.append(f"torch uses cuDNN {cudnn_major(torch_cudnn)}, onnxruntime needs cuDNN {ort_cudnn}")
    return "; ".join(problems) or None


def check_cuda_versions() -> str | None:
    """Warn once when torch's CUDA and onnxruntime's CUDA provider, both used in this process (the
    sampler binds torch CUDA tensors to onnxruntime), differ in CUDA or cuDNN major version."""
    global _versions_checked
    if _versions_checked or not torch.cuda.is_available():
        return None
    _versions_checked = True
    info = build_info()
    problem = cuda_mismatch(torch.version.cuda, torch.backends.cudnn.version(), info["cuda_version"],
                            info["cudnn_major"])
    if problem:
        log.warning("torch %s and %s %s share this process but %s: one of them may fail to load its "
                    "libraries or load a second copy; install builds for the same CUDA major (see "
                    "python -m export env)", torch.__version__, info["distribution"], info["version"], problem)
    return problem


def _preload_dlls() -> None:
    """onnxruntime.preload_dlls() (onnxruntime >= 1.21), once, before the first CUDA session: it
    loads CUDA and cuDNN from the nvidia-* pip packages. What it prints goes to the debug log."""
    global _preloaded
    import onnxruntime as ort
    if _preloaded or not hasattr(ort, "preload_dlls"):
        return
    _preloaded = True
    out = io.StringIO()
    with contextlib.redirect_stdout(out), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ort.preload_dlls()
    for line in out.getvalue().splitlines() + [str(w.message) for w in caught]:
        log.debug("onnxruntime.preload_dlls: %s", line)


@contextlib.contextmanager
def native_stderr() -> Iterator[list[str]]:
    """Collect what native code writes to file descriptor 2 meanwhile (onnxruntime's provider errors)."""
    lines: list[str] = []
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to redirect
        yield lines
        return
    with tempfile.TemporaryFile() as tmp:
        sys.stderr.flush()
        os.dup2(tmp.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            lines += [_ANSI.sub("", s).strip() for s in tmp.read().decode("utf-8", "replace").splitlines()]
    for line in lines:
        if line:
            log.debug("onnxruntime: %s", line)


def failure_reason(lines: list[str]) -> str:
    """The cause of a failed CUDA provider, from what onnxruntime wrote to stderr."""
    said = [s for s in lines if "[E:" in s] or [s for s in lines if "[W:" in s]
    if not said:
        return "onnxruntime fell back to the CPU without saying why"
    text = said[0]
    reason = text.split("with error: ", 1)[1] if "with error: " in text else text.split("] ", 1)[-1]
    need = next((m.group(0).rstrip(".") for m in map(_REQUIRES.search, lines) if m), None)
    return reason[:300] + (f" ({need})" if need else "")


def _create(model: Path | str | bytes, so, providers: list, name: str):
    import onnxruntime as ort
    try:
        return ort.InferenceSession(model if isinstance(model, bytes) else str(model), so, providers=providers)
    except Exception as e:  # truncated, not ONNX, or an unsupported graph
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelFileError(f"{name}: not a usable ONNX model ({first[:200]}); re-export it with "
                             f"python -m export onnx RUN_DIR") from None


def try_cuda(model, threads: int | None = None, deterministic: bool = False, name: str = "model"):
    """Ask for the CUDA provider: (session, None) when the session runs on it; else (the CPU session
    onnxruntime fell back to, or None when CUDA was not asked for, and why CUDA does not start)."""
    global _cuda_failure
    import onnxruntime as ort
    if _cuda_failure is None and CUDA not in ort.get_available_providers():
        _cuda_failure = (f"this onnxruntime build ({describe_distribution()}) has no CUDAExecutionProvider; "
                         f"install onnxruntime-gpu (Linux x86_64, Windows x64)")
    if _cuda_failure is not None:
        return None, _cuda_failure
    _preload_dlls()
    device_id = torch_cuda_device() or 0  # the device torch's tensors live on, for I/O binding
    so = session_options(threads, deterministic)
    with native_stderr() as lines:
        sess = _create(model, so, [(CUDA, cuda_provider_options(device_id, deterministic)), CPU], name)
        if sess.get_providers()[0] == CUDA:
            sess.get_provider_options()  # within the capture: a late provider message is caught too
    if sess.get_providers()[0] != CUDA:
        _cuda_failure = failure_reason(lines)
        return sess, _cuda_failure
    check_cuda_versions()
    return sess, None


def cuda_session(model: Path | str | bytes, threads: int | None = None, deterministic: bool = False,
                 name: str = "model"):
    """A session on the CUDA provider, or None when it does not start here (nothing logged)."""
    sess, reason = try_cuda(model, threads, deterministic, name)
    return sess if reason is None else None


def open_session(model: Path | str | bytes, device: str, threads: int | None = None,
                 deterministic: bool = False, name: str | None = None):
    """A session on `device`: "cpu"; "cuda" (DeviceError when its provider does not start); "auto"
    (CUDA when it starts, else the CPU, said once per process). `model` is a path or model bytes."""
    global _said_cpu_fallback
    if device not in DEVICES:
        raise UserError(f"device: unknown {device!r}; choose one of {', '.join(DEVICES)}")
    name = name or (str(model) if not isinstance(model, bytes) else "model")
    if device != "cpu":
        sess, reason = try_cuda(model, threads, deterministic, name)
        if reason is None:
            return sess
        if device == "cuda":
            raise DeviceError(f"device=cuda: the onnxruntime CUDA provider does not start for {name} ({reason}); "
                              f"see python -m export env, or use device 'cpu' or 'auto'")
        if not _said_cpu_fallback:
            _said_cpu_fallback = True
            log.info("device=auto: running on %s (the CUDA provider does not start: %s)", CPU, reason)
        if sess is not None:
            return sess  # onnxruntime already fell back to the CPU with the same options
    return _create(model, session_options(threads, deterministic), [CPU], name)

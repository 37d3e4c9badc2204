"""Where a number came from: the toolkit's version and commit, hardware, library versions, load and
date. Written once here; run.json, export sidecars, evalkit results, the study's exports and every
benchmark call it.

The commit is the toolkit's own: git is asked about the folder this package lives in, and only when
that folder is the top of a git checkout (an editable install or a clone). A non-editable install
inside a user's own repository therefore never reports the user's commit as ours; the user's
repository state is recorded separately, and only on request (`repo_state`).
"""
from __future__ import annotations

import datetime as _dt
import os
import platform
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DISTRIBUTION = "inkwash-gan"
# Packages whose versions can change a number; only the installed ones are listed.
DEFAULT_PACKAGES = ("torch", "numpy", "scipy", "pillow", "onnx", "onnxruntime", "onnxruntime-gpu", "onnxscript",
                    "pytorch-msssim", "matplotlib", "pandas", "streamlit", "sqlalchemy")


def _git(args: list[str], cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10).stdout.strip()


def repo_state(path: Path) -> str:
    """HEAD of the git checkout that contains `path`, with '-dirty' when tracked files changed."""
    try:
        head = _git(["rev-parse", "HEAD"], path)
        dirty = _git(["status", "--porcelain", "--untracked-files=no"], path)
    except (OSError, subprocess.SubprocessError):
        return "unknown (git not available)"
    if not head:
        return "unknown (not a git checkout)"
    return head + ("-dirty" if dirty else "")


def git_commit(cwd: Path = ROOT) -> str:
    """The toolkit's commit: HEAD (+'-dirty') of the checkout at ROOT, only if ROOT is that checkout's top."""
    cwd = Path(cwd)
    try:
        top = _git(["rev-parse", "--show-toplevel"], cwd)
    except (OSError, subprocess.SubprocessError):
        return "unknown (git not available)"
    if not top or Path(top).resolve() != cwd.resolve():
        return "unknown (installed package, not a git checkout of the toolkit)"
    return repo_state(cwd)


def toolkit_version() -> str:
    """The installed distribution's version, or the source tree's when it is not installed."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "not installed (source tree)"


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (platform's guess elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_cores() -> int:
    """Cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def memory_gb() -> float | None:
    """Total RAM in GiB (Linux), else None."""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        return round(kb / 2**20, 1)
    except (OSError, ValueError, IndexError):
        return None


def gpu_names() -> str:
    """Comma-separated CUDA device names, or 'none'. Asks torch only when it is already imported
    (torch-free callers, such as the study app, never load it for this)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return "not checked (torch not loaded)"
    try:
        if torch.cuda.is_available():
            return ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
    except Exception:  # noqa: BLE001 - a broken CUDA install must not stop a CPU report
        pass
    return "none"


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages (how idle the machine was), else None."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def hardware() -> dict:
    """CPU model and cores, RAM, GPU names or 'none', OS."""
    torch = sys.modules.get("torch")
    gpus = torch.cuda.device_count() if torch is not None and torch.cuda.is_available() else 0
    return {"cpu": cpu_model(), "cpu_cores": cpu_cores(), "memory_gb": memory_gb(), "gpu": gpu_names(),
            "gpu_count": gpus, "os": f"{platform.system()} {platform.release()}"}


def versions(packages: tuple[str, ...] = DEFAULT_PACKAGES) -> dict:
    """Python, platform and the installed versions of `packages` (distribution names)."""
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    torch = sys.modules.get("torch")
    if torch is not None:
        out["cuda"] = torch.version.cuda or "none"
    return out


def utc_now() -> str:
    """The date and time now, UTC, ISO 8601 to the second."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def command_line(argv: list[str] | None = None) -> str:
    """The command as a shell line: `python -m pkg ...` for module runs, else python + argv."""
    argv = sys.argv if argv is None else argv
    return " ".join(shlex.quote(a) for a in argv) if argv else "python"


def provenance(argv: list[str] | None = None, packages: tuple[str, ...] = DEFAULT_PACKAGES, **fields) -> dict:
    """Command, toolkit commit and version, hardware, load, date (UTC) and versions, plus the caller's fields."""
    return {"command": command_line(argv), "commit": git_commit(), "toolkit_version": toolkit_version(),
            "hardware": hardware(), "load_average": load_average(), "date": utc_now(),
            "versions": versions(packages), **fields}

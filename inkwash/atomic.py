"""Atomic file writes: a temp file with a unique name in the target's folder, then os.replace.
The one place that does it, for checkpoints, caches, exports, reports and results alike.

Readers see the old file or the new one, never half of one. The new file gets the mode a plain
`open(path, "w")` would give it (0666 minus the umask), not mkstemp's private 0600, so a group
or a web server can read results as before.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def current_umask() -> int:
    """The process umask, read without changing it where /proc allows (Linux), else set and restored."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def temp_path(path: Path) -> Path:
    """A unique, hidden temp name beside `path` (created empty, mode 0600 until replaced)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{Path(path).name}.", suffix=".tmp", dir=Path(path).parent)
    os.close(fd)
    return Path(tmp)


@contextlib.contextmanager
def atomic_file(path: Path, mode: str = "wb", fsync: bool = False, **open_kwargs) -> Iterator[IO]:
    """Yield a file object; on success it replaces `path` in one step, on error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **open_kwargs) as f:
            yield f
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically."""
    with atomic_file(path, "wb") as f:
        f.write(data)


def write_text(path: Path, text: str) -> None:
    """Write UTF-8 `text` to `path` atomically (newlines as given)."""
    with atomic_file(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


def write_json(path: Path, data, indent: int | None = 2) -> None:
    """Write `data` as JSON (one trailing newline) to `path` atomically."""
    write_text(path, json.dumps(data, indent=indent) + "\n")


def replace_with_copy(src: Path, dst: Path) -> None:
    """Make `dst` hold `src`'s bytes atomically: a hard link when the file system allows, else a copy."""
    src, dst = Path(src), Path(dst)
    tmp = temp_path(dst)
    try:
        tmp.unlink()
        try:
            os.link(src, tmp)  # same bytes, no second write
        except OSError:
            shutil.copyfile(src, tmp)
            os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, dst)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def replace_dir(tmp: Path, final: Path) -> None:
    """Put the finished folder `tmp` at `final`, replacing an older one with as short a gap as the OS allows."""
    tmp, final = Path(tmp), Path(final)
    if not final.exists():
        os.replace(tmp, final)
        return
    trash = final.with_name(f".{final.name}.old.{os.getpid()}")
    os.replace(final, trash)
    os.replace(tmp, final)
    shutil.rmtree(trash, ignore_errors=True)

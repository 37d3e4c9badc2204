"""A download that cannot hang and never leaves a half file in place: `fetch(url, dst, sha256_prefix)`.

Every connect and every read has a timeout, so a firewall that drops packets ends in an error
instead of a hang. The bytes go to `<dst>.part` beside the destination; a failed attempt keeps
them and the next attempt (in this call or a later run) asks for the rest with an HTTP Range
request. The finished file's SHA-256 is checked against the expected prefix (torch hub's
convention: the hex digits in the file name) before it is renamed into place in one step. A lock
file serialises two processes fetching the same file.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.client import HTTPException
from pathlib import Path

from tqdm import tqdm

from inkwash.hashing import sha256_file

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 30.0   # connect and per-read timeout (socket level)
RETRIES = 5              # attempts in a row that may fail without receiving a byte
CHUNK_BYTES = 1 << 20
USER_AGENT = "inkwash-gan-evalkit"


class DownloadError(OSError):
    """The file could not be fetched (after the retries), or its checksum is wrong."""


class ChecksumError(DownloadError):
    """The fetched file's SHA-256 does not start with the expected prefix (the file was deleted)."""


def part_path(dst: Path) -> Path:
    """Where the bytes of an unfinished download of `dst` are kept between attempts."""
    return dst.with_name(dst.name + ".part")


@contextlib.contextmanager
def _locked(dst: Path) -> Iterator[None]:
    """Hold an exclusive lock on `<dst>.lock` (POSIX; elsewhere no lock), removed on the way out."""
    try:
        import fcntl
    except ImportError:  # Windows: one process at a time is the user's to ensure
        yield
        return
    lock = dst.with_name(dst.name + ".lock")
    with open(lock, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            # Removed while held: a waiter on this file then finds dst in place (or fetches itself).
            with contextlib.suppress(OSError):
                os.unlink(lock)
            fcntl.flock(f, fcntl.LOCK_UN)


def _total_of(response, have: int) -> int | None:
    """The full file size from Content-Range (a 206) or Content-Length (a 200), if the server says."""
    content_range = response.headers.get("Content-Range", "")
    m = re.fullmatch(r"bytes (\d+)-\d+/(\d+)", content_range.strip())
    if m:
        if int(m.group(1)) != have:
            raise DownloadError(f"server resumed at byte {m.group(1)}, asked for {have}")
        return int(m.group(2))
    length = response.headers.get("Content-Length")
    return int(length) + have if length and length.isdigit() else None


def _attempt(url: str, part: Path, timeout: float, bar: tqdm) -> None:
    """One request for the bytes `part` lacks, appended to it; returns when the file is complete."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT, **({"Range": f"bytes={have}-"} if have else {})}
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # nothing left to send: the part already holds the whole file
            return
        raise
    with response:
        if have and response.status == 200:  # the server ignored the Range header: start again
            log.info("%s: the server does not resume; fetching from the start", url)
            part.unlink()
            have = 0
        total = _total_of(response, have)
        bar.reset(total=total)
        bar.update(have)
        with open(part, "ab") as f:
            while chunk := response.read1(CHUNK_BYTES):  # what has arrived: a stall keeps it
                f.write(chunk)
                bar.update(len(chunk))
            f.flush()
            os.fsync(f.fileno())
    size = part.stat().st_size
    if total is not None and size < total:
        raise DownloadError(f"connection closed at byte {size} of {total}")


def _retryable(e: BaseException) -> bool:
    if isinstance(e, urllib.error.HTTPError):
        return e.code >= 500 or e.code in (408, 429)
    return isinstance(e, (OSError, HTTPException))  # timeouts, resets, refused, DNS, short reads


def fetch(url: str, dst: Path, sha256_prefix: str | None = None, *, timeout: float = TIMEOUT_SECONDS,
          retries: int = RETRIES, backoff_seconds: float = 1.0, progress: bool = True) -> Path:
    """Download `url` to `dst` (resuming `<dst>.part`), check the SHA-256 prefix, move it into place.

    Raises DownloadError after `retries` failed attempts in a row (an attempt that received bytes
    resets the count) or at once for an answer that will not change (404, 403, ...), and
    ChecksumError when the finished file's hash does not start with `sha256_prefix` (the file is
    deleted)."""
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dst)
    with _locked(dst):
        if dst.is_file():  # another process finished it while this one waited for the lock
            return dst
        failures = 0
        with tqdm(desc=f"download {dst.name}", unit="B", unit_scale=True, unit_divisor=1024,
                  disable=not progress, leave=False) as bar:
            while True:
                have = part.stat().st_size if part.exists() else 0
                try:
                    _attempt(url, part, timeout, bar)
                    break
                except Exception as e:
                    got = (part.stat().st_size if part.exists() else 0) - have
                    failures = 0 if got > 0 else failures + 1
                    if not _retryable(e) or failures >= retries:
                        raise DownloadError(f"{url}: {type(e).__name__}: {e} (attempt {failures} of {retries}; "
                                            f"{part.stat().st_size if part.exists() else 0} bytes kept in "
                                            f"{part} for the next try)") from e
                    log.warning("%s: %s: %s; retrying from byte %d", url, type(e).__name__, e,
                                part.stat().st_size if part.exists() else 0)
                    time.sleep(backoff_seconds * min(2 ** failures, 16))
        digest = sha256_file(part)
        if sha256_prefix and not digest.startswith(sha256_prefix):
            part.unlink()
            raise ChecksumError(f"{url}: SHA-256 {digest[:16]}... does not start with {sha256_prefix}; the "
                                f"download was deleted (a proxy or a changed file?)")
        os.replace(part, dst)
    log.info("%s -> %s (SHA-256 %s...)", url, dst, digest[:16])
    return dst

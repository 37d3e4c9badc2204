"""evalkit.download against a local HTTP server the tests start (never the internet): a plain file, a
server that stalls, one that drops the connection mid-way and then serves the rest with Range, one
that ignores Range, and a file with the wrong checksum; then the weights lookup on top of it."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from evalkit import download, weights
from inkwash.hashing import sha256_bytes

PAYLOAD = bytes(range(256)) * 1200           # 300 KiB of "weights"
PREFIX = sha256_bytes(PAYLOAD)[:8]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[str, str | None]] = []   # (path, Range header)
        self.dropped: set[str] = set()
        self.release = threading.Event()                   # set at teardown: stalled handlers return

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass

    def _send(self, body: bytes, start: int = 0, ranged: bool = True):
        if start and ranged:
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
            start = 0
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        return body[start:]

    def do_GET(self):
        srv: _Server = self.server
        rng = self.headers.get("Range")
        srv.requests.append((self.path, rng))
        start = int(rng.split("=")[1].rstrip("-")) if rng else 0
        if self.path == "/stall":                # headers, a few bytes, then silence
            self.wfile.write(self._send(PAYLOAD)[:1000])
            self.wfile.flush()
            srv.release.wait(30)
            return
        if self.path in ("/drop", "/drop-norange") and self.path not in srv.dropped:
            srv.dropped.add(self.path)             # first request: half the bytes, then the connection ends
            self.wfile.write(self._send(PAYLOAD)[:len(PAYLOAD) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if self.path == "/missing":
            self.send_error(404)
            return
        body = PAYLOAD[::-1] if self.path == "/wrong" else PAYLOAD
        self.wfile.write(self._send(body, start, ranged=self.path != "/drop-norange"))


@pytest.fixture
def server():
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.release.set()
    srv.shutdown()
    srv.server_close()


def _fetch(server, path: str, dst: Path, **kw) -> Path:
    return download.fetch(server.url(path), dst, sha256_prefix=PREFIX, backoff_seconds=0, progress=False, **kw)


def test_fetch_writes_the_file_and_leaves_no_part_or_lock(server, tmp_path):
    dst = _fetch(server, "/ok", tmp_path / "w.pth")
    assert dst.read_bytes() == PAYLOAD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.pth"]


def test_a_stalled_server_times_out_and_keeps_the_bytes_received(server, tmp_path):
    dst = tmp_path / "w.pth"
    with pytest.raises(download.DownloadError, match="w.pth.part") as e:
        _fetch(server, "/stall", dst, timeout=0.3, retries=2)
    assert "timed out" in str(e.value)
    assert not dst.exists() and download.part_path(dst).stat().st_size == 1000
    # The next attempt (here: from a working mirror of the same file) asks only for the rest.
    _fetch(server, "/ok", dst)
    assert dst.read_bytes() == PAYLOAD and server.requests[-1] == ("/ok", "bytes=1000-")


def test_a_dropped_connection_is_resumed_with_a_range_request(server, tmp_path):
    dst = _fetch(server, "/drop", tmp_path / "w.pth")
    assert dst.read_bytes() == PAYLOAD
    assert server.requests == [("/drop", None), ("/drop", f"bytes={len(PAYLOAD) // 2}-")]


def test_a_server_that_ignores_range_is_read_again_from_the_start(server, tmp_path):
    dst = _fetch(server, "/drop-norange", tmp_path / "w.pth")
    assert dst.read_bytes() == PAYLOAD and len(server.requests) == 2


def test_wrong_checksum_deletes_the_download_and_puts_nothing_in_place(server, tmp_path):
    dst = tmp_path / "w.pth"
    with pytest.raises(download.ChecksumError, match=PREFIX):
        _fetch(server, "/wrong", dst)
    assert list(tmp_path.iterdir()) == []           # no file, no part, no lock


def test_a_missing_file_fails_at_once(server, tmp_path):
    with pytest.raises(download.DownloadError, match="404"):
        _fetch(server, "/missing", tmp_path / "w.pth", retries=5)
    assert len(server.requests) == 1


def test_a_closed_port_fails_after_the_retries(tmp_path, server):
    url = server.url("/ok")
    server.shutdown()
    server.server_close()                            # nothing listens on that port now
    with pytest.raises(download.DownloadError, match="attempt 3 of 3"):
        download.fetch(url, tmp_path / "w.pth", retries=3, backoff_seconds=0, progress=False)


def test_progress_bar_goes_to_stderr(server, tmp_path, capfd):
    download.fetch(server.url("/ok"), tmp_path / "w.pth", sha256_prefix=PREFIX, progress=True)
    captured = capfd.readouterr()
    assert "download w.pth" in captured.err and captured.out == ""


def test_weights_are_downloaded_into_the_hub_cache_and_checked(server, monkeypatch):
    monkeypatch.setitem(weights.URLS, weights.DOWNLOAD_NAME, server.url("/drop"))
    monkeypatch.setattr(weights, "OFFICIAL_HASH_PREFIX", PREFIX)
    got = weights.locate_weights(None)
    assert got == Path(torch.hub.get_dir()) / "checkpoints" / weights.DOWNLOAD_NAME
    assert got.read_bytes() == PAYLOAD


def test_weights_with_the_wrong_hash_end_in_the_offline_message(server, monkeypatch):
    monkeypatch.setitem(weights.URLS, weights.DOWNLOAD_NAME, server.url("/wrong"))
    monkeypatch.setattr(weights, "OFFICIAL_HASH_PREFIX", PREFIX)
    with pytest.raises(weights.WeightsUnavailable) as e:
        weights.locate_weights(None)
    msg = str(e.value)
    where = Path(torch.hub.get_dir()) / "checkpoints" / weights.DOWNLOAD_NAME
    assert server.url("/wrong") in msg and str(where) in msg and "--inception-weights" in msg
    assert "ChecksumError" in msg and "\n" not in msg and not where.exists()

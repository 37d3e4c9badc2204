"""inkwash.atomic: all-or-nothing writes with unique temp names and the umask's file mode."""
from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from inkwash import atomic


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_written_files_get_the_mode_a_plain_open_would_give(tmp_path, umask):
    old = os.umask(umask)
    try:
        atomic.write_text(tmp_path / "a.txt", "x")
        with open(tmp_path / "plain.txt", "w") as f:
            f.write("x")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "a.txt") == _mode(tmp_path / "plain.txt") == 0o666 & ~umask


def test_current_umask_reads_without_changing_it():
    old = os.umask(0o027)
    try:
        assert atomic.current_umask() == 0o027
        assert atomic.current_umask() == 0o027
    finally:
        os.umask(old)


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "result.json"
    atomic.write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic.atomic_file(target, "w") as f:
            f.write("half")
            raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]


def test_concurrent_writers_to_one_folder_never_collide(tmp_path):
    errors = []

    def write(k: int) -> None:
        try:
            for i in range(20):
                atomic.write_bytes(tmp_path / "same.bin", bytes([k]) * 1000)
                atomic.write_json(tmp_path / f"own_{k}.json", {"k": k, "i": i})
        except Exception as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    data = (tmp_path / "same.bin").read_bytes()
    assert len(data) == 1000 and len(set(data)) == 1  # one writer's whole file, never a mix
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_replace_with_copy_gives_the_same_bytes_and_a_readable_mode(tmp_path):
    src = tmp_path / "iter_0000010.pt"
    atomic.write_bytes(src, b"weights")
    atomic.write_bytes(tmp_path / "latest.pt", b"older")
    atomic.replace_with_copy(src, tmp_path / "latest.pt")
    assert (tmp_path / "latest.pt").read_bytes() == b"weights"
    assert _mode(tmp_path / "latest.pt") & 0o044  # group/other can read under the usual umask


def test_replace_dir_swaps_a_whole_folder(tmp_path):
    final, tmp = tmp_path / "demo", tmp_path / "demo.tmp"
    final.mkdir()
    (final / "old.png").write_bytes(b"1")
    tmp.mkdir()
    (tmp / "new.png").write_bytes(b"2")
    atomic.replace_dir(tmp, final)
    assert [p.name for p in final.iterdir()] == ["new.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]

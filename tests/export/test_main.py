"""python -m export through the shared command-line skeleton, in real subprocesses: help of the command and
each verb, and a bad input answered with one line and exit code 2."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from export.__main__ import COMMAND

ROOT = Path(__file__).resolve().parents[2]


def _export(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "export", *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_help_lists_the_verbs_and_each_verbs_help_ends_with_its_example():
    top = _export("--help")
    assert top.returncode == 0 and all(v.name in top.stdout for v in COMMAND.verbs), top.stderr
    for verb in COMMAND.verbs:
        r = _export(verb.name, "--help")
        assert r.returncode == 0, r.stderr
        assert r.stdout.rstrip().endswith(f"example: {verb.example}") and verb.example.startswith(
            f"python -m export {verb.name} ")


def test_bad_input_is_one_line_on_stderr_exit_2_without_traceback(tmp_path):
    r = _export("sample", str(tmp_path / "none.onnx"), "--out", str(tmp_path))
    err = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(err) == 1, r.stderr
    assert err[0].startswith("python -m export sample: error: ") and "none.onnx" in err[0]
    assert "Traceback" not in r.stderr

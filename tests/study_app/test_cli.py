"""`python -m study_app` on the shared command-line skeleton: --help of the command and of every
verb, an unknown verb, one bad input as one line with exit code 2, and the package as a leaf."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from study_app.__main__ import COMMAND, main

ROOT = Path(__file__).resolve().parents[2]
VERBS = ["serve", "analyst", "create", "export", "simulate"]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "study_app", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_verbs_are_the_documented_ones():
    assert [v.name for v in COMMAND.verbs] == VERBS and COMMAND.default.name == "serve"


def test_help_without_a_verb_shows_serve_flags_and_lists_the_verbs(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0
    assert "--port" in out and "--dry-run" in out and "example: python -m study_app --db" in out
    assert "verbs: serve, analyst, create, export, simulate" in out


@pytest.mark.parametrize("verb, flag", [("serve", "--address"), ("analyst", "--port"),
                                        ("create", "--min-median-ms"),
                                        ("export", "--n-bootstrap"), ("simulate", "--respondents")])
def test_each_verb_has_help_with_its_flags_and_an_example(verb, flag, capsys):
    with pytest.raises(SystemExit) as e:
        main([verb, "--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0
    assert out.startswith(f"usage: python -m study_app {verb}") and flag in out
    assert "example: python -m study_app" in out


def test_an_unknown_verb_is_an_error_not_the_serve_help(capsys):
    with pytest.raises(SystemExit) as e:
        main(["studio", "--help"])
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert err == ("python -m study_app: error: unknown verb 'studio'; choose one of serve, analyst, "
                   "create, export, simulate (see --help)\n")


def test_bad_input_is_one_line_with_exit_code_2_and_no_traceback(tmp_path):
    p = _run("create", "--name", "x", "--real", str(tmp_path / "missing"), "--fake", str(tmp_path),
             "--db", f"sqlite:///{tmp_path / 's.db'}")
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr == (f"python -m study_app create: error: --real {tmp_path / 'missing'}: "
                        "not a folder; give a folder of images\n")


def test_importing_every_module_loads_neither_train_nor_torch():
    modules = sorted(f"study_app.{p.relative_to(ROOT / 'study_app').with_suffix('').as_posix().replace('/', '.')}"
                     for p in (ROOT / "study_app").rglob("*.py"))
    modules = [m.removesuffix(".__init__") for m in modules]
    code = ("import importlib, sys\n"
            f"for m in {modules!r}:\n    importlib.import_module(m)\n"
            "print(sorted(m for m in ('train', 'torch', 'export', 'evalkit') if m in sys.modules))")
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert p.returncode == 0, p.stderr[-2000:]
    assert "study_app.views.trials" in modules and "study_app.app" in modules
    assert p.stdout.strip() == "[]"

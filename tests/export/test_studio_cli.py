"""`python -m export studio` and `python -m export design --recipe` on the command line: help, the server
command, and bad input as one line with exit code 2."""
from __future__ import annotations

import json
import shlex

import pytest

from export.__main__ import main
from export.studio import serve


def _err_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_studio_help_ends_with_an_example(capsys):
    with pytest.raises(SystemExit) as e:
        main(["studio", "--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0 and "--store" in out and "example: python -m export studio" in out


def test_dry_run_prints_a_local_headless_server_with_the_models_and_desks(exported, tmp_path, capsys):
    assert main(["studio", str(exported), "--store", str(tmp_path / "desks"), "--dry-run"]) == 0
    words = shlex.split(capsys.readouterr().out)
    env = dict(w.split("=", 1) for w in words if w.startswith("INKWASH_STUDIO_"))
    assert json.loads(env[serve.ENV_MODELS]) == [str(exported.resolve())]
    assert env[serve.ENV_STORE] == str((tmp_path / "desks").resolve()) and env[serve.ENV_DEVICE] == "auto"
    cmd = words[len(env):]
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4] == str(serve.APP)
    flags = dict(zip(cmd[5::2], cmd[6::2]))
    assert flags["--server.address"] == "127.0.0.1" and flags["--browser.gatherUsageStats"] == "false"
    assert flags["--server.headless"] == "true" and flags["--server.port"] == "8502"


def test_a_folder_without_models_serves_and_warns(tmp_path, capsys):
    assert main(["studio", str(tmp_path), "--dry-run"]) == 0
    assert "no exported models" in capsys.readouterr().err


@pytest.mark.parametrize("name, words", [("missing", "no such file or folder"), ("notes.png", "not an .onnx")])
def test_a_path_that_is_no_model_or_folder_exits_2_in_one_line(tmp_path, capsys, name, words):
    (tmp_path / "notes.png").write_bytes(b"png")
    assert main(["studio", str(tmp_path / name)]) == 2
    line = _err_line(capsys)
    assert line.startswith("python -m export studio: error:") and words in line


def test_a_bad_port_exits_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["studio", "--port", "70000"])
    assert e.value.code == 2 and "--port" in _err_line(capsys)


@pytest.mark.parametrize("argv, words", [(["--recipe", "1a2b3c4d:seed(1)", "--n", "3"], "leave --n and --seed out"),
                                         (["--recipe", "1a2b3c4d:seed(", "--dry-run"], "expected a whole number")])
def test_design_recipe_with_n_or_unreadable_exits_2_before_any_model_is_read(tmp_path, capsys, argv, words):
    assert main(["design", str(tmp_path / "m.onnx"), "--out", str(tmp_path), *argv]) == 2
    assert words in _err_line(capsys)


@pytest.mark.parametrize("recipe, words", [
    ("99999999:seed(1)", "made with model 99999999"),
    ("{prefix}:c1:seed(1)", "unconditional"),
    ("{prefix}:around(seed(1);spread=7,draw=0)", "spread must be in"),
])
def test_design_recipe_that_does_not_fit_the_model_exits_2_in_one_line(exported, tmp_path, capsys, recipe, words):
    model = exported / "export" / "generator.onnx"
    prefix = json.loads(model.with_suffix(".json").read_text())["model_sha256"][:8]
    assert main(["design", str(model), "--out", str(tmp_path / "o"), "--quiet", "--device", "cpu",
                 "--recipe", recipe.format(prefix=prefix)]) == 2
    assert words in _err_line(capsys)
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").glob("IW-*"))

"""`python -m study_app [serve]`: the production Streamlit command, refused databases and studies."""
from __future__ import annotations

import pytest

from study_app.__main__ import main as cli


def test_serve_dry_run_prints_the_production_streamlit_command(study, sqlite_url, capsys):
    assert cli(["--db", sqlite_url, "--port", "8765", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"STUDY_DB_URL={sqlite_url}" in out and f"STUDY_NAME={study['name']}" in out
    for setting in ("--server.headless true", "--server.fileWatcherType none",
                    "--server.runOnSave false", "--browser.gatherUsageStats false",
                    "--server.address 127.0.0.1", "--server.port 8765"):
        assert setting in out
    assert out.split()[3:6] == ["-m", "streamlit", "run"]


def test_serve_verb_and_no_verb_are_the_same_command(study, sqlite_url, capsys):
    assert cli(["serve", "--db", sqlite_url, "--dry-run"]) == 0
    with_verb = capsys.readouterr().out
    assert cli(["--db", sqlite_url, "--dry-run"]) == 0
    assert capsys.readouterr().out == with_verb


def test_serve_refuses_a_database_without_a_study(sqlite_url, caplog):
    assert cli(["--db", sqlite_url, "--dry-run"]) == 2
    assert "python -m study_app: error: --db: the database holds no study" in caplog.text


def test_serve_refuses_an_unknown_study(study, sqlite_url, caplog):
    assert cli(["serve", "--db", sqlite_url, "--study", "nope", "--dry-run"]) == 2
    assert "error: --study nope: no such study" in caplog.text


@pytest.mark.parametrize("port", ["0", "70000", "http"])
def test_serve_refuses_a_bad_port(port, study, sqlite_url, capsys):
    with pytest.raises(SystemExit) as e:
        cli(["--db", sqlite_url, "--port", port, "--dry-run"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("python -m study_app: error: argument --port:") and err.count("\n") == 1

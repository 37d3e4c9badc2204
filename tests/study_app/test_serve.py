"""`python -m study_app [serve]` and `analyst`: the production Streamlit commands, refused
databases and studies."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from study_app.__main__ import main as cli
from study_app.store import Store


def test_serve_dry_run_prints_the_production_streamlit_command(study, sqlite_url, capsys):
    assert cli(["--db", sqlite_url, "--port", "8765", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"STUDY_DB_URL={sqlite_url}" in out and f"STUDY_NAME={study['name']}" in out
    assert "STUDY_ROLE=respondent" in out
    for setting in ("--server.headless true", "--server.fileWatcherType none",
                    "--server.runOnSave false", "--browser.gatherUsageStats false",
                    "--client.showErrorDetails none", "--server.address 127.0.0.1", "--server.port 8765"):
        assert setting in out
    assert out.split()[4:8] == ["-m", "streamlit", "run", str(Path("study_app/asgi.py").resolve())]


def test_analyst_dry_run_is_a_second_server_with_the_analyst_role(study, sqlite_url, capsys):
    assert cli(["analyst", "--db", sqlite_url, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "STUDY_ROLE=analyst" in out and "--server.port 8502" in out and "--server.address 127.0.0.1" in out


def test_serve_verb_and_no_verb_are_the_same_command(study, sqlite_url, capsys):
    assert cli(["serve", "--db", sqlite_url, "--dry-run"]) == 0
    with_verb = capsys.readouterr().out
    assert cli(["--db", sqlite_url, "--dry-run"]) == 0
    assert capsys.readouterr().out == with_verb


def test_serve_refuses_a_database_without_a_study(sqlite_url, caplog):
    Store(sqlite_url, create=True).close()
    assert cli(["--db", sqlite_url, "--dry-run"]) == 2
    assert "python -m study_app: error: --db: the database holds no study" in caplog.text


@pytest.mark.parametrize("verb", ["serve", "analyst", "export", "simulate"])
def test_a_mistyped_database_path_is_refused_and_no_database_is_made(verb, tmp_path, caplog):
    url = f"sqlite:///{tmp_path / 'typo.db'}"
    extra = {"export": ["--out", str(tmp_path / "out")], "simulate": ["--study", "pilot"]}.get(verb, ["--dry-run"])
    assert cli([verb, "--db", url, *extra]) == 2
    assert f"error: --db {url}: no such database file; check the path" in caplog.text
    assert not Path(make_url(url).database).exists()


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


def test_serve_on_an_unopenable_database_is_one_line(caplog):
    assert cli(["--db", "sqlite:////proc/x.db", "--dry-run"]) == 2
    assert "error: --db sqlite:////proc/x.db: no such database file" in caplog.text
    assert "Traceback" not in caplog.text

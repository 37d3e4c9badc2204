"""inkwash.provenance: the toolkit's own commit, never the user's repository's."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from inkwash import paths, provenance


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def _user_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "user_project"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "notes.txt").write_text("my work\n")
    _git(repo, "add", "notes.txt")
    _git(repo, "-c", "user.email=u@example.org", "-c", "user.name=u", "commit", "-qm", "mine")
    return repo


def test_an_install_inside_a_users_repository_does_not_report_the_users_commit(tmp_path):
    repo = _user_repo(tmp_path)
    site = repo / ".venv" / "lib" / "site-packages"   # a non-editable install inside the user's repo
    shutil.copytree(Path(provenance.__file__).parent, site / "inkwash")
    user_head = _git(repo, "rev-parse", "HEAD")
    assert provenance.git_commit(site).startswith("unknown")
    assert provenance.repo_state(repo) == user_head  # recorded separately, on request


def test_repo_state_marks_uncommitted_changes(tmp_path):
    repo = _user_repo(tmp_path)
    (repo / "notes.txt").write_text("changed\n")
    assert provenance.repo_state(repo).endswith("-dirty")


def test_provenance_has_every_field_results_need():
    p = provenance.provenance(["python", "-m", "x", "--flag"], seed=3)
    assert p["command"] == "python -m x --flag" and p["seed"] == 3
    assert set(p) >= {"commit", "toolkit_version", "hardware", "load_average", "date", "versions"}
    assert p["hardware"]["cpu_cores"] >= 1 and p["date"].endswith("Z")


def test_an_empty_cache_variable_means_the_home_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("INKWASH_CACHE", "")
    assert paths.cache_dir("data") == Path.home() / ".cache" / "inkwash-gan" / "data"
    monkeypatch.setenv("INKWASH_CACHE", str(tmp_path))
    assert paths.cache_dir("evalkit", "features") == tmp_path / "evalkit" / "features"

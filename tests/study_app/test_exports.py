"""study_app.exports: every file is written, documented, and the CSVs reload into the same tables."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from study_app import inference as I
from study_app import tables as T
from study_app.__main__ import main as cli
from study_app.exports import CODEBOOK, analyse_study, frames, read_export
from study_app.simulate import SimulateConfig, simulate
from study_app.store import Store


@pytest.fixture
def export_study(small_study, tmp_path) -> str:
    """A small study with a catch trial and 12 simulated respondents, 2 of whom fail the catch trial."""
    url = small_study(tmp_path / "study", catch=1, respondents=10, seed=4)
    store = Store(url)
    simulate(store, SimulateConfig(study="pilot", respondents=2, accuracy=0.6, catch_accuracy=0.0,
                                   seed=5))
    store.close()
    return url


def export(*args: str) -> int:
    return cli(["export", *args])


def test_export_writes_every_file_and_round_trips(export_study, tmp_path):
    url = export_study
    out = tmp_path / "export"
    assert export("--db", url, "--out", str(out), "--study", "pilot", "--n-bootstrap", "500") == 0
    for name in list(CODEBOOK) + ["table6.png", "stats.json", "codebook.md"]:
        assert (out / name).stat().st_size > 0, name
    # The CSVs reload into the very frames the analysis produced ...
    store = Store(url)
    res = analyse_study(store, "pilot", n_boot=500)
    expected = frames(res)
    loaded = read_export(out)
    for name in CODEBOOK:
        pd.testing.assert_frame_equal(loaded[name], expected[name], check_exact=False, rtol=1e-12,
                                      obj=name)
    # ... and Tables 5 and 7 recomputed from the reloaded respondents equal the exported tables.
    resp = loaded["respondents.csv"]
    pd.testing.assert_frame_equal(T.table7(resp), loaded["table7.csv"], check_dtype=False)
    pd.testing.assert_frame_equal(T.table5(resp), loaded["table5.csv"], check_dtype=False)
    assert len(loaded["trials.csv"]) == 12 * 9 and loaded["trials.csv"]["simulated"].all()
    assert loaded["table7.csv"].iloc[-1]["n"] == 10 == loaded["table7.csv"].iloc[-1]["n_simulated"]
    stats = json.loads((out / "stats.json").read_text())
    assert stats["exclusions"]["excluded_by_rule"] == {"failed catch trial": 2}
    assert stats[I.KEY_ACCURACY]["n_bootstrap"] == 500 and stats["provenance"]["study"] == "pilot"
    assert stats["provenance"]["exclusion_rules"] == Store(url).get_study("pilot").options.exclusion.describe()
    assert all("reading" in v for k, v in stats.items() if k != "provenance")
    assert "pid" not in loaded["respondents.csv"].columns       # the resume token stays private
    img = np.asarray(Image.open(out / "table6.png"))
    assert img.ndim == 3 and img.shape[0] > 100


def test_codebook_documents_every_column(export_study, tmp_path):
    out = tmp_path / "e"
    assert export("--db", export_study, "--out", str(out), "--n-bootstrap", "200") == 0
    book = (out / "codebook.md").read_text()
    for name in CODEBOOK:
        header = pd.read_csv(out / name, nrows=0).columns
        assert list(header) == [c for c, *_ in CODEBOOK[name]]
        for col in header:
            assert f"| `{col}` |" in book, (name, col)
    # The data obey what the codebook says of each column (type and allowed values).
    loaded = read_export(out)
    for name, cols in CODEBOOK.items():
        for col, typ, _meaning, allowed in cols:
            v = loaded[name][col].dropna()
            if typ == "int":
                assert (v.astype(float) == v.astype(float).round()).all(), (name, col)
            if typ == "bool":
                assert set(v.astype(str)) <= {"True", "False"}, (name, col)
            if allowed == "0-1":
                assert v.astype(float).between(0, 1).all(), (name, col)
            if allowed == ">= 0":
                assert (v.astype(float) >= 0).all(), (name, col)


@pytest.mark.parametrize("args, message", [
    (["--study", "nope"], "--study nope: no such study"),
    (["--n-bootstrap", "5"], "--n-bootstrap 5: give at least 100"),
    (["--table6-per-class", "0"], "--table6-per-class 0: give at least 1"),
])
def test_export_bad_input_exits_2_and_writes_nothing(args, message, export_study, tmp_path, caplog):
    assert export("--db", export_study, "--out", str(tmp_path / "x"), *args) == 2
    assert f"python -m study_app export: error: {message}" in caplog.text
    assert not (tmp_path / "x").exists()


def test_export_refuses_an_unsupported_database(tmp_path, caplog):
    assert export("--db", "mysql://x/y", "--out", str(tmp_path / "x")) == 2
    assert "--db mysql://x/y: unsupported database" in caplog.text


def test_export_of_a_study_without_respondents(small_study, tmp_path):
    url = small_study(tmp_path / "s", name="empty", per_class=2)
    assert export("--db", url, "--out", str(tmp_path / "e"), "--n-bootstrap", "100") == 0
    loaded = read_export(tmp_path / "e")
    assert len(loaded["trials.csv"]) == 0 and len(loaded["respondents.csv"]) == 0
    assert len(loaded["images.csv"]) == 8 and (loaded["images.csv"]["n_answers"] == 0).all()


def test_export_writes_every_study_image_and_its_path(export_study, tmp_path):
    out = tmp_path / "e"
    assert export("--db", export_study, "--out", str(out), "--n-bootstrap", "100") == 0
    images = read_export(out)["images.csv"]
    store = Store(export_study)
    assert len(images) == len(store.images_frame("pilot"))
    for row in images.itertuples():
        assert row.path == f"images/{row.image_id}.png"
        assert (out / row.path).read_bytes() == store.image_png(row.image_id)   # as served


@pytest.mark.parametrize("text", ['=HYPERLINK("http://evil.example","click")', "+1+2", "-2+3",
                                  "@SUM(A1)", "\tTab", "\rReturn"])
def test_text_cells_a_spreadsheet_would_run_are_neutralised(text, export_study, tmp_path):
    store = Store(export_study)
    r = store.create_respondent("pilot")
    store.record_consent(r.id, store.get_study("pilot").consent_version)
    store.save_demographics(r.id, "female", "21-30", True, "x")
    with store.engine.begin() as c:      # stored verbatim (the form strips spaces only at the ends)
        c.exec_driver_sql("UPDATE respondents SET background = ? WHERE id = ?", (text, r.id))
    out = tmp_path / "e"
    assert export("--db", export_study, "--out", str(out), "--n-bootstrap", "100") == 0
    raw = pd.read_csv(out / "respondents.csv", dtype=str, keep_default_na=False)
    cell = raw.loc[raw["respondent_id"] == str(r.id), "background"].item()
    assert cell == "'" + text
    assert "apostrophe" in (out / "codebook.md").read_text()
    assert raw.loc[raw["respondent_id"] != str(r.id), "background"].str[0].ne("'").all()


@pytest.mark.parametrize("per_class", [1, 2])
def test_studies_with_one_or_two_images_per_class_analyse_and_export(per_class, small_study, tmp_path):
    url = small_study(tmp_path / "s", per_class=per_class, respondents=6, seed=2)
    out = tmp_path / "e"
    assert export("--db", url, "--out", str(out), "--n-bootstrap", "100") == 0
    stats = json.loads((out / "stats.json").read_text())
    binom = stats[I.KEY_BINOMIAL]
    assert binom["typical_n_trials"] == 2 * per_class and binom["correct_needed_unadjusted"] is None
    assert "no single respondent can beat chance on their own" in binom["reading"]

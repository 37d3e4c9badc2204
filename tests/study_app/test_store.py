"""Store on SQLite and PostgreSQL: schema, refusal of newer schemas, answers, frames, plans."""
from __future__ import annotations

import collections

import pytest
import sqlalchemy as sa

from study_app.config import StudyOptions
from study_app.store import SCHEMA_VERSION, ImageInfo, Store, StoreError, draw_plan

RESPONDENT_COLUMNS = ["respondent_id", "pid", "gender", "age_band", "clothing_work", "background",
                      "consent_version", "consented_at", "started_at", "finished_at",
                      "completion_code", "seed", "simulated"]
TRIAL_COLUMNS = ["respondent_id", "trial_index", "image_id", "is_generated", "model", "kind",
                 "answer", "correct", "shown_at", "answered_at", "response_ms"]


def _pool(n_real=30, models=("a", "b"), per_model=15, practice=2, catch=2) -> list[dict]:
    rows = [dict(id=f"r{i:02d}", is_generated=False, model=None, kind="main") for i in range(n_real)]
    rows += [dict(id=f"f{m}{i:02d}", is_generated=True, model=m, kind="main")
             for m in models for i in range(per_model)]
    rows += [dict(id=f"p{i}", is_generated=bool(i % 2), model="a" if i % 2 else None,
                  kind="practice") for i in range(practice)]
    rows += [dict(id=f"c{i}", is_generated=bool(i % 2), model=None, kind="catch") for i in range(catch)]
    return [{**r, "path": f"/img/{r['id']}.png", "source": None, "sha256": "0" * 64,
             "png": b"\x89PNG" + r["id"].encode()} for r in rows]


def _study(store: Store, name="s1", **opts) -> str:
    options = StudyOptions(**{"practice": 2, "catch": 2, "models": ["a", "b"], **opts})
    sid = store.create_study(name, options, "consent text", "v1", "/img")
    store.add_images(sid, _pool(practice=options.practice, catch=options.catch))
    return name


def _respondent(store: Store, study: str, **kw) -> dict:
    r = store.create_respondent(study, **kw)
    store.record_consent(r["respondent_id"], "v1")
    return r


def test_fresh_database_gets_schema_and_version(db_url):
    store = Store(db_url)
    names = set(sa.inspect(store.engine).get_table_names())
    assert {"schema_version", "studies", "images", "respondents", "trials", "consent"} <= names
    with store.engine.connect() as c:
        assert c.execute(sa.text("SELECT version FROM schema_version")).scalar() == SCHEMA_VERSION
    assert Store(db_url).study_names() == []   # opening again keeps it


def test_sqlite_uses_wal_and_busy_timeout(sqlite_url):
    store = Store(sqlite_url)
    with store.engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_newer_schema_version_is_refused(db_url):
    store = Store(db_url)
    with store.engine.begin() as c:
        c.execute(sa.text("UPDATE schema_version SET version = :v"), {"v": SCHEMA_VERSION + 1})
    store.close()
    with pytest.raises(StoreError, match="newer than this study_app"):
        Store(db_url)


def test_foreign_database_with_study_tables_is_refused(sqlite_url):
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as c:
        c.execute(sa.text("CREATE TABLE studies (x INTEGER)"))
    with pytest.raises(StoreError, match="not a study_app database"):
        Store(sqlite_url)


def test_unsupported_url_is_refused():
    with pytest.raises(StoreError, match="unsupported database"):
        Store("mysql://u:p@localhost/db")


def test_answers_insert_once_and_frames_have_contract_columns(db_url):
    store = Store(db_url)
    study = _study(store)
    r = _respondent(store, study, seed=7)
    rid, plan = r["respondent_id"], r["plan"]
    assert len(plan) == 2 + 50 + 2
    store.save_demographics(rid, "prefer not to say", "other", False, "  retired teacher ")
    assert store.record_answer(rid, 0, "real", response_ms=900) is True
    assert store.record_answer(rid, 0, "generated", response_ms=10) is False   # first one kept
    for i in range(1, len(plan)):
        assert store.record_answer(rid, i, "generated", response_ms=500 + i)
    code = store.finish(rid)
    assert store.finish(rid) == code and len(code) == 10

    trials = store.trials_frame(study)
    assert list(trials.columns) == TRIAL_COLUMNS and len(trials) == len(plan)
    assert trials.loc[0, "answer"] == "real" and trials.loc[0, "response_ms"] == 900
    assert trials["image_id"].tolist() == plan
    pool = store.pool(store.get_study(study)["id"])
    for row in trials.itertuples():
        info = pool[row.image_id]
        assert (row.is_generated, row.model, row.kind) == (info.is_generated, info.model, info.kind)
        assert row.correct == ((row.answer == "generated") == info.is_generated)
    assert collections.Counter(trials["kind"]) == {"main": 50, "practice": 2, "catch": 2}
    assert str(trials["answered_at"].dt.tz) == "UTC"

    resp = store.respondents_frame(study)
    assert list(resp.columns) == RESPONDENT_COLUMNS and len(resp) == 1
    row = resp.iloc[0]
    assert (row.gender, row.age_band, row.clothing_work, row.background) == \
        ("prefer not to say", "other", False, "retired teacher")
    assert (row.consent_version, row.completion_code, row.seed, row.simulated) == ("v1", code, 7, False)
    imgs = store.images_frame(study)
    assert list(imgs.columns) == ["image_id", "is_generated", "model", "kind", "path"]
    assert imgs.loc[imgs["image_id"] == "r00", "model"].item() is None


def test_answer_without_consent_is_refused(db_url):
    store = Store(db_url)
    r = store.create_respondent(_study(store))
    with pytest.raises(StoreError, match="no consent"):
        store.record_answer(r["respondent_id"], 0, "real")


def test_bad_values_are_refused(db_url):
    store = Store(db_url)
    r = _respondent(store, _study(store))
    rid = r["respondent_id"]
    with pytest.raises(ValueError, match="answer"):
        store.record_answer(rid, 0, "fake")
    with pytest.raises(ValueError, match="trial_index"):
        store.record_answer(rid, len(r["plan"]), "real")
    with pytest.raises(ValueError, match="gender"):
        store.save_demographics(rid, "Female", "21-30", True, "x")
    with pytest.raises(ValueError, match="age_band"):
        store.save_demographics(rid, "female", "20-30", True, "x")
    with pytest.raises(StoreError, match="1 of"):
        store.record_answer(rid, 0, "real")
        store.finish(rid)


def test_study_names_are_unique_and_bound_as_parameters(db_url):
    store = Store(db_url)
    evil = "x'); DROP TABLE trials; --"
    _study(store, name=evil)
    assert store.get_study(evil)["name"] == evil
    assert "trials" in sa.inspect(store.engine).get_table_names()
    with pytest.raises(StoreError, match="exists"):
        _study(store, name=evil)
    with pytest.raises(StoreError, match="no such study"):
        store.get_study("missing")


def test_get_study_returns_options_and_exclusion_rules(db_url):
    store = Store(db_url)
    study = _study(store, disclose_ratio=True, min_median_response_ms=250)
    s = store.get_study(study)
    assert s["disclose_ratio"] is True and s["min_median_response_ms"] == 250
    assert s["exclude_failed_catch"] is True and s["exclude_identical_answers"] is True
    assert s["consent_version"] == "v1" and s["consent_text"] == "consent text"
    assert store.study_options(study).n_trials == 52


def test_find_respondent_tracks_progress(db_url):
    store = Store(db_url)
    r = _respondent(store, _study(store))
    found = store.find_respondent(r["pid"])
    assert found["consented"] and not found["demographics_done"] and found["answered"] == set()
    store.record_answer(r["respondent_id"], 3, "real")
    assert store.find_respondent(r["pid"])["answered"] == {3}
    assert store.find_respondent("no-such-pid") is None
    assert len(r["pid"]) >= 20   # opaque, unguessable token


def _infos(**kw) -> list[ImageInfo]:
    return [ImageInfo(r["id"], r["is_generated"], r["model"], r["kind"]) for r in _pool(**kw)]


def test_plan_is_balanced_even_across_models_and_reproducible():
    opts = StudyOptions(practice=2, catch=2)
    pool = _infos(models=("a", "b"))
    kinds = {i.image_id: i for i in pool}
    counts = collections.Counter()
    for seed in range(40):
        plan = draw_plan(pool, opts, seed)
        assert plan == draw_plan(pool, opts, seed)
        assert [kinds[i].kind for i in plan[:2]] == ["practice", "practice"]
        main = [kinds[i] for i in plan[2:] if kinds[i].kind == "main"]
        assert sum(not i.is_generated for i in main) == 25 and len(main) == 50
        per_model = collections.Counter(i.model for i in main if i.is_generated)
        assert sorted(per_model.values()) == [12, 13]
        counts[per_model["a"]] += 1
        assert sum(kinds[i].kind == "catch" for i in plan) == 2 and len(set(plan)) == len(plan)
    assert set(counts) == {12, 13}   # the extra image goes to either model
    assert draw_plan(pool, opts, 1) != draw_plan(pool, opts, 2)


def test_plan_refuses_a_pool_that_is_too_small():
    with pytest.raises(StoreError, match="needs 25 real"):
        draw_plan(_infos(n_real=10), StudyOptions(practice=2, catch=2), 0)


def test_app_servers_starting_together_share_one_schema(db_url):
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(4) as pool:
        stores = list(pool.map(lambda _: Store(db_url), range(4)))
    with stores[0].engine.connect() as c:
        assert c.execute(sa.text("SELECT COUNT(*) FROM schema_version")).scalar() == 1
    for s in stores:
        s.close()

"""Many threads answering for many respondents at once, every answer sent twice at the same
moment (a double click, a second tab) through two separate Stores: 0 answers lost, 0
duplicated, on SQLite and PostgreSQL."""
from __future__ import annotations

import collections
import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from study_app.config import StudyOptions
from study_app.store import Store

N_RESPONDENTS = 8
N_THREADS = 16
pytestmark = pytest.mark.slow


def _tiny_study(store: Store) -> tuple[str, int]:
    opts = StudyOptions(per_class=25, models=("g",))
    sid = store.create_study("load", opts, "consent", "v1", "/img")
    rows = [dict(id=f"{c}{i:02d}", is_generated=c == "g", model="g" if c == "g" else None,
                 kind="main", path="p", source=None, sha256="0" * 64, png=b"x")
            for c in "rg" for i in range(25)]
    store.add_images(sid, rows)
    return "load", opts.n_trials


def test_double_submitted_concurrent_answers_are_neither_lost_nor_duplicated(db_url):
    store = Store(db_url, create=True)
    study, n_trials = _tiny_study(store)
    ids = []
    for _ in range(N_RESPONDENTS):
        r = store.create_respondent(study)
        store.record_consent(r.id, "v1")
        ids.append(r.id)

    # Every (respondent, trial) twice; the two copies race on a barrier so they hit the
    # database together. Respondents interleave, each answering its trials in order.
    rng = random.Random(0)
    wanted = {(rid, i): rng.choice(["real", "generated"]) for rid in ids for i in range(n_trials)}
    jobs = [(rid, i) for i in range(n_trials) for rid in rng.sample(ids, len(ids))]
    results: dict[tuple[int, int], list[bool]] = collections.defaultdict(list)
    errors = []

    # The two copies go through two Store objects (two engines and pools), as two app servers
    # behind a load balancer would send them.
    servers = [store, Store(db_url)]

    def submit(job, barrier, server):
        try:
            barrier.wait(timeout=30)
            results[job].append(server.record_answer(job[0], job[1], wanted[job], response_ms=1))
        except Exception as e:   # noqa: BLE001 - collected and asserted below
            errors.append(repr(e))

    with ThreadPoolExecutor(N_THREADS) as pool:
        for start in range(0, len(jobs), N_THREADS // 2):
            batch = jobs[start:start + N_THREADS // 2]
            futures = []
            for job in batch:
                barrier = threading.Barrier(2)
                futures += [pool.submit(submit, job, barrier, servers[0]),
                            pool.submit(submit, job, barrier, servers[1])]
            for f in futures:
                f.result()

    assert errors == []
    assert all(sorted(v) == [False, True] for v in results.values())   # one stored, one ignored
    trials = store.trials_frame(study)
    assert len(trials) == N_RESPONDENTS * n_trials                       # 0 lost
    assert not trials.duplicated(["respondent_id", "trial_index"]).any()  # 0 duplicated
    assert not trials.duplicated(["respondent_id", "image_id"]).any()
    got = {(r.respondent_id, r.trial_index): r.answer for r in trials.itertuples()}
    assert got == wanted
    for server in servers:
        server.close()

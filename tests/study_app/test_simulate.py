"""study_app.simulate: simulated respondents go through the Store's write API, marked simulated."""
from __future__ import annotations

import pytest

from study_app.__main__ import main as cli
from study_app.simulate import SimulateConfig, simulate
from study_app.store import Store


def test_simulate_fills_the_study_through_the_store(small_study, tmp_path):
    store = Store(small_study(tmp_path, catch=1, practice=2))
    s = simulate(store, SimulateConfig(study="pilot", respondents=5, accuracy=1.0, seed=3))
    assert s["respondents"] == 5 and s["answers"] == 5 * (2 * 4 + 1 + 2)
    resp, trials = store.respondents_frame("pilot"), store.trials_frame("pilot")
    assert len(resp) == 5 and resp["simulated"].all() and resp["finished_at"].notna().all()
    assert resp["consented_at"].notna().all() and (resp["background"] == "simulated respondent").all()
    assert len(trials) == 55 and trials["correct"].all()           # accuracy 1.0
    assert not trials.duplicated(["respondent_id", "trial_index"]).any()
    assert (trials["response_ms"] > 0).all()
    assert (trials["answered_at"] > trials["shown_at"]).all()


def test_simulate_accuracy_and_seed_are_honoured(small_study, tmp_path):
    store = Store(small_study(tmp_path / "a", per_class=10))
    simulate(store, SimulateConfig(study="pilot", respondents=20, accuracy=0.0, seed=1))
    assert not store.trials_frame("pilot")["correct"].any()        # accuracy 0.0
    runs = []
    for folder in ("b", "c"):
        other = Store(small_study(tmp_path / folder, per_class=10))
        simulate(other, SimulateConfig(study="pilot", respondents=20, accuracy=0.7, seed=1))
        runs.append(other.trials_frame("pilot"))
    assert 0.6 < runs[0]["correct"].mean() < 0.8
    assert list(runs[0]["answer"]) == list(runs[1]["answer"])      # same seed, same answers


def test_simulate_cli_and_bad_input(small_study, tmp_path, caplog):
    url = small_study(tmp_path, catch=1)
    assert cli(["simulate", "--db", url, "--study", "pilot", "--respondents", "3", "--seed", "2"]) == 0
    assert len(Store(url).respondents_frame("pilot")) == 3
    assert cli(["simulate", "--db", url, "--study", "nope", "--respondents", "3"]) == 2
    assert "python -m study_app simulate: error: --study nope" in caplog.text
    assert cli(["simulate", "--db", url, "--study", "pilot", "--accuracy", "1.5"]) == 2
    assert "--accuracy 1.5: give a probability between 0 and 1" in caplog.text
    assert len(Store(url).respondents_frame("pilot")) == 3         # nothing added by the refusals
    with pytest.raises(SystemExit) as e:
        cli(["simulate", "--db", url])                             # --study is required
    assert e.value.code == 2

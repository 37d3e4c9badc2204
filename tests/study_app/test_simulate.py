"""study_app.simulate: simulated respondents go through the Store's write API, marked simulated."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from study_app.config import StudyConfig
from study_app.create import create_study
from study_app.simulate import SimulateConfig, main, simulate
from study_app.store import Store


def make_sim_study(tmp_path: Path, name: str = "pilot", per_class: int = 4, catch: int = 1,
                   practice: int = 0) -> str:
    """A small study (per_class real + generated images, 32 px sources) in a fresh SQLite file."""
    rng = np.random.default_rng(0)
    for sub in ("real", "fake"):
        (tmp_path / sub).mkdir(parents=True, exist_ok=True)
        for i in range(per_class + 2 + practice):
            a = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            Image.fromarray(a).save(tmp_path / sub / f"{sub}_{i}.png")
    url = f"sqlite:///{tmp_path / 'study.db'}"
    create_study(StudyConfig(name=name, real=tmp_path / "real", fake=[f"paper={tmp_path / 'fake'}"],
                             per_class=per_class, db=url, catch=catch, practice=practice,
                             image_dir=tmp_path / "images"))
    return url


def test_simulate_fills_the_study_through_the_store(tmp_path):
    url = make_sim_study(tmp_path, practice=2)
    store = Store(url)
    s = simulate(store, SimulateConfig(study="pilot", respondents=5, accuracy=1.0, seed=3))
    assert s["respondents"] == 5 and s["answers"] == 5 * (2 * 4 + 1 + 2)
    resp, trials = store.respondents_frame("pilot"), store.trials_frame("pilot")
    assert len(resp) == 5 and resp["simulated"].all() and resp["finished_at"].notna().all()
    assert resp["consented_at"].notna().all() and (resp["background"] == "simulated respondent").all()
    assert len(trials) == 55 and trials["correct"].all()           # accuracy 1.0
    assert not trials.duplicated(["respondent_id", "trial_index"]).any()
    assert (trials["response_ms"] > 0).all()
    assert (trials["answered_at"] > trials["shown_at"]).all()


def test_simulate_accuracy_and_seed_are_honoured(tmp_path):
    url = make_sim_study(tmp_path, per_class=10, catch=0)
    store = Store(url)
    simulate(store, SimulateConfig(study="pilot", respondents=20, accuracy=0.0, seed=1))
    t = store.trials_frame("pilot")
    assert not t["correct"].any()                                   # accuracy 0.0
    other = make_sim_study(tmp_path / "b", per_class=10, catch=0)
    simulate(Store(other), SimulateConfig(study="pilot", respondents=20, accuracy=0.7, seed=1))
    t2 = Store(other).trials_frame("pilot")
    assert 0.6 < t2["correct"].mean() < 0.8
    again = make_sim_study(tmp_path / "c", per_class=10, catch=0)
    simulate(Store(again), SimulateConfig(study="pilot", respondents=20, accuracy=0.7, seed=1))
    assert list(Store(again).trials_frame("pilot")["answer"]) == list(t2["answer"])


def test_simulate_cli_and_bad_input(tmp_path, caplog):
    url = make_sim_study(tmp_path)
    assert main(["--db", url, "--study", "pilot", "--respondents", "3", "--seed", "2"]) == 0
    assert len(Store(url).respondents_frame("pilot")) == 3
    assert main(["--db", url, "--study", "nope", "--respondents", "3"]) == 2
    assert "--study nope" in caplog.text
    assert main(["--db", url, "--study", "pilot", "--accuracy", "1.5"]) == 2
    assert "--accuracy 1.5" in caplog.text
    with pytest.raises(SystemExit):
        main(["--db", url])                                         # --study is required

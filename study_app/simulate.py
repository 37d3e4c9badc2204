"""`python -m study_app simulate`: fill a study with simulated respondents, for dry runs and demos.

Every simulated respondent goes through the Store's public write API exactly as the app does
(create_respondent -> record_consent -> save_demographics -> record_answer per trial -> finish)
and is stored with simulated = true, so every table, page and export marks it.
"""
from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from inkwash.cli import UserError

from study_app.config import AGE_BANDS, GENDERS, default_db_url
from study_app.schema import utcnow
from study_app.store import Store

log = logging.getLogger(__name__)
BACKGROUND = "simulated respondent"


@dataclass
class SimulateConfig:
    """Options of `python -m study_app simulate`."""
    study: str = ""                 # study to fill (must exist)
    respondents: int = 60           # simulated respondents to add (paper: 60)
    accuracy: float = 0.5           # probability each main/practice answer is correct (0.5 = chance)
    catch_accuracy: float = 1.0     # probability a catch trial is answered as instructed
    clothing_share: float = 2 / 3   # share in clothing-related work (paper: 40 of 60)
    median_ms: float = 1800.0       # median response time in ms (log-normal, sigma 0.5)
    seed: int = 0                   # seed of every simulated choice
    db: str = ""                    # database URL ("" = $STUDY_DB_URL or sqlite:///study.db)


def _check(cfg: SimulateConfig) -> None:
    if cfg.respondents < 1:
        raise UserError(f"--respondents {cfg.respondents}: give at least 1")
    for name, v in (("--accuracy", cfg.accuracy), ("--catch-accuracy", cfg.catch_accuracy),
                    ("--clothing-share", cfg.clothing_share)):
        if not 0.0 <= v <= 1.0:
            raise UserError(f"{name} {v}: give a probability between 0 and 1")
    if cfg.median_ms <= 0:
        raise UserError(f"--median-ms {cfg.median_ms}: give a positive time in ms")


def simulate(store: Store, cfg: SimulateConfig) -> dict:
    """Add `cfg.respondents` finished simulated respondents to `cfg.study`; returns a summary
    (respondents, answers, correct, respondent_ids)."""
    _check(cfg)
    study = store.get_study(cfg.study)
    pool = store.pool(study.id)
    rng = np.random.default_rng(cfg.seed)
    ids, n_answers, n_correct = [], 0, 0
    clock = utcnow()
    for _ in range(cfg.respondents):
        r = store.create_respondent(cfg.study, seed=int(rng.integers(0, 2**31 - 1)),
                                    simulated=True, started_at=clock)
        rid = r.id
        clock += timedelta(seconds=float(rng.uniform(5, 20)))
        store.record_consent(rid, study.consent_version, at=clock)
        clock += timedelta(seconds=float(rng.uniform(10, 40)))
        store.save_demographics(rid, gender=str(rng.choice(GENDERS, p=[0.55, 0.35, 0.05, 0.05])),
                                age_band=str(rng.choice(AGE_BANDS[:6])),
                                clothing_work=bool(rng.random() < cfg.clothing_share),
                                background=BACKGROUND, at=clock)
        for i, image_id in enumerate(r.plan):
            info = pool[image_id]
            p = cfg.catch_accuracy if info.kind == "catch" else cfg.accuracy
            right = bool(rng.random() < p)
            truth = "generated" if info.is_generated else "real"
            answer = truth if right else ("real" if truth == "generated" else "generated")
            ms = int(round(cfg.median_ms * float(np.exp(rng.normal(0.0, 0.5)))))
            shown = clock
            clock += timedelta(milliseconds=ms)
            store.record_answer(rid, i, answer, shown_at=shown, answered_at=clock, response_ms=ms)
            n_answers += 1
            n_correct += right
            clock += timedelta(milliseconds=int(rng.integers(100, 400)))   # next image loads
        store.finish(rid, at=clock)
        ids.append(rid)
    return {"study": cfg.study, "respondents": len(ids), "answers": n_answers,
            "correct": n_correct, "respondent_ids": ids}


def configure(p: argparse.ArgumentParser) -> None:
    """The simulate verb's arguments (defaults from SimulateConfig)."""
    d = SimulateConfig
    p.add_argument("--db", default=d.db, help="database URL (default: $STUDY_DB_URL or sqlite:///study.db)")
    p.add_argument("--study", required=True, help="name of the study to fill")
    p.add_argument("--respondents", type=int, default=d.respondents, help="respondents to add")
    p.add_argument("--accuracy", type=float, default=d.accuracy,
                   help="probability each answer is correct (0.5 = guessing)")
    p.add_argument("--catch-accuracy", type=float, default=d.catch_accuracy,
                   help="probability a catch trial is answered as instructed")
    p.add_argument("--clothing-share", type=float, default=d.clothing_share,
                   help="share of respondents in clothing-related work")
    p.add_argument("--median-ms", type=float, default=d.median_ms, help="median response time, ms")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of the simulation")


def run(args: argparse.Namespace) -> int:
    """Add the simulated respondents and say how many answers they gave."""
    cfg = SimulateConfig(**vars(args))
    store = Store(cfg.db or default_db_url())
    try:
        s = simulate(store, cfg)
    finally:
        store.close()
    log.info("added %d simulated respondents (%d answers, %.1f %% correct) to study %s in %s",
             s["respondents"], s["answers"], 100 * s["correct"] / max(1, s["answers"]),
             s["study"], store.shown_url)
    return 0

"""evalkit critic-vs-human: critic scores against human fool rates, Spearman with a bootstrap interval."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from scipy import stats

from evalkit import critic_human
from evalkit.__main__ import main


def test_spearman_ci_of_a_monotone_relation_is_one():
    x = np.arange(30.0)
    out = critic_human.spearman_ci(x, x ** 3, n_boot=500)
    assert out["rho"] == pytest.approx(1.0) and out["ci_low"] == pytest.approx(1.0)
    out = critic_human.spearman_ci(x, -x, n_boot=500)
    assert out["rho"] == pytest.approx(-1.0)


def test_spearman_ci_brackets_rho_for_noisy_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    y = x + rng.normal(size=200)
    out = critic_human.spearman_ci(x, y, n_boot=2000)
    assert out["ci_low"] < out["rho"] < out["ci_high"]
    assert 0.5 < out["rho"] < 0.9


def test_critic_vs_human_reads_a_real_study_export(run_factory, synthetic_images, write_images, tmp_path):
    from study_app.__main__ import main as study
    from study_app.exports import read_export
    run = run_factory("critic")                  # trained by the real loop at 64 px
    real, fake = tmp_path / "real", tmp_path / "fake"
    write_images(real, synthetic_images(8, 64, seed=1), prefix="real_")
    write_images(fake, synthetic_images(8, 64, seed=2, style=1.0), prefix="fake_")
    db, export = f"sqlite:///{tmp_path / 'study.db'}", tmp_path / "export"
    assert study(["create", "--name", "s", "--real", str(real), "--fake", f"paper={fake}",
                  "--per-class", "6", "--catch", "1", "--db", db]) == 0
    assert study(["simulate", "--db", db, "--study", "s", "--respondents", "12", "--accuracy", "0.6",
                  "--seed", "3"]) == 0
    assert study(["export", "--db", db, "--out", str(export), "--n-bootstrap", "200"]) == 0

    assert main(["critic-vs-human", str(run), str(export), "--bootstrap", "300"]) == 0
    images = read_export(export)["images.csv"]
    shown = images[images["kind"] == "main"].reset_index(drop=True)
    assert len(shown) == 15 and (images["kind"] == "catch").sum() == 1       # the catch image is left out
    with open(export / "critic_vs_human" / "scores.csv", newline="") as f:
        got = {r["image_id"]: float(r["critic_score"]) for r in csv.DictReader(f)}
    assert set(got) == set(shown["image_id"])
    critic, info = critic_human.load_critic(run)
    expected = critic_human.score_images(critic, [export / p for p in shown["path"]], info["spec"].resolution)
    np.testing.assert_allclose([got[i] for i in shown["image_id"]], expected, rtol=1e-5)
    doc = json.loads((export / "critic_vs_human" / "critic_vs_human.json").read_text())
    rows = {r["subset"]: r for r in doc["rows"]}
    gen = shown["is_generated"].to_numpy()
    rho = stats.spearmanr(expected[gen], shown["fool_rate"][gen]).statistic
    assert rows["generated: score vs fool rate"]["spearman_rho"] == pytest.approx(rho)
    assert rows["generated: score vs fool rate"]["n_images"] == gen.sum() == 8
    assert doc["provenance"]["critic"]["resolution"] == 64


def test_missing_fool_rate_column_is_a_one_line_error(tmp_path, capsys, run_factory):
    run = run_factory("mlp", model="mlp")
    study = tmp_path / "study"
    study.mkdir()
    (study / "images.csv").write_text("image_id,is_generated\nim0,true\n")
    assert main(["critic-vs-human", str(run), str(study)]) == 2
    err = capsys.readouterr().err.strip()
    assert "fool_rate" in err and "images.csv" in err and len(err.splitlines()) == 1

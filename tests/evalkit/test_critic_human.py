"""evalkit critic-vs-human: critic scores against human fool rates, Spearman with a bootstrap interval."""
from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from evalkit import critic_human

_spec = importlib.util.spec_from_file_location("evalkit_compare_fixtures", Path(__file__).with_name("compare_fixtures.py"))
fx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fx)


def _images(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([np.asarray(Image.fromarray((rng.random((4, 4, 3)) * 255).astype(np.uint8)).resize((64, 64)))
                     for _ in range(n)])


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


def test_critic_vs_human_end_to_end(tmp_path):
    run = fx.write_tiny_run(tmp_path / "runs" / "paper", model="paper")
    critic, meta = critic_human.load_critic(run)
    images = _images(24, 1)
    gen = [i % 2 == 0 for i in range(24)]
    files = []
    for i, im in enumerate(images):
        files.append(tmp_path / f"s{i}.png")
        Image.fromarray(im).save(files[-1])
    scores = critic_human.score_images(critic, files, 64)
    # Human fool rates built to agree with the critic: monotone in its score (up for fakes, down for reals).
    ranks = scores.argsort().argsort() / (len(scores) - 1)
    fool = [float(r) if g else float(1 - r) for r, g in zip(ranks, gen)]
    study = fx.write_study_export(tmp_path / "study", images, gen, fool)
    rc = critic_human.main([str(run), str(study), "--bootstrap", "300"])
    assert rc == 0
    out = study / "critic_vs_human"
    doc = json.loads((out / "critic_vs_human.json").read_text())
    rows = {r["subset"]: r for r in doc["rows"]}
    assert rows["generated: score vs fool rate"]["spearman_rho"] == pytest.approx(1.0)
    assert rows["real: score vs fool rate"]["spearman_rho"] == pytest.approx(-1.0)
    assert rows["all: score vs share judged real"]["spearman_rho"] == pytest.approx(1.0)
    assert rows["generated: score vs fool rate"]["n_images"] == 12
    assert doc["provenance"]["critic"]["name"] == "paper"
    assert (out / "critic_vs_human_scatter.png").stat().st_size > 1000
    with open(out / "scores.csv", newline="") as f:
        got = list(csv.DictReader(f))
    assert len(got) == 24
    np.testing.assert_allclose([float(r["critic_score"]) for r in got], scores, rtol=1e-5)


def test_missing_fool_rate_column_is_a_one_line_error(tmp_path, capsys):
    run = fx.write_tiny_run(tmp_path / "runs" / "mlp", model="mlp")
    study = tmp_path / "study"
    study.mkdir()
    (study / "images.csv").write_text("image_id,is_generated\nim0,true\n")
    assert critic_human.main([str(run), str(study)]) == 2
    err = capsys.readouterr().err.strip()
    assert "fool_rate" in err and "images.csv" in err and len(err.splitlines()) == 1

"""evalkit critic-vs-human: critic scores against human fool rates, Spearman with a bootstrap interval."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from evalkit import critic_human
from evalkit.__main__ import main


def write_study_export(folder: Path, images_u8: np.ndarray, is_generated: list[bool], fool_rate: list[float]) -> Path:
    """A study export folder as `python -m study_app export` writes it: images.csv (image_id,
    is_generated, model, kind, fool_rate) + images/<id>.png."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    with open(folder / "images.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image_id", "is_generated", "model", "kind", "fool_rate"])
        for i, (im, g, r) in enumerate(zip(images_u8, is_generated, fool_rate)):
            Image.fromarray(im).save(folder / "images" / f"im{i:03d}.png")
            w.writerow([f"im{i:03d}", str(g).lower(), "paper" if g else "", "main", r])
    return folder


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


def test_critic_vs_human_end_to_end(tmp_path, run_factory, synthetic_images, write_images):
    run = run_factory("paper")
    critic, info = critic_human.load_critic(run)
    assert info["spec"].name == "paper" and info["spec"].resolution == 64
    images = synthetic_images(24, size=64, seed=1)
    gen = [i % 2 == 0 for i in range(24)]
    files = write_images(tmp_path / "scored", images)
    scores = critic_human.score_images(critic, files, 64)
    # Human fool rates built to agree with the critic: monotone in its score (up for fakes, down for reals).
    ranks = scores.argsort().argsort() / (len(scores) - 1)
    fool = [float(r) if g else float(1 - r) for r, g in zip(ranks, gen)]
    study = write_study_export(tmp_path / "study", images, gen, fool)
    rc = main(["critic-vs-human", str(run), str(study), "--bootstrap", "300"])
    assert rc == 0
    out = study / "critic_vs_human"
    doc = json.loads((out / "critic_vs_human.json").read_text())
    rows = {r["subset"]: r for r in doc["rows"]}
    assert rows["generated: score vs fool rate"]["spearman_rho"] == pytest.approx(1.0)
    assert rows["real: score vs fool rate"]["spearman_rho"] == pytest.approx(-1.0)
    assert rows["all: score vs share judged real"]["spearman_rho"] == pytest.approx(1.0)
    assert rows["generated: score vs fool rate"]["n_images"] == 12
    assert doc["provenance"]["critic"]["name"] == "paper" and doc["provenance"]["critic"]["resolution"] == 64
    assert (out / "critic_vs_human_scatter.png").stat().st_size > 1000
    with open(out / "scores.csv", newline="") as f:
        got = list(csv.DictReader(f))
    assert len(got) == 24
    np.testing.assert_allclose([float(r["critic_score"]) for r in got], scores, rtol=1e-5)


def test_missing_fool_rate_column_is_a_one_line_error(tmp_path, capsys, run_factory):
    run = run_factory("mlp", model="mlp")
    study = tmp_path / "study"
    study.mkdir()
    (study / "images.csv").write_text("image_id,is_generated\nim0,true\n")
    assert main(["critic-vs-human", str(run), str(study)]) == 2
    err = capsys.readouterr().err.strip()
    assert "fool_rate" in err and "images.csv" in err and len(err.splitlines()) == 1

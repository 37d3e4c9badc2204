"""evalkit compare and table4: two tiny runs trained by the real training code, a random-weight
Inception, every file, column and plot; the missing-weights path; bad input."""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
from PIL import Image

from evalkit.__main__ import main
from evalkit.report import UNAVAILABLE_WEIGHTS
from evalkit.table import METRICS

N = 24
PAIRS = 20
INCEPTION_COLS = [f"is_{N}", f"is_{N}_std", f"fid_{N}", f"kid_{N}", f"kid_{N}_std", "precision_incv3_k3",
                  "recall_incv3_k3", f"nn_incv3_flagged_share_{N}"]
ALWAYS_COLS = ["model", "train_seconds", "train_seconds_per_1k_iters", "train_iterations", f"gen_{N}_seconds",
               f"gen_{N}_png_seconds", "gen_provider", f"ms_ssim_up256_{N}", f"ms_ssim_up256_{N}_sem",
               "ms_ssim_up256_real", f"nn_hsv64_flagged_share_{N}", f"nn_hsv64_median_{N}", "nn_hsv64_threshold_p5",
               "n_real", "samples_png", "nn_pairs_png"]
# The weights-free quality metrics: numbers with or without Inception weights (64 px: three pyramid levels).
QUALITY_COLS = ["c2st_auc", "c2st_auc_ci_low", "c2st_auc_ci_high", "c2st_log_loss", "c2st_null_auc",
                "c2st_null_auc_ci_low", "c2st_null_auc_ci_high", "lapswd_x1e3", "lapswd_x1e3_64", "lapswd_x1e3_32",
                "lapswd_x1e3_16", "spectral_db", "spectral_bias_db"]


@pytest.fixture(scope="module")
def _shared_runs(tmp_path_factory, run_factory, synthetic_images, write_images):
    # Shared by the tests of this module: the first compare exports the runs, later ones reuse the ONNX files.
    root = tmp_path_factory.mktemp("compare_real")
    runs = [run_factory(m, model=m) for m in ("dcgan", "mlp")]
    write_images(root / "real", synthetic_images(30, size=64, seed=0))
    return runs, root / "real"


@pytest.fixture
def two_runs(_shared_runs, tmp_path):
    runs, real = _shared_runs
    return runs, real, tmp_path / "out"


def _is_png(p: Path) -> bool:
    with Image.open(p) as im:
        return im.format == "PNG" and im.size[0] > 10 and p.stat().st_size > 1000


def _check_common(out: Path) -> tuple[list[dict], dict]:
    for name in ("compare.csv", "compare.json", "compare.md"):
        assert (out / name).stat().st_size > 0
    with open(out / "compare.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["model"] for r in rows] == ["dcgan", "mlp"]
    for c in ALWAYS_COLS:
        assert c in rows[0], c
    doc = json.loads((out / "compare.json").read_text())
    prov = doc["provenance"]
    for key in ("command", "commit", "hardware", "date", "versions", "seeds", "n_generated", "n_real",
                "inception_weights", "protocol"):
        assert key in prov, key
    assert prov["n_generated"] == N and prov["command"].startswith("python -m evalkit compare ")
    assert prov["seeds"]["latents"] == 0 and prov["metrics"]["msssim"]["options"]["pairs"] == PAIRS
    assert set(prov["metrics"]) == set(METRICS) and prov["load_average"] is not None
    for plot in doc["plots"]:
        assert _is_png(out / plot), plot
    for stem in ("train_seconds_per_1k_iters", f"gen_{N}_seconds", f"gen_{N}_png_seconds", f"ms_ssim_up256_{N}",
                 f"nn_hsv64_flagged_share_{N}", "samples", "nn_pairs"):
        assert _is_png(out / f"compare_{stem}.png"), stem
    r0 = doc["rows"][0]
    run = json.loads((Path(prov["runs"]["dcgan"]["path"]) / "run.json").read_text())
    assert r0["train_seconds"] == run["wall_seconds"]                  # training time from run.json
    assert r0["train_seconds_per_1k_iters"] == pytest.approx(1000.0 * run["seconds_per_iter"])
    for c in (f"gen_{N}_seconds", f"ms_ssim_up256_{N}", f"nn_hsv64_median_{N}"):
        assert isinstance(r0[c], float) and math.isfinite(r0[c]) and r0[c] > 0
    for r in doc["rows"]:
        for c in QUALITY_COLS:
            assert isinstance(r[c], float) and math.isfinite(r[c]), (c, r[c])
        assert 0.0 <= r["c2st_auc_ci_low"] <= r["c2st_auc"] <= r["c2st_auc_ci_high"] <= 1.0
        # Every side has fewer images than the caps: all N = 24 samples against 24 of the 30 originals.
        assert (r["c2st_n_per_side"], r["c2st_null_n_per_side"], r["lapswd_n_per_side"]) == (N, 15, N)
    for stem in ("c2st_auc", "lapswd_x1e3", "spectral_db"):
        assert _is_png(out / f"compare_{stem}.png"), stem
    md = (out / "compare.md").read_text()
    assert "0.5 = indistinguishable" in md and "lower is better" in md and f"N used: {N} images per side" in md
    assert (Path(doc["provenance"]["runs"]["dcgan"]["path"]) / "export" / "generator.onnx").is_file()
    return doc["rows"], doc


@pytest.mark.slow
def test_compare_two_tiny_runs_with_random_inception(two_runs, inception_weights):
    runs, real, out = two_runs
    rc = main(["compare", *map(str, runs), "--real", str(real), "--n", str(N), "--pairs", str(PAIRS), "--out",
               str(out), "--inception-weights", str(inception_weights), "--device", "cpu"])
    assert rc == 0
    rows, doc = _check_common(out)
    prov = doc["provenance"]
    for c in INCEPTION_COLS:
        for r in rows:
            assert isinstance(r[c], float) and math.isfinite(r[c]), (c, r[c])
    assert 0.0 <= rows[0]["precision_incv3_k3"] <= 1.0 and rows[0]["is_24"] >= 1.0
    assert doc["provenance"]["inception_weights"]["sha256"]
    for stem in (f"fid_{N}", f"is_{N}", f"kid_{N}", "precision_incv3_k3", "recall_incv3_k3"):
        assert _is_png(out / f"compare_{stem}.png"), stem
    md = (out / "compare.md").read_text()
    reference = md.split("## Reference: the paper's reported Table 4")[1]
    assert "Table 4" in reference and "/" not in reference  # cites the paper, not a local path
    assert all(prov["metrics"][m]["result"] for m in METRICS)


@pytest.mark.slow
def test_compare_without_inception_weights_computes_everything_else(two_runs, monkeypatch):
    from evalkit import weights

    def offline(path=None):
        raise weights.WeightsUnavailable("no Inception weights file (test: offline)")
    monkeypatch.setattr(weights, "resolve_weights", offline)
    runs, real, out = two_runs
    rc = main(["compare", *map(str, runs), "--real", str(real), "--n", str(N), "--pairs", str(PAIRS), "--out",
               str(out)])
    assert rc == 0
    rows, doc = _check_common(out)
    for c in INCEPTION_COLS:
        assert all(r[c] == UNAVAILABLE_WEIGHTS for r in rows), c
    assert not (out / f"compare_fid_{N}.png").exists()
    md = (out / "compare.md").read_text()
    assert "--inception-weights" in md and "python -m evalkit compare" in md and "No other network" in md
    assert doc["provenance"]["inception_weights"]["status"] == UNAVAILABLE_WEIGHTS


def test_run_folder_without_run_json_is_a_one_line_error(tmp_path, capsys, synthetic_images, write_images):
    (tmp_path / "run").mkdir()
    write_images(tmp_path / "real", synthetic_images(3, size=64))
    rc = main(["compare", str(tmp_path / "run"), "--real", str(tmp_path / "real"), "--out", str(tmp_path / "out")])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert "run.json" in err and len(err.splitlines()) == 1


def test_runs_of_different_resolutions_are_refused(tmp_path, capsys, run_factory):
    a, b = run_factory("a", model="mlp"), run_factory("b", model="mlp")
    info = json.loads((b / "run.json").read_text())
    (b / "run.json").write_text(json.dumps({**info, "resolution": 128}))  # as a 128 px run records it
    rc = main(["compare", str(a), str(b), "--real", str(tmp_path), "--out", str(tmp_path / "out")])
    assert rc == 2 and "different resolutions" in capsys.readouterr().err


def test_table4_dry_run_resolves_every_table4_model_on_shared_settings(tmp_path, capsys, monkeypatch,
                                                                      synthetic_images, write_images):
    import dataclasses
    from train import models
    write_images(tmp_path / "data", synthetic_images(3, size=64))
    rc = main(["table4", "--data", str(tmp_path / "data"), "--iters", "7", "--batch-size", "8", "--runs-dir",
               str(tmp_path / "runs"), "--dry-run"])
    assert rc == 0
    cfgs = json.loads(capsys.readouterr().out)
    table4 = ["paper", "dcgan", "mlp", "fastgan"]
    assert list(cfgs) == [name for name, arch in models.MODELS.items() if arch.table4] == table4
    assert {c["model"] for c in cfgs.values()} == set(table4)
    for c in cfgs.values():
        assert (c["iters"], c["batch_size"], c["resolution"], c["seed"]) == (7, 8, 64, 0)
        assert c["data"] == str(tmp_path / "data")
    assert cfgs["paper"]["loss"] == "wgan-clip" and cfgs["dcgan"]["loss"] == "bce"  # each preset's own recipe
    assert cfgs["fastgan"]["loss"] == "hinge"
    rc = main(["table4", "--data", str(tmp_path / "data"), "--batch-size", "preset", "--dry-run"])
    assert rc == 0 and json.loads(capsys.readouterr().out)["dcgan"]["batch_size"] == 128
    # A model left out of Table 4 in train.models is left out here: no second list.
    monkeypatch.setitem(models.MODELS, "mlp", dataclasses.replace(models.MODELS["mlp"], table4=False))
    assert main(["table4", "--data", str(tmp_path / "data"), "--dry-run"]) == 0
    assert list(json.loads(capsys.readouterr().out)) == ["paper", "dcgan", "fastgan"]


def test_table4_bad_data_folder_is_a_one_line_error(tmp_path, capsys):
    assert main(["table4", "--data", str(tmp_path / "nope"), "--dry-run"]) == 2
    assert "--data" in capsys.readouterr().err


@pytest.fixture(scope="module")
def _mixed_runs(tmp_path_factory, run_factory, synthetic_images, write_images):
    # An unconditional and a 3-class run (subfolders class0..class2, as run_factory writes them), and a
    # real folder with those subfolders, 10 images each.
    root = tmp_path_factory.mktemp("compare_classes")
    runs = [run_factory("plain", model="mlp"), run_factory("cond", classes=3, n_images=9, model="mlp")]
    images = synthetic_images(30, size=64, seed=5)
    for k in range(3):
        write_images(root / "real" / f"class{k}", images[k::3], prefix=f"c{k}_")
    return runs, root / "real"


@pytest.mark.slow
def test_compare_a_conditional_run_beside_an_unconditional_one(_mixed_runs, tmp_path, inception_weights):
    from evalkit import compare_sets, features, metrics
    from export import load_sampler
    runs, real = _mixed_runs
    out = tmp_path / "out"
    rc = main(["compare", *map(str, runs), "--real", str(real), "--n", str(N), "--pairs", "6", "--out", str(out),
               "--inception-weights", str(inception_weights), "--device", "cpu", "--quiet"])
    assert rc == 0
    rows = json.loads((out / "compare.json").read_text())["rows"]
    assert [(r["model"], r["classes"]) for r in rows] == [("plain", 0), ("cond", 3)]
    for r in rows:                                        # pooled columns for both, against all 30 originals
        assert r["n_real"] == 30 and isinstance(r[f"fid_{N}"], float) and isinstance(r[f"is_{N}"], float)
    doc = json.loads((out / "compare_per_class.json").read_text())
    per_class = doc["rows"]
    assert [r["model_class"] for r in per_class] == ["cond/class0", "cond/class1", "cond/class2"]
    assert [(r["n_gen"], r["n_real"]) for r in per_class] == [(8, 10)] * 3   # 24 samples in the real proportions
    for r in per_class:
        assert isinstance(r["fid_cls"], float) and isinstance(r["kid_cls"], float)
        assert isinstance(r["ms_ssim_up256_cls"], float) and isinstance(r["ms_ssim_up256_real"], float)
        assert r["is_cls"].startswith("not computed: IS needs at least as many images as splits")
        assert r["c2st_auc"].startswith("not computed: c2st: 10 real images")      # too few for the null's halves
        assert isinstance(r["lapswd_x1e3_16"], float) and isinstance(r["spectral_db"], float)
    assert "per_class" in doc["provenance"] and "compare_per_class.md" in (out / "compare.md").read_text()
    assert (out / "compare_per_class_fid_cls.png").is_file()
    # The class-1 row is class 1's samples (same latents and labels) against the class1 subfolder.
    sampler = load_sampler(Path(runs[1]) / "export" / "generator.onnx", device="cpu")
    labels = compare_sets.class_labels(N, [10, 10, 10], seed=0)
    gen = sampler.sample(N, seed=0, labels=labels)[labels == 1]
    real1 = compare_sets.load_real_classes(real, 64)["class1"]
    f_gen, f_real = (features.extract_features(x, inception_weights, device="cpu")["pool3"] for x in (gen, real1))
    with pytest.warns(UserWarning):
        assert per_class[1]["fid_cls"] == pytest.approx(metrics.fid(f_real, f_gen)["value"], rel=1e-6)


def test_a_conditional_run_needs_the_real_class_subfolders(run_factory, tmp_path, capsys, synthetic_images,
                                                           write_images, monkeypatch):
    from evalkit import weights

    def offline(path=None):
        raise weights.WeightsUnavailable("no Inception weights file (test: offline)")
    monkeypatch.setattr(weights, "resolve_weights", offline)
    run = run_factory("cond", classes=3, n_images=9, model="mlp")
    write_images(tmp_path / "real" / "class0", synthetic_images(2, size=64, seed=1))
    write_images(tmp_path / "real" / "class1", synthetic_images(2, size=64, seed=2))
    rc = main(["compare", str(run), "--real", str(tmp_path / "real"), "--n", "6", "--pairs", "2", "--out",
               str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and "--real" in err[-1] and "class2" in err[-1] and "differ" in err[-1]

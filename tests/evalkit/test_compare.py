"""evalkit compare: two tiny runs, a random-weight Inception, every file, column and plot; the
missing-weights path; bad input."""
from __future__ import annotations

import csv
import importlib.util
import json
import math
from pathlib import Path

import pytest
from PIL import Image

from evalkit import compare
from evalkit.report import UNAVAILABLE_WEIGHTS

_spec = importlib.util.spec_from_file_location("evalkit_compare_fixtures", Path(__file__).with_name("compare_fixtures.py"))
fx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fx)

N = 24
PAIRS = 20
INCEPTION_COLS = [f"is_{N}", f"is_{N}_std", f"fid_{N}", f"kid_{N}", f"kid_{N}_std", "precision_incv3_k3",
                  "recall_incv3_k3", f"nn_incv3_flagged_share_{N}"]
ALWAYS_COLS = ["model", "train_seconds", "train_seconds_per_1k_iters", "train_iterations", f"gen_{N}_seconds",
               f"gen_{N}_png_seconds", "gen_provider", f"ms_ssim_up256_{N}", f"ms_ssim_up256_{N}_sem",
               "ms_ssim_up256_real", f"nn_hsv64_flagged_share_{N}", f"nn_hsv64_median_{N}", "nn_hsv64_threshold_p5",
               "n_real", "samples_png", "nn_pairs_png"]


@pytest.fixture(scope="module")
def _shared_runs(tmp_path_factory):
    # Shared by the tests of this module: the first compare exports the runs, later ones reuse the ONNX files.
    root = tmp_path_factory.mktemp("compare_runs")
    runs = [fx.write_tiny_run(root / "runs" / m, model=m, wall_seconds=w) for m, w in (("dcgan", 30.0), ("mlp", 6.0))]
    fx.write_patterns(root / "real", 30, seed=0)
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
    assert prov["seeds"]["latents"] == 0 and prov["protocol"]["ms_ssim_pairs"] == PAIRS
    for plot in doc["plots"]:
        assert _is_png(out / plot), plot
    for stem in ("train_seconds_per_1k_iters", f"gen_{N}_seconds", f"gen_{N}_png_seconds", f"ms_ssim_up256_{N}",
                 f"nn_hsv64_flagged_share_{N}", "samples", "nn_pairs"):
        assert _is_png(out / f"compare_{stem}.png"), stem
    r0 = doc["rows"][0]
    # Training time per 1,000 iterations from run.json (30 s for 10 iterations).
    assert r0["train_seconds_per_1k_iters"] == pytest.approx(3000.0)
    for c in (f"gen_{N}_seconds", f"ms_ssim_up256_{N}", f"nn_hsv64_median_{N}"):
        assert isinstance(r0[c], float) and math.isfinite(r0[c]) and r0[c] > 0
    assert (Path(doc["provenance"]["runs"]["dcgan"]["path"]) / "export" / "generator.onnx").is_file()
    return doc["rows"], doc


@pytest.mark.slow
def test_compare_two_tiny_runs_with_random_inception(two_runs, inception_weights):
    runs, real, out = two_runs
    rc = compare.main([*map(str, runs), "--real", str(real), "--n", str(N), "--pairs", str(PAIRS), "--out", str(out),
                       "--inception-weights", str(inception_weights), "--device", "cpu"])
    assert rc == 0
    rows, doc = _check_common(out)
    for c in INCEPTION_COLS:
        for r in rows:
            assert isinstance(r[c], float) and math.isfinite(r[c]), (c, r[c])
    assert 0.0 <= rows[0]["precision_incv3_k3"] <= 1.0 and rows[0]["is_24"] >= 1.0
    assert doc["provenance"]["inception_weights"]["sha256"]
    for stem in (f"fid_{N}", f"is_{N}", f"kid_{N}", "precision_incv3_k3", "recall_incv3_k3"):
        assert _is_png(out / f"compare_{stem}.png"), stem
    assert "## Reference: the paper's reported Table 4" in (out / "compare.md").read_text()


@pytest.mark.slow
def test_compare_without_inception_weights_computes_everything_else(two_runs, monkeypatch):
    from evalkit import inception

    def offline(path=None):
        raise inception.WeightsUnavailable("no Inception weights file (test: offline)")
    monkeypatch.setattr(inception, "resolve_weights", offline)
    runs, real, out = two_runs
    rc = compare.main([*map(str, runs), "--real", str(real), "--n", str(N), "--pairs", str(PAIRS), "--out", str(out)])
    assert rc == 0
    rows, doc = _check_common(out)
    for c in INCEPTION_COLS:
        assert all(r[c] == UNAVAILABLE_WEIGHTS for r in rows), c
    assert not (out / f"compare_fid_{N}.png").exists()
    md = (out / "compare.md").read_text()
    assert "--inception-weights" in md and "python -m evalkit compare" in md and "No other network" in md
    assert doc["provenance"]["inception_weights"]["status"] == UNAVAILABLE_WEIGHTS


def test_run_folder_without_run_json_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    fx.write_patterns(tmp_path / "real", 3, seed=0)
    rc = compare.main([str(tmp_path / "run"), "--real", str(tmp_path / "real"), "--out", str(tmp_path / "out")])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert "run.json" in err and len(err.splitlines()) == 1


def test_runs_of_different_resolutions_are_refused(tmp_path, capsys):
    a = fx.write_tiny_run(tmp_path / "a", model="mlp", resolution=64)
    b = fx.write_tiny_run(tmp_path / "b", model="mlp", resolution=128)
    rc = compare.main([str(a), str(b), "--real", str(tmp_path), "--out", str(tmp_path / "out")])
    assert rc == 2 and "different resolutions" in capsys.readouterr().err


def test_table4_dry_run_resolves_the_three_presets_on_shared_settings(tmp_path, capsys):
    from evalkit import table4
    fx.write_patterns(tmp_path / "data", 3, seed=0)
    rc = table4.main(["--data", str(tmp_path / "data"), "--iters", "7", "--batch-size", "8", "--runs-dir",
                      str(tmp_path / "runs"), "--dry-run"])
    assert rc == 0
    cfgs = json.loads(capsys.readouterr().out)
    assert list(cfgs) == ["paper", "dcgan", "mlp"]
    assert {c["model"] for c in cfgs.values()} == {"paper", "dcgan", "mlp"}
    for c in cfgs.values():
        assert (c["iters"], c["batch_size"], c["resolution"], c["seed"]) == (7, 8, 64, 0)
        assert c["data"] == str(tmp_path / "data")
    assert cfgs["paper"]["loss"] == "wgan-clip" and cfgs["dcgan"]["loss"] == "bce"  # each preset's own recipe
    rc = table4.main(["--data", str(tmp_path / "data"), "--batch-size", "preset", "--dry-run"])
    assert rc == 0 and json.loads(capsys.readouterr().out)["dcgan"]["batch_size"] == 128


def test_table4_bad_data_folder_is_a_one_line_error(tmp_path, capsys):
    from evalkit import table4
    assert table4.main(["--data", str(tmp_path / "nope"), "--dry-run"]) == 2
    assert "--data" in capsys.readouterr().err

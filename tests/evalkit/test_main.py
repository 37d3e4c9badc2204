"""python -m evalkit through the shared command-line skeleton: one verb per metric of evalkit.table, JSON on
stdout only, help with an example for every verb, one-line errors with exit 2, the module verbs."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import types
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from evalkit import weights
from evalkit.__main__ import COMMAND, main
from evalkit.table import METRICS

ROOT = Path(__file__).resolve().parents[2]


def test_fid_is_kid_pr_features_json(tmp_path, capsys, inception_weights, synthetic_images, write_images):
    a = tmp_path / "a"
    write_images(a, synthetic_images(4, size=16, seed=1))
    b = tmp_path / "b"
    write_images(b, synthetic_images(4, size=16, seed=2, style=1.0))
    w = ["--inception-weights", str(inception_weights), "--device", "cpu", "--json", "--quiet"]

    assert main(["fid", str(a), str(b), *w]) == 0
    out, err = capsys.readouterr()
    r = json.loads(out)
    assert r["metric"] == "fid" and r["value"] > 0 and r["n"] == [4, 4] and r["small_n_warning"]
    assert r["weights_sha256"] == weights.sha256_cached(inception_weights) and not r["weights_verified"]
    assert r["device"] == "cpu" and r["tf32"] is False and "float32" in r["dtype"] and r["seconds"] > 0
    assert r["seeds"] == {"sampling": 0} and r["cache_hit"] == [False, False]
    assert "2048" in err and "unverified" in err                    # warnings go to stderr

    assert main(["is", str(a), *w, "--splits", "2"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["splits"] == 2 and r["n"] == 4 and r["seeds"]["rng"] == 2020 and r["cache_hit"] == [True]
    assert r["value"] >= 1.0 and r["std"] >= 0

    assert main(["kid", str(a), str(b), *w, "--subsets", "3"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["subset_size"] == 4 and r["subsets"] == 3 and r["cache_hit"] == [True, True]

    assert main(["pr", str(a), str(b), *w]) == 0
    r = json.loads(capsys.readouterr().out)
    assert 0 <= r["precision"] <= 1 and 0 <= r["recall"] <= 1 and r["k"] == 3 and r["cache_hit"] == [True, True]

    out_npz = tmp_path / "f.npz"
    assert main(["features", str(a), "--out", str(out_npz), *w]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 4
    with np.load(out_npz) as z:
        assert z["pool3"].shape == (4, 2048) and z["logits"].shape == (4, 1008)


def test_msssim_json_labels_upsampling(tmp_path, capsys, synthetic_images, write_images):
    a = tmp_path / "a"
    write_images(a, synthetic_images(4, size=32, seed=3))
    assert main(["msssim", str(a), "--pairs", "3", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["label"] == "ms_ssim_up256" and r["upsampled"] and r["pairs"] == 3 and 0 <= r["value"] <= 1


def test_missing_weights_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch, synthetic_images, write_images):
    def offline(url, dst):
        raise urllib.error.URLError("offline")
    monkeypatch.setattr(weights, "_download", offline)
    a = tmp_path / "a"
    write_images(a, synthetic_images(2, size=16, seed=4))
    assert main(["is", str(a), "--json"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    line = err.strip().splitlines()[-1]
    assert weights.URLS[weights.DOWNLOAD_NAME] in line and weights.DOWNLOAD_NAME in line


@pytest.mark.parametrize("argv, pattern", [
    (["msssim", "{tmp}/missing"], "no such folder"),
    (["msssim", "{tmp}", "--pairs", "0"], "--pairs"),
    (["is", "{tmp}", "-n", "1"], "-n 1"),
    (["fid", "{tmp}", "{tmp}", "--inception-weights", "{tmp}/nope.pth"], "nope.pth"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, pattern):
    try:
        code = main([a.format(tmp=tmp_path) for a in argv])
    except SystemExit as e:  # argparse's own errors
        code = e.code
    assert code == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and pattern in err


def test_module_verbs_are_configured_and_run_by_their_module(monkeypatch):
    seen = []
    fake = types.ModuleType("evalkit.table4")
    fake.configure = lambda p: p.add_argument("--x", type=int)
    fake.run = lambda args: seen.append(args.x) or 7
    monkeypatch.setitem(sys.modules, "evalkit.table4", fake)
    assert main(["table4", "--x", "1"]) == 7 and seen == [1]


def test_every_metric_of_the_table_is_a_verb():
    assert [v.name for v in COMMAND.verbs][:len(METRICS)] == list(METRICS)


@pytest.mark.parametrize("verb", [None, *(v.name for v in COMMAND.verbs)])
def test_help_of_the_command_and_every_verb_exits_0_with_an_example(verb, capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"] if verb is None else [verb, "--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0
    assert f"python -m evalkit {verb or 'VERB'}" in out
    if verb is not None:
        assert f"example: python -m evalkit {verb} " in out


def test_bad_input_through_the_module_is_one_line_exit_2_without_traceback(tmp_path):
    p = subprocess.run([sys.executable, "-m", "evalkit", "kid", str(tmp_path / "missing"), str(tmp_path)],
                       capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp_path,
                       timeout=300)
    err = p.stderr.strip().splitlines()
    assert p.returncode == 2 and p.stdout == "" and len(err) == 1, p.stderr
    assert err[0].startswith("python -m evalkit kid: error: ") and "missing" in err[0] and "Traceback" not in p.stderr


def test_python_m_evalkit_runs_as_a_module(tmp_path, synthetic_images, write_images):
    a = tmp_path / "a"
    write_images(a, synthetic_images(3, size=170, seed=5))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-m", "evalkit", "msssim", str(a), "--pairs", "2", "--json"],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["label"] == "ms_ssim" and r["n"] == 3


PAIR_FLAGS = {"c2st": ["--folds", "2", "--epochs", "1", "--threads", "1"], "lapswd": [], "spectral": []}
PAIR_KEYS = {"c2st": ("c2st_auc", "c2st_auc_ci_low", "c2st_auc_ci_high", "c2st_null_auc", "null"),
             "lapswd": ("lapswd_x1e3", "lapswd_x1e3_32", "lapswd_x1e3_16", "n"),
             "spectral": ("spectral_db", "spectral_bias_db", "curve_a_db", "curve_b_db")}


@pytest.fixture
def image_pair(tmp_path, synthetic_images, write_images):
    write_images(tmp_path / "real", synthetic_images(24, size=64, seed=0))
    write_images(tmp_path / "fake", synthetic_images(24, size=64, seed=1))
    return tmp_path / "real", tmp_path / "fake"


@pytest.mark.parametrize("verb", list(PAIR_FLAGS))
def test_image_pair_verbs_print_json_and_a_table(verb, image_pair, capsys):
    real, fake = map(str, image_pair)
    assert main([verb, real, fake, "--resolution", "32", "--json", *PAIR_FLAGS[verb]]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["metric"] == verb and r["inputs"] == [real, fake] and r["seconds"] > 0
    assert r["images"] == {"resolution": 32, "source_size": [64, 64], "resized": True, "n_images": [24, 24],
                           "kinds": ["folder", "folder"]}
    for key in PAIR_KEYS[verb]:
        assert key in r, key
    assert main([verb, real, fake, "--resolution", "32", "-n", "20", *PAIR_FLAGS[verb]]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{verb}: ") and "lower is better" in out and len(out.splitlines()) >= 4
    assert "20 " in out                                            # -n 20: a seeded subset of each folder


def test_c2st_options_reach_the_test(image_pair, capsys):
    real, fake = map(str, image_pair)
    assert main(["c2st", real, fake, "--resolution", "16", "--json", "--folds", "2", "--epochs", "1", "--threads",
                 "1", "--seed", "3", "--max-per-side", "20"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert (r["folds"], r["epochs"], r["threads"], r["seed"], r["n_per_side"], r["null_n_per_side"]) == (2, 1, 1, 3,
                                                                                                          20, 10)
    assert main(["c2st", real, fake, "--max-per-side", "16"]) == 2
    assert "give at least 20 real images" in capsys.readouterr().err


@pytest.mark.parametrize("verb", list(PAIR_FLAGS))
@pytest.mark.parametrize("case, pattern", [("missing", "no such folder"), ("empty", "no image files"),
                                           ("bmp", "BMP RGB 64x64 differs from")])
def test_image_pair_verbs_refuse_bad_input_in_one_line(verb, case, pattern, image_pair, capsys, synthetic_images,
                                                       write_images):
    real, fake = image_pair
    other = fake.parent / case
    if case == "empty":
        other.mkdir()
    elif case == "bmp":
        write_images(other, synthetic_images(20, size=64, seed=1), suffix=".bmp")
    assert main([verb, str(real), str(other), "--json"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and pattern in err
    assert err.startswith(f"python -m evalkit {verb}: error: ")

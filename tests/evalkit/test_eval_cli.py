"""python -m evalkit: JSON on stdout only, one-line errors with exit 2, dispatch of the other verbs."""
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

from evalkit import inception
from evalkit.__main__ import build_parser, main

ROOT = Path(__file__).resolve().parents[2]


def test_fid_is_kid_features_json(tmp_path, capsys, inception_weights, make_images, png_folder):
    a = png_folder(tmp_path / "a", make_images(4, size=16, seed=1))
    b = png_folder(tmp_path / "b", make_images(4, size=16, seed=2, style=1.0))
    w = ["--inception-weights", str(inception_weights), "--device", "cpu", "--json", "--quiet"]

    assert main(["fid", str(a), str(b), *w]) == 0
    out, err = capsys.readouterr()
    r = json.loads(out)
    assert r["metric"] == "fid" and r["value"] > 0 and r["n"] == [4, 4] and r["small_n_warning"]
    assert r["weights_sha256"] == inception.sha256_cached(inception_weights) and not r["weights_verified"]
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

    out_npz = tmp_path / "f.npz"
    assert main(["features", str(a), "--out", str(out_npz), *w]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 4
    with np.load(out_npz) as z:
        assert z["pool3"].shape == (4, 2048) and z["logits"].shape == (4, 1008)


def test_msssim_json_labels_upsampling(tmp_path, capsys, make_images, png_folder):
    a = png_folder(tmp_path / "a", make_images(4, size=32, seed=3))
    assert main(["msssim", str(a), "--pairs", "3", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["label"] == "ms_ssim_up256" and r["upsampled"] and r["pairs"] == 3 and 0 <= r["value"] <= 1


def test_missing_weights_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch, make_images, png_folder):
    def offline(url, dst):
        raise urllib.error.URLError("offline")
    monkeypatch.setattr(inception, "_download", offline)
    a = png_folder(tmp_path / "a", make_images(2, size=16, seed=4))
    assert main(["is", str(a), "--json"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    line = err.strip().splitlines()[-1]
    assert inception.URLS[inception.DOWNLOAD_NAME] in line and inception.DOWNLOAD_NAME in line


@pytest.mark.parametrize("argv, pattern", [
    (["msssim", "{tmp}/missing"], "no such folder"),
    (["msssim", "{tmp}", "--pairs", "0"], "--pairs 0"),
    (["fid", "{tmp}", "{tmp}", "--inception-weights", "{tmp}/nope.pth"], "nope.pth"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, pattern):
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and pattern in err


def test_other_verbs_are_dispatched(monkeypatch):
    seen = []
    fake = types.ModuleType("evalkit.table4")
    fake.main = lambda argv: seen.append(argv) or 7
    monkeypatch.setitem(sys.modules, "evalkit.table4", fake)
    assert main(["table4", "--x", "1"]) == 7 and seen == [["--x", "1"]]


def test_help_ends_with_an_example():
    tail = " ".join(build_parser().format_help().split()[-14:])
    assert "example: python -m evalkit fid" in tail


def test_python_m_evalkit_runs_as_a_module(tmp_path, make_images, png_folder):
    a = png_folder(tmp_path / "a", make_images(3, size=170, seed=5))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-m", "evalkit", "msssim", str(a), "--pairs", "2", "--json"],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["label"] == "ms_ssim" and r["n"] == 3

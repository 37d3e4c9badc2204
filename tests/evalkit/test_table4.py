"""python -m evalkit table4 end to end on a tiny configuration: every stage shows on stderr (model k of
n, the training bar with its ETA, export, sampling, features, metrics), so a long run never looks hung."""
from __future__ import annotations

import json

import pytest

from evalkit.__main__ import main


@pytest.mark.slow
def test_table4_shows_each_stage_and_bar_on_stderr(tmp_path, capfd, inception_weights, synthetic_images,
                                                   write_images):
    write_images(tmp_path / "data", synthetic_images(8, size=64, seed=3))
    rc = main(["table4", "--data", str(tmp_path / "data"), "--iters", "2", "--batch-size", "4", "--n", "12",
               "--pairs", "2", "--runs-dir", str(tmp_path / "runs"), "--out", str(tmp_path / "out"),
               "--inception-weights", str(inception_weights), "--device", "cpu"])
    out, err = capfd.readouterr()
    assert rc == 0 and out.strip().endswith("compare.md")
    names = ["paper", "dcgan", "mlp", "fastgan"]
    for k, name in enumerate(names, 1):
        assert f"table4 [{k}/{len(names)}] {name}: training ({name}, 64 px, 2 iterations)" in err
        assert f"table4 [{k}/{len(names)}] {name}: exporting to ONNX" in err
        assert f"train {name}:" in err and "2/2 [" in err            # the training bar: iterations, elapsed<ETA
        for stage in ("sampling 12 images", "Inception features of 12 images", "metrics", "memorisation check"):
            assert f"compare [{k}/{len(names)}] {name}: {stage}" in err, stage
        for bar in (f"features {name}", f"metrics {name}"):
            assert bar in err, bar
    assert "features real" in err and "sample (memory)" in err
    doc = json.loads((tmp_path / "out" / "compare.json").read_text())
    rows = doc["rows"]
    assert doc["provenance"]["metrics"]["c2st"]["status"] == "not computed: see its columns"
    assert [r["model"] for r in rows] == names
    for r in rows:  # the weights-free metrics: 8 real images are too few for the C2ST's null, not for the others
        assert r["c2st_auc"].startswith("not computed: c2st: 8 real images") and "at least 20" in r["c2st_auc"]
        assert isinstance(r["lapswd_x1e3"], float) and isinstance(r["spectral_db"], float)


def test_table4_quiet_reaches_training_and_compare(tmp_path, capsys, synthetic_images, write_images):
    write_images(tmp_path / "data", synthetic_images(3, size=64))
    for flags, quiet in (([], False), (["--quiet"], True)):
        assert main(["table4", "--data", str(tmp_path / "data"), "--dry-run", *flags]) == 0
        cfgs = json.loads(capsys.readouterr().out)
        assert {c["quiet"] for c in cfgs.values()} == {quiet}     # the training bar shows unless --quiet


def test_table4_dtype_reaches_every_models_training_config(tmp_path, capsys, synthetic_images, write_images):
    write_images(tmp_path / "data", synthetic_images(3, size=64))
    for flags, dtype in (([], "auto"), (["--dtype", "fast"], "fast"), (["--dtype", "fp32"], "fp32")):
        assert main(["table4", "--data", str(tmp_path / "data"), "--dry-run", *flags]) == 0
        cfgs = json.loads(capsys.readouterr().out)
        assert len(cfgs) == 4 and {c["dtype"] for c in cfgs.values()} == {dtype}

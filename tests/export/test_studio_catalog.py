"""The studio's model list and opening a model: every exported .onnx found once with its facts; a corrupt
file, a sidecar of another export or an unreadable sidecar refused in one line naming the file."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from export.sampler import ModelFileError
from export.studio import catalog


def _copy_export(run: Path, dst: Path) -> Path:
    shutil.copytree(run / "export", dst)
    return dst / "generator.onnx"


def test_models_are_found_in_folders_and_as_files_once_each(exported, tmp_path):
    a = _copy_export(exported, tmp_path / "runs" / "a" / "export")
    b = _copy_export(exported, tmp_path / "runs" / "b" / "export")
    (tmp_path / "runs" / "notes.txt").write_text("not a model")
    found = catalog.find_models([tmp_path / "runs", a, tmp_path / "missing"])
    assert found == sorted({a.resolve(), b.resolve(), a.with_name("generator_fp16.onnx").resolve(),
                            b.with_name("generator_fp16.onnx").resolve()})


def test_an_entry_lists_the_sidecars_facts(exported_cond):
    entry = catalog.read_entry(exported_cond / "export" / "generator.onnx")
    f = entry.facts()
    assert (f["model"], f["resolution"], f["classes"], f["precision"]) == ("paper", 64, 3, "fp32")
    assert f["iteration"] == json.loads((exported_cond / "export" / "generator.json").read_text())["iteration"]
    label = entry.label()
    assert label.startswith("paper · 64 px · iteration") and "3 classes" in label and label.endswith("generator.onnx")


def test_an_opened_model_carries_its_sidecars_sha256(exported):
    model = catalog.open_model(exported / "export" / "generator.onnx", "cpu")
    side = json.loads((exported / "export" / "generator.json").read_text())
    assert model.sha256 == side["model_sha256"] and model.prefix == side["model_sha256"][:8]
    assert catalog.class_names(model.sampler) == []


def test_a_corrupt_onnx_file_is_refused_in_one_line(tmp_path):
    bad = tmp_path / "generator.onnx"
    bad.write_bytes(b"\x08\x07not a protobuf at all" * 50)
    with pytest.raises(ModelFileError) as e:
        catalog.open_model(bad, "cpu")
    assert "not a usable ONNX model" in str(e.value) and str(bad) in str(e.value) and "\n" not in str(e.value)


def test_a_model_changed_after_export_is_refused_by_its_sidecar(exported, tmp_path):
    onnx = _copy_export(exported, tmp_path / "x")
    onnx.write_bytes(onnx.read_bytes()[:-64] + bytes(64))
    with pytest.raises(ModelFileError, match="SHA-256 does not match"):
        catalog.open_model(onnx, "cpu")


def test_a_sidecar_of_another_export_is_refused_by_the_graph_check(exported, exported_cond, tmp_path):
    """The conditional export's sidecar beside the unconditional graph, its checksum made to match."""
    onnx = _copy_export(exported, tmp_path / "x")
    side = json.loads((exported_cond / "export" / "generator.json").read_text())
    side["model_sha256"] = json.loads(onnx.with_suffix(".json").read_text())["model_sha256"]
    onnx.with_suffix(".json").write_text(json.dumps(side))
    with pytest.raises(ModelFileError) as e:
        catalog.open_model(onnx, "cpu")
    msg = str(e.value)
    assert "3 classes" in msg and "no class input" in msg and "re-export" in msg and "\n" not in msg


def test_an_unreadable_sidecar_is_named(exported, tmp_path):
    onnx = _copy_export(exported, tmp_path / "x")
    onnx.with_suffix(".json").write_text("{ half a sidecar")
    assert "not valid JSON" in catalog.read_entry(onnx).problem
    assert catalog.read_entry(onnx).label().endswith("(sidecar unreadable)")
    with pytest.raises(ModelFileError, match="not valid JSON"):
        catalog.open_model(onnx, "cpu")

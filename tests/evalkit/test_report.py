"""evalkit.report: one writer for csv, json, md and plots, with provenance."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from evalkit import report
from evalkit.report import UNAVAILABLE_WEIGHTS, BarPlot
from inkwash.provenance import provenance
from train.images import save_png


def _rows(tmp_path):
    save_png(tmp_path / "samples_a.png", np.full((8, 8, 3), 200, np.uint8))
    save_png(tmp_path / "samples_b.png", np.full((8, 8, 3), 20, np.uint8))
    return [{"model": "a", "fid_1k": 12.5, "is_1k": 2.0, "is_1k_std": 0.1, "kid_1k": UNAVAILABLE_WEIGHTS,
             "samples_png": "samples_a.png"},
            {"model": "b", "fid_1k": 30.25, "is_1k": 1.5, "is_1k_std": 0.2, "kid_1k": UNAVAILABLE_WEIGHTS,
             "samples_png": "samples_b.png", "extra": "only here"}]


def test_n_label_names_the_sample_count():
    assert report.n_label(10_000) == "10k"
    assert report.n_label(1000) == "1k"
    assert report.n_label(500) == "500"
    assert report.n_label(1500) == "1500"


def test_write_result_writes_csv_json_md_and_plots(tmp_path):
    rows = _rows(tmp_path)
    prov = provenance(["x"], n_generated=1000, metrics={"fid": {"function": "fid_incv3", "options": {}}})
    paths = report.write_result(tmp_path / "compare", rows, prov,
                                plots=[BarPlot("is_1k", "IS", "IS"), BarPlot("fid_1k", "FID", "FID"),
                                       BarPlot("kid_1k", "KID", "KID")],
                                image_plots={"samples_png": "samples"}, notes=["a note"],
                                reference_md="## Reference block\n\npaper numbers")
    with open(paths["csv"], newline="") as f:
        got = list(csv.DictReader(f))
    assert [r["model"] for r in got] == ["a", "b"]
    assert got[0]["kid_1k"] == UNAVAILABLE_WEIGHTS and got[0]["extra"] == "" and got[1]["extra"] == "only here"
    assert float(got[1]["fid_1k"]) == 30.25
    doc = json.loads(paths["json"].read_text())
    assert doc["rows"][0]["fid_1k"] == 12.5 and doc["provenance"]["n_generated"] == 1000
    md = paths["md"].read_text()
    assert "## Provenance" in md and "## Reference block" in md and "a note" in md and "30.25" in md
    assert "- **metrics**:\n  - **fid**: function: fid_incv3" in md   # one line per metric
    # Bars only for numeric columns; KID is unavailable so it has no plot.
    assert (tmp_path / "compare_is_1k.png").stat().st_size > 1000
    assert (tmp_path / "compare_fid_1k.png").stat().st_size > 1000
    assert not (tmp_path / "compare_kid_1k.png").exists()
    assert (tmp_path / "compare_samples.png").stat().st_size > 1000
    assert set(doc["plots"]) == {"compare_is_1k.png", "compare_fid_1k.png", "compare_samples.png"}


def test_write_result_refuses_no_rows(tmp_path):
    with pytest.raises(ValueError, match="rows"):
        report.write_result(tmp_path / "x", [], {})

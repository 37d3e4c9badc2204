"""Design sheets: latent walks, byte-identical PNG/PDF, and `python -m export design` end to end.

The end-to-end tests use the `exported` / `exported_cond` fixtures of tests/export/conftest.py:
tiny 64 px paper generators after a few real steps, exported to ONNX.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from export import design, garments, sheets
from export.__main__ import main


def design_main(argv: list[str]) -> int:
    """`python -m export design ARGV` through the command-line skeleton."""
    return main(["design", *argv])


def _model(run) -> str:
    return str(run / "export" / "generator.onnx")


def test_slerp_hits_both_ends_and_keeps_the_norm_on_the_arc():
    rng = np.random.default_rng(0)
    z0, z1 = rng.standard_normal(100), rng.standard_normal(100)
    z1 *= np.linalg.norm(z0) / np.linalg.norm(z1)
    path = sheets.slerp(z0, z1, np.linspace(0, 1, 7))
    np.testing.assert_allclose(path[0], z0, atol=1e-5)
    np.testing.assert_allclose(path[-1], z1, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), np.linalg.norm(z0), rtol=1e-5)
    lerp_mid = 0.5 * (z0 + z1)
    assert np.linalg.norm(path[3]) > np.linalg.norm(lerp_mid)  # linear interpolation would shrink it


def test_variations_are_seeded_and_grow_away_from_the_design():
    z = np.random.default_rng(1).standard_normal(100).astype(np.float32)
    a, s = sheets.variation_latents(z, seed=7, n=6, sigma=0.3)
    b, _ = sheets.variation_latents(z, seed=7, n=6, sigma=0.3)
    c, _ = sheets.variation_latents(z, seed=8, n=6, sigma=0.3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_allclose(s, 0.3 * np.arange(1, 7) / 6)
    dist = np.linalg.norm(a - z, axis=1)
    assert dist[0] < dist[-1] and dist[0] < 0.2 * np.linalg.norm(z)


def test_pdf_and_png_bytes_are_reproducible_and_undated():
    sheet = np.random.default_rng(2).integers(0, 256, (120, 170, 3), dtype=np.uint8)
    pdf = sheets.pdf_bytes(sheet, "IW-test")
    assert pdf.startswith(b"%PDF") and pdf == sheets.pdf_bytes(sheet, "IW-test")
    assert b"CreationDate" not in pdf and b"ModDate" not in pdf
    png = sheets.png_bytes(sheet)
    assert png.startswith(b"\x89PNG") and png == sheets.png_bytes(sheet)
    assert b"tIME" not in png


def test_palette_lists_main_colours_by_share():
    img = np.zeros((10, 10, 3), np.uint8)
    img[:7] = (200, 30, 30)
    img[7:] = (20, 40, 220)
    pal = sheets.palette(img, k=2)
    assert [p[0] for p in pal] == [(200, 30, 30), (20, 40, 220)]
    assert pal[0][1] == pytest.approx(0.7)


@pytest.mark.slow
@pytest.mark.parametrize("garment", garments.GARMENTS)
def test_design_sheet_for_every_garment(exported, tmp_path, garment):
    out = tmp_path / garment
    assert design_main([_model(exported), "--out", str(out), "--n", "1", "--seed", "3", "--steps", "3",
                        "--garments", garment, "--quiet"]) == 0
    stems = sorted(p.stem for p in out.glob("IW-*.png"))
    assert len(stems) == 1 and stems[0].endswith("-S0003")
    png, pdf = out / f"{stems[0]}.png", out / f"{stems[0]}.pdf"
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 100_000
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 100_000
    side = json.loads((out / f"{stems[0]}.json").read_text())
    assert side["garments"]["names"] == [garment] and side["seed"] == 3 and "date" in side
    assert side["files"]["png"]["name"] == png.name
    assert side["tiling"]["seam_score_after"] <= 1.5
    assert (out / side["tile"]).is_file()
    rows = (out / "designs.csv").read_text().splitlines()
    assert rows[0].startswith("design_id,seed,class") and len(rows) == 2


@pytest.mark.slow
def test_same_seed_gives_same_bytes_whatever_n(exported, tmp_path):
    args = ["--garments", "tshirt,tote", "--steps", "3", "--rotation", "20", "--repeat-scale", "0.3", "--quiet"]
    assert design_main([_model(exported), "--out", str(tmp_path / "a"), "--n", "2", "--seed", "4", *args]) == 0
    assert design_main([_model(exported), "--out", str(tmp_path / "b"), "--n", "1", "--seed", "5", *args]) == 0
    (stem,) = [p.stem for p in (tmp_path / "b").glob("IW-*.png")]
    for ext in ("png", "pdf"):
        assert (tmp_path / "a" / f"{stem}.{ext}").read_bytes() == (tmp_path / "b" / f"{stem}.{ext}").read_bytes()
    other = [p for p in (tmp_path / "a").glob("IW-*.png") if p.stem != stem]
    assert len(other) == 1 and other[0].read_bytes() != (tmp_path / "b" / f"{stem}.png").read_bytes()
    # Another repeat scale, everything else equal, gives another sheet.
    changed = [a if a != "0.3" else "0.6" for a in args]
    assert design_main([_model(exported), "--out", str(tmp_path / "c"), "--n", "1", "--seed", "5", *changed]) == 0
    assert (tmp_path / "c" / f"{stem}.png").read_bytes() != (tmp_path / "b" / f"{stem}.png").read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize("option, value, part", [
    ("repeat_scale", 0.6, "garments"), ("rotation", 0.0, "garments"), ("method", "feather", "tile"),
    ("band", 0.25, "tile"), ("sigma", 0.2, "strips")])
def test_each_option_changes_the_part_of_the_sheet_it_names(exported, option, value, part):
    """Compared on the pictures themselves (the sheet's printed command would differ anyway)."""
    import dataclasses
    from export import load_sampler
    sampler = load_sampler(_model(exported), device="cpu")
    base = design.DesignConfig(model=Path(_model(exported)), n=1, seed=3, garments="tshirt", steps=3,
                               rotation=20.0, repeat_scale=0.3, quiet=True)

    def picture(cfg):
        content, _, _ = design.make_design(sampler, cfg, 3, ["tshirt"], "0" * 64)
        return {"garments": np.stack(list(content.garments_u8.values())), "tile": content.tile_u8,
                "strips": np.concatenate([s[1] for s in content.strips])}[part]
    assert not np.array_equal(picture(base), picture(dataclasses.replace(base, **{option: value})))
    assert np.array_equal(picture(base), picture(dataclasses.replace(base)))


@pytest.mark.slow
def test_conditional_model_walks_within_and_across_classes(exported_cond, tmp_path):
    assert design_main([_model(exported_cond), "--out", str(tmp_path), "--n", "1", "--seed", "4", "--steps", "3",
                        "--garments", "scarf", "--quiet", "--no-pdf"]) == 0
    (side_path,) = tmp_path.glob("IW-*.json")
    side = json.loads(side_path.read_text())
    assert side["class"] == 4 % 3 and side_path.stem.endswith("-S0004-C1")
    assert side["class_sweep"] == [0, 1, 2] and side["class_name"] == side["model"]["class_names"][1]
    assert "pdf" not in side["files"] and not list(tmp_path.glob("*.pdf"))


@pytest.mark.slow
def test_design_takes_the_class_by_name_and_prints_its_index(exported_cond, tmp_path):
    assert design_main([_model(exported_cond), "--out", str(tmp_path), "--n", "1", "--seed", "4", "--steps", "3",
                        "--garments", "tote", "--label", "class2", "--quiet", "--no-pdf"]) == 0
    (side_path,) = tmp_path.glob("IW-*.json")
    side = json.loads(side_path.read_text())
    assert side["class"] == 2 and side["class_name"] == "class2" and side_path.stem.endswith("-S0004-C2")
    assert side["command"].endswith("--label 2")


def test_design_with_an_unknown_class_lists_the_classes(exported_cond, tmp_path, capsys):
    assert design_main([_model(exported_cond), "--out", str(tmp_path), "--n", "1", "--label", "stripes",
                        "--quiet"]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("python -m export")]  # log lines aside
    assert len(err) == 1 and "--label stripes" in err[0] and "0 class0, 1 class1, 2 class2" in err[0]


def test_sheet_sidecar_says_where_its_bytes_repeat(exported):
    from export import load_sampler
    sampler = load_sampler(_model(exported), device="cpu", deterministic=True)
    repro = design.reproducibility(sampler)
    assert repro["byte_identical"] == design.BYTE_IDENTICAL and "same machine" in repro["byte_identical"]
    assert repro["provider"] == "CPUExecutionProvider" and repro["deterministic_compute"] is True
    assert {"numpy", "pillow", "matplotlib"} <= set(repro["versions"])


@pytest.mark.gpu
def test_design_on_cuda_is_byte_identical_across_sessions(exported, tmp_path):
    from export import providers
    if providers.cuda_session(_model(exported)) is None:
        pytest.skip("the onnxruntime CUDA provider does not start here (python -m export env says why)")
    args = ["--n", "1", "--seed", "3", "--steps", "3", "--garments", "tshirt", "--device", "cuda", "--quiet"]
    for out in ("a", "b"):
        assert design_main([_model(exported), "--out", str(tmp_path / out), *args]) == 0
    (png,) = (tmp_path / "a").glob("IW-*.png")
    assert png.read_bytes() == (tmp_path / "b" / png.name).read_bytes()
    side = json.loads(png.with_suffix(".json").read_text())
    assert side["reproducibility"]["provider_options"]["cudnn_conv_algo_search"] == "DEFAULT"


@pytest.mark.parametrize("argv, field", [
    (["--garments", "hat"], "--garments"),
    (["--repeat-scale", "0"], "--repeat-scale"),
    (["--n", "0"], "--n"),
    (["--band", "0.9"], "--band"),
])
def test_bad_options_exit_2_with_one_line(tmp_path, capsys, argv, field):
    assert design_main([str(tmp_path / "none.onnx"), "--out", str(tmp_path / "o"), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and field in err[0]


def test_missing_model_exits_2(tmp_path, capsys):
    assert design_main([str(tmp_path / "none.onnx"), "--out", str(tmp_path / "o")]) == 2
    assert "none.onnx" in capsys.readouterr().err


def test_dry_run_prints_the_config(tmp_path, capsys):
    assert design_main([str(tmp_path / "m.onnx"), "--out", str(tmp_path), "--dry-run", "--rotation", "30"]) == 0
    assert "rotation: 30.0" in capsys.readouterr().out


@pytest.mark.slow
def test_label_on_an_unconditional_model_is_refused(exported, tmp_path, capsys):
    assert design_main([_model(exported), "--out", str(tmp_path), "--n", "1", "--label", "0", "--quiet"]) == 2
    assert "--label" in capsys.readouterr().err

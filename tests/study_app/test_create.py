"""`python -m study_app create`: identical re-encoding, one byte length, opaque ids, pools, errors."""
from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy.engine import make_url

from study_app import images as img
from study_app.__main__ import main as cli
from study_app.config import ExclusionRules
from study_app.store import Store

from .conftest import make_study, write_folder


def _decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def test_create_stores_opaque_identically_encoded_images(study, sqlite_url):
    store = Store(sqlite_url)
    frame = store.images_frame(study["name"])
    assert (study["real"], study["generated"], study["models"]) == (34, 30, ["a", "b"])
    assert len(frame) == 64 and set(frame["kind"]) == {"main"}
    sizes, chunks = set(), set()
    for row in frame.itertuples():
        png = Path(row.path).read_bytes()
        assert png == store.image_png(row.image_id)
        assert re.fullmatch(r"[0-9a-f]{24}", row.image_id)
        assert Path(row.path).name == f"{row.image_id}.png" and Path(row.path).parent == Path(study["image_dir"])
        im = Image.open(io.BytesIO(png))
        assert (im.format, im.mode, im.size) == ("PNG", "RGB", (256, 256))
        sizes.add(len(png))
        chunks.add(tuple(img.png_chunks(png)))
    assert sizes == {study["png_bytes"]} and study["png_bytes"] % img.PAD_QUANTUM == 0
    # The same chunk layout for every image: no metadata, one padding chunk before IEND.
    assert len(chunks) == 1
    layout = list(chunks.pop())
    assert layout == [b"IHDR", b"IDAT", b"paDd", b"IEND"]


def test_reals_are_reduced_to_the_generator_resolution_before_upscaling(study, sqlite_url):
    # The generators here make 64 px images and the display is 256 px: a real image must carry
    # no more detail than a 64 px one, exactly like the upscaled fakes.
    frame = Store(sqlite_url).images_frame(study["name"])
    for row in frame.itertuples():
        a = _decode(Path(row.path).read_bytes())
        small = Image.fromarray(a).resize((64, 64), Image.Resampling.LANCZOS)
        again = np.asarray(small.resize((256, 256), Image.Resampling.LANCZOS))
        assert np.abs(a.astype(int) - again).mean() < 3.0, row.is_generated
    assert study["generator_resolution"] == 64


def test_to_display_keeps_full_detail_when_the_generator_matches_the_display():
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (300, 256, 3), dtype=np.uint8)
    out = img.to_display(Image.fromarray(noise), 256, 256)
    assert out.shape == (256, 256, 3) and np.array_equal(out, noise[22:278])   # centre crop only


def test_padding_is_invisible_to_decoders():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    png = img.encode_png(a)
    padded = img.pad_png(png, 8192)
    assert len(padded) == 8192 and np.array_equal(_decode(padded), a)
    with pytest.raises(ValueError):
        img.pad_png(png, len(png) + 5)


def test_practice_and_catch_images_are_set_aside(sqlite_url, tiny_folders, tmp_path):
    s = make_study(sqlite_url, tiny_folders, name="pc", practice=2, catch=2, image_dir=tmp_path / "i")
    frame = Store(sqlite_url).images_frame("pc")
    counts = frame.groupby("kind").size().to_dict()
    assert counts == {"main": 60, "practice": 2, "catch": 2} and s["real"] == 31
    prac = frame[frame["kind"] == "practice"]
    assert sorted(prac["is_generated"]) == [False, True]
    catch = frame[frame["kind"] == "catch"]
    assert catch["model"].isna().all()
    # A catch image carries its instruction: it differs strongly from plain patterns in the box.
    box = _decode(Path(catch["path"].iloc[0]).read_bytes())[110:146, 40:216]
    assert (box > 240).mean() > 0.5


def test_render_catch_draws_the_expected_answer():
    base = np.full((256, 256, 3), 90, np.uint8)
    real, gen = img.render_catch(base, "real"), img.render_catch(base, "generated")
    assert not np.array_equal(real, gen) and (real != base).any()


def test_cli_create_prints_the_serve_command(sqlite_url, tiny_folders, tmp_path, capsys):
    rc = cli(["create", "--name", "cli", "--real", str(tiny_folders["real"]), "--allow-mixed-sizes", "real",
              "--fake", f"m={tiny_folders['fake_a']}", "--fake", f"n={tiny_folders['fake_b']}",
              "--db", sqlite_url, "--image-dir", str(tmp_path / "imgs"), "--disclose-ratio",
              "--no-exclude-identical-answers", "--min-median-ms", "200", "--min-view-ms", "300"])
    assert rc == 0
    assert capsys.readouterr().out.strip() == f"python -m study_app --db {sqlite_url} --study cli"
    o = Store(sqlite_url).get_study("cli").options
    assert o.disclose_ratio is True and o.models == ("m", "n") and o.min_view_ms == 300
    assert o.exclusion == ExclusionRules(exclude_failed_catch=True, exclude_identical_answers=False,
                                         min_median_response_ms=200)


@pytest.mark.parametrize("change, message", [
    ({"--real": "/no/such/dir"}, "--real /no/such/dir: not a folder"),
    ({"--fake": "/no/such/dir"}, "--fake /no/such/dir: not a folder"),
    ({"--practice": "3"}, "--practice: must be an even number"),
    ({"--name": "bad name!"}, "--name 'bad name!'"),
    ({"--per-class": "40"}, "need 40 (per class)"),
    ({"--per-class": "20", "--fake": "X"}, "--fake X: not a folder"),
    ({"--consent-file": "/no/consent.md"}, "--consent-file /no/consent.md: no such file"),
])
def test_cli_create_rejects_bad_input_with_one_line(change, message, sqlite_url, tiny_folders, caplog):
    opts = {"--name": "ok", "--real": str(tiny_folders["real"]), "--fake": str(tiny_folders["fake_a"]),
            "--db": sqlite_url, "--allow-mixed-sizes": "real", **change}
    args = ["create", *[x for kv in opts.items() for x in kv], "--fake", str(tiny_folders["fake_b"])]
    assert cli(args) == 2
    assert message in caplog.text
    assert not Path(make_url(sqlite_url).database).exists()      # refused input makes no database


def test_cli_create_needs_enough_images_per_model(sqlite_url, tiny_folders, caplog):
    assert cli(["create", "--name", "one", "--real", str(tiny_folders["real"]), "--allow-mixed-sizes", "real",
                "--fake", str(tiny_folders["fake_a"]), "--db", sqlite_url]) == 2
    assert "generated pool 'fake_a': 15 images; need 25" in caplog.text


def test_cli_create_refuses_an_existing_name(study, sqlite_url, tiny_folders, caplog):
    rc = cli(["create", "--name", study["name"], "--real", str(tiny_folders["real"]),
              "--allow-mixed-sizes", "real", "--fake", str(tiny_folders["fake_a"]), "--db", sqlite_url])
    assert rc == 2 and "exists" in caplog.text


class _FakeSampler:
    """Stands in for export.load_sampler's object (same attributes and sample signature)."""
    provider, resolution, latent_dim, num_classes, class_names = "CPUExecutionProvider", 32, 8, 0, []

    def __init__(self, path):
        self.path = path

    def sample(self, n, seed=0, batch_size=64, labels=None):
        rng = np.random.default_rng(seed)
        return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)


def test_model_fakes_are_sampled_and_named_after_the_run(sqlite_url, tiny_folders, tmp_path, monkeypatch):
    import types
    onnx = tmp_path / "runs" / "demo" / "export" / "generator.onnx"
    onnx.parent.mkdir(parents=True)
    onnx.write_bytes(b"stand-in")
    module = types.ModuleType("export")
    module.load_sampler = lambda path, device="auto": _FakeSampler(path)
    monkeypatch.setitem(sys.modules, "export", module)
    rc = cli(["create", "--name", "gen", "--real", str(tiny_folders["real"]), "--allow-mixed-sizes", "real",
              "--model", str(onnx),
              "--n", "30", "--db", sqlite_url, "--image-dir", str(tmp_path / "g")])
    assert rc == 0
    frame = Store(sqlite_url).images_frame("gen")
    assert set(frame.loc[frame["is_generated"], "model"]) == {"demo"}
    assert frame["is_generated"].sum() == 30
    assert Store(sqlite_url).get_study("gen").options.generator_resolution == 32


def test_model_option_needs_n(sqlite_url, tiny_folders, tmp_path, caplog):
    onnx = tmp_path / "g.onnx"
    onnx.write_bytes(b"x")
    assert cli(["create", "--name", "g", "--real", str(tiny_folders["real"]), "--allow-mixed-sizes", "real",
                "--model", str(onnx), "--db", sqlite_url]) == 2
    assert "--n:" in caplog.text


def test_pools_larger_than_per_class_give_respondents_different_subsets(study, sqlite_url):
    store = Store(sqlite_url)
    plans = [set(store.create_respondent(study["name"]).plan) for _ in range(4)]
    assert all(len(p) == 50 for p in plans) and len(set.union(*plans)) > 50


def test_folders_of_mixed_sizes_are_cropped_to_squares(sqlite_url, tmp_path):
    real = write_folder(tmp_path / "r", 6, (300, 120), 5, smooth=False, suffix=".jpg")
    fakes = {f"fake_{m}": write_folder(tmp_path / m, 3, (256, 256), seed, smooth=True)
             for m, seed in (("a", 6), ("b", 7))}
    s = make_study(sqlite_url, {"real": real, **fakes}, name="mixed", per_class=5)
    assert s["generator_resolution"] == 256 and s["generated"] == 6
    for row in Store(sqlite_url).images_frame("mixed").itertuples():
        assert Image.open(row.path).size == (256, 256)


@pytest.mark.slow
def test_fakes_sampled_from_a_real_exported_generator(run_factory, sqlite_url, tiny_folders, tmp_path):
    run = run_factory("tiny")          # trained by the real loop at 64 px, exported by the real CLI
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-m", "export", "onnx", str(run)], check=True, capture_output=True,
                   cwd=root, env={**os.environ, "PYTHONPATH": str(root)})
    onnx = run / "export" / "generator.onnx"
    rc = cli(["create", "--name", "onnx", "--real", str(tiny_folders["real"]), "--allow-mixed-sizes", "real",
              "--model", str(onnx),
              "--n", "26", "--device", "cpu", "--db", sqlite_url, "--image-dir", str(tmp_path / "o")])
    assert rc == 0
    store = Store(sqlite_url)
    frame = store.images_frame("onnx")
    fakes = frame[frame["is_generated"]]
    assert len(fakes) == 26 and set(fakes["model"]) == {"tiny"}
    assert store.get_study("onnx").options.generator_resolution == 64
    assert len({len(Path(p).read_bytes()) for p in frame["path"]}) == 1


def test_a_broken_model_file_is_refused_with_one_line(sqlite_url, tiny_folders, tmp_path, caplog):
    pytest.importorskip("export.sampler")
    onnx = tmp_path / "generator.onnx"
    onnx.write_bytes(b"not an onnx graph")
    rc = cli(["create", "--name", "bad", "--real", str(tiny_folders["real"]), "--allow-mixed-sizes", "real",
              "--model", str(onnx),
              "--n", "26", "--device", "cpu", "--db", sqlite_url])
    assert rc == 2 and f"--model {onnx}" in caplog.text


def _stray(folder: Path, size: tuple[int, int]) -> Path:
    """`folder` plus one odd-sized file, as a stray export or a thumbnail would be."""
    Image.fromarray(np.full((size[1], size[0], 3), 128, np.uint8)).save(folder / "zz_stray.png")
    return folder


def test_a_side_of_mixed_sizes_is_refused_unless_asked_for(sqlite_url, tmp_path, caplog):
    real = write_folder(tmp_path / "real", 6, (96, 96), 1, smooth=False)
    fake = _stray(write_folder(tmp_path / "fake", 6, (64, 64), 2, smooth=True), (17, 900))
    args = ["create", "--name", "m", "--real", str(real), "--fake", f"g={fake}", "--per-class", "4",
            "--db", sqlite_url]
    assert cli(args) == 2
    assert "--fake g=" in caplog.text and "images of 2 sizes (64x64: 6, 17x900: 1; e.g." in caplog.text
    assert "zz_stray.png); give one size, or --allow-mixed-sizes fake" in caplog.text
    assert cli([*args, "--allow-mixed-sizes", "fake"]) == 0        # asked for: the smallest side rules
    assert Store(sqlite_url).get_study("m").options.generator_resolution == 17


def test_files_smaller_than_a_pattern_are_refused(sqlite_url, tmp_path, caplog):
    real = _stray(write_folder(tmp_path / "real", 6, (96, 96), 1, smooth=False), (8, 8))
    fake = write_folder(tmp_path / "fake", 6, (64, 64), 2, smooth=True)
    assert cli(["create", "--name", "s", "--real", str(real), "--fake", str(fake), "--per-class", "4",
                "--allow-mixed-sizes", "real", "--db", sqlite_url]) == 2
    assert "zz_stray.png: 8x8 px is too small for a pattern (minimum 16 px)" in caplog.text


@pytest.mark.parametrize("fake", ["same", "inside"])
def test_the_same_files_cannot_be_real_and_generated(fake, sqlite_url, tmp_path, caplog):
    real = write_folder(tmp_path / "real", 8, (64, 64), 1, smooth=False)
    folder = real if fake == "same" else write_folder(real / "sub", 6, (64, 64), 2, smooth=True)
    assert cli(["create", "--name", "x", "--real", str(real), "--fake", f"g={folder}", "--per-class", "4",
                "--db", sqlite_url]) == 2
    assert "--fake g: " in caplog.text and "is also in --real; real and generated images" in caplog.text


def test_sixteen_bit_real_images_are_shown_as_training_decodes_them(sqlite_url, tmp_path):
    real, fake = tmp_path / "real", write_folder(tmp_path / "fake", 6, (64, 64), 2, smooth=True)
    real.mkdir()
    ramp = np.tile(np.linspace(0, 255, 64).astype(np.uint16)[None, :], (64, 1))
    for i in range(6):
        Image.fromarray(ramp * 257).save(real / f"r{i}.png")          # 16-bit grey, mean ~127
    make_study(sqlite_url, {"real": real, "fake_a": fake}, name="deep", per_class=4)
    frame = Store(sqlite_url).images_frame("deep")
    for row in frame[~frame["is_generated"]].itertuples():
        a = _decode(Path(row.path).read_bytes()).astype(float)
        assert 110 < a.mean() < 145 and (a > 250).mean() < 0.1          # not nearly white


@pytest.mark.db
def test_the_printed_postgresql_command_works_with_the_password_from_the_environment(
        pg_url, tiny_folders, tmp_path, capsys, monkeypatch):
    import shlex
    password = make_url(pg_url).password
    rc = cli(["create", "--name", "pg", "--real", str(tiny_folders["real"]), "--allow-mixed-sizes", "real",
              "--fake", f"a={tiny_folders['fake_a']}", "--fake", f"b={tiny_folders['fake_b']}",
              "--db", pg_url, "--image-dir", str(tmp_path / "i")])
    command = capsys.readouterr().out.strip()
    assert rc == 0 and password and f":{password}@" not in command and "***" not in command
    argv = shlex.split(command)
    assert argv[:3] == ["python", "-m", "study_app"]
    monkeypatch.setenv("PGPASSWORD", password)
    assert cli([*argv[3:], "--dry-run"]) == 0
    assert "STUDY_NAME=pg" in capsys.readouterr().out


def test_an_unopenable_database_is_one_line_and_writes_no_image(tiny_folders, tmp_path, caplog):
    args = ["create", "--name", "x", "--real", str(tiny_folders["real"]), "--allow-mixed-sizes", "real",
            "--fake", f"a={tiny_folders['fake_a']}", "--fake", f"b={tiny_folders['fake_b']}",
            "--db", "sqlite:////proc/x.db", "--image-dir", str(tmp_path / "i")]
    assert cli(args) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors == ["python -m study_app create: error: --db sqlite:////proc/x.db: cannot open the "
                      "database (unable to open database file); check the path, its permissions or the "
                      "database server"]
    assert list((tmp_path / "i").iterdir()) == []

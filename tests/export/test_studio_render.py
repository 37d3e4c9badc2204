"""The studio's renderer and downloads: one model call per grid and none for tiles already drawn, the
shared cache, the files a designer takes away, and design sheets byte-identical to `python -m export design`."""
from __future__ import annotations

import csv
import io
import shlex
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from export.__main__ import main
from export.studio import catalog, files
from export.studio.recipes import Recipe, Seed, grid, latent_vector, parse
from export.studio.render import Cache, Renderer


@pytest.fixture(scope="module")
def model(exported):
    return catalog.open_model(exported / "export" / "generator.onnx", "cpu")


@pytest.fixture(scope="module")
def cond(exported_cond):
    return catalog.open_model(exported_cond / "export" / "generator.onnx", "cpu")


def _recipes(m, mode="browse", n=8, start=0, label=None, **kw):
    return [Recipe(m.prefix, label, z) for z in grid(mode, n, start, **kw)]


def _png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_a_grid_is_one_model_call_and_tiles_already_drawn_cost_none(model):
    rd = Renderer()
    first = rd.patterns(model, _recipes(model, n=8))
    assert (rd.model_calls, rd.generated) == (1, 8)
    rd.grid_pngs(model, _recipes(model, n=8))
    assert rd.model_calls == 1
    overlap = rd.patterns(model, _recipes(model, n=8, start=4))       # seeds 4..11: four are new
    assert (rd.model_calls, rd.generated) == (2, 12)
    np.testing.assert_array_equal(overlap[0], first[4])
    z = np.stack([latent_vector(r.latent, model.sampler.latent_dim) for r in _recipes(model, n=8)])
    np.testing.assert_array_equal(np.stack(first), model.sampler.generate(z))


def test_a_conditional_grid_is_drawn_in_the_recipes_class(cond):
    rd = Renderer()
    a = rd.patterns(cond, _recipes(cond, n=4, label=0))
    b = rd.patterns(cond, _recipes(cond, n=4, label=2))
    z = np.stack([latent_vector(Seed(k), cond.sampler.latent_dim) for k in range(4)])
    np.testing.assert_array_equal(np.stack(b), cond.sampler.generate(z, np.full(4, 2)))
    assert not np.array_equal(np.stack(a), np.stack(b)) and rd.model_calls == 2


def test_the_cache_keeps_to_its_byte_budget_and_makes_a_value_once_for_many_askers():
    c = Cache(max_bytes=3000)
    for k in range(5):
        c.put(k, bytes(1000))
    assert c.bytes <= 3000 and 0 not in c and 4 in c
    made = []

    def slow():
        made.append(1)
        time.sleep(0.2)
        return b"sheet"
    out = []
    threads = [threading.Thread(target=lambda: out.append(c.get("sheet", slow))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert made == [1] and out == [b"sheet"] * 4


def test_downloads_are_the_tile_its_repeat_colourway_and_garments(model):
    rd, r = Renderer(), _recipes(model, n=1, start=3)[0]
    tile = rd.tile(model, r).tile_u8
    res = model.sampler.resolution
    np.testing.assert_array_equal(_png(files.tile_png(rd, model, r)), tile)
    np.testing.assert_array_equal(_png(files.repeat_png(rd, model, r)), np.tile(tile, (3, 3, 1)))
    assert _png(files.repeat_png(rd, model, r)).shape == (3 * res, 3 * res, 3)
    card = _png(files.colourway_png(rd, model, r))
    rgb, _ = files.colourway(rd, model, r)[0]
    assert tuple(card[30, 40]) == rgb          # the first chip is the most used colour
    g = _png(files.garment_png(rd, model, r, "tote", 0.3, 15.0))
    assert g.shape == (files.DOWNLOAD_SIZE[1], files.DOWNLOAD_SIZE[0], 3)
    assert not np.array_equal(g, _png(files.garment_png(rd, model, r, "tote", 0.6, 15.0)))


def test_the_collection_zip_holds_each_favourite_and_a_csv_of_recipes(model):
    rd = Renderer()
    favs = _recipes(model, n=2, start=5) + [parse("0badcafe:seed(1)")]
    data = files.collection_zip(rd, favs, {model.prefix: model})
    assert data == files.collection_zip(Renderer(), favs, {model.prefix: model})   # same favourites, same bytes
    z = zipfile.ZipFile(io.BytesIO(data))
    rows = list(csv.DictReader(io.StringIO(z.read("recipes.csv").decode())))
    assert [r["recipe"] for r in rows] == [f.text for f in favs]
    assert rows[0]["tile_png"] == f"{favs[0].design_id}_tile.png" and rows[2]["tile_png"] == ""
    assert rows[0]["sheet_command"].endswith("--n 1 --seed 5") and rows[0]["model_sha256"] == model.sha256
    np.testing.assert_array_equal(_png(z.read(rows[1]["tile_png"])), rd.tile(model, favs[1]).tile_u8)
    assert sorted(z.namelist()) == sorted([rows[0]["tile_png"], rows[0]["repeat_png"], rows[1]["tile_png"],
                                           rows[1]["repeat_png"], "recipes.csv"])


def _cli_sheet(cmd: str, out: Path, design_id: str) -> bytes:
    """Run the studio's command line for a sheet (DIR replaced by `out`) and read the PDF it wrote."""
    argv = [out.as_posix() if w == "DIR" else w for w in shlex.split(cmd)[3:]]
    assert main([*argv, "--quiet"]) == 0
    return (out / f"{design_id}.pdf").read_bytes()


@pytest.mark.slow
def test_a_seed_recipes_sheet_is_the_command_lines_byte_for_byte(cond, exported_cond, tmp_path):
    rd, r = Renderer(), parse(f"{cond.prefix}:c1:seed(4)")
    opt = files.SheetOptions(0.3, 15.0, ("tshirt",))
    sheet = files.sheet(rd, cond, r, opt)
    cmd = files.sheet_command(str(exported_cond / "export" / "generator.onnx"), r, opt)
    assert "--n 1 --seed 4 --label 1" in cmd and sheet.design_id == r.design_id == f"IW-{cond.prefix}-S0004-C1"
    assert _cli_sheet(cmd, tmp_path, r.design_id) == sheet.pdf
    assert files.sheet(rd, cond, r, opt) is sheet         # made once


@pytest.mark.slow
def test_any_other_recipes_sheet_is_design_dash_dash_recipe_byte_for_byte(model, exported, tmp_path):
    rd = Renderer()
    r = parse(f"{model.prefix}:vary(around(seed(3),seed(7);spread=0.5,draw=2);s=0.2,seed=1)")
    opt = files.SheetOptions(garments=("scarf",))
    sheet = files.sheet(rd, model, r, opt)
    cmd = files.sheet_command(str(exported / "export" / "generator.onnx"), r, opt)
    assert "--recipe" in cmd and sheet.design_id == r.design_id
    assert _cli_sheet(cmd, tmp_path, r.design_id) == sheet.pdf
    assert sheet.sidecar["recipe"] == r.text and "--recipe" in sheet.command
    # The sheet's pattern is the recipe's tile as the studio shows it.
    assert sheet.sidecar["tiling"]["seam_score_after"] == pytest.approx(rd.tile(model, r).seam_after)

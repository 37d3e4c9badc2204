"""Every control of the studio through Streamlit's AppTest, on tiny exported models (tests/export/conftest.py),
and bad inputs (no models, a corrupt .onnx, a changed file, a bad desk name) as one message on the page."""
from __future__ import annotations

import json
import shutil
import sys

import pytest
from streamlit.testing.v1 import AppTest

from export.studio.desk import Desk
from export.studio.recipes import parse
from export.studio.serve import APP, ENV_DEVICE, ENV_MODELS, ENV_STORE

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _keep_main_module():
    """AppTest runs the page as sys.modules["__main__"] and leaves it there; put the real one back."""
    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main


@pytest.fixture
def studio(monkeypatch, tmp_path):
    """(paths, desk=None) -> a run AppTest of the studio serving `paths`, desks under tmp_path/desks."""
    def make(paths, desk: str | None = None) -> AppTest:
        monkeypatch.setenv(ENV_MODELS, json.dumps([str(p) for p in paths]))
        monkeypatch.setenv(ENV_STORE, str(tmp_path / "desks"))
        monkeypatch.setenv(ENV_DEVICE, "cpu")
        at = AppTest.from_file(str(APP), default_timeout=600)
        if desk:
            at.query_params["desk"] = desk
        return at.run()
    return make


def _onnx(run):
    return run / "export" / "generator.onnx"


def _shown(at) -> list[str]:
    """The recipes under the tiles, in grid order."""
    return [c.value.strip("`") for c in at.caption if c.value.startswith("`")]


def _button(at, prefix: str):
    return next(b for b in at.button if b.key and b.key.startswith(prefix))


def _ok(at) -> AppTest:
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def _desk(tmp_path, name="main"):
    return Desk(tmp_path / "desks", name).load()


def test_browse_shows_a_page_of_seeds_and_pages_through_them(studio, exported):
    at = _ok(studio([_onnx(exported)]))
    shown = _shown(at)
    assert len(at.get("image")) == 16 and [parse(t).latent.seed for t in shown] == list(range(16))
    _button(at, "studio_next").click().run()
    assert [parse(t).latent.seed for t in _shown(_ok(at))] == list(range(16, 32))
    _button(at, "studio_prev").click().run()
    assert parse(_shown(at)[0]).latent.seed == 0
    at.number_input(key="studio_seed").set_value(100).run()
    at.selectbox(key="studio_n").set_value(8).run()
    assert [parse(t).latent.seed for t in _shown(_ok(at))] == list(range(100, 108))
    assert len(at.get("image")) == 8


def test_a_conditional_model_is_picked_with_its_class(studio, exported, exported_cond, tmp_path):
    at = _ok(studio([_onnx(exported), _onnx(exported_cond)]))
    # The catalog lists models sorted by path; the first is picked when the page opens.
    assert at.selectbox(key="studio_model").value == min(str(_onnx(exported).resolve()),
                                                         str(_onnx(exported_cond).resolve()))
    at.selectbox(key="studio_model").set_value(str(_onnx(exported_cond).resolve())).run()
    at.selectbox(key="studio_class").set_value(2).run()
    shown = _shown(_ok(at))
    assert shown and all(parse(t).label == 2 for t in shown)
    assert any("class2" in c.value for c in at.caption)


def test_a_favourite_is_marked_and_unmarked_on_the_desk(studio, exported, tmp_path):
    at = _ok(studio([_onnx(exported)]))
    first = _shown(at)[0]
    _button(at, "tile_fav_0_").click().run()
    assert _desk(tmp_path).favourites == [first] and _button(at, "tile_fav_0_").label == "♥"
    _button(at, "tile_fav_0_").click().run()
    assert _desk(tmp_path).favourites == [] and _button(at, "tile_fav_0_").label == "♡"


def _with_favourites(studio, exported, k=(1, 6)):
    at = _ok(studio([_onnx(exported)]))
    at.selectbox(key="studio_n").set_value(8).run()
    favs = [_shown(at)[i] for i in k]
    for i in k:
        _button(at, f"tile_fav_{i}_").click().run()
    return at, favs


def test_more_like_these_draws_around_the_favourites_with_the_chosen_spread(studio, exported):
    at = _ok(studio([_onnx(exported)]))
    at.button_group(key="studio_mode").set_value("around").run()
    assert "Mark favourites" in at.info[0].value and not at.get("image")
    at, favs = _with_favourites(studio, exported)
    at.button_group(key="studio_mode").set_value("around").run()
    rs = [parse(t).latent for t in _shown(_ok(at))]
    assert [z.draw for z in rs] == list(range(8)) and {z.spread for z in rs} == {0.5}
    assert {tuple(map(str, z.parts)) for z in rs} == {tuple(str(parse(f).latent) for f in favs)}
    at.slider(key="studio_spread").set_value(1.0).run()
    _button(at, "studio_next").click().run()
    rs = [parse(t).latent for t in _shown(_ok(at))]
    assert {z.spread for z in rs} == {1.0} and rs[0].draw == 8
    at.multiselect(key="studio_around").unselect(favs[0]).run()
    assert all(len(parse(t).latent.parts) == 1 for t in _shown(_ok(at)))


def test_between_two_walks_the_slerp_from_one_favourite_to_the_other(studio, exported):
    at, favs = _with_favourites(studio, exported)
    at.button_group(key="studio_mode").set_value("between").run()
    at.selectbox(key="studio_from").set_value(favs[1]).run()
    at.selectbox(key="studio_to").set_value(favs[0]).run()
    walk = [parse(t).latent for t in _shown(_ok(at))]
    assert walk[0].t == 0.0 and walk[-1].t == 1.0 and len(walk) == 8
    assert walk[0].a == parse(favs[1]).latent and walk[0].b == parse(favs[0]).latent


def test_variations_of_one_favourite_at_a_chosen_strength(studio, exported):
    at, favs = _with_favourites(studio, exported)
    at.button_group(key="studio_mode").set_value("vary").run()
    at.selectbox(key="studio_base").set_value(favs[0]).run()
    at.slider(key="studio_strength").set_value(0.5).run()
    _button(at, "studio_next").click().run()
    vs = [parse(t).latent for t in _shown(_ok(at))]
    assert {v.strength for v in vs} == {0.5} and [v.seed for v in vs] == list(range(8, 16))
    assert {v.base for v in vs} == {parse(favs[0]).latent}


def test_the_view_and_favourites_come_back_after_a_reload(studio, exported, tmp_path):
    at, favs = _with_favourites(studio, exported)
    _button(at, "studio_next").click().run()
    again = _ok(studio([_onnx(exported)]))          # a new session on the same desk
    assert [parse(t).latent.seed for t in _shown(again)] == list(range(8, 16))
    assert {b.label for b in again.button if b.key.startswith("tile_fav_")} == {"♡"}
    assert _desk(tmp_path).favourites == favs
    other = _ok(studio([_onnx(exported)], desk="autumn"))
    assert len(_shown(other)) == 16 and _desk(tmp_path, "autumn").favourites == []


def test_open_shows_the_tile_page_with_its_controls_and_downloads(studio, exported, tmp_path):
    at = _ok(studio([_onnx(exported)]))
    text = _shown(at)[3]
    _button(at, "tile_open_3_").click().run()
    _ok(at)
    assert _desk(tmp_path).opened == text and at.code[0].value == text
    labels = {b.label for b in at.get("download_button")}
    assert {"Tile PNG", "3×3 repeat PNG", "Colourway PNG", "T-shirt PNG", "Tote bag PNG",
            "Design sheet PDF", "Sheet JSON"} <= labels
    assert "--n 1 --seed 3" in at.code[1].value
    n_images = len(at.get("image"))
    at.multiselect(key="studio_garments").set_value(["dress", "scarf"]).run()
    assert len(at.get("image")) == n_images - 2 and "--garments dress,scarf" in at.code[1].value
    at.slider(key="studio_scale").set_value(0.5).run()
    at.slider(key="studio_rotation").set_value(30.0).run()
    assert "--repeat-scale 0.5 --rotation 30" in _ok(at).code[1].value
    at.button(key="tile_fav").click().run()
    assert _desk(tmp_path).favourites == [text] and at.button(key="tile_fav").label == "♥ Favourite"


@pytest.mark.parametrize("button, mode, key", [("tile_around", "around", "studio_around"),
                                               ("tile_vary", "vary", "studio_base")])
def test_the_tile_page_starts_more_like_this_and_variations(studio, exported, button, mode, key):
    at = _ok(studio([_onnx(exported)]))
    text = _shown(at)[2]
    _button(at, "tile_open_2_").click().run()
    at.button(key=button).click().run()
    _ok(at)
    assert at.session_state.studio_mode == mode and text in str(at.session_state[key])
    assert len(_shown(at)) == 16 and all(t.startswith(text.split(":")[0]) for t in _shown(at))


def test_the_tile_page_without_an_open_tile_says_how_to_open_one(studio, exported):
    at = _ok(studio([_onnx(exported)]))
    at.switch_page("views/tile.py").run()
    assert "press Open" in _ok(at).info[0].value


def test_a_pasted_recipe_opens_its_tile_and_a_bad_one_says_why(studio, exported, tmp_path):
    at = _ok(studio([_onnx(exported)]))
    prefix = _shown(at)[0].split(":")[0]
    at.text_input(key="studio_recipe_text").set_value(f"{prefix}:seed(").run()
    at.button(key="studio_recipe_open").click().run()
    assert len(at.error) == 1 and "expected a whole number" in at.error[0].value
    text = f"{prefix}:vary(seed(5);s=0.2,seed=3)"
    at.text_input(key="studio_recipe_text").set_value(text).run()
    at.button(key="studio_recipe_open").click().run()
    assert _desk(tmp_path).opened == text and _ok(at).code[0].value == text


def test_the_collection_offers_the_zip_and_the_history_brings_a_grid_back(studio, exported, tmp_path):
    at, favs = _with_favourites(studio, exported)
    _button(at, "studio_next").click().run()
    at.switch_page("views/collection.py").run()
    _ok(at)
    assert at.get("download_button")[0].label == "Collection zip"
    assert [c.value.strip("`") for c in at.caption if c.value.startswith("`")] == favs
    assert any("seeds 8–15" in c.value for c in at.caption)
    hist = _desk(tmp_path).history
    back = next(i for i, h in enumerate(hist) if h["view"]["seed"] == 0)
    at.button(key=f"hist_{back}").click().run()
    assert [parse(t).latent.seed for t in _shown(_ok(at))] == list(range(8))
    at.switch_page("views/collection.py").run()
    at.button(key="hist_clear").click().run()
    assert _desk(tmp_path).history == []
    _button(at, "fav_fav_0_").click().run()          # unmark the first favourite from the collection
    assert _desk(tmp_path).favourites == favs[1:]
    _button(at, "fav_open_0_").click().run()
    assert _ok(at).code[0].value == favs[1]


def test_no_models_is_one_message_and_look_again_finds_a_new_export(studio, exported, tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    at = studio([folder])
    assert not at.exception and len(at.error) == 1 and "No exported models" in at.error[0].value
    shutil.copytree(exported / "export", folder / "export")
    at.button(key="studio_rescan").click().run()
    assert len(_shown(_ok(at))) == 16


@pytest.mark.parametrize("damage, words", [
    ("garbage", "not a usable ONNX model"),
    ("changed", "SHA-256 does not match"),
    ("sidecar", "not valid JSON"),
])
def test_a_model_that_cannot_be_used_is_one_message_on_the_page(studio, exported, tmp_path, damage, words):
    shutil.copytree(exported / "export", tmp_path / "m")
    onnx = tmp_path / "m" / "generator.onnx"
    (tmp_path / "m" / "generator_fp16.onnx").unlink()
    if damage == "garbage":
        onnx.with_suffix(".json").unlink()
        onnx.write_bytes(b"not an onnx file" * 100)
    elif damage == "changed":
        onnx.write_bytes(onnx.read_bytes()[:-32] + bytes(32))
    else:
        onnx.with_suffix(".json").write_text("{ half")
    at = studio([onnx])
    assert not at.exception and len(at.error) == 1 and words in at.error[0].value
    assert not at.get("image")


def test_a_bad_desk_name_is_one_message(studio, exported):
    at = studio([_onnx(exported)], desk="../../etc")
    assert not at.exception and len(at.error) == 1 and "not a desk name" in at.error[0].value


def test_an_unreadable_desk_file_is_kept_aside_and_the_page_says_so(studio, exported, tmp_path):
    (tmp_path / "desks").mkdir()
    (tmp_path / "desks" / "main.json").write_text("{ broken")
    at = _ok(studio([_onnx(exported)]))
    assert len(at.warning) == 1 and "could not be read" in at.warning[0].value
    assert len(list((tmp_path / "desks").glob("main.unreadable-*.json"))) == 1 and len(_shown(at)) == 16


def test_a_stored_view_out_of_range_is_clamped_not_a_crash(studio, exported, tmp_path):
    (tmp_path / "desks").mkdir()
    (tmp_path / "desks" / "main.json").write_text(json.dumps({"view": {
        "mode": "sideways", "n": 7, "seed": -5, "spread": 99.0, "scale": 5.0, "rotation": 400.0,
        "garments": ["hat", "tote"], "model": "/no/such.onnx"}}))
    at = _ok(studio([_onnx(exported)]))
    s = at.session_state
    assert (s.studio_mode, s.studio_n, s.studio_seed, s.studio_spread) == ("browse", 16, 0, 2.0)
    assert (s.studio_scale, s.studio_rotation, s.studio_garments) == (1.0, 90.0, ["tote"])

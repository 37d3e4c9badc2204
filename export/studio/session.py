"""One browser session of the studio: every session-state key with its starting value (set here, in one
place), the resources all sessions share (the model list, opened models, the Renderer), and the desk
that keeps favourites, history and the view across reloads.

Widgets write their values into the keys below; `save_view` copies them into the desk file after each
run and `init` copies them back when a new session (a reload) opens the same desk.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import streamlit as st

from export.garments import GARMENTS
from export.studio import catalog
from export.studio.desk import DEFAULT_DESK, Desk, DeskError
from export.studio.recipes import MODES, Recipe, RecipeError, parse
from export.studio.render import Renderer
from export.studio.serve import ENV_DEVICE, ENV_MODELS, ENV_STORE, default_store
from inkwash.cli import UserError, first_line

GRID_SIZES = (4, 8, 12, 16, 24, 32)

# The view: every key a widget sets, with its starting value. The desk stores them by their short names.
VIEW = {
    "model": ("studio_model", None),        # path of the picked model file
    "class": ("studio_class", 0),           # class index (conditional models)
    "mode": ("studio_mode", "browse"),      # browse | around | between | vary
    "n": ("studio_n", 16),                  # tiles per grid
    "seed": ("studio_seed", 0),             # browse: first seed
    "draw": ("studio_draw", 0),             # around: first draw
    "spread": ("studio_spread", 0.5),       # around: spread of the draws around the favourites' mean
    "around": ("studio_around", []),        # around: recipe texts whose mean the grid gathers around
    "from": ("studio_from", None),          # between: recipe texts of the two ends
    "to": ("studio_to", None),
    "base": ("studio_base", None),          # vary: recipe text varied
    "strength": ("studio_strength", 0.3),   # vary: strength of every variation
    "dir": ("studio_dir", 0),               # vary: first direction seed
    "scale": ("studio_scale", 0.25),        # tile page: repeat width / garment width
    "rotation": ("studio_rotation", 0.0),   # tile page: print rotation, degrees
    "garments": ("studio_garments", list(GARMENTS)),  # tile page: mock-ups shown and on the sheet
}
# Bounds of the numeric keys (the widgets' ranges; a stored view is clamped to them).
RANGES = {"studio_seed": (0, None), "studio_draw": (0, None), "studio_dir": (0, None),
          "studio_spread": (0.05, 2.0), "studio_strength": (0.05, 1.0),
          "studio_scale": (0.05, 1.0), "studio_rotation": (-90.0, 90.0)}
GRID = ("model", "class", "mode", "n", "seed", "draw", "spread", "around", "from", "to", "base", "strength", "dir")


def _defaults() -> dict:
    """Every session key with its starting value (fresh containers for each session)."""
    return {**{key: (list(v) if isinstance(v, list) else v) for key, v in VIEW.values()},
            "studio_recipe_text": "",   # a recipe pasted into Explore's "Open a recipe"
            "desk_name": None,          # the desk of this session (also in ?desk=)
            "desk": None,               # its Desk object
            "desk_loaded": False}       # the desk's stored view was copied into the keys above


def init() -> None:
    """Set every missing key, then (once per session) restore the desk's stored view."""
    for key, value in _defaults().items():
        if key not in st.session_state:
            st.session_state[key] = value
    if not st.session_state.desk_loaded:
        st.session_state.desk_loaded = True
        try:
            apply_view(desk().load().view)
        except DeskError:
            pass   # begin() says why on the page


def apply_view(view: dict) -> None:
    """Set the widget keys from a stored view (unknown names and wrong types are left out)."""
    for name, value in view.items():
        if name in VIEW:
            key, default = VIEW[name]
            if default is None or isinstance(value, type(default)) or (isinstance(default, float) and
                                                                       isinstance(value, int)):
                st.session_state[key] = value
    state = st.session_state
    for key, (lo, hi) in RANGES.items():
        state[key] = max(lo, state[key] if hi is None else min(hi, state[key]))
    state.studio_garments = [g for g in state.studio_garments if g in GARMENTS]
    if state.studio_mode not in MODES:
        state.studio_mode = "browse"
    if state.studio_n not in GRID_SIZES:
        state.studio_n = 16


def view() -> dict:
    """The current view by short name."""
    return {name: st.session_state[key] for name, (key, _) in VIEW.items()}


def save_view() -> None:
    """Store the view on the desk; a new grid also goes on top of the history."""
    v = view()
    desk().remember(v, {k: v[k] for k in GRID})


def settings() -> tuple[list[Path], Path, str]:
    """Model paths, desk folder and device, from `python -m export studio` (environment), else defaults."""
    paths = [Path(p) for p in json.loads(os.environ.get(ENV_MODELS) or '["runs"]')]
    return paths, Path(os.environ.get(ENV_STORE) or default_store()), os.environ.get(ENV_DEVICE) or "auto"


@st.cache_resource(show_spinner=False)
def _scan(paths: tuple[str, ...]) -> list[catalog.ModelEntry]:
    return catalog.scan([Path(p) for p in paths])


def entries() -> list[catalog.ModelEntry]:
    """The models under the studio's paths (scanned once; `rescan` looks again)."""
    return _scan(tuple(map(str, settings()[0])))


def rescan() -> None:
    _scan.clear()


@st.cache_resource(show_spinner="Opening the model ...", max_entries=8)
def _open(path: str, mtime_ns: int, size: int, device: str) -> tuple[catalog.Model | None, str | None]:
    """(model, None) or (None, one-line reason); errors are cached too, until the file changes."""
    try:
        return catalog.open_model(Path(path), device), None
    except UserError as e:
        return None, str(e)
    except Exception as e:  # noqa: BLE001 - any other failure to read a user's file is a bad file, said in one line
        return None, (f"{path}: cannot be opened ({type(e).__name__}: {first_line(e)}); "
                      f"re-export it with python -m export onnx RUN_DIR")


def open_model(path: str) -> tuple[catalog.Model | None, str | None]:
    """The opened model at `path` (shared by every session), or why it cannot be used."""
    p = Path(path)
    if not p.is_file():
        return None, f"{path}: the file is gone; press 'Look again' to list the models now there"
    st_ = p.stat()
    return _open(str(p), st_.st_mtime_ns, st_.st_size, settings()[2])


def models_by_prefix(prefixes: set[str]) -> dict[str, catalog.Model]:
    """Opened models for the SHA-256 prefixes asked for (those the sidecars name), for the collection."""
    out = {}
    for e in entries():
        if e.sha256 and e.sha256[:8] in prefixes and e.sha256[:8] not in out:
            model, _ = open_model(str(e.path))
            if model is not None:
                out[model.prefix] = model
    return out


@st.cache_resource(show_spinner=False)
def renderer() -> Renderer:
    """The one Renderer (pattern and product cache) of this server."""
    return Renderer()


def desk() -> Desk:
    """This session's desk, named by ?desk= (kept in the URL); DeskError for a name that is no file name."""
    name = st.query_params.get("desk") or st.session_state.get("desk_name") or DEFAULT_DESK
    d = st.session_state.get("desk")
    if d is None or d.name != name:
        d = st.session_state.desk = Desk(settings()[1], name)   # kept: its notice outlives the first read
    st.session_state.desk_name = name
    if st.query_params.get("desk") != name:
        st.query_params["desk"] = name
    return d


def favourites(model_prefix: str | None = None) -> list[Recipe]:
    """The desk's favourites (of one model when a prefix is given), unreadable entries left out."""
    out = []
    for text in desk().load().favourites:
        try:
            r = parse(text)
        except RecipeError:
            continue
        if model_prefix is None or r.model == model_prefix:
            out.append(r)
    return out


def opened() -> Recipe | None:
    """The recipe open on the tile page."""
    text = desk().load().opened
    try:
        return parse(text) if text else None
    except RecipeError:
        return None

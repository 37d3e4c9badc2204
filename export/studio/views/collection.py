"""Collection: the desk's favourites with a zip of them all (tiles, repeats, recipes.csv), and the
history of grids shown, each one a click away.
"""
from __future__ import annotations

import streamlit as st

from export.studio import files, session
from export.studio.recipes import parse, RecipeError
from export.studio.views import begin, go, tiles

TITLE = "Collection"
URL_PATH = "collection"
HISTORY_SHOWN = 30


def _view_words(v: dict) -> str:
    """A history entry in a few words."""
    mode, n = v.get("mode"), v.get("n", 16)
    if mode == "browse":
        what = f"seeds {v.get('seed', 0)}–{v.get('seed', 0) + n - 1}"
    elif mode == "around":
        what = f"more like {len(v.get('around') or [])} favourites, spread {v.get('spread')}, draws from {v.get('draw')}"
    elif mode == "between":
        what = f"between two, {n} steps"
    else:
        what = f"variations at strength {v.get('strength')}, directions from {v.get('dir')}"
    model = str(v.get("model") or "?").rsplit("/", 3)[-3:]
    cls = f" · class {v['class']}" if v.get("class") else ""
    return f"{what}{cls} · {'/'.join(model)}"


def _show_again(v: dict) -> None:
    session.apply_view(v)


def _favourites(model) -> None:
    favs = session.favourites()
    st.markdown(f"### Favourites ({len(favs)})")
    if not favs:
        st.info("No favourites yet: press ♡ under a tile on the Explore page.")
        return
    models = session.models_by_prefix({r.model for r in favs})
    renderer = session.renderer()
    st.download_button("Collection zip", lambda: files.collection_zip(renderer, favs, models),
                       f"collection_{st.session_state.desk_name}.zip", "application/zip", key="dl_collection",
                       type="primary", on_click="ignore",
                       help="Every favourite's seamless tile and 3×3 repeat (PNG), and recipes.csv")
    here = [r for r in favs if r.model == model.prefix]
    if here:
        tiles(model, here, [files.tile_png(renderer, model, r) for r in here], prefix="fav", brief=False)
    others = len(favs) - len(here)
    if others:
        st.caption(f"{others} more favourite(s) of other models: pick their model in the sidebar to see them; "
                   f"they are in the zip when their model is among the studio's files.")


def _history() -> None:
    hist = session.desk().load().history
    st.markdown(f"### History ({len(hist)})")
    if not hist:
        st.caption("Grids you look at appear here, newest first.")
        return
    for i, h in enumerate(hist[:HISTORY_SHOWN]):
        v = h.get("view", {})
        a, b = st.columns([5, 1], vertical_alignment="center")
        a.caption(f"{h.get('at', '')[:16].replace('T', ' ')} · {_view_words(v)}")
        if b.button("Show again", key=f"hist_{i}", on_click=_show_again, args=(v,)):
            go("explore")
    st.button("Clear history", key="hist_clear", on_click=lambda: session.desk().clear_history())


def page() -> None:
    """Favourites, the collection zip, the history."""
    model = begin()
    if model is None:
        return
    _favourites(model)
    _history()


if __name__ == "__main__":
    page()

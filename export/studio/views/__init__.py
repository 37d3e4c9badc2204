"""The studio's pages, one file each (`st.navigation` + `st.Page(file)`, as in study_app/views), and what
they share: `begin()` (session keys, the sidebar's model and class pickers, returning the opened model
or None after saying on the page why there is none) and `tiles()` (a grid of recipe tiles, each with
its recipe, a favourite button and an Open button).

A page renders only when Streamlit runs its file (`if __name__ == "__main__": page()`).
"""
from __future__ import annotations

import importlib
from pathlib import Path

import streamlit as st

from export.studio import catalog, session
from export.studio.desk import DeskError
from export.studio.recipes import Recipe, describe
from inkwash.hashing import sha256_text

PAGES = ("explore", "tile", "collection")
HERE = Path(__file__).resolve().parent
COLUMNS = (4, 8)       # tiles across: for grids under 16 tiles, and from 16 on


def page(name: str) -> st.Page:
    """The st.Page of the page file `name`.py (the first page is the default)."""
    m = importlib.import_module(f"{__name__}.{name}")
    return st.Page(HERE / f"{name}.py", title=m.TITLE, url_path=m.URL_PATH, default=name == PAGES[0])


def go(name: str) -> None:
    """Switch to page `name`, keeping the desk in the URL."""
    st.switch_page(page(name), query_params={"desk": st.session_state.desk_name or "main"})


def _model_picker(found: list[catalog.ModelEntry]) -> str:
    paths = [str(e.path) for e in found]
    if st.session_state.studio_model not in paths:
        st.session_state.studio_model = paths[0]
    by_path = {str(e.path): e for e in found}
    return st.selectbox("Model", paths, key="studio_model", format_func=lambda p: by_path[p].label(),
                        help="Every exported .onnx under the studio's folders, with its sidecar's facts")


def _class_picker(model: catalog.Model) -> None:
    names = catalog.class_names(model.sampler)
    if not 0 <= st.session_state.studio_class < len(names):
        st.session_state.studio_class = 0
    st.selectbox("Class", list(range(len(names))), key="studio_class", format_func=lambda i: names[i],
                 help="Every tile of the grids is drawn in this class")


def _facts(model: catalog.Model) -> None:
    s, meta = model.sampler.spec, model.sampler.meta
    facts = [f"**{s.name}** · {s.resolution} px · latent {s.latent_dim}",
             f"iteration {meta.get('iteration', '?')} · " + (f"{s.num_classes} classes" if s.num_classes
                                                            else "unconditional"),
             f"sha256 `{model.sha256[:12]}` · {model.sampler.provider}"]
    st.caption("  \n".join(facts))


def begin() -> catalog.Model | None:
    """Start a page: session keys, then the sidebar. Returns the picked, opened model, or None after
    one clear message on the page (no models, a file that cannot be used, a bad desk name)."""
    session.init()
    try:
        session.desk()
    except DeskError as e:
        st.error(str(e))
        return None
    found = session.entries()
    with st.sidebar:
        st.markdown("### Design studio")
        if found:
            path = _model_picker(found)
        st.button("Look again", key="studio_rescan", on_click=session.rescan,
                  help="List the models under the studio's folders again (after an export)")
    if not found:
        where = ", ".join(str(p) for p in session.settings()[0])
        st.error(f"No exported models under {where}. Export a trained run with `python -m export onnx "
                 f"RUN_DIR` (it writes RUN_DIR/export/generator.onnx and its sidecar), then press Look again.")
        return None
    model, problem = session.open_model(path)
    if problem:
        st.error(problem)
        return None
    with st.sidebar:
        if model.num_classes:
            _class_picker(model)
        _facts(model)
        d = session.desk()
        st.caption(f"desk **{d.name}** · {len(d.load().favourites)} favourites · {d.path.parent}")
        if d.notice:
            st.warning(d.notice)
    return model


def class_of(model: catalog.Model) -> int | None:
    """The class of new tiles: the picked one for conditional models, else None."""
    return st.session_state.studio_class if model.num_classes else None


def _toggle(text: str) -> None:
    session.desk().toggle_favourite(text)


def caption(model: catalog.Model, r: Recipe, brief: bool = False, recipe: bool = True) -> None:
    """A tile's label: what it is in words (`brief`: only the part that changes along a grid), then its
    reproducible recipe on one line (all of it in the tooltip, on the tile page and in the CSV)."""
    words = describe(r.latent)
    if brief:
        words = words.split(" · ")[-1]
    if r.label is not None:
        words += f" · {catalog.class_names(model.sampler)[r.label]}"
    with st.container(gap=None):
        st.caption(words)
        if recipe:
            st.caption(f"`{r.text}`", help=f"Recipe (reproduces this tile): {r.text}", wrap=False)


def tiles(model: catalog.Model, recipes: list[Recipe], pngs: list[bytes], prefix: str = "tile",
          brief: bool = True) -> None:
    """A grid of tiles, each with its recipe and Favourite / Open buttons (rows of columns, so the tiles read
    left to right)."""
    favs = set(session.desk().load().favourites)
    across = COLUMNS[len(recipes) >= 16]
    for i, (r, png) in enumerate(zip(recipes, pngs)):
        if i % across == 0:
            cols = st.columns(across)
        h = sha256_text(r.text)[:10]
        with cols[i % across].container(key=f"{prefix}_{i}"):
            st.image(png, width="stretch")
            caption(model, r, brief=brief)
            fav = r.text in favs
            with st.container(horizontal=True, gap="small"):
                st.button("♥" if fav else "♡", key=f"{prefix}_fav_{i}_{h}", on_click=_toggle, args=(r.text,),
                          type="primary" if fav else "secondary",
                          help="Remove from favourites" if fav else "Add to favourites")
                if st.button("Open", key=f"{prefix}_open_{i}_{h}",
                             help="Tile, repeat, colourway, garments and downloads"):
                    session.desk().open(r.text)
                    go("tile")

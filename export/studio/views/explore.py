"""Explore: a grid of N tiles, and four ways to make the next one.

Browse pages through seeds; "More like these" draws around the favourites' mean with a spread the
designer narrows or widens (interactive evolution); "Between two" walks the slerp from one favourite
to another; "Variations" mixes one tile with seeded directions at a chosen strength. Every tile's
recipe reproduces it; the model only runs for tiles never drawn before, all of them in one batch.
"""
from __future__ import annotations

import streamlit as st

from export.studio import session
from export.studio.recipes import Recipe, RecipeError, Seed, check, describe, grid, parse
from export.studio.views import begin, class_of, go, tiles

TITLE = "Explore"
URL_PATH = "explore"
MODE_TITLES = {"browse": "Browse", "around": "More like these", "between": "Between two", "vary": "Variations"}
PAGED = {"browse": "studio_seed", "around": "studio_draw", "vary": "studio_dir"}


def _page_by(key: str, step: int) -> None:
    st.session_state[key] = max(0, st.session_state[key] + step)


def _pager(mode: str) -> None:
    """Previous / Next page of seeds, draws or directions."""
    key, n = PAGED[mode], st.session_state.studio_n
    st.button("← Previous", key="studio_prev", on_click=_page_by, args=(key, -n),
              disabled=st.session_state[key] == 0)
    st.button("Next →", key="studio_next", on_click=_page_by, args=(key, n), type="primary")


def _label(choices: dict[str, Recipe]):
    """A favourite in a picker: its words, and for anything but a seed the id part of its design id."""
    def label(text: str) -> str:
        r = choices[text]
        return describe(r.latent) + ("" if isinstance(r.latent, Seed) else f" · {r.design_id.split('-')[2]}")
    return label


def _choices(model) -> dict[str, Recipe]:
    """Recipes a steering mode may start from: this model's favourites, and the tile open on the tile page."""
    out = {r.text: r for r in session.favourites(model.prefix)}
    r = session.opened()
    if r is not None and r.model == model.prefix:
        out.setdefault(r.text, r)
    return out


def _keep(key: str, options: list[str], fallback) -> None:
    """Before a widget is drawn: its stored value must be one of its options."""
    value = st.session_state[key]
    if isinstance(value, list):
        st.session_state[key] = [v for v in value if v in options] or fallback
    elif value not in options:
        st.session_state[key] = fallback


def _steer(model, mode: str) -> tuple | None:
    """The mode's own controls; returns the latents the grid starts from, or None (and says why)."""
    if mode == "browse":
        st.number_input("First seed", min_value=0, step=1, key="studio_seed", width=180,
                        help="Tiles show seeds from here on; Next shows the next page of seeds")
        return ()
    choices = _choices(model)
    texts = list(choices)
    need = 2 if mode == "between" else 1
    if len(texts) < need:
        st.info("Mark favourites with ♡ first: " + {"around": "the new grid gathers around them.",
                                                   "between": "pick two to walk between them.",
                                                   "vary": "then vary one of them."}[mode])
        return None
    if mode == "around":
        _keep("studio_around", texts, texts)
        picked = st.multiselect("Around these", texts, key="studio_around", format_func=_label(choices), width=560,
                                help="The new tiles are drawn around the mean of these latents")
        st.slider("Spread", *session.RANGES["studio_spread"], step=0.05, key="studio_spread", width=260,
                  help="Narrow (left) stays close to the favourites; wide (right) strays further")
        return tuple(choices[t].latent for t in picked) if picked else None
    if mode == "between":
        _keep("studio_from", texts, texts[0])
        _keep("studio_to", texts, texts[1] if st.session_state.studio_from == texts[0] else texts[0])
        st.selectbox("From", texts, key="studio_from", format_func=_label(choices), width=360)
        st.selectbox("To", texts, key="studio_to", format_func=_label(choices), width=360)
        return choices[st.session_state.studio_from].latent, choices[st.session_state.studio_to].latent
    _keep("studio_base", texts, texts[-1])
    st.selectbox("Variations of", texts, key="studio_base", format_func=_label(choices), width=420)
    st.slider("Strength", *session.RANGES["studio_strength"], step=0.05, key="studio_strength", width=260,
              help="How far every variation strays from the tile (the design sheet's variation rule)")
    return (choices[st.session_state.studio_base].latent,)


def _start(mode: str) -> int:
    return st.session_state[PAGED[mode]] if mode in PAGED else 0


def page() -> None:
    """The mode, its controls, the grid."""
    model = begin()
    if model is None:
        return
    if st.session_state.studio_mode is None:
        st.session_state.studio_mode = "browse"
    with st.container(horizontal=True, vertical_alignment="bottom", key="studio_modes"):
        mode = st.segmented_control("Explore", list(MODE_TITLES), format_func=MODE_TITLES.get, required=True,
                                    key="studio_mode")
        st.selectbox("Tiles", session.GRID_SIZES, key="studio_n", width=100)
    with st.container(horizontal=True, vertical_alignment="bottom", key="studio_controls"):
        parts = _steer(model, mode)
        if parts is not None and mode in PAGED:
            _pager(mode)
    if parts is None:
        return
    n = st.session_state.studio_n
    latents = grid(mode, n, _start(mode), parts, st.session_state.studio_spread, st.session_state.studio_strength)
    recipes = [Recipe(model.prefix, class_of(model), z) for z in latents]
    pngs = session.renderer().grid_pngs(model, recipes)
    tiles(model, recipes, pngs)
    session.save_view()
    with st.expander("Open a recipe", expanded=False):
        st.text_input("Recipe", key="studio_recipe_text", placeholder=f"{model.prefix}:seed(7)",
                      help="Paste a recipe (from a tile, the collection CSV or a sheet) to open its tile")
        if st.button("Open recipe", key="studio_recipe_open"):
            _open_pasted(model)


def _open_pasted(model) -> None:
    try:
        r = parse(st.session_state.studio_recipe_text)
        check(r, model.sha256, model.num_classes)
    except RecipeError as e:
        st.error(str(e))
        return
    session.desk().open(r.text)
    go("tile")


if __name__ == "__main__":
    page()

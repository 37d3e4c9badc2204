"""Tile: one recipe as production files: the seamless tile, its 3x3 repeat, the colourway, the print on
garments at a chosen repeat scale and rotation, and the design sheet PDF (made on click by
`python -m export design`'s own code, so its bytes equal the command shown beside it).
"""
from __future__ import annotations

import streamlit as st

from export.garments import GARMENTS
from export.sheets import GARMENT_TITLES
from export.studio import files, session
from export.studio.recipes import RecipeError, check
from export.studio.views import begin, caption, go

TITLE = "Tile"
URL_PATH = "tile"


def _options() -> files.SheetOptions:
    """The print options, rounded as the command line writes them (so `--repeat-scale 0.3` is the same float)."""
    s = st.session_state
    return files.SheetOptions(round(float(s.studio_scale), 4), round(float(s.studio_rotation), 4),
                              tuple(g for g in GARMENTS if g in s.studio_garments) or GARMENTS)


def _steer_from(text: str, mode: str) -> None:
    """Start Explore's "more like this" or "variations" from this tile."""
    if mode == "around":
        st.session_state.studio_around = [text]
    else:
        st.session_state.studio_base = text
    st.session_state.studio_mode = mode


def _header(model, r) -> None:
    fav = r.text in session.desk().load().favourites
    st.markdown(f"### {r.design_id}")
    st.code(r.text, language=None)
    caption(model, r, recipe=False)
    with st.container(horizontal=True, key="tile_actions"):
        st.button("♥ Favourite" if fav else "♡ Favourite", key="tile_fav", type="primary" if fav else "secondary",
                  on_click=lambda: session.desk().toggle_favourite(r.text))
        for mode, label in (("around", "More like this"), ("vary", "Variations of this")):
            if st.button(label, key=f"tile_{mode}", on_click=_steer_from, args=(r.text, mode)):
                go("explore")


def _print_controls() -> None:
    a, b, c = st.columns([1, 1, 2])
    a.slider("Repeat scale", *session.RANGES["studio_scale"], step=0.05, key="studio_scale",
             help="Width of one repeat as a fraction of the garment's width (0.25 = four across)")
    b.slider("Rotation", *session.RANGES["studio_rotation"], step=5.0, key="studio_rotation",
             help="Print rotation, degrees")
    c.multiselect("Garments", list(GARMENTS), key="studio_garments", format_func=GARMENT_TITLES.get,
                  help="The mock-ups below and on the design sheet")


def _downloads(model, r, opt: files.SheetOptions) -> None:
    renderer, did = session.renderer(), r.design_id
    st.markdown("#### Downloads")
    with st.container(horizontal=True, key="tile_downloads"):
        st.download_button("Tile PNG", files.tile_png(renderer, model, r), f"{did}_tile.png", "image/png",
                           key="dl_tile", on_click="ignore")
        st.download_button("3×3 repeat PNG", files.repeat_png(renderer, model, r), f"{did}_repeat3x3.png",
                           "image/png", key="dl_repeat", on_click="ignore")
        st.download_button("Colourway PNG", files.colourway_png(renderer, model, r), f"{did}_colourway.png",
                           "image/png", key="dl_colourway", on_click="ignore")
        for g in opt.garments:
            st.download_button(f"{GARMENT_TITLES[g].capitalize()} PNG",
                               lambda g=g: files.garment_png(renderer, model, r, g, opt.repeat_scale, opt.rotation),
                               f"{did}_{g}.png", "image/png", key=f"dl_{g}", on_click="ignore")
        st.download_button("Design sheet PDF", lambda: files.sheet(renderer, model, r, opt).pdf, f"{did}.pdf",
                           "application/pdf", key="dl_sheet", type="primary", on_click="ignore",
                           help="Made on click (a few seconds): tile, repeat, colourway, variations, "
                                "interpolation and garments on one A4 page")
        st.download_button("Sheet JSON", lambda: files.sheet_json(files.sheet(renderer, model, r, opt)),
                           f"{did}.json", "application/json", key="dl_sheet_json", on_click="ignore",
                           help="The sheet's sidecar: recipe, model, seam scores, options")
    st.caption("The same sheet from the command line, byte for byte:")
    st.code(files.sheet_command(model.sampler.path.name, r, opt), language="bash")
    if renderer.has("sheet", model, r, (opt,)):
        st.image(files.sheet(renderer, model, r, opt).preview_png, caption=f"{did}: the last sheet made")


def page() -> None:
    """The open tile, its repeat, colourway, garments and downloads."""
    model = begin()
    if model is None:
        return
    r = session.opened()
    if r is None:
        st.info("No tile is open yet: press Open under a tile on the Explore page.")
        return
    if r.model != model.prefix:
        st.warning(f"The open tile ({r.design_id}) was made with another model; pick the model whose "
                   f"SHA-256 starts with {r.model} in the sidebar.")
        return
    try:
        check(r, model.sha256, model.num_classes, "open tile")
    except RecipeError as e:
        st.warning(str(e))
        return
    renderer = session.renderer()
    _header(model, r)
    tile = renderer.tile(model, r)
    left, mid, right = st.columns([2, 3, 2])
    left.image(files.tile_png(renderer, model, r), width="stretch",
               caption=f"seamless tile · seam {tile.seam_before:.2f} → {tile.seam_after:.2f}")
    mid.image(files.repeat_png(renderer, model, r), width="stretch", caption="3 × 3 repeat")
    right.image(files.colourway_png(renderer, model, r), width="stretch", caption="colourway (median cut)")
    _print_controls()
    opt = _options()
    cols = st.columns(max(1, len(opt.garments)))
    for col, g in zip(cols, opt.garments):
        col.image(files.garment(renderer, model, r, g, opt.repeat_scale, opt.rotation), width="stretch",
                  caption=GARMENT_TITLES[g])
    _downloads(model, r, opt)


if __name__ == "__main__":
    page()

"""What a designer takes away: the seamless tile, its 3x3 repeat, the colourway, garment mock-ups, the
design sheet (`python -m export design`'s own code, so the PDF is byte-identical for the same recipe and
options) and a collection zip of favourites with a CSV of their recipes.

Every function is pure in its inputs and cached in the Renderer, so a second download costs nothing.
"""
from __future__ import annotations

import csv
import io
import json
import shlex
import zipfile
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from export import design, garments, sheets, tiling
from export.studio import catalog
from export.studio.recipes import Recipe, Seed, describe, sheet_origin
from inkwash.hashing import sha256_bytes

PREVIEW_SIZE = (240, 293)         # garment mock-up on the page (width, height), px
DOWNLOAD_SIZE = (720, 880)        # garment mock-up PNG to download
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed member dates: the same favourites give the same zip bytes
CSV_FIELDS = ("design_id", "recipe", "latent", "class", "class_name", "model_file", "model_sha256",
              "seam_before", "seam_after", "tile_png", "repeat_png", "sheet_command")


@dataclass(frozen=True)
class SheetOptions:
    """The design sheet options a studio page sets; the rest stay at `python -m export design`'s defaults."""

    repeat_scale: float = design.DesignConfig.repeat_scale
    rotation: float = design.DesignConfig.rotation
    garments: tuple[str, ...] = garments.GARMENTS


def tile_png(renderer, model, recipe: Recipe) -> bytes:
    return renderer.made("tile.png", model, recipe, (), lambda: sheets.png_bytes(renderer.tile(model, recipe).tile_u8))


def repeat_png(renderer, model, recipe: Recipe) -> bytes:
    """The tile laid out 3 x 3 at full resolution."""
    return renderer.made("repeat.png", model, recipe, (),
                         lambda: sheets.png_bytes(tiling.repeat(renderer.tile(model, recipe).tile_u8, 3, 3)))


def colourway(renderer, model, recipe: Recipe) -> list[tuple[tuple[int, int, int], float]]:
    """The tile's main colours (median cut, the sheet's palette) with their shares."""
    return renderer.made("palette", model, recipe, (), lambda: sheets.palette(renderer.tile(model, recipe).tile_u8))


def colourway_png(renderer, model, recipe: Recipe) -> bytes:
    """The colourway as a colour card: one row per colour, a chip, its hex code and its share."""
    def make() -> bytes:
        chips = colourway(renderer, model, recipe)
        chip_w, chip_h, pad = 150, 70, 18
        img = Image.new("RGB", (chip_w + 3 * pad + 190, pad + len(chips) * (chip_h + pad)), sheets.PAPER)
        d = ImageDraw.Draw(img)
        font, small = ImageFont.load_default(size=26), ImageFont.load_default(size=20)
        for i, (rgb, share) in enumerate(chips):
            y = pad + i * (chip_h + pad)
            d.rectangle([pad, y, pad + chip_w, y + chip_h], fill=rgb, outline=sheets.RULE)
            d.text((2 * pad + chip_w, y + 6), "#%02X%02X%02X" % rgb, font=font, fill=sheets.INK)
            d.text((2 * pad + chip_w, y + 40), f"{share:.0%} of the tile", font=small, fill=sheets.MUTED)
        return sheets.png_bytes(np.asarray(img))
    return renderer.made("colourway.png", model, recipe, (), make)


def garment(renderer, model, recipe: Recipe, name: str, repeat_scale: float, rotation: float,
            size: tuple[int, int] = PREVIEW_SIZE) -> np.ndarray:
    """A mock-up of the tile printed on garment `name` (export.garments), uint8 (h, w, 3)."""
    return renderer.made("garment", model, recipe, (name, repeat_scale, rotation, size), lambda: garments.render_garment(
        name, renderer.tile(model, recipe).tile_u8, repeat_scale, rotation, size=size))


def garment_png(renderer, model, recipe: Recipe, name: str, repeat_scale: float, rotation: float) -> bytes:
    return renderer.made("garment.png", model, recipe, (name, repeat_scale, rotation), lambda: sheets.png_bytes(
        garment(renderer, model, recipe, name, repeat_scale, rotation, DOWNLOAD_SIZE)))


def _config(model, recipe: Recipe, opt: SheetOptions) -> design.DesignConfig:
    seed = isinstance(recipe.latent, Seed)
    label = str(recipe.label) if seed and recipe.label is not None else None   # others carry it in their Origin
    return design.DesignConfig(model=model.sampler.path, garments=",".join(opt.garments), repeat_scale=opt.repeat_scale,
                               rotation=opt.rotation, label=label, quiet=True)


@dataclass(frozen=True)
class Sheet:
    design_id: str
    pdf: bytes
    preview_png: bytes       # the sheet at a quarter of its size, for the page
    sidecar: dict            # what `python -m export design` writes beside it (date and versions aside)

    @property
    def command(self) -> str:
        return self.sidecar["command"]


def sheet(renderer, model, recipe: Recipe, opt: SheetOptions) -> Sheet:
    """The recipe's design sheet, made by `export.design.make_design` exactly as `python -m export design`
    makes it: a plain seed as `--n 1 --seed K [--label C]`, any other recipe as `--recipe TEXT`."""
    def make() -> Sheet:
        cfg = _config(model, recipe, opt)
        names = design.check_config(cfg)
        if isinstance(recipe.latent, Seed):
            content, side, _ = design.make_design(model.sampler, cfg, recipe.latent.seed, names, model.sha256)
        else:
            origin = sheet_origin(recipe, model.sampler.latent_dim)
            content, side, _ = design.make_design(model.sampler, cfg, None, names, model.sha256, origin)
        page = sheets.compose_sheet(content)
        pdf = sheets.pdf_bytes(page, content.design_id)
        small = Image.fromarray(page).reduce(4)
        side = {**side, "reproducibility": design.reproducibility(model.sampler),
                "files": {"pdf": {"name": f"{content.design_id}.pdf", "sha256": sha256_bytes(pdf)}}}
        return Sheet(content.design_id, pdf, sheets.png_bytes(np.asarray(small)), side)
    return renderer.made("sheet", model, recipe, (opt,), make)


def sheet_command(model_file: str, recipe: Recipe, opt: SheetOptions | None = None) -> str:
    """The `python -m export design` command that makes this recipe's sheet with these options (flags at
    their defaults left out: the sheet prints its full command either way, so the bytes are the same)."""
    if isinstance(recipe.latent, Seed):
        pick = f"--n 1 --seed {recipe.latent.seed}" + ("" if recipe.label is None else f" --label {recipe.label}")
    else:
        pick = f"--recipe {shlex.quote(recipe.text)}"
    words = [f"python -m export design {shlex.quote(model_file)} --out DIR {pick}"]
    opt, d = opt or SheetOptions(), SheetOptions()
    if opt.garments != d.garments:
        words.append(f"--garments {','.join(opt.garments)}")
    if opt.repeat_scale != d.repeat_scale:
        words.append(f"--repeat-scale {opt.repeat_scale:g}")
    if opt.rotation != d.rotation:
        words.append(f"--rotation {opt.rotation:g}")
    return " ".join(words)


def collection_zip(renderer, favourites: list[Recipe], models: dict[str, object]) -> bytes:
    """A zip of every favourite's tile and 3x3 repeat (PNG) and recipes.csv, one row per favourite.
    `models` maps a SHA-256 prefix to its opened Model; favourites of other models get a row only."""
    rows, buf = [], io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for r in favourites:
            model = models.get(r.model)
            row = {"design_id": r.design_id, "recipe": r.text, "latent": describe(r.latent), "class": r.label}
            if model is not None:
                names = catalog.class_names(model.sampler)
                tile = renderer.tile(model, r)
                files = {"tile_png": (f"{r.design_id}_tile.png", tile_png(renderer, model, r)),
                         "repeat_png": (f"{r.design_id}_repeat3x3.png", repeat_png(renderer, model, r))}
                for field, (name, data) in files.items():
                    z.writestr(zipfile.ZipInfo(name, ZIP_DATE), data)
                    row[field] = name
                row.update(class_name=None if r.label is None else names[r.label],
                           model_file=str(model.sampler.path), model_sha256=model.sha256,
                           seam_before=round(tile.seam_before, 4), seam_after=round(tile.seam_after, 4),
                           sheet_command=sheet_command(str(model.sampler.path), r))
            rows.append(row)
        text = io.StringIO()
        w = csv.DictWriter(text, fieldnames=CSV_FIELDS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        z.writestr(zipfile.ZipInfo("recipes.csv", ZIP_DATE), text.getvalue())
    return buf.getvalue()


def sheet_json(s: Sheet) -> bytes:
    """The sheet's sidecar as JSON bytes (as `python -m export design` writes it, date aside)."""
    return (json.dumps(s.sidecar, indent=2, sort_keys=True) + "\n").encode()

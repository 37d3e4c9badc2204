"""Design sheets: one A4-landscape page per pattern, as a textile studio would pin it up.

A sheet shows the seamless tile, its 3x3 repeat, a seam check (raw pattern vs tile, both
repeated 2x2), the colourway, strips of latent variations and of a spherical interpolation
to the next seed (plus a sweep over the classes for conditional models), and the tile printed
on garment mock-ups. It is labelled with the design id, model file and checksum, seed, class
and the command that reproduces it. Everything on the page is a pure function of its inputs,
so the PNG is byte-identical for the same seed; the PDF embeds the same raster losslessly
(Flate) through matplotlib's PDF backend with ``CreationDate`` removed, so it is byte-identical
too. The date goes only into the JSON sidecar.

The latent helpers (``slerp``, ``variation_latents``) live here as pure numpy functions.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from export import garments as garments_mod
from inkwash.atomic import write_bytes, write_text
from inkwash.hashing import sha256_bytes

SHEET_SIZE = (2339, 1654)  # A4 landscape at 200 dpi, px
SHEET_DPI = 200
PAPER = (250, 248, 244)
INK = (38, 36, 33)
MUTED = (120, 114, 106)
RULE = (206, 200, 190)
MARGIN = 70
GARMENT_TITLES = {"tshirt": "t-shirt", "dress": "dress", "scarf": "scarf", "tote": "tote bag"}
VARIATION_STREAM = 0x5EED  # SeedSequence stream tag for the variation directions


def slerp(z0: np.ndarray, z1: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation between two latents (Shoemake 1985; White 2016 for GAN latents).

    Args:
        z0, z1: (D,) latents.
        t: (K,) positions in [0, 1].

    Returns:
        (K, D) float32; falls back to linear interpolation when the latents are (anti)parallel.
    """
    z0, z1 = np.asarray(z0, np.float64), np.asarray(z1, np.float64)
    t = np.asarray(t, np.float64)[:, None]
    cos = np.dot(z0, z1) / (np.linalg.norm(z0) * np.linalg.norm(z1))
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if np.sin(omega) < 1e-6:
        return ((1 - t) * z0 + t * z1).astype(np.float32)
    out = (np.sin((1 - t) * omega) * z0 + np.sin(t * omega) * z1) / np.sin(omega)
    return out.astype(np.float32)


def variation_latents(z: np.ndarray, seed: int, n: int = 8, sigma: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Nearby latents: z mixed with n seeded random directions at strengths rising to `sigma`.

    Each variation is (z + s * e) / sqrt(1 + s^2) with e ~ N(0, I) from
    ``SeedSequence([seed, VARIATION_STREAM])`` and s = sigma * (k + 1) / n, so the mix keeps the
    N(0, I) prior's scale and the strip runs from very close to clearly different.

    Returns:
        ((n, D) float32 latents, (n,) strengths).
    """
    if n < 1 or not sigma > 0:
        raise ValueError(f"variations: need n >= 1 and sigma > 0, got n={n}, sigma={sigma}")
    z = np.asarray(z, np.float64)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), VARIATION_STREAM]))
    e = rng.standard_normal((n, z.size))
    s = sigma * (np.arange(n) + 1) / n
    out = (z[None, :] + s[:, None] * e) / np.sqrt(1.0 + s[:, None] ** 2)
    return out.astype(np.float32), s


@dataclass
class SheetContent:
    """Everything a sheet shows: images as uint8 HWC, captions as text."""

    design_id: str
    pattern_u8: np.ndarray                 # raw generated pattern (R, R, 3)
    tile_u8: np.ndarray                    # seamless tile (R, R, 3)
    garments_u8: dict[str, np.ndarray]     # name -> mock-up (h, w, 3)
    strips: list[tuple[str, np.ndarray, list[str]]]  # (title, (K, R, R, 3), per-image captions)
    header_lines: list[str]                # model / seed / tiling facts, one per line
    command: str                           # reproduces this sheet
    seam_before: float
    seam_after: float
    extra: dict = field(default_factory=dict)


@lru_cache(maxsize=None)
def _font(size: int, weight: str = "") -> ImageFont.FreeTypeFont:
    """DejaVu from matplotlib's own data folder: present wherever matplotlib is, so sheets match."""
    name = {"": "DejaVuSans.ttf", "bold": "DejaVuSans-Bold.ttf", "mono": "DejaVuSansMono.ttf"}[weight]
    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name), size)


def _resize(image_u8: np.ndarray, width: int, height: int | None = None) -> Image.Image:
    return Image.fromarray(image_u8).resize((width, height or width), Image.Resampling.LANCZOS)


def palette(image_u8: np.ndarray, k: int = 6) -> list[tuple[tuple[int, int, int], float]]:
    """The k main colours (median cut) with their share of the pixels, most used first."""
    q = Image.fromarray(image_u8).quantize(colors=k, method=Image.Quantize.MEDIANCUT)
    pal = q.getpalette()
    counts = np.bincount(np.asarray(q).ravel(), minlength=k)[:k]
    order = np.argsort(-counts, kind="stable")
    total = counts.sum()
    return [(tuple(pal[3 * i:3 * i + 3]), counts[i] / total) for i in order if counts[i] > 0]


def _label(d: ImageDraw.ImageDraw, xy: tuple[int, int], text: str) -> None:
    """Small spaced capitals above a panel."""
    d.text(xy, "  ".join(text.upper().split(" ")), font=_font(17, "bold"), fill=MUTED)


def _ticks(d: ImageDraw.ImageDraw, x: int, y: int, size: int, parts: int) -> None:
    """Registration ticks outside a repeat, where the tile edges fall."""
    for i in range(parts + 1):
        p = round(i * size / parts)
        d.line([(x + p, y - 14), (x + p, y - 5)], fill=MUTED, width=2)
        d.line([(x - 14, y + p), (x - 5, y + p)], fill=MUTED, width=2)


def compose_sheet(c: SheetContent) -> np.ndarray:
    """Lay the sheet out; returns uint8 (1654, 2339, 3)."""
    w, h = SHEET_SIZE
    img = Image.new("RGB", SHEET_SIZE, PAPER)
    d = ImageDraw.Draw(img)

    # Header: studio line, design id, model and seed facts on the right.
    d.text((MARGIN, 48), "INKWASH-GAN  ·  PATTERN DESIGN SHEET", font=_font(20, "bold"), fill=MUTED)
    d.text((MARGIN, 78), c.design_id, font=_font(58, "bold"), fill=INK)
    for i, line in enumerate(c.header_lines):
        d.text((w - MARGIN, 50 + 30 * i), line, font=_font(21), fill=INK, anchor="ra")
    d.line([(MARGIN, 178), (w - MARGIN, 178)], fill=INK, width=3)

    # Row 1: tile, 3x3 repeat, strips.
    top = 232
    tile_px, rep_px = 470, 600
    _label(d, (MARGIN, top - 34), "tile")
    img.paste(_resize(c.tile_u8, tile_px), (MARGIN, top))
    x_rep = MARGIN + tile_px + 60
    _label(d, (x_rep, top - 34), "3 x 3 repeat")
    rep = np.tile(c.tile_u8, (3, 3, 1))
    img.paste(_resize(rep, rep_px), (x_rep, top))
    _ticks(d, x_rep, top, rep_px, 3)

    # Colourway under the tile.
    y_pal = top + tile_px + 30
    _label(d, (MARGIN, y_pal - 4), "colourway")
    chips = palette(c.tile_u8)
    chip = (tile_px - 5 * 10) // 6
    for i, (rgb, share) in enumerate(chips):
        x = MARGIN + i * (chip + 10)
        d.rectangle([x, y_pal + 26, x + chip, y_pal + 26 + chip // 1.6], fill=rgb, outline=RULE)
        d.text((x, y_pal + 32 + chip // 1.6), "#%02X%02X%02X" % rgb, font=_font(15, "mono"), fill=INK)
        d.text((x, y_pal + 52 + chip // 1.6), f"{share:.0%}", font=_font(14), fill=MUTED)

    # Strips to the right of the repeat; the last one is the seam check.
    x_s = x_rep + rep_px + 70
    strip_w = w - MARGIN - x_s
    strips = list(c.strips)
    n_rows = len(strips) + 1
    row_h = (top + rep_px + 40 - top) // n_rows
    thumb = min(118, row_h - 58)
    y = top - 34
    slots = max([len(s[1]) for s in strips] + [2])
    gap = (strip_w - slots * thumb) / (slots - 1)  # the same pitch in every strip
    for title, images_u8, captions in strips:
        _label(d, (x_s, y), title)
        k = len(images_u8)
        for i in range(k):
            x = round(x_s + i * (thumb + gap))
            img.paste(_resize(images_u8[i], thumb), (x, y + 30))
            if captions:
                d.text((x + thumb // 2, y + 34 + thumb), captions[i], font=_font(14), fill=MUTED, anchor="ma")
        y += row_h
    _label(d, (x_s, y), "seam check: 2 x 2, raw pattern vs seamless tile")
    side = min((strip_w - 380) // 2, top + rep_px - (y + 30))
    for j, (src, score, name) in enumerate(((c.pattern_u8, c.seam_before, "raw"),
                                             (c.tile_u8, c.seam_after, "tile"))):
        x = x_s + j * (side + 190)
        img.paste(_resize(np.tile(src, (2, 2, 1)), side), (x, y + 30))
        d.text((x + side + 14, y + 40), name, font=_font(20, "bold"), fill=INK)
        d.text((x + side + 14, y + 68), f"seam {score:.2f}", font=_font(18), fill=INK)
        d.text((x + side + 14, y + 94), "jump / step", font=_font(14), fill=MUTED)

    # Row 2: garments, centred.
    y_g = top + rep_px + 110
    d.line([(MARGIN, y_g - 40), (w - MARGIN, y_g - 40)], fill=RULE, width=2)
    names = list(c.garments_u8)
    if names:
        gw, gh = c.garments_u8[names[0]].shape[1], c.garments_u8[names[0]].shape[0]
        gap = min(80, (w - 2 * MARGIN - len(names) * gw) // max(1, len(names) - 1)) if len(names) > 1 else 0
        x0 = (w - (len(names) * gw + (len(names) - 1) * gap)) // 2
        for i, name in enumerate(names):
            x = x0 + i * (gw + gap)
            _label(d, (x, y_g - 28), GARMENT_TITLES.get(name, name))
            img.paste(Image.fromarray(c.garments_u8[name]), (x, y_g))
        y_foot = y_g + gh + 24
    else:
        y_foot = y_g
    # Footer: the command that reproduces the sheet, and where the rest is recorded.
    y_foot = max(y_foot, h - 96)
    d.line([(MARGIN, y_foot), (w - MARGIN, y_foot)], fill=INK, width=2)
    d.text((MARGIN, y_foot + 14), "reproduce:", font=_font(17, "bold"), fill=MUTED)
    d.text((MARGIN + 110, y_foot + 13), c.command, font=_font(16, "mono"), fill=INK)
    d.text((MARGIN + 110, y_foot + 44), "date, checksums and settings in the JSON sidecar  ·  seam score = mean "
           "|jump| across the wrapped tile border / mean |step| between neighbouring pixels inside the tile",
           font=_font(15), fill=MUTED)
    return np.asarray(img)


def pdf_bytes(sheet_u8: np.ndarray, title: str) -> bytes:
    """The sheet as a one-page PDF at its print size, raster embedded losslessly, no creation date."""
    from matplotlib.figure import Figure
    from matplotlib.backends.backend_pdf import FigureCanvasPdf

    h, w, _ = sheet_u8.shape
    fig = Figure(figsize=(w / SHEET_DPI, h / SHEET_DPI), dpi=SHEET_DPI)
    FigureCanvasPdf(fig)
    fig.figimage(sheet_u8, 0, 0, origin="upper", resize=False)
    buf = io.BytesIO()
    fig.savefig(buf, format="pdf", dpi=SHEET_DPI,
                metadata={"Title": title, "Creator": "inkwash-gan export design", "CreationDate": None})
    return buf.getvalue()


def png_bytes(image_u8: np.ndarray) -> bytes:
    """PNG bytes with no metadata chunks (no time, no software), so equal pixels give equal bytes."""
    buf = io.BytesIO()
    Image.fromarray(image_u8, "RGB").save(buf, format="PNG", dpi=(SHEET_DPI, SHEET_DPI))
    return buf.getvalue()


def write_sheet(stem: Path, sheet_u8: np.ndarray, title: str, sidecar: dict, pdf: bool = True) -> dict[str, Path]:
    """Write stem.png, stem.pdf (optional) and stem.json (the sidecar, plus file checksums)."""
    stem = Path(stem)
    out = {"png": stem.with_suffix(".png")}
    data = {"png": png_bytes(sheet_u8)}
    if pdf:
        out["pdf"] = stem.with_suffix(".pdf")
        data["pdf"] = pdf_bytes(sheet_u8, title)
    for k, p in out.items():
        write_bytes(p, data[k])  # atomic: no half-written sheets
    side = dict(sidecar)
    side["files"] = {k: {"name": p.name, "sha256": sha256_bytes(data[k])} for k, p in out.items()}
    out["json"] = stem.with_suffix(".json")
    write_text(out["json"], json.dumps(side, indent=2, sort_keys=True) + "\n")
    return out


def garment_row(tile_u8: np.ndarray, names: list[str], repeat_scale: float, rotation_deg: float,
                n_slots: int = 4) -> dict[str, np.ndarray]:
    """Mock-ups for a sheet, sized so `n_slots` fit across the page."""
    width = min(500, (SHEET_SIZE[0] - 2 * MARGIN - (n_slots - 1) * 66) // n_slots)
    size = (width, round(width * garments_mod.DEFAULT_SIZE[1] / garments_mod.DEFAULT_SIZE[0]))
    return {n: garments_mod.render_garment(n, tile_u8, repeat_scale, rotation_deg, size=size,
                                           background=PAPER) for n in names}

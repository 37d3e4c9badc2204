"""Study images: identical re-encoding of both classes, and serving them without label leaks.

What a respondent's browser can see of an image, and why none of it reveals the class:

* Decoding: every source file is decoded as training decodes its data (`inkwash.decode.to_srgb`:
  EXIF orientation, ICC profile to sRGB, 16-bit to 8-bit over the full range, palettes, alpha on
  paper white), so the study compares the generator with the data it learnt from, not two pipelines.
* Pixels: real and generated images pass through the same steps (square centre crop; reduced to
  the generator's resolution when that is below the display size; then resized to the display
  size with the same filter) and are encoded by the same PNG encoder at the same settings, with
  no metadata chunks (no tEXt/iTXt/eXIf/gAMA/pHYs, no ICC profile).
* Byte size: PNG size depends on content, and generated images compress differently from real
  ones, so a size pattern could give the class away. Every PNG of a study is therefore padded
  with one zero-filled private ancillary chunk (`paDd`, ignored by decoders) to the same length:
  the largest encoded image rounded up to a multiple of 4 KiB. All images of a study have exactly
  one byte length. (The single IDAT chunk's length still equals the compressed size, which
  is a function of the pixels: it tells someone who parses the file nothing the pixels don't.)
* URL and name: the server (`study_app.asgi`) serves the bytes unchanged at
  `images/<name>.png`, where `name` is an HMAC-SHA256 of the image id under the study's secret
  `url_key` (`public_name`): not the id, not a hash of the bytes, so not even someone holding an
  export (ids, classes, image files) can tell a URL's class. File names on disk are random tokens
  and never reach the browser. No caption; the same alt text for every image.
"""
from __future__ import annotations

import hashlib
import hmac
import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from inkwash.decode import to_srgb

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")
PAD_QUANTUM = 4096        # bytes; padded sizes are multiples of this
PAD_CHUNK = b"paDd"       # ancillary (a), private (a), reserved bit clear (D), safe-to-copy (d)
PNG_COMPRESS_LEVEL = 6   # zlib's default: sizes are padded anyway, so speed wins
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ALT_TEXT = "Pattern to judge"   # identical for every image
IMAGE_ROUTE = "images"          # the served images' URL path: images/<public name>.png
RESAMPLE = Image.Resampling.LANCZOS


def list_images(folder: Path) -> list[Path]:
    """Image files under `folder` (recursive), sorted by path."""
    return sorted(p for p in Path(folder).rglob("*")
                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))


def load_rgb(path: Path) -> Image.Image:
    """Open an image (its first frame) as 8-bit sRGB, decoded exactly as training decodes it."""
    with Image.open(path) as im:
        im.load()
        return to_srgb(im)


def centre_square(im: Image.Image) -> Image.Image:
    """The largest centred square of an image."""
    w, h = im.size
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    return im.crop((left, top, left + s, top + s))


def to_display(im: Image.Image, generator_resolution: int, display_size: int) -> np.ndarray:
    """One image, real or generated, as the respondent sees it: uint8 (display, display, 3).

    Centre square -> reduced to the generator's resolution if that is below the display size ->
    resized to the display size. Both classes take exactly this path."""
    im = centre_square(im)
    if generator_resolution < display_size:
        im = im.resize((generator_resolution, generator_resolution), RESAMPLE)
    im = im.resize((display_size, display_size), RESAMPLE)
    return np.asarray(im, dtype=np.uint8).copy()


def encode_png(image_u8: np.ndarray) -> bytes:
    """uint8 HWC RGB -> PNG bytes, the one encoder setting of every study image: IHDR, one IDAT,
    IEND and nothing else (Pillow splits IDAT at 64 KiB; joined so every image has one layout)."""
    buf = io.BytesIO()
    Image.fromarray(image_u8, "RGB").save(buf, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    png = buf.getvalue()
    header, idat = b"", b""
    for kind, data in _iter_chunks(png):
        if kind == b"IHDR":
            header = data
        elif kind == b"IDAT":
            idat += data
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def pad_png(png: bytes, size: int) -> bytes:
    """Pad PNG bytes to exactly `size` bytes with one zero-filled `paDd` chunk before IEND."""
    if len(png) == size:
        return png
    extra = size - len(png) - 12          # 12 = length + type + CRC of the padding chunk
    if extra < 0:
        raise ValueError(f"cannot pad a {len(png)}-byte PNG to {size} bytes")
    iend = png.rindex(b"IEND") - 4        # the IEND chunk starts at its length field
    return png[:iend] + _chunk(PAD_CHUNK, bytes(extra)) + png[iend:]


def padded_size(sizes: list[int]) -> int:
    """The common length for a study: the largest PNG plus room for a chunk, rounded up to 4 KiB."""
    need = max(sizes) + 12
    return -(-need // PAD_QUANTUM) * PAD_QUANTUM


def pad_all(pngs: list[bytes]) -> list[bytes]:
    """Pad every PNG of a study to one common byte length."""
    size = padded_size([len(p) for p in pngs])
    return [pad_png(p, size) for p in pngs]


def _iter_chunks(png: bytes):
    pos = len(PNG_SIGNATURE)
    while pos < len(png):
        n = struct.unpack(">I", png[pos:pos + 4])[0]
        yield png[pos + 4:pos + 8], png[pos + 8:pos + 8 + n]
        pos += 12 + n


def png_chunks(png: bytes) -> list[bytes]:
    """The chunk types of a PNG file in order (for tests and audits)."""
    return [kind for kind, _ in _iter_chunks(png)]


def render_catch(image_u8: np.ndarray, expected: str) -> np.ndarray:
    """An attention-check image: a pattern with an on-image instruction to press `expected`."""
    im = Image.fromarray(image_u8, "RGB")
    s = im.size[0]
    draw = ImageDraw.Draw(im)
    font_small = ImageFont.load_default(size=max(10, s // 16))
    font_big = ImageFont.load_default(size=max(14, s // 8))
    label = "Real" if expected == "real" else "Generated"
    lines = [("Attention check", font_small), ("Please press", font_small), (label, font_big)]
    heights = [draw.textbbox((0, 0), t, font=f)[3] for t, f in lines]
    box_h = sum(heights) + s // 10 + s // 20 * 2
    top = (s - box_h) // 2
    draw.rounded_rectangle((s // 10, top, s - s // 10, top + box_h), radius=s // 24,
                           fill=(255, 255, 255), outline=(40, 40, 40), width=max(1, s // 128))
    y = top + s // 20
    for (text, font), h in zip(lines, heights):
        w = draw.textlength(text, font=font)
        draw.text(((s - w) / 2, y), text, font=font, fill=(20, 20, 20))
        y += h + s // 30
    return np.asarray(im, dtype=np.uint8).copy()


def public_name(url_key: str, image_id: str) -> str:
    """The name an image is served under: HMAC-SHA256 of its id under the study's url_key (hex)."""
    return hmac.new(url_key.encode(), image_id.encode(), hashlib.sha256).hexdigest()[:40]


def image_url(url_key: str, image_id: str) -> str:
    """The image's URL relative to the app's pages (so a base URL path is kept)."""
    return f"{IMAGE_ROUTE}/{public_name(url_key, image_id)}.png"

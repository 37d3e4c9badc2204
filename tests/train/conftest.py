"""Fixtures for the data tests: a tiny messy folder covering every mode, format and bad file."""
from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from train.demo import png_header_only

# sRGB primaries adapted to D50 (ICC PCS), as in the sRGB profile's rXYZ/gXYZ/bXYZ tags.
_SRGB_D50 = {"r": (0.4361, 0.2225, 0.0139), "g": (0.3851, 0.7169, 0.0971), "b": (0.1431, 0.0606, 0.7141)}


def make_icc_swapped_rg() -> bytes:
    """A valid ICC v2 RGB display profile whose red and green primaries are swapped, so a pure
    red pixel tagged with it means green: converting to sRGB must visibly change it."""
    def s15(v: float) -> bytes:
        return struct.pack(">i", int(round(v * 65536)))

    def xyz(v) -> bytes:
        return b"XYZ " + b"\0" * 4 + b"".join(s15(c) for c in v)

    desc_text = b"Swapped RG test profile\0"
    desc = b"desc" + b"\0" * 4 + struct.pack(">I", len(desc_text)) + desc_text + b"\0" * 12 + b"\0" * 67
    curve = b"curv" + b"\0" * 4 + struct.pack(">I", 1) + struct.pack(">H", 0x0233) + b"\0\0"  # gamma 2.2
    tags = [(b"desc", desc), (b"wtpt", xyz((0.9642, 1.0, 0.8249))), (b"rXYZ", xyz(_SRGB_D50["g"])),
            (b"gXYZ", xyz(_SRGB_D50["r"])), (b"bXYZ", xyz(_SRGB_D50["b"])),
            (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for sig, body in tags:
        while len(body) % 4:
            body += b"\0"
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = (struct.pack(">I", size) + b"\0" * 4 + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ " +
              b"\0" * 12 + b"acsp" + b"\0" * 24 + struct.pack(">I", 0) + s15(0.9642) + s15(1.0) + s15(0.8249) +
              b"\0" * 48)
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + data


def _ink(h: int, w: int, seed: int) -> np.ndarray:
    """A small grey ink-like pattern (uint8 (h, w)) with a wide range of tones."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    d = np.hypot(yy - h * rng.uniform(0.3, 0.7), xx - w * rng.uniform(0.3, 0.7)) / (0.4 * min(h, w))
    return np.clip(255 - 200 * np.clip(1 - d, 0, 1) - rng.integers(0, 20, (h, w)), 0, 255).astype(np.uint8)


# Expected outcome per file: (status, substring of the reason or of the actions).
EXPECTED = {
    "pools/rgb.png": ("ok", "resized"),
    "pools/grey.png": ("converted", "greyscale -> RGB"),
    "pools/la.png": ("converted", "composited on paper white"),
    "pools/rgba.png": ("converted", "composited on paper white"),
    "pools/palette.png": ("converted", "palette -> RGB"),
    "pools/palette_transparent.png": ("converted", "palette with transparency"),
    "strokes/sixteen.png": ("converted", "I;16"),
    "strokes/cmyk.jpg": ("converted", "CMYK -> RGB"),
    "strokes/onebit.bmp": ("converted", "1-bit"),
    "strokes/wide.webp": ("ok", "resized"),
    "strokes/tall.tiff": ("ok", "resized"),
    "strokes/anim.gif": ("converted", "first frame of 2"),
    "splatter/rotated.jpg": ("converted", "EXIF orientation 6"),
    "splatter/profile.png": ("converted", "ICC profile 'Swapped RG test profile' -> sRGB"),
    "splatter/small_tile.png": ("converted", "tiled"),
    "splatter/deep/nested.png": ("ok", "resized"),
    "zbad/empty.png": ("skipped", "empty file"),
    "zbad/truncated.png": ("skipped", "truncated"),
    "zbad/not_an_image.jpg": ("skipped", "not an image"),
    "zbad/bomb.png": ("skipped", "decompression bomb"),
    "zbad/icon.png": ("skipped", "too small: 2x2"),
    "zbad/duplicate.png": ("skipped", "exact duplicate"),
    "loose.png": ("ok", "resized"),
}


@pytest.fixture
def tiny_expected() -> dict[str, tuple[str, str]]:
    """{relative path: (status, text in its reason or actions)} for every file of `tiny_folder`."""
    return dict(EXPECTED)


@pytest.fixture
def tiny_folder(tmp_path: Path) -> Path:
    """A messy folder: every Pillow mode and format the loader supports, mixed sizes (some
    smaller than 32 px), nested folders, and each kind of bad file. See EXPECTED."""
    root = tmp_path / "patterns"
    for d in ("pools", "strokes", "splatter/deep", "zbad"):
        (root / d).mkdir(parents=True)
    g = _ink(48, 64, 1)
    rgb = np.dstack([g, g, np.clip(g.astype(int) + 8, 0, 255).astype(np.uint8)])
    Image.fromarray(rgb).save(root / "pools/rgb.png")
    Image.fromarray(_ink(70, 40, 2), "L").save(root / "pools/grey.png")
    alpha = np.zeros((40, 40), np.uint8)
    alpha[10:30, 10:30] = 255
    Image.fromarray(np.dstack([_ink(40, 40, 3), alpha]), "LA").save(root / "pools/la.png")
    Image.fromarray(np.dstack([rgb[:40, :40], alpha]), "RGBA").save(root / "pools/rgba.png")
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(root / "pools/palette.png")
    pt = Image.fromarray(rgb[:, :, ::-1].copy()).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    pt.info["transparency"] = 0
    pt.save(root / "pools/palette_transparent.png", transparency=0)
    Image.fromarray(_ink(50, 50, 4).astype(np.uint16) * 257).save(root / "strokes/sixteen.png")
    Image.fromarray(rgb).convert("CMYK").save(root / "strokes/cmyk.jpg", "JPEG", quality=95)
    Image.fromarray(_ink(40, 48, 5) > 128).save(root / "strokes/onebit.bmp")
    Image.fromarray(np.dstack([_ink(36, 90, 6)] * 3)).save(root / "strokes/wide.webp", "WEBP", lossless=True)
    Image.fromarray(np.dstack([_ink(96, 40, 7)] * 3)).save(root / "strokes/tall.tiff", "TIFF")
    frames = [Image.fromarray(_ink(40, 40, s), "L").convert("P") for s in (8, 9)]
    frames[0].save(root / "strokes/anim.gif", save_all=True, append_images=frames[1:], duration=100)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 80 wide x 40 high; displayed rotated 90 degrees clockwise
    halves = np.full((40, 80, 3), 250, np.uint8)
    halves[:, :40] = 20  # dark left half: on display it becomes the top half
    Image.fromarray(halves).save(root / "splatter/rotated.jpg", "JPEG", exif=exif, quality=95)
    red = np.zeros((40, 40, 3), np.uint8)
    red[..., 0] = 255
    Image.fromarray(red).save(root / "splatter/profile.png", icc_profile=make_icc_swapped_rg())
    Image.fromarray(rgb[:20, :24]).save(root / "splatter/small_tile.png")
    Image.fromarray(np.dstack([_ink(64, 64, 11)] * 3)).save(root / "splatter/deep/nested.png")
    stripes = np.where((np.arange(60) // 6) % 2, 40, 230).astype(np.uint8)[None, :].repeat(40, 0)
    Image.fromarray(np.dstack([stripes] * 3)).save(root / "loose.png")  # not one more soft blob: no near-duplicate
    # Bad files.
    (root / "zbad/empty.png").write_bytes(b"")
    good = (root / "pools/rgb.png").read_bytes()
    buf = io.BytesIO()
    Image.fromarray(np.dstack([_ink(200, 200, 13)] * 3)).save(buf, "PNG")
    (root / "zbad/truncated.png").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    (root / "zbad/not_an_image.jpg").write_text("this is a note, not a picture\n" * 10)
    (root / "zbad/bomb.png").write_bytes(png_header_only(40_000, 40_000))
    Image.new("RGB", (2, 2), (10, 10, 10)).save(root / "zbad/icon.png")
    (root / "zbad/duplicate.png").write_bytes(good)
    (root / ".DS_Store").write_bytes(b"\0\1hidden")
    return root

"""Any decoded image as 8-bit sRGB, the one way every package does it: training data and the
study's real and generated images must be decoded alike, or a study measures the pipeline instead
of the generator.

`to_srgb(im, actions)` applies the EXIF orientation, converts through an embedded ICC profile to
sRGB, scales 16-bit and 32-bit integer or float images to 8 bits (the full 16-bit range onto
0-255), expands palettes, and composites transparency on paper white. Each step it takes is
appended to `actions` as (text, changes the content) for the caller's report. Pillow and numpy
only; no torch.
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageCms, ImageOps

PAPER_WHITE = (255, 255, 255)   # what transparency is composited on (patterns are printed on white)

_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def to_srgb(im: Image.Image, actions: list[tuple[str, bool]] | None = None) -> Image.Image:
    """Any Pillow mode -> RGB: EXIF orientation, ICC profile to sRGB, bit depth, alpha on white."""
    actions = [] if actions is None else actions
    orientation = im.getexif().get(0x0112, 1)
    if orientation not in (1, None):
        im = ImageOps.exif_transpose(im)
        actions.append((f"EXIF orientation {orientation} applied", True))
    icc = im.info.get("icc_profile")
    if icc and im.mode in ("RGB", "RGBA", "CMYK", "L", "LA"):
        im = _icc_to_srgb(im, icc, actions)
    mode = im.mode
    if mode == "1":
        im = im.convert("L")
        actions.append(("1-bit -> 8-bit grey", True))
    elif mode.startswith("I") or mode == "F":
        a = np.asarray(im, dtype=np.float64)
        scale = 257.0 if (mode.startswith("I;16") or a.max() > 255) else 1.0
        im = Image.fromarray(np.clip(np.rint(a / scale), 0, 255).astype(np.uint8), "L")
        actions.append((f"{mode} -> 8-bit grey (/{scale:g})", True))
    elif mode == "P":
        has_alpha = "transparency" in im.info
        im = im.convert("RGBA" if has_alpha else "RGB")
        actions.append(("palette with transparency -> RGBA" if has_alpha else "palette -> RGB", True))
    elif mode in ("PA", "La", "RGBa"):
        im = im.convert("RGBA")
        actions.append((f"{mode} -> RGBA", True))
    if im.mode in ("LA", "RGBA"):
        return _on_paper(im, actions)
    if im.mode == "L":
        actions.append(("greyscale -> RGB", True))
    elif im.mode == "CMYK":
        actions.append(("CMYK -> RGB (no colour profile: naive conversion)", True))
    elif im.mode != "RGB":
        actions.append((f"{im.mode} -> RGB", True))
    return im.convert("RGB") if im.mode != "RGB" else im


def _on_paper(im: Image.Image, actions: list) -> Image.Image:
    """An LA or RGBA image composited on paper white (an opaque alpha channel is just dropped)."""
    alpha = np.asarray(im.getchannel("A"))
    if alpha.min() == 255:
        actions.append(("opaque alpha channel dropped", True))
    else:
        actions.append((f"transparency composited on paper white ({np.mean(alpha < 255):.0%} of pixels)", True))
    bg = Image.new("RGB", im.size, PAPER_WHITE)
    bg.paste(im.convert("RGB"), mask=im.getchannel("A"))
    return bg


def _icc_to_srgb(im: Image.Image, icc: bytes, actions: list) -> Image.Image:
    """Convert through the embedded profile to sRGB (alpha kept aside); sRGB profiles are kept."""
    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        desc = ImageCms.getProfileDescription(src).strip() or "unnamed"
    except Exception as e:  # noqa: BLE001 - any unreadable profile is reported, never a crash
        actions.append((f"unreadable ICC profile ignored ({type(e).__name__})", True))
        return im
    if "srgb" in desc.lower():
        return im
    alpha = im.getchannel("A") if im.mode in ("RGBA", "LA") else None
    base = im.convert({"RGBA": "RGB", "LA": "L"}.get(im.mode, im.mode)) if alpha is not None else im
    try:
        out = ImageCms.profileToProfile(base, src, _SRGB, outputMode="RGB")
    except Exception as e:  # noqa: BLE001 - a profile that does not fit the pixel mode
        actions.append((f"ICC profile '{desc}' could not be applied ({type(e).__name__}); ignored", True))
        return im
    actions.append((f"ICC profile '{desc}' -> sRGB", True))
    if alpha is not None:
        out.putalpha(alpha)
    return out

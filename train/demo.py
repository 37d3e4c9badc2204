"""The built-in demo set: procedural ink-wash ("tachisme") patterns, generated on first use.

`demo_folder()` writes 363 images (121 per style folder: pools, strokes, splatter) into
$INKWASH_CACHE/demo-v1 (default ~/.cache/inkwash-gan/demo-v1) and returns that path; later calls
return at once. Every image comes from its own seed, so regeneration gives the same bytes.

An image is paper (warm white, fibre grain) under layers of ink. Each layer is a density map
d in [0, 1] and an ink colour c; layers combine as transmission filters, paper x prod(1 - d (1 - c)),
the way glazes of diluted ink darken each other. Layers:
- pools: diluted ink with a noisy outline, a darker rim where pigment gathers as a wet pool dries,
  a flow gradient, granulation and sometimes a lighter bloom (wet-in-wet);
- strokes: dry-brush paths drawn bristle by bristle, each bristle running out of ink at its own
  pace, so the stroke breaks into streaks;
- splatter: flicked droplets along a direction, a few large drops, fine mist.
A minority of images carry one accent layer in vermilion, indigo or ochre.
"""
from __future__ import annotations

import io
import json
import logging
import math
import os
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from inkwash import atomic, provenance
from inkwash.hashing import sha256_file
from inkwash.paths import cache_dir as inkwash_cache_dir
from train.decode import parallel_map

log = logging.getLogger(__name__)

DEMO_VERSION = "demo-v1"
STYLES = ("pools", "strokes", "splatter")
PER_STYLE = 121                       # 3 x 121 = 363 >= the paper's 361 artworks
SEED = 2020
INK = (0.07, 0.07, 0.08)              # sumi ink, slightly cool black
ACCENTS = {"vermilion": (0.89, 0.26, 0.17), "indigo": (0.16, 0.22, 0.47), "ochre": (0.80, 0.56, 0.18)}
ACCENT_SHARE = 0.22                   # fraction of images with one accent layer


def demo_folder(cache_dir: Path | None = None, bad_files: bool = False, per_style: int = PER_STYLE,
                workers: int | None = None) -> Path:
    """Path of the demo set, generating it on first use (deterministic; seconds on 2 cores).

    Args:
        cache_dir: parent folder (None: `inkwash.paths.cache_dir()`); the set goes to `<cache_dir>/demo-v1`.
        bad_files: return a sibling folder `demo-v1-bad` with the same images plus a few broken
            files (empty, truncated, not an image, decompression bomb, 2x2 icon, duplicate).
        per_style: images per style folder (default 121; smaller values for quick tests go to
            `demo-v1-n<k>`).
    """
    base = Path(cache_dir) if cache_dir is not None else inkwash_cache_dir()
    name = DEMO_VERSION if per_style == PER_STYLE else f"{DEMO_VERSION}-n{per_style}"
    folder = base / name
    if not _is_current(folder):
        _generate(folder, per_style, workers)
    if not bad_files:
        return folder
    bad = base / f"{name}-bad"
    if not _is_current(bad):
        tmp = bad.with_name(f".{bad.name}.tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(folder, tmp, copy_function=_link_or_copy)
        write_bad_files(tmp)
        (tmp / ".complete").write_text(json.dumps({"version": DEMO_VERSION, "code": _code_hash(), "bad_files": True}))
        _replace_dir(tmp, bad)
    return bad


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _code_hash() -> str:
    """SHA-256 of this module's source: a set made by other code is regenerated, never reused."""
    return sha256_file(Path(__file__))[:16]


def _is_current(folder: Path) -> bool:
    try:
        return json.loads((folder / ".complete").read_text()).get("code") == _code_hash()
    except (OSError, ValueError):
        return False


def _replace_dir(tmp: Path, final: Path) -> None:
    """Move a finished folder into place, replacing a stale one; if another process put a current
    one there first, keep theirs."""
    if not _is_current(final):
        try:
            atomic.replace_dir(tmp, final)
            return
        except OSError:  # another process moved its folder in between
            if not _is_current(final):
                raise
    shutil.rmtree(tmp, ignore_errors=True)


def _generate(folder: Path, per_style: int, workers: int | None) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    for s in STYLES:
        (tmp / s).mkdir(parents=True)
    jobs = [(str(tmp), s, i) for s in STYLES for i in range(per_style)]
    workers = workers or provenance.cpu_cores()
    log.info("generating the ink-wash demo set (%d images) into %s", len(jobs), folder)
    names, _ = parallel_map(_make_one, jobs, workers, __name__, chunksize=4)
    (tmp / ".complete").write_text(json.dumps({"version": DEMO_VERSION, "code": _code_hash(), "files": names}))
    _replace_dir(tmp, folder)


def _make_one(root: str, style: str, i: int) -> str:
    """Render image i of `style` and write it in its drawn format; returns its relative path."""
    rng = np.random.default_rng([SEED, STYLES.index(style), i])
    rgb, density, accent = render(style, rng)
    kind = rng.choice(["png", "png", "png", "png", "grey", "jpeg", "jpeg", "rgba"])
    if kind == "grey" and accent:
        kind = "png"
    stem = f"{style}/{style}_{i:03d}"
    if kind == "jpeg":
        rel = f"{stem}.jpg"
        Image.fromarray(rgb).save(Path(root) / rel, "JPEG", quality=int(rng.integers(82, 95)))
    elif kind == "grey":
        rel = f"{stem}.png"
        Image.fromarray(rgb).convert("L").save(Path(root) / rel, "PNG", compress_level=1)
    elif kind == "rgba":
        # An ink layer lifted off its paper: paper is transparent, ink keeps its colour.
        rel = f"{stem}.png"
        alpha = np.clip(density * 3.0 * 255.0, 0, 255).astype(np.uint8)
        ink = np.where(alpha[..., None] > 0, rgb, 0).astype(np.uint8)
        Image.fromarray(np.dstack([ink, alpha]), "RGBA").save(Path(root) / rel, "PNG", compress_level=1)
    else:
        rel = f"{stem}.png"
        Image.fromarray(rgb).save(Path(root) / rel, "PNG", compress_level=1)
    return rel


def _noise(h: int, w: int, cell: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth value noise in about [-1, 1], features about `cell` px across; float32 (h, w)."""
    gh, gw = max(2, int(h / cell) + 2), max(2, int(w / cell) + 2)
    g = rng.standard_normal((gh, gw), dtype=np.float32)
    # Bilinear is enough for pixel-scale grain; larger features need bicubic to avoid facets.
    im = Image.fromarray(g, "F").resize((w, h), Image.Resampling.BICUBIC if cell > 3 else Image.Resampling.BILINEAR)
    return np.asarray(im) * 0.9


def _fractal(h: int, w: int, cell: float, rng: np.random.Generator, octaves: int = 4) -> np.ndarray:
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for _ in range(octaves):
        out += amp * _noise(h, w, max(cell, 1.5), rng)
        total += amp
        amp *= 0.5
        cell /= 2.0
    return out / total


def _upsample(a: np.ndarray, h: int, w: int) -> np.ndarray:
    return np.asarray(Image.fromarray(a.astype(np.float32), "F").resize((w, h), Image.Resampling.BILINEAR))


def pool_layer(h: int, w: int, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """A diluted ink pool: noisy outline, dark drying rim, flow gradient, granulation."""
    f = max(1.0, max(h, w) / 320.0)               # work at <= 320 px, upsample at the end
    lh, lw = max(8, int(h / f)), max(8, int(w / f))
    m = min(lh, lw)
    yy, xx = np.mgrid[0:lh, 0:lw].astype(np.float32)
    cy, cx = rng.uniform(0.15, 0.85) * lh, rng.uniform(0.15, 0.85) * lw
    r = rng.uniform(0.2, 0.55) * m * scale
    ang, aspect = rng.uniform(0, math.pi), rng.uniform(0.4, 1.0)
    u = ((xx - cx) * math.cos(ang) + (yy - cy) * math.sin(ang)) / r
    v = (-(xx - cx) * math.sin(ang) + (yy - cy) * math.cos(ang)) / (r * aspect)
    d = np.sqrt(u * u + v * v) + 0.5 * _fractal(lh, lw, r * 1.2, rng, 4)
    inside = 1.0 - d                               # > 0 inside the pool
    softness = float(rng.choice([0.015, 0.03, 0.08, 0.2, 0.4]))  # dried crisp edge ... feathered wet edge
    mask = np.clip(inside / softness, 0, 1)
    mask = mask * mask * (3 - 2 * mask)            # smoothstep
    rim_w = rng.uniform(0.03, 0.1)
    rim = np.exp(-np.clip(inside, 0, None) / rim_w) * mask
    gx, gy = rng.standard_normal(2)
    ramp = ((xx - cx) * gx + (yy - cy) * gy) / (r * math.hypot(gx, gy) + 1e-6)
    dilution = rng.uniform(0.15, 0.85)
    body = dilution * np.clip(0.7 + 0.4 * ramp * rng.uniform(0.2, 0.9), 0.2, 1.4)
    body = body * (0.8 + 0.35 * _fractal(lh, lw, r * 0.6, rng, 3))
    dens = mask * body + rim * rng.uniform(0.1, 0.5) * (0.3 + dilution) * (softness < 0.1)
    if rng.random() < 0.35:                        # bloom: water pushed back into drying ink
        bx, by = cx + rng.uniform(-0.5, 0.5) * r, cy + rng.uniform(-0.5, 0.5) * r
        br = r * rng.uniform(0.25, 0.5)
        b = np.hypot(xx - bx, yy - by) / br + 0.4 * _fractal(lh, lw, br * 0.8, rng, 3)
        bmask = np.clip((1 - b) / 0.08, 0, 1)
        brim = np.exp(-np.clip(1 - b, 0, None) / 0.06) * bmask
        dens = dens * (1 - 0.65 * bmask) + 0.3 * dilution * brim * mask
    dens = _upsample(np.clip(dens, 0, 1), h, w)
    grain = _noise(h, w, 1.6, rng)                 # pigment granulation at full resolution
    return np.clip(dens * (1 + 0.1 * grain), 0, 1)


def stroke_layer(h: int, w: int, rng: np.random.Generator, width_scale: float = 1.0) -> np.ndarray:
    """A brush stroke drawn bristle by bristle: loaded and solid at the start, breaking into
    dry-brush streaks as each bristle runs out of ink at its own pace."""
    m = min(h, w)
    img = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(img)
    n = 120
    length = rng.uniform(0.7, 1.6) * m
    x, y = rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h
    heading = math.atan2(h / 2 - y, w / 2 - x) + rng.normal(0, 0.7)  # across the sheet, not off it
    turn = np.cumsum(rng.normal(0, 0.04, n)) + np.linspace(0, rng.normal(0, 1.2), n)
    step = length / n
    pts = np.empty((n, 2))
    for k in range(n):
        pts[k] = (x, y)
        x, y = x + math.cos(heading + turn[k]) * step, y + math.sin(heading + turn[k]) * step
    tang = np.gradient(pts, axis=0)
    nrm = np.stack([-tang[:, 1], tang[:, 0]], 1) / (np.linalg.norm(tang, axis=1, keepdims=True) + 1e-6)
    s = np.linspace(0, 1, n)
    width = rng.uniform(0.07, 0.25) * m * width_scale
    # Pressure: the brush lands (blunt start), presses, and lifts towards the end.
    pressure = np.clip(rng.uniform(0.3, 0.6) + 0.4 * np.minimum(s / 0.08, 1) ** 0.5 - rng.uniform(0.2, 0.7) * s ** rng.uniform(1.5, 4), 0.15, 1)
    # Each bristle runs dry at its own point along the stroke (outer bristles first); past it,
    # ink comes off in broken streaks (dry brush), then not at all.
    dry_at = rng.uniform(0.35, 1.3)
    bristle_w = max(1, int(round(width / 16)))
    n_bristles = int(np.clip(3.0 * width / bristle_w, 16, 120))
    tone = rng.uniform(0.75, 1.0) if rng.random() < 0.7 else rng.uniform(0.3, 0.6)  # loaded or diluted ink
    for _ in range(n_bristles):
        off = rng.uniform(-0.5, 0.5)
        s_k = dry_at + rng.normal(0, 0.15) - 0.5 * abs(off)
        load = (s_k - s) / 0.25 + np.cumsum(rng.normal(0, 0.12, n))  # > 0 while the bristle has ink
        q = pts + nrm * (off * width * pressure)[:, None]
        on = load > 0
        v = int(255 * tone * rng.uniform(0.85, 1.0))
        k = 0
        while k < n - 1:
            if not on[k]:
                k += 1
                continue
            j = min(k + 8, n - 1)
            while j > k + 1 and not on[j - 1]:
                j -= 1
            draw.line([tuple(p) for p in q[k:j + 1]], fill=v, width=bristle_w, joint="curve")
            k = j
    a = np.asarray(img.filter(ImageFilter.GaussianBlur(max(0.6, m / 600)))).astype(np.float32) / 255.0
    # Dry ink skips the valleys of the paper's texture.
    return np.clip(a * (1 - 0.5 * (1 - a) * np.clip(-_noise(h, w, 1.5, rng), 0, 1)), 0, 1)


def splatter_layer(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Flicked droplets scattered along a direction, a few large drops and a fine mist, with
    irregular wet outlines and slightly darker drying rims."""
    m = min(h, w)
    shape_im, tone_im = Image.new("L", (w, h), 0), Image.new("L", (w, h), 0)
    ds, dt = ImageDraw.Draw(shape_im), ImageDraw.Draw(tone_im)

    def drop(pts, tone: float) -> None:
        ds.polygon(pts, fill=255)
        dt.polygon(pts, fill=int(255 * tone))

    def circle(x: float, y: float, r: float) -> list[tuple[float, float]]:
        return [(x + r * math.cos(a), y + r * math.sin(a)) for a in np.linspace(0, 2 * math.pi, 16)]

    cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
    ang = rng.uniform(0, 2 * math.pi)
    ca, sa = math.cos(ang), math.sin(ang)
    spread_along, spread_across = rng.uniform(0.15, 0.5) * m, rng.uniform(0.04, 0.15) * m
    base_tone = rng.uniform(0.5, 1.0)
    for _ in range(int(rng.integers(60, 300))):
        t, o = rng.normal(0, spread_along), rng.normal(0, spread_across)
        px, py = cx + t * ca - o * sa, cy + t * sa + o * ca
        r = float(np.clip(rng.lognormal(math.log(0.007 * m), 0.8), 0.7, 0.05 * m))
        e = 1 + rng.exponential(0.5)                            # elongated along the flick
        pts = [(px + r * (e * math.cos(a) * ca - math.sin(a) * sa / e ** 0.5),
                py + r * (e * math.cos(a) * sa + math.sin(a) * ca / e ** 0.5)) for a in np.linspace(0, 2 * math.pi, 12)]
        drop(pts, base_tone * rng.uniform(0.6, 1.0))
    for _ in range(int(rng.integers(0, 4))):                    # large drops with satellites
        px, py, r = rng.uniform(0.15, 0.85) * w, rng.uniform(0.15, 0.85) * h, rng.uniform(0.015, 0.05) * m
        drop(circle(px, py, r), rng.uniform(0.6, 1.0))
        for _ in range(int(rng.integers(3, 12))):
            a, dist, rr = rng.uniform(0, 2 * math.pi), r * rng.uniform(1.2, 3.0), r * rng.uniform(0.05, 0.25)
            drop(circle(px + dist * math.cos(a), py + dist * math.sin(a), max(rr, 0.7)), rng.uniform(0.5, 1.0))
    n_mist = int(h * w * rng.uniform(0.00005, 0.0004))
    mx, my = rng.normal(cx, 0.3 * m, n_mist), rng.normal(cy, 0.3 * m, n_mist)
    for px, py in zip(mx, my):
        ds.point((float(px), float(py)), fill=255)
        dt.point((float(px), float(py)), fill=int(255 * base_tone * 0.7))

    def blur(im: Image.Image, radius: float) -> np.ndarray:
        return np.asarray(im.filter(ImageFilter.GaussianBlur(radius)), dtype=np.float32) / 255.0
    # Wet outlines: blur the drop mask, warp its level with noise near the edge only, re-threshold
    # softly; pigment gathers at the rim as a drop dries.
    soft = blur(shape_im, max(0.8, m / 500))
    level = soft + soft * (1 - soft) * 1.5 * _noise(h, w, max(2.0, m / 150), rng)
    shape = np.clip((level - 0.35) / 0.2, 0, 1)
    tone = blur(tone_im, max(1.0, m / 300)) / np.maximum(blur(shape_im, max(1.0, m / 300)), 0.05)
    rim = np.clip(shape - blur(Image.fromarray((shape * 255).astype(np.uint8)), max(1.0, m / 300)), 0, 1)
    return np.clip(shape * np.clip(tone, 0, 1) * 0.92 + 0.25 * rim, 0, 1)


def paper(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Warm white paper with mottling and fibre grain; float32 (h, w, 3) in [0, 1]."""
    base = np.array([246, 243, 236], np.float32) / 255 + rng.uniform(-0.01, 0.008)
    mottle = 0.008 * _fractal(h, w, min(h, w) / 4, rng, 3)
    fibre = 0.014 * _noise(h, w, 1.2, rng)
    return np.clip(base[None, None, :] + (mottle + fibre)[..., None], 0, 1)


def render(style: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str | None]:
    """One ink-wash image of `style`: (uint8 (H, W, 3), ink density float32 (H, W), accent name)."""
    side_long = int(rng.uniform(150, 1200))
    side_short = int(side_long * rng.uniform(0.55, 1.0))
    h, w = (side_long, side_short) if rng.random() < 0.5 else (side_short, side_long)
    layers: list[tuple[np.ndarray, tuple]] = []
    if style == "pools":
        for _ in range(int(rng.integers(2, 5))):
            layers.append((pool_layer(h, w, rng), INK))
        if rng.random() < 0.4:
            layers.append((stroke_layer(h, w, rng, 0.6), INK))
    elif style == "strokes":
        for _ in range(int(rng.integers(1, 3))):
            layers.append((pool_layer(h, w, rng) * rng.uniform(0.3, 0.8), INK))
        for _ in range(int(rng.integers(2, 6))):
            layers.append((stroke_layer(h, w, rng), INK))
    else:
        for _ in range(int(rng.integers(1, 4))):
            layers.append((pool_layer(h, w, rng), INK))
        for _ in range(int(rng.integers(1, 4))):
            layers.append((splatter_layer(h, w, rng), INK))
    accent = None
    if rng.random() < ACCENT_SHARE:
        accent = str(rng.choice(list(ACCENTS)))
        colour = ACCENTS[accent]
        maker = {"pools": pool_layer, "strokes": stroke_layer, "splatter": splatter_layer}[style]
        layers.append((maker(h, w, rng) * rng.uniform(0.6, 1.0), colour))
    out = paper(h, w, rng)
    for dens, colour in layers:
        for ch in range(3):   # transmission filter per channel, in place
            out[..., ch] *= 1.0 - dens * (1.0 - colour[ch])
    density = np.maximum.reduce([d for d, _ in layers])
    return np.clip(np.rint(out * 255), 0, 255).astype(np.uint8), density, accent


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width x height pixels and holds almost no data (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def write_bad_files(folder: Path) -> list[str]:
    """Add one file of each kind the loader must report: returns their relative paths."""
    folder = Path(folder)
    src = sorted(p for s in STYLES for p in (folder / s).iterdir() if p.suffix in (".png", ".jpg"))[0]
    data = src.read_bytes()
    bad = {
        f"{STYLES[0]}/empty.png": b"",
        f"{STYLES[0]}/truncated.png": data[: len(data) // 2],
        f"{STYLES[1]}/notes.jpg": b"sketchbook notes, not an image\n" * 8,
        f"{STYLES[1]}/bomb.png": png_header_only(60_000, 60_000),
        f"{STYLES[2]}/icon.png": _tiny_icon(),
        f"{STYLES[2]}/duplicate.png": data,
    }
    for rel, content in bad.items():
        (folder / rel).write_bytes(content)
    return list(bad)


def _tiny_icon() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (2, 2), (20, 20, 20)).save(buf, "PNG")
    return buf.getvalue()

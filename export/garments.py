"""Garment mock-ups: a repeat tile printed onto procedurally drawn apparel, with simple shading.

Every garment is drawn here with PIL and numpy (no downloaded artwork): a silhouette from
polygons and arcs, supersampled for smooth edges. The print is the tile repeated on a torus, so
it is seamless at any scale, scaled so one repeat spans ``repeat_scale`` of the garment's
width and rotated by ``rotation_deg``. To read as fabric rather than a cut-out, the print is
(1) bent along fold lines (the sampling position shifts across each fold), (2) shaded by a
light from the upper left, a soft roundness term, ambient darkening near the edges and a
light/dark pair along each fold (the derivative of a Gaussian across the fold), (3) given a
faint woven texture and stitched hems, and (4) laid on studio paper with a soft drop shadow.

``render_garment(name, tile_u8, ...)`` returns a uint8 (H, W, 3) image; ``GARMENTS`` lists the
names. Output is a pure function of the inputs: same tile and options, same pixels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

GARMENTS = ("tshirt", "dress", "scarf", "tote")
DEFAULT_SIZE = (360, 440)            # (width, height) px of one mock-up
DEFAULT_BACKGROUND = (244, 241, 235)  # studio paper
SUPERSAMPLE = 4                       # silhouettes are drawn this many times larger, then reduced


@dataclass
class Fold:
    """A fold in the fabric from p0 to p1 (normalised canvas coordinates)."""

    p0: tuple[float, float]
    p1: tuple[float, float]
    width: float = 0.03    # Gaussian sigma across the fold, as a fraction of the canvas width
    strength: float = 0.12  # light/dark contrast of the fold (sign flips which side is lit)
    warp: float = 0.012    # shift of the print across the fold, fraction of the canvas width


@dataclass
class Part:
    """One layer of a garment: a printed or plain region, drawn in order (later parts on top)."""

    shapes: list            # ("poly", points) | ("line", points, width[, round_caps]), normalised coords
    shade: float = 1.0      # brightness multiplier (e.g. an inside back shows darker)
    plain: tuple[int, int, int] | None = None  # solid colour instead of the print (handles, rod)


@dataclass
class Garment:
    """A silhouette as parts, folds and stitch lines, all in normalised canvas coordinates."""

    parts: list[Part]
    folds: list[Fold] = field(default_factory=list)
    stitches: list[list[tuple[float, float]]] = field(default_factory=list)


def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 24) -> list:
    """Points on an elliptical arc from angle a0 to a1 (degrees, y down)."""
    t = np.radians(np.linspace(a0, a1, n))
    return list(zip(cx + rx * np.cos(t), cy + ry * np.sin(t)))


def _wavy(p0: tuple, p1: tuple, waves: float, amp: float, n: int = 40) -> list:
    """Points from p0 to p1 with a sinusoidal wobble of `waves` periods, `amp` across the line."""
    t = np.linspace(0.0, 1.0, n)
    x = p0[0] + (p1[0] - p0[0]) * t
    y = p0[1] + (p1[1] - p0[1]) * t
    length = math.hypot(p1[0] - p0[0], p1[1] - p0[1]) or 1.0
    nx, ny = -(p1[1] - p0[1]) / length, (p1[0] - p0[0]) / length
    off = amp * np.sin(2 * np.pi * waves * t)
    return list(zip(x + nx * off, y + ny * off))


def _tshirt() -> Garment:
    front_neck = _arc(0.5, 0.075, 0.12, 0.085, 0, 180)         # right -> left through the bottom
    back_neck = _arc(0.5, 0.075, 0.12, 0.03, 180, 0)           # left -> right, shallower
    body = [(0.62, 0.075), (0.79, 0.11), (0.97, 0.29), (0.87, 0.41), (0.76, 0.345), (0.765, 0.935),
            (0.235, 0.935), (0.24, 0.345), (0.13, 0.41), (0.03, 0.29), (0.21, 0.11), (0.38, 0.075)]
    return Garment(
        parts=[Part([("poly", body + back_neck[1:-1])]),
               Part([("poly", front_neck + back_neck[1:-1])], shade=0.55),
               Part([("line", front_neck, 0.022, False)], shade=0.85)],
        folds=[Fold((0.26, 0.36), (0.31, 0.62), 0.025, 0.14), Fold((0.74, 0.36), (0.69, 0.60), 0.025, -0.14),
               Fold((0.42, 0.55), (0.40, 0.92), 0.04, 0.08), Fold((0.58, 0.50), (0.61, 0.92), 0.035, -0.08),
               Fold((0.12, 0.30), (0.20, 0.22), 0.02, 0.12), Fold((0.88, 0.30), (0.80, 0.22), 0.02, -0.12),
               Fold((0.30, 0.86), (0.50, 0.80), 0.03, 0.07)],
        stitches=[[(0.245, 0.91), (0.755, 0.91)], [(0.05, 0.305), (0.14, 0.39)], [(0.95, 0.305), (0.86, 0.39)]],
    )


def _dress() -> Garment:
    neck = _arc(0.5, 0.17, 0.13, 0.09, 0, 180)                 # right -> left scoop
    hem = _wavy((0.88, 0.95), (0.12, 0.95), waves=5, amp=0.014)
    body = ([(0.63, 0.17), (0.66, 0.17), (0.68, 0.27), (0.655, 0.42), (0.80, 0.72)] + hem
            + [(0.20, 0.72), (0.345, 0.42), (0.32, 0.27), (0.34, 0.17), (0.37, 0.17)] + neck[::-1])
    straps = [("poly", [(0.35, 0.045), (0.39, 0.045), (0.395, 0.18), (0.34, 0.18)]),
              ("poly", [(0.61, 0.045), (0.65, 0.045), (0.66, 0.18), (0.605, 0.18)])]
    bodice = [(0.63, 0.17), (0.66, 0.17), (0.68, 0.27), (0.655, 0.42), (0.345, 0.42), (0.32, 0.27),
              (0.34, 0.17), (0.37, 0.17)] + neck[::-1]
    waves_x = [0.12 + 0.76 * (k + 0.5) / 5 for k in range(5)]
    folds = [Fold((0.42 + 0.04 * i, 0.44), (x, 0.93), 0.028, 0.13 * (1 if i % 2 else -1), 0.016)
             for i, x in enumerate(waves_x)]
    folds += [Fold((0.36, 0.30), (0.45, 0.38), 0.02, 0.06), Fold((0.64, 0.30), (0.55, 0.38), 0.02, -0.06)]
    return Garment(
        parts=[Part(straps), Part([("poly", body)]), Part([("poly", bodice)], shade=1.03),
               Part([("line", [(0.345, 0.42), (0.655, 0.42)], 0.01)], shade=0.7)],
        folds=folds,
        stitches=[[(0.345, 0.435), (0.655, 0.435)], [(0.14, 0.925), (0.86, 0.925)]],
    )


def _scarf() -> Garment:
    rod = Part([("line", [(0.06, 0.10), (0.94, 0.10)], 0.022)], plain=(120, 112, 104))
    back_tail = ([(0.24, 0.12)] + _wavy((0.24, 0.12), (0.20, 0.86), 2.5, 0.01)
                 + _wavy((0.20, 0.86), (0.47, 0.87), 1.0, 0.004) + _wavy((0.47, 0.87), (0.50, 0.12), 2.0, 0.008))
    over = _arc(0.5, 0.12, 0.26, 0.06, 180, 360)
    front_tail = ([(0.50, 0.12)] + _wavy((0.50, 0.12), (0.53, 0.78), 2.0, 0.008)
                  + _wavy((0.53, 0.78), (0.80, 0.76), 1.0, 0.004) + _wavy((0.80, 0.76), (0.76, 0.12), 2.5, 0.01))
    fringe_back = [("line", [(0.215 + 0.25 * i / 13, 0.865), (0.21 + 0.25 * i / 13, 0.93)], 0.006) for i in range(14)]
    fringe_front = [("line", [(0.545 + 0.24 * i / 13, 0.775), (0.55 + 0.24 * i / 13, 0.84)], 0.006) for i in range(14)]
    return Garment(
        parts=[Part(fringe_back, shade=0.8), Part([("poly", over + [(0.76, 0.12), (0.24, 0.12)])], shade=0.9),
               Part([("poly", back_tail)], shade=0.82), rod, Part(fringe_front),
               Part([("poly", front_tail)])],
        folds=[Fold((0.30, 0.14), (0.28, 0.85), 0.02, 0.12), Fold((0.40, 0.14), (0.39, 0.86), 0.025, -0.1),
               Fold((0.60, 0.14), (0.62, 0.76), 0.025, 0.12), Fold((0.70, 0.14), (0.71, 0.75), 0.02, -0.1),
               Fold((0.53, 0.35), (0.78, 0.42), 0.03, 0.05)],
        stitches=[[(0.21, 0.845), (0.465, 0.855)], [(0.535, 0.755), (0.79, 0.745)]],
    )


def _tote() -> Garment:
    natural = (214, 200, 172)
    back_handle = Part([("line", _arc(0.5, 0.36, 0.19, 0.29, 190, 350), 0.04)], plain=(176, 162, 136))
    bag = [(0.15, 0.34), (0.85, 0.34), (0.885, 0.90)] + _arc(0.845, 0.90, 0.04, 0.045, 0, 90) \
        + _arc(0.155, 0.90, 0.04, 0.045, 90, 180) + [(0.115, 0.90)]
    band = [(0.15, 0.34), (0.85, 0.34), (0.855, 0.40), (0.145, 0.40)]
    front_handle = Part([("line", _arc(0.5, 0.40, 0.2, 0.32, 185, 355), 0.045)], plain=natural)
    return Garment(
        parts=[back_handle, Part([("poly", bag)]), Part([("poly", band)], shade=0.88), front_handle],
        folds=[Fold((0.20, 0.42), (0.30, 0.92), 0.03, 0.07), Fold((0.80, 0.42), (0.72, 0.92), 0.03, -0.07),
               Fold((0.45, 0.45), (0.60, 0.70), 0.05, 0.04)],
        stitches=[[(0.15, 0.39), (0.85, 0.39)], [(0.145, 0.405), (0.855, 0.405)]],
    )


_BUILDERS = {"tshirt": _tshirt, "dress": _dress, "scarf": _scarf, "tote": _tote}


def _draw_alpha(shapes: list, size: tuple[int, int], dashed: bool = False) -> np.ndarray:
    """Anti-aliased coverage (H, W) in [0, 1] of shapes drawn at SUPERSAMPLE x and reduced."""
    w, h = size
    s = SUPERSAMPLE
    img = Image.new("L", (w * s, h * s), 0)
    d = ImageDraw.Draw(img)
    scale = lambda pts: [(x * w * s, y * h * s) for x, y in pts]  # noqa: E731
    for shape in shapes:
        if shape[0] == "poly":
            d.polygon(scale(shape[1]), fill=255)
        else:
            pts, width = scale(shape[1]), max(1, round(shape[2] * w * s))
            d.line(pts, fill=255, width=width, joint="curve")
            caps = shape[3] if len(shape) > 3 else True
            for x, y in (pts[0], pts[-1]) if caps else ():  # round caps
                d.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=255)
    if dashed:
        # Break the line into dashes by masking with stripes along x and y.
        diag = np.arange(h * s)[:, None] + np.arange(w * s)[None, :]
        on = (diag // (6 * s)) % 2 == 0
        img = Image.fromarray(np.where(on, np.asarray(img), 0).astype(np.uint8))
    return np.asarray(img.resize((w, h), Image.Resampling.BOX), dtype=np.float64) / 255.0


def _sample_torus(tile: np.ndarray, ty: np.ndarray, tx: np.ndarray) -> np.ndarray:
    """Bilinear sampling of a tile at float pixel positions, wrapping around both axes."""
    h, w, _ = tile.shape
    y0, x0 = np.floor(ty), np.floor(tx)
    fy, fx = (ty - y0)[..., None], (tx - x0)[..., None]
    y0, x0 = y0.astype(np.int64) % h, x0.astype(np.int64) % w
    y1, x1 = (y0 + 1) % h, (x0 + 1) % w
    return ((1 - fy) * ((1 - fx) * tile[y0, x0] + fx * tile[y0, x1])
            + fy * ((1 - fx) * tile[y1, x0] + fx * tile[y1, x1]))


def _folds(folds: list[Fold], size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shading multiplier (H, W) and print displacement (dy, dx) in px from the fold lines."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    shade = np.ones((h, w))
    dy, dx = np.zeros((h, w)), np.zeros((h, w))
    for f in folds:
        x0, y0, x1, y1 = f.p0[0] * w, f.p0[1] * h, f.p1[0] * w, f.p1[1] * h
        length = math.hypot(x1 - x0, y1 - y0)
        ux, uy = (x1 - x0) / length, (y1 - y0) / length
        t = ((xx - x0) * ux + (yy - y0) * uy) / length          # position along the fold, 0..1
        s = (-(xx - x0) * uy + (yy - y0) * ux) / (f.width * w)   # signed distance across, in sigmas
        taper = np.sin(np.pi * np.clip(t, 0.0, 1.0)) ** 0.7
        g = np.exp(-0.5 * s * s) * taper
        shade += 1.5 * f.strength * s * math.exp(0.5) * g   # derivative of Gaussian: one lit, one shaded side
        dx += -uy * f.warp * w * g
        dy += ux * f.warp * w * g
    return shade, dy, dx


def render_garment(name: str, tile_u8: np.ndarray, repeat_scale: float = 0.25, rotation_deg: float = 0.0,
                   size: tuple[int, int] = DEFAULT_SIZE,
                   background: tuple[int, int, int] = DEFAULT_BACKGROUND) -> np.ndarray:
    """Print a tile onto a garment mock-up.

    Args:
        name: one of GARMENTS.
        tile_u8: (h, w, 3) uint8 seamless tile.
        repeat_scale: width of one printed repeat as a fraction of the mock-up's width, in (0, 4].
        rotation_deg: rotation of the print, degrees counter-clockwise.
        size: (width, height) of the mock-up in px.

    Returns:
        (height, width, 3) uint8 image of the garment on studio paper.
    """
    if name not in _BUILDERS:
        raise ValueError(f"garment: unknown {name!r}; choose from {', '.join(GARMENTS)}")
    if not 0.0 < repeat_scale <= 4.0:
        raise ValueError(f"repeat_scale: must be in (0, 4], got {repeat_scale}")
    tile = np.asarray(tile_u8)
    if tile.dtype != np.uint8 or tile.ndim != 3 or tile.shape[2] != 3:
        raise ValueError(f"tile: expected uint8 (h, w, 3), got {tile.dtype} {tile.shape}")
    garment = _BUILDERS[name]()
    w, h = size
    th, tw, _ = tile.shape
    shade_folds, dy, dx = _folds(garment.folds, size)

    # The print: canvas -> rotated fabric coordinates -> tile pixels, bent by the folds.
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    a = math.radians(rotation_deg)
    cx, cy = (xx + dx - w / 2), (yy + dy - h / 2)
    fu = math.cos(a) * cx - math.sin(a) * cy
    fv = math.sin(a) * cx + math.cos(a) * cy
    repeat_px = repeat_scale * w
    fabric = _sample_torus(tile.astype(np.float64), fv / repeat_px * th, fu / repeat_px * tw)
    weave = 1.0 + 0.035 * np.sin(xx * np.pi / 1.5) * np.sin(yy * np.pi / 1.5)

    # Compose the parts in order, each with its own brightness or plain colour.
    colour = np.zeros((h, w, 3))
    alpha = np.zeros((h, w))
    for part in garment.parts:
        pa = _draw_alpha(part.shapes, size)
        src = np.broadcast_to(np.asarray(part.plain, np.float64), (h, w, 3)) if part.plain else fabric
        colour = colour * (1 - pa[..., None]) + src * part.shade * pa[..., None]
        alpha = alpha + pa * (1 - alpha)

    # Shading: key light from the upper left, roundness, edge darkening, folds, weave.
    inside = alpha > 0.5
    dist = ndimage.distance_transform_edt(inside)
    key = 1.04 - 0.12 * (0.6 * xx / w + 0.4 * yy / h)
    round_ = 0.86 + 0.18 * ndimage.gaussian_filter(alpha, 0.06 * w)
    edge = (1 - 0.22 * np.exp(-dist / (0.03 * w))) * (1 - 0.3 * np.exp(-(dist / 1.2) ** 2))
    light = key * round_ * edge * shade_folds * weave
    stitch = _draw_alpha([("line", pts, 0.004) for pts in garment.stitches], size, dashed=True)
    light *= 1 - 0.35 * stitch
    garment_rgb = np.clip(colour / np.maximum(alpha, 1e-6)[..., None] * light[..., None], 0, 255)

    # Studio paper with a soft drop shadow, then the garment on top.
    shadow = ndimage.gaussian_filter(ndimage.shift(alpha, (0.018 * h, 0.014 * w), order=1), 0.02 * w)
    paper = np.asarray(background, np.float64)[None, None, :] * (1 - 0.28 * shadow)[..., None]
    out = paper * (1 - alpha[..., None]) + garment_rgb * alpha[..., None]
    return np.rint(np.clip(out, 0, 255)).astype(np.uint8)

"""Seamless repeats: turn one generated pattern into a tile that repeats without a visible seam.

A generated pattern is not periodic: laid edge to edge, its right column meets its left column
(and its bottom row its top row) with a jump in colour and a break in every stroke that crosses
the border. Every method here changes the tile only inside a band of ``band`` x size pixels
along its border, so the interior of the design is kept bit for bit.

``poisson`` (default): gradient-domain seam removal on the torus. The pixels within the band are
unknowns, every other pixel is fixed. The guidance field (the wanted differences between
neighbouring pixels) is the tile's own differences, except across the wrapped border, where it
is the mean of the two differences just beside the seam: a continuation of the local gradient
instead of the jump. Solving the discrete Poisson equation (5-point Laplacian with wrap-around
neighbours, the fixed interior as Dirichlet boundary; Perez, Gangnet and Blake 2003, "Poisson
image editing") spreads the jump smoothly over the band: colour steps vanish and strokes cut by
the border fade out instead of stopping, while the design's own texture is kept. It is a local
form of Moisan's periodic-plus-smooth decomposition (J. Math. Imaging Vis. 2011), which spreads
the same correction over the whole image.

``poisson-offset``: gradient-domain offset-and-blend. Shifting the tile by half its size gives
copies whose content is continuous across the wrapped border (their border pixels are the
tile's centre). The guidance is a raised-cosine blend of the tile's own differences (weight 1 at
the band's inner edge) and the copies' (weight 1 on the border; corners use the copy shifted in
both axes), then the same Poisson solve. It replaces whatever lies along the edge (such as the
faint frame an untrained transposed-convolution generator leaves) with texture from the centre,
but for sparse motifs it also copies fragments of the central motifs into the border.

``feather``: classic offset-and-blend in intensities: a cross-fade into the half-shifted copies
with the same weights. Cheapest; ghosted, half-transparent motifs in the band. The baseline.

The seam is measured with :func:`seam_score`: the mean absolute jump across the wrapped border
divided by the mean absolute difference between neighbouring pixels inside the tile. About 1
means a step across the seam is like any other step in the design; well below 1 means the seam
region is smoother than the design (the jump was spread out, or the edge is a flat frame);
generated patterns with motifs cut by the border score several times higher before the fix.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import splu

METHODS = ("poisson", "poisson-offset", "feather")
DEFAULT_BAND = 0.125  # band width on each side of the seam, as a fraction of the tile size


@dataclass(frozen=True)
class TileResult:
    """A seamless tile and its seam-visibility scores."""

    tile_u8: np.ndarray     # (H, W, 3) uint8, repeats without a seam
    method: str             # one of METHODS
    band_px: int            # pixels changed on each side of the border
    seam_before: float      # seam_score of the input
    seam_after: float       # seam_score of tile_u8


def _check_image(image_u8: np.ndarray) -> np.ndarray:
    a = np.asarray(image_u8)
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"image: expected uint8 (H, W, 3), got {a.dtype} {a.shape}")
    if min(a.shape[:2]) < 8:
        raise ValueError(f"image: at least 8x8 pixels needed for a tile, got {a.shape[:2]}")
    return a


def seam_jump(image_u8: np.ndarray) -> float:
    """Mean absolute difference (0-255 units, over channels) across the wrapped border."""
    a = _check_image(image_u8).astype(np.float64)
    jumps = np.concatenate([np.abs(a[:, 0] - a[:, -1]).ravel(), np.abs(a[0] - a[-1]).ravel()])
    return float(jumps.mean())


def interior_step(image_u8: np.ndarray) -> float:
    """Mean absolute difference between horizontally or vertically neighbouring pixels inside the tile."""
    a = _check_image(image_u8).astype(np.float64)
    steps = np.concatenate([np.abs(np.diff(a, axis=1)).ravel(), np.abs(np.diff(a, axis=0)).ravel()])
    return float(steps.mean())


def seam_score(image_u8: np.ndarray) -> float:
    """Seam visibility: mean jump across the wrapped border / mean neighbour step inside the tile.

    <= 1 means the seam is no more visible than the design's own pixel-to-pixel variation. A flat
    image scores 0 (no seam) or inf (a seam on a flat field).
    """
    jump, step = seam_jump(image_u8), interior_step(image_u8)
    if step == 0.0:
        return 0.0 if jump == 0.0 else float("inf")
    return jump / step


def band_pixels(size: int, band: float) -> int:
    """Band width in pixels on each side of the seam for a tile side of `size` px."""
    if not 0.0 < band <= 0.5:
        raise ValueError(f"band: must be in (0, 0.5], got {band}")
    return int(min(size // 2 - 1, max(2, round(band * size))))


def band_mask(height: int, width: int, band_px_h: int, band_px_w: int) -> np.ndarray:
    """Bool (H, W): True where a pixel lies within the seam band (may change), False in the kept interior."""
    y = np.arange(height)[:, None]
    x = np.arange(width)[None, :]
    return (y < band_px_h) | (y >= height - band_px_h) | (x < band_px_w) | (x >= width - band_px_w)


def _seam_guidance(a: np.ndarray, axis: int) -> np.ndarray:
    """Forward differences a[i+1] - a[i] along `axis` on the torus, with the wrapped one replaced.

    The wrapped difference (last -> first) becomes the mean of the two differences beside it.
    """
    g = np.roll(a, -1, axis=axis) - a
    last = [slice(None)] * a.ndim
    last[axis] = -1
    before = [slice(None)] * a.ndim
    before[axis] = -2
    after = [slice(None)] * a.ndim
    after[axis] = 0
    g[tuple(last)] = 0.5 * (g[tuple(before)] + g[tuple(after)])
    return g


def _forward_diff(a: np.ndarray, axis: int) -> np.ndarray:
    """a[i+1 mod n] - a[i] along `axis` (differences on the torus)."""
    return np.roll(a, -1, axis=axis) - a


def _blended_guidance(a: np.ndarray, band_h: int, band_w: int) -> tuple[np.ndarray, np.ndarray]:
    """Guidance gradients (gx, gy): the tile's own differences in the interior, blended towards the
    differences of its half-shifted copies near the border (weights as in `_feather`, taken at the
    middle of each neighbour pair), so the guidance is continuous across the wrapped border."""
    h, w, _ = a.shape
    sources = [a, np.roll(a, w // 2, axis=1), np.roll(a, h // 2, axis=0), np.roll(a, (h // 2, w // 2), axis=(0, 1))]
    out = []
    for axis in (1, 0):
        # Pair (i, i+1) sits half a pixel further along `axis`: evaluate the weights there.
        wx = _raised_cosine(w, band_w, shift=0.5 if axis == 1 else 0.0)[None, :, None]
        wy = _raised_cosine(h, band_h, shift=0.5 if axis == 0 else 0.0)[:, None, None]
        weights = [(1 - wx) * (1 - wy), wx * (1 - wy), (1 - wx) * wy, wx * wy]
        out.append(sum(wt * _forward_diff(src, axis) for wt, src in zip(weights, sources)))
    return out[0], out[1]


def _poisson(a: np.ndarray, mask: np.ndarray, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """Solve the guided Poisson equation on the torus for the pixels in `mask`; others stay fixed.

    gx[y, x] is the wanted f[y, x+1] - f[y, x] (wrapping), gy[y, x] the wanted f[y+1, x] - f[y, x].
    """
    h, w, c = a.shape
    # Divergence of the guidance: for each pixel p, sum over neighbours q of (wanted f_p - f_q).
    div = -gx + np.roll(gx, 1, axis=1) - gy + np.roll(gy, 1, axis=0)
    ys, xs = np.nonzero(mask)
    n = ys.size
    index = np.full((h, w), -1, np.int64)
    index[ys, xs] = np.arange(n)
    rows, cols = [np.arange(n)], [np.arange(n)]
    vals = [np.full(n, 4.0)]
    rhs = div[ys, xs].copy()  # (n, C)
    for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        qy, qx = (ys + dy) % h, (xs + dx) % w
        qi = index[qy, qx]
        unknown = qi >= 0
        rows.append(np.arange(n)[unknown])
        cols.append(qi[unknown])
        vals.append(np.full(int(unknown.sum()), -1.0))
        rhs[~unknown] += a[qy[~unknown], qx[~unknown]]  # fixed neighbours: Dirichlet values
    lap = sparse.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    out = a.copy()
    out[ys, xs] = splu(lap).solve(rhs)
    return out


def _raised_cosine(size: int, band_px: int, shift: float = 0.0) -> np.ndarray:
    """(size,) weight at positions i + shift: 1 on the wrapped border, 0 from band_px pixels inside."""
    pos = np.arange(size) + shift
    d = np.minimum(pos + 0.5, size - pos - 0.5)  # distance to the seam line (between size-1 and 0)
    t = np.clip(d / band_px, 0.0, 1.0)
    return 0.5 * (1.0 + np.cos(np.pi * t))


def _feather(a: np.ndarray, band_h: int, band_w: int) -> np.ndarray:
    """Offset-and-blend: cross-fade into half-shifted copies near the border."""
    h, w, _ = a.shape
    sx = np.roll(a, w // 2, axis=1)
    sy = np.roll(a, h // 2, axis=0)
    sxy = np.roll(sx, h // 2, axis=0)
    wx = _raised_cosine(w, band_w)[None, :, None]
    wy = _raised_cosine(h, band_h)[:, None, None]
    return (1 - wx) * (1 - wy) * a + wx * (1 - wy) * sx + (1 - wx) * wy * sy + wx * wy * sxy


def make_seamless(image_u8: np.ndarray, method: str = "poisson", band: float = DEFAULT_BAND) -> TileResult:
    """Make a pattern tile repeat without a visible seam, changing only a band along its border.

    Args:
        image_u8: (H, W, 3) uint8 pattern.
        method: "poisson" (gradient-domain seam removal, default), "poisson-offset" or "feather".
        band: band width on each side of the seam as a fraction of the tile side, in (0, 0.5].

    Returns:
        TileResult with the uint8 tile; pixels outside `band_mask` equal the input exactly.
    """
    a8 = _check_image(image_u8)
    if method not in METHODS:
        raise ValueError(f"method: unknown {method!r}; choose one of {', '.join(METHODS)}")
    h, w, _ = a8.shape
    bh, bw = band_pixels(h, band), band_pixels(w, band)
    a = a8.astype(np.float64)
    if method == "poisson":
        out = _poisson(a, band_mask(h, w, bh, bw), _seam_guidance(a, 1), _seam_guidance(a, 0))
    elif method == "poisson-offset":
        out = _poisson(a, band_mask(h, w, bh, bw), *_blended_guidance(a, bh, bw))
    else:
        out = _feather(a, bh, bw)
    tile = np.rint(np.clip(out, 0.0, 255.0)).astype(np.uint8)
    keep = ~band_mask(h, w, bh, bw)
    tile[keep] = a8[keep]  # the interior is the design itself, bit for bit
    return TileResult(tile, method, max(bh, bw), seam_score(a8), seam_score(tile))


def repeat(tile_u8: np.ndarray, rows: int = 3, cols: int = 3) -> np.ndarray:
    """Lay the tile out `rows` x `cols` times edge to edge (uint8 HWC)."""
    return np.tile(np.asarray(tile_u8), (rows, cols, 1))

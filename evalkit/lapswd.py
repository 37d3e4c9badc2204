"""Laplacian-pyramid sliced Wasserstein distance (Karras et al., ICLR 2018, §5 and appendix D).

The Progressive GAN metric, written from the paper and its published protocol
(`tkarras/progressive_growing_of_gans`, `metrics/sliced_wasserstein.py`):

1. A Laplacian pyramid of each image, from full resolution down to 16 px (64 px: levels 64, 32,
   16; the 16-px level is the low-pass residual). Down: 5x5 binomial filter [1 4 6 4 1]/16 per
   axis, mirrored borders, every second pixel (cv2.pyrDown); up: zeros between samples, the same
   filter times 4 (cv2.pyrUp).
2. From each level, 128 random 7x7 neighbourhoods per image, centres at least 3 px from the edge:
   descriptors of 7 x 7 x 3 = 147 values.
3. Each set's descriptors of a level normalised per colour channel to zero mean and unit standard
   deviation over that set (as published: each set by its own statistics, so a global affine
   change of one channel's tone is not what this metric measures; colour is the HSV term's job).
4. Per level, the sliced Wasserstein distance: mean |sorted projection A - sorted projection B|
   over 128 random unit directions, repeated 4 times with fresh directions and averaged.
5. Reported x 10^3, per level and as the mean over levels.

Karras et al. use 16,384 images per side; the value grows as N shrinks (sampling noise), so always
report N and compare values only at equal N. Both sets use the same neighbourhood positions
(common random numbers), so identical sets give exactly 0 and a real-vs-real split gives the noise
floor for that N. Fine levels measure texture and artefacts, coarse levels layout and large shapes.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from evalkit.imagesets import check_pair

MIN_LEVEL_PX = 16        # the coarsest pyramid level (Karras et al.)
NHOOD_PX = 7             # neighbourhood side
NHOODS_PER_IMAGE = 128
DIR_REPEATS = 4
DIRS_PER_REPEAT = 128
SCALE = 1e3              # reported x 10^3, as the paper's tables

KEY_SWD_MEAN = "lapswd_x1e3"
KEY_SWD_LEVEL = "lapswd_x1e3_{px}"   # per level: lapswd_x1e3_64, _32, _16

_BINOMIAL = np.array([1.0, 4.0, 6.0, 4.0, 1.0], np.float32) / 16.0
_KERNEL = np.outer(_BINOMIAL, _BINOMIAL)[None, None]   # (1, 1, 5, 5), sums to 1


def pyr_down(x: np.ndarray) -> np.ndarray:
    """Blur float (N, C, H, W) with the 5x5 binomial (mirrored borders), keep every second pixel."""
    return ndimage.convolve(x, _KERNEL, mode="mirror")[:, :, ::2, ::2]


def pyr_up(x: np.ndarray) -> np.ndarray:
    """Double float (N, C, H, W): zeros between samples, then the binomial times 4."""
    n, c, h, w = x.shape
    up = np.zeros((n, c, 2 * h, 2 * w), x.dtype)
    up[:, :, ::2, ::2] = x
    return ndimage.convolve(up, _KERNEL * 4.0, mode="mirror")


def level_sizes(resolution: int) -> list[int]:
    """Side of each pyramid level, finest first: 64 -> [64, 32, 16]."""
    sizes = []
    while resolution >= MIN_LEVEL_PX:
        sizes.append(resolution)
        resolution //= 2
    return sizes


def laplacian_pyramid(x: np.ndarray, n_levels: int) -> list[np.ndarray]:
    """Band-pass levels of float (N, C, H, W), finest first; the last is the low-pass residual."""
    levels = [x.astype(np.float32)]
    for _ in range(1, n_levels):
        low = pyr_down(levels[-1])
        levels[-1] = levels[-1] - pyr_up(low)
        levels.append(low)
    return levels


def neighbourhood_positions(n_images: int, side: int, per_image: int, rng: np.random.Generator
                            ) -> tuple[np.ndarray, np.ndarray]:
    """Random centres (y, x), each (n_images, per_image), at least NHOOD_PX // 2 from the edge."""
    r = NHOOD_PX // 2
    return (rng.integers(r, side - r, (n_images, per_image)), rng.integers(r, side - r, (n_images, per_image)))


def descriptors(level: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """7x7 neighbourhoods of float (N, C, S, S) at centres (N, K): (N * K, C, 7, 7)."""
    r = NHOOD_PX // 2
    off = np.arange(-r, r + 1)
    n, k = ys.shape
    img = np.arange(n)[:, None, None, None, None]                     # (N, 1, 1, 1, 1)
    chan = np.arange(level.shape[1])[None, None, :, None, None]       # (1, 1, C, 1, 1)
    yy = (ys[:, :, None, None, None] + off[None, None, None, :, None])  # (N, K, 1, 7, 1)
    xx = (xs[:, :, None, None, None] + off[None, None, None, None, :])  # (N, K, 1, 1, 7)
    return level[img, chan, yy, xx].reshape(n * k, level.shape[1], NHOOD_PX, NHOOD_PX)


def normalise(desc: np.ndarray) -> np.ndarray:
    """Per-channel zero mean, unit std over all descriptors (M, C, 7, 7) -> flat (M, C * 49)."""
    mean = desc.mean(axis=(0, 2, 3), keepdims=True)
    std = desc.std(axis=(0, 2, 3), keepdims=True)
    # A constant channel (std 0) stays 0 rather than becoming NaN.
    out = (desc - mean) / np.where(std > 0, std, 1.0)
    return out.reshape(desc.shape[0], -1).astype(np.float32)


def sliced_wasserstein(a: np.ndarray, b: np.ndarray, rng: np.random.Generator, repeats: int = DIR_REPEATS,
                       dirs_per_repeat: int = DIRS_PER_REPEAT) -> float:
    """SW_1 between equal-size point sets a, b (M, D): mean |sorted a.d - sorted b.d| over random unit d."""
    if a.shape != b.shape:
        raise ValueError(f"sliced_wasserstein: shapes differ, {a.shape} vs {b.shape}")
    dists = []
    for _ in range(repeats):
        dirs = rng.standard_normal((a.shape[1], dirs_per_repeat))
        dirs = (dirs / np.linalg.norm(dirs, axis=0, keepdims=True)).astype(np.float32)  # (D, K)
        # Sort along the contiguous last axis: (K, M) rows sort several times faster than columns.
        pa = np.sort(np.ascontiguousarray((a @ dirs).T), axis=1)   # (K, M)
        pb = np.sort(np.ascontiguousarray((b @ dirs).T), axis=1)
        dists.append(float(np.abs(pa - pb).mean()))
    return float(np.mean(dists))


def laplacian_swd(images_a_u8: np.ndarray, images_b_u8: np.ndarray, seed: int = 0,
                  nhoods_per_image: int = NHOODS_PER_IMAGE, batch: int = 256) -> dict:
    """Laplacian-pyramid SWD x 10^3 between two uint8 (N, H, W, 3) sets (Karras et al. 2018).

    Unequal counts: a seeded subset of the larger set, so both sides give the same number of
    descriptors. Returns {KEY_SWD_MEAN: mean over levels, KEY_SWD_LEVEL.format(px=s): per level,
    "n": images per side, "levels_px": [...], "seed", "nhoods_per_image"}. 0 for identical sets;
    lower is better; compare only at equal N.
    """
    check_pair("lapswd", images_a_u8, images_b_u8, MIN_LEVEL_PX)
    rng = np.random.default_rng(seed)
    n = min(len(images_a_u8), len(images_b_u8))
    pick = lambda x: x if len(x) == n else x[np.sort(rng.choice(len(x), n, replace=False))]  # noqa: E731
    a_u8, b_u8 = pick(images_a_u8), pick(images_b_u8)
    sizes = level_sizes(a_u8.shape[1])
    # Common random numbers: image i of both sets gets the same neighbourhood centres per level.
    positions = [neighbourhood_positions(n, s, nhoods_per_image, rng) for s in sizes]
    desc_a: list[list[np.ndarray]] = [[] for _ in sizes]
    desc_b: list[list[np.ndarray]] = [[] for _ in sizes]
    for start in range(0, n, batch):
        sl = slice(start, start + batch)
        for x_u8, out in ((a_u8, desc_a), (b_u8, desc_b)):
            x = x_u8[sl].transpose(0, 3, 1, 2).astype(np.float32)   # (B, 3, H, W), 0..255
            for i, level in enumerate(laplacian_pyramid(x, len(sizes))):
                ys, xs = positions[i]
                out[i].append(descriptors(level, ys[sl], xs[sl]))
    result: dict = {"n": n, "levels_px": sizes, "seed": seed, "nhoods_per_image": nhoods_per_image}
    per_level = []
    for i, s in enumerate(sizes):
        da, db = normalise(np.concatenate(desc_a[i])), normalise(np.concatenate(desc_b[i]))
        value = SCALE * sliced_wasserstein(da, db, rng)
        result[KEY_SWD_LEVEL.format(px=s)] = value
        per_level.append(value)
    result[KEY_SWD_MEAN] = float(np.mean(per_level))
    return result

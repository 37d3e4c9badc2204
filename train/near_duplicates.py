"""Perceptual near-duplicates: the same artwork twice at another size, re-encoded, or slightly cropped.

Exact copies are caught by SHA-256 (train.data); this finds the rest. Every image is reduced to a
32x32 grey thumbnail of the whole picture (ITU-R BT.601 luma, box filter), then compared in two
stages:

1. A DCT perceptual hash (Zauner 2010, "pHash"): the thumbnail's 2-D DCT-II, its 8x8 lowest
   frequencies, one bit per coefficient above their median (the DC term, which says only how bright
   the image is, left at 0). Pairs within HASH_BITS_MAX of the 64 bits are candidates.
2. Verification: 16x16 area-averaged views of the thumbnail, zero mean and unit norm; the
   distance is the least 1 - correlation between one image's whole view and a view of the other
   cropped by 0, 4 or 8 % on each side (81 crop boxes, either image cropped). A candidate within
   DISTANCE_MAX is a near-duplicate; the distance goes to the report.

Grey structure only, so a brightness, contrast or colour change (a colourway of the same artwork)
does not hide a copy; images with hardly any structure (one soft blob on paper) can match each
other. Thresholds, measured on the demo set (`benchmarks/near_duplicates_bench.py`,
results/near_duplicates.md): its 363 distinct patterns come no closer than distance 0.132 and 12
hash bits; copies resized x0.25 to x1.5, re-encoded as JPEG (quality 50, 85) or cropped by 3-5 % stay
within distance 0.03 and 16 bits, copies cropped by 8-10 % within 0.03 but up to 28 bits, so 90-98 %
of them pass the hash stage. DISTANCE_MAX 0.06 sits a factor of two from either side; HASH_BITS_MAX
22 keeps the candidates to a few per cent of all pairs. Torch-free (numpy and Pillow), so the
loader's worker processes make the thumbnails; evalkit's memorisation check uses the same `find`.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass

import numpy as np
from PIL import Image

THUMB = 32              # px: the grey thumbnail every comparison starts from (and the pHash input)
HASH_FREQ = 8           # the 8x8 lowest DCT frequencies: 64 bits
VIEW = 16               # px: the verification views
CROPS = (0.0, 0.04, 0.08)  # crop fractions per side tried in verification
HASH_BITS_MAX = 22      # of 64 bits: candidates
DISTANCE_MAX = 0.06     # 1 - correlation: near-duplicates


def thumbnail(image: Image.Image | np.ndarray) -> np.ndarray:
    """uint8 (32, 32) grey thumbnail of a whole RGB (or grey) image, a PIL image or uint8 HWC array."""
    im = image if isinstance(image, Image.Image) else Image.fromarray(np.ascontiguousarray(image))
    return np.asarray(im.convert("L").resize((THUMB, THUMB), Image.Resampling.BOX), np.uint8)


def thumb_text(thumb: np.ndarray) -> str:
    """A thumbnail as ASCII (base64 of its 1,024 bytes), for report rows and the data cache."""
    return base64.b64encode(np.ascontiguousarray(thumb, np.uint8).tobytes()).decode("ascii")


def thumb_from_text(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), np.uint8).reshape(THUMB, THUMB)


def _dct_matrix(n: int) -> np.ndarray:
    """Orthonormal DCT-II matrix (n, n): coefficients = M @ x (Ahmed, Natarajan & Rao 1974)."""
    k, i = np.mgrid[0:n, 0:n]
    m = np.sqrt(2.0 / n) * np.cos(np.pi * (2 * i + 1) * k / (2 * n))
    m[0] /= np.sqrt(2.0)
    return m


def _area_resize(lo: float, hi: float) -> np.ndarray:
    """(VIEW, THUMB) matrix: area-weighted averages of the THUMB pixels over VIEW equal cells of [lo, hi)."""
    edges = lo + (hi - lo) * np.arange(VIEW + 1) / VIEW
    px = np.arange(THUMB)
    overlap = np.clip(np.minimum(edges[1:, None], px + 1) - np.maximum(edges[:-1, None], px), 0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)


_DCT = _dct_matrix(THUMB)
# One resize per (start, end) crop of an axis: views = R_y @ thumb @ R_x.T for every crop box.
_SPANS = [(THUMB * a, THUMB * (1 - b)) for a in CROPS for b in CROPS]
_RESIZE = np.stack([_area_resize(lo, hi) for lo, hi in _SPANS]).astype(np.float32)  # (9, VIEW, THUMB)


def phash(thumbs: np.ndarray) -> np.ndarray:
    """64-bit DCT hashes of uint8 (N, 32, 32) thumbnails: uint64 (N,)."""
    t = np.asarray(thumbs, np.float64).reshape(-1, THUMB, THUMB)
    coeffs = (_DCT[:HASH_FREQ] @ t @ _DCT[:HASH_FREQ].T).reshape(len(t), -1)  # the 8x8 lowest frequencies
    bits = coeffs > np.median(coeffs[:, 1:], axis=1, keepdims=True)
    bits[:, 0] = False
    weights = np.uint64(1) << np.arange(64, dtype=np.uint64)
    return (bits.astype(np.uint64) * weights).sum(axis=1, dtype=np.uint64)


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bit differences between uint64 hashes (broadcasting)."""
    x = np.bitwise_xor(np.asarray(a, np.uint64), np.asarray(b, np.uint64))
    flat = np.ascontiguousarray(x.reshape(-1))
    return np.unpackbits(flat.view(np.uint8).reshape(-1, 8), axis=-1).sum(-1).reshape(x.shape)


def _unit(v: np.ndarray) -> np.ndarray:
    v = v - v.mean(axis=-1, keepdims=True)
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-6)


def crop_views(thumb: np.ndarray) -> np.ndarray:
    """float32 (81, 256): the 16x16 view of the thumbnail under each crop box (0-8 % per side),
    zero mean and unit norm; row 0 is the whole image."""
    rows = _RESIZE @ np.asarray(thumb, np.float32)                  # (y span, VIEW, THUMB)
    v = rows[:, None] @ _RESIZE.transpose(0, 2, 1)[None]            # (y span, x span, VIEW, VIEW)
    return _unit(v.reshape(len(_SPANS) ** 2, VIEW * VIEW))


@dataclass
class Fingerprints:
    """Thumbnails, their hashes and whole-image views: what `find` compares."""
    thumbs: np.ndarray   # uint8 (N, 32, 32)
    hashes: np.ndarray   # uint64 (N,)
    whole: np.ndarray    # float32 (N, 256): the uncropped view

    @classmethod
    def of_thumbnails(cls, thumbs: np.ndarray | list[np.ndarray]) -> Fingerprints:
        thumbs = np.asarray(thumbs, np.uint8).reshape(-1, THUMB, THUMB)
        whole = _unit((_RESIZE[0] @ thumbs.astype(np.float32) @ _RESIZE[0].T).reshape(len(thumbs), VIEW * VIEW))
        return cls(thumbs, phash(thumbs), whole.astype(np.float32))

    def __len__(self) -> int:
        return len(self.hashes)


def fingerprint(images_u8: np.ndarray | list[np.ndarray]) -> Fingerprints:
    """Fingerprints of uint8 (H, W, 3) images (any sizes): generated samples, arrays in memory."""
    return Fingerprints.of_thumbnails([thumbnail(im) for im in images_u8])


def distance(a: Fingerprints, i: int, b: Fingerprints, j: int) -> float:
    """Verification distance in [0, 2] between image i of `a` and image j of `b` (0: the same
    thumbnail): the least 1 - correlation over crops of either image against the other whole."""
    best = max((crop_views(a.thumbs[i]) @ b.whole[j]).max(), (crop_views(b.thumbs[j]) @ a.whole[i]).max())
    return max(0.0, 1.0 - float(best))


def _candidates(fp: Fingerprints, ref: Fingerprints, within: bool) -> list[tuple[int, int]]:
    """Pairs (i of fp, j of ref) whose hashes differ in at most HASH_BITS_MAX bits (j < i within a set)."""
    pairs = []
    for i in range(len(fp)):
        n = i if within else len(ref)
        if n:
            pairs += [(i, int(j)) for j in np.flatnonzero(hamming(ref.hashes[:n], fp.hashes[i]) <= HASH_BITS_MAX)]
    return pairs


def find(fp: Fingerprints, reference: Fingerprints | None = None) -> list[tuple[int, int, float]]:
    """Near-duplicate pairs (i, j, distance), distance rounded to 4 places.

    Without `reference`: within one set, i paired with its closest earlier near-duplicate j < i (the
    first of a group is the original). With `reference`: each image i of `fp` with its closest
    near-duplicate j in `reference` (a generated sample and the training image it copies)."""
    ref = fp if reference is None else reference
    pairs = _candidates(fp, ref, reference is None)
    # Best correlation of each pair: crops of i against the whole of j, then crops of j against i.
    best: dict[tuple[int, int], float] = {}
    for side, owner in ((0, fp), (1, ref)):
        by_image: dict[int, list[tuple[int, int]]] = {}
        for pair in pairs:
            by_image.setdefault(pair[side], []).append(pair)
        other = ref if side == 0 else fp
        for k, group in by_image.items():
            corr = (crop_views(owner.thumbs[k]) @ other.whole[[p[1 - side] for p in group]].T).max(axis=0)
            for pair, c in zip(group, corr):
                best[pair] = max(best.get(pair, -1.0), float(c))
    closest: dict[int, tuple[float, int]] = {}
    for (i, j), c in best.items():
        d = max(0.0, 1.0 - c)
        if d <= DISTANCE_MAX and (i not in closest or (d, j) < closest[i]):
            closest[i] = (d, j)
    return [(i, j, round(d, 4)) for i, (d, j) in sorted(closest.items())]

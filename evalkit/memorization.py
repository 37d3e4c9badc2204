"""Memorisation check: each generated image's nearest real image, and whether it is suspiciously close.

A GAN trained on a few hundred images can copy them. For every generated image we find the nearest
real image, in two spaces:

- `hsv64`: 64 px images mapped to the paper's HSV cone (x = C cos H, y = C sin H, z = 1 - V with
  r = h = 1), distance = root mean square over pixels of the per-pixel Euclidean cone distance.
  Always computed. The real side is each original together with its horizontal, vertical and
  double flips, because training amplifies with flips: a memorised flipped copy is still a copy.
- `incv3`: Euclidean distance between Inception-v3 pool3 features, when features are given
  (originals only; flips would need four feature passes).

Besides the nearest neighbours, `near_duplicate` flags each generated image that is a perceptual
near-duplicate of a real original or of one of its flips: the measure `python -m train prepare`
reports within a data folder (train.near_duplicates: the same picture resized, re-encoded or
slightly cropped), with its own fixed threshold.

The real set is the unamplified originals, de-duplicated (an exact copy, a flipped copy or a
near-duplicate of another original is dropped), since duplicates would make real-to-real distances zero. The threshold is the
5th percentile of the real set's leave-one-out nearest-neighbour distances (an original's flips are
left out with it); a generated image closer than that to some real image is flagged.
"""
from __future__ import annotations

import logging

import numpy as np
import torch
from PIL import Image

from evalkit.metrics import pairwise_distances
from inkwash.cli import UserError
from inkwash.hashing import sha256_bytes
from train import near_duplicates as nd
from train.images import grid

log = logging.getLogger(__name__)

PIXEL_SIZE = 64
PERCENTILE = 5.0
FLIPS = ("none", "h", "v", "hv")


def _flip(images: np.ndarray, kind: str) -> np.ndarray:
    """Flip NHWC images: 'h' mirrors left-right, 'v' top-bottom."""
    if kind == "h":
        return images[:, :, ::-1]
    if kind == "v":
        return images[:, ::-1]
    if kind == "hv":
        return images[:, ::-1, ::-1]
    return images


def _cone_mapping():
    """train.losses.hsv_cone (the loss's own definition) on (N, H, W, 3) RGB in [0, 1]."""
    from train.losses import hsv_cone

    def via_train(rgb01: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(rgb01.transpose(0, 3, 1, 2)))  # (N, 3, H, W)
        with torch.no_grad():
            out = hsv_cone(x)
        return out.numpy().transpose(0, 2, 3, 1)
    return "train.losses.hsv_cone", via_train


def resize_u8(images_u8: np.ndarray, size: int = PIXEL_SIZE) -> np.ndarray:
    """NHWC uint8 -> (N, size, size, 3) uint8; box filter when shrinking, bicubic when enlarging."""
    if images_u8.shape[1] == size and images_u8.shape[2] == size:
        return images_u8
    method = Image.BOX if images_u8.shape[1] > size else Image.BICUBIC
    return np.stack([np.asarray(Image.fromarray(im).resize((size, size), method)) for im in images_u8])


def cone_vectors(images_u8: np.ndarray, size: int = PIXEL_SIZE) -> tuple[np.ndarray, str]:
    """Images -> flattened 64 px cone points (N, size*size*3) float32, and the mapping's name."""
    name, fn = _cone_mapping()
    small = resize_u8(images_u8, size).astype(np.float32) / 255.0
    out = np.concatenate([fn(small[i:i + 512]) for i in range(0, len(small), 512)])
    return out.reshape(len(images_u8), -1).astype(np.float32), name


def dedupe(images_u8: np.ndarray) -> np.ndarray:
    """Indices of the images to keep: the first of each group of exact or flipped copies and of
    perceptual near-duplicates (train.near_duplicates)."""
    seen: set[str] = set()
    keep = []
    for i, im in enumerate(images_u8):
        key = min(sha256_bytes(np.ascontiguousarray(_flip(im[None], f)[0]).tobytes()) for f in FLIPS)
        if key not in seen:
            seen.add(key)
            keep.append(i)
    copies = {i for i, _, _ in nd.find(nd.fingerprint(images_u8[keep]))}
    return np.asarray([k for n, k in enumerate(keep) if n not in copies], np.int64)


def near_duplicates_of_real(gen_u8: np.ndarray, real_u8: np.ndarray) -> dict:
    """Each generated image that is a perceptual near-duplicate of a real image or of its flip.

    Returns {"flagged" (N,) bool, "flagged_share", "distance" (N,) (NaN: none), "nn_index" (N,) into
    real_u8 (-1: none), "nn_flip", "distance_max", "measure"}."""
    m = len(real_u8)
    found = nd.find(nd.fingerprint(gen_u8), nd.fingerprint(np.concatenate([_flip(real_u8, f) for f in FLIPS])))
    distance, index, flip = np.full(len(gen_u8), np.nan), np.full(len(gen_u8), -1, np.int64), ["none"] * len(gen_u8)
    for i, v, d in found:
        distance[i], index[i], flip[i] = d, v % m, FLIPS[v // m]
    flagged = index >= 0
    return {"flagged": flagged, "flagged_share": float(flagged.mean()) if len(flagged) else 0.0, "distance": distance,
            "nn_index": index, "nn_flip": flip, "distance_max": nd.DISTANCE_MAX, "measure": "train.near_duplicates"}


def nn_search(gen: np.ndarray, real_variants: np.ndarray, owner: np.ndarray, scale: float = 1.0
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest real variant of each generated vector and the leave-one-out NN of each real original.

    Args:
        gen: (N, D) generated vectors.
        real_variants: (V, D) real vectors; row v belongs to original owner[v] (flips share an owner).
        owner: (V,) original index of each variant; variants with owner == variant index order are
            the originals themselves (owner[:M] == arange(M)).
        scale: distances are divided by this (sqrt of the pixel count gives an RMS per pixel).
    Returns:
        gen_dist (N,), gen_variant (N,) index into real_variants, real_loo (M,).
    """
    d_gen = pairwise_distances(gen, real_variants)
    gen_variant = d_gen.argmin(1)
    gen_dist = d_gen[np.arange(len(gen)), gen_variant] / scale
    m = int(owner.max()) + 1
    d_real = pairwise_distances(real_variants[:m], real_variants)
    d_real[owner[None, :] == np.arange(m)[:, None]] = np.inf  # leave the original and its flips out
    real_loo = d_real.min(1) / scale
    return gen_dist, gen_variant, real_loo


def _summary(gen_dist: np.ndarray, real_loo: np.ndarray, percentile: float) -> dict:
    finite = real_loo[np.isfinite(real_loo)]
    if len(finite) == 0:
        raise UserError("memorisation needs at least 2 distinct real images; add images to the real set")
    threshold = float(np.percentile(finite, percentile))
    flagged = gen_dist < threshold
    return {"threshold": threshold, "flagged_share": float(flagged.mean()), "flagged": flagged,
            "nn_median": float(np.median(gen_dist)), "real_loo_median": float(np.median(finite)),
            "n_real": int(len(real_loo)), "n_gen": int(len(gen_dist)), "percentile": percentile}


def memorisation(gen_u8: np.ndarray, real_u8: np.ndarray, gen_incv3: np.ndarray | None = None,
                 real_incv3: np.ndarray | None = None, percentile: float = PERCENTILE) -> dict:
    """Nearest-real-neighbour report for generated images against de-duplicated real originals.

    Args:
        gen_u8: (N, H, W, 3) uint8 generated images.
        real_u8: (M, H', W', 3) uint8 unamplified real originals (duplicates are dropped here).
        gen_incv3, real_incv3: optional pool3 features of the same images (rows aligned).
    Returns:
        {"hsv64": {...}, "incv3": {...} or None, "near_duplicate": {...}, "real_kept": indices of
        real_u8 used, "cone": name} where each space has threshold, flagged_share, flagged (N,),
        nn_median, nn_dist (N,), nn_index (N,) into real_u8, nn_flip; near_duplicate as
        near_duplicates_of_real (nn_index into real_u8).
    """
    keep = dedupe(real_u8)
    if len(keep) < len(real_u8):
        log.info("memorisation: %d of %d real images are exact, flipped or near-duplicates; dropped",
                 len(real_u8) - len(keep), len(real_u8))
    real = real_u8[keep]
    m = len(real)
    gen_vec, cone_name = cone_vectors(gen_u8)
    variants = np.concatenate([cone_vectors(_flip(real, f))[0] for f in FLIPS])  # (4M, D)
    owner = np.tile(np.arange(m), len(FLIPS))
    gen_dist, gen_var, real_loo = nn_search(gen_vec, variants, owner, scale=float(np.sqrt(PIXEL_SIZE ** 2)))
    hsv = _summary(gen_dist, real_loo, percentile)
    hsv.update(nn_dist=gen_dist, nn_index=keep[gen_var % m], nn_flip=[FLIPS[v // m] for v in gen_var])
    near = near_duplicates_of_real(gen_u8, real)
    near["nn_index"] = np.where(near["flagged"], keep[np.maximum(near["nn_index"], 0)], -1)
    out = {"hsv64": hsv, "incv3": None, "near_duplicate": near, "real_kept": keep, "cone": cone_name}
    if gen_incv3 is not None and real_incv3 is not None:
        r = np.asarray(real_incv3)[keep]
        d, idx, loo = nn_search(np.asarray(gen_incv3), r, np.arange(m))
        inc = _summary(d, loo, percentile)
        inc.update(nn_dist=d, nn_index=keep[idx], nn_flip=["none"] * len(d))
        out["incv3"] = inc
    return out


def closest_pairs_grid(gen_u8: np.ndarray, real_u8: np.ndarray, space: dict, pairs: int = 8) -> np.ndarray:
    """uint8 HWC grid of the `pairs` generated images closest to a real one: (generated, real) side
    by side, two pairs per row, closest first; the real image is shown in the matching flip."""
    order = np.argsort(space["nn_dist"], kind="stable")[:pairs]
    size = gen_u8.shape[1]
    tiles = []
    for i in order:
        real = _flip(real_u8[space["nn_index"][i]][None], space["nn_flip"][i])
        tiles += [gen_u8[i], resize_u8(real, size)[0]]
    return grid(np.stack(tiles), nrow=4)

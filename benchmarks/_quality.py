"""Scores for benchmarks/quality_bench.py: the three weights-free metrics, colour statistics, style
shares and nearest-real pairs of a generated set against the demo set's originals.

Colour statistics (the HSV ablation's questions, per pixel, in the paper's HSV terms):
- `hue_tv`: total-variation distance (0 = same, 1 = disjoint) between the chroma-weighted hue
  histograms (36 bins) of the coloured pixels (chroma = S x V > CHROMA_COLOURED) of each set.
- `paper_white`: share of pixels that are paper (V >= 0.85 and S <= 0.12).
- `accent_images`: share of images with at least 1 % strongly coloured pixels (chroma > 0.25): the
  demo set's red, blue and ochre accents.
Style shares: a k-nearest-neighbour classifier (k = 5, cone vectors of 16 px thumbnails) fitted on the
real originals' style folders; its leave-one-out accuracy on the real set says how far to trust the
shares it gives the generated images.
"""
from __future__ import annotations

import numpy as np

CHROMA_COLOURED = 0.08
HUE_BINS = 36


def hsv(images_u8: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """H in [0, 1), S, V of every pixel (the hexcone of Smith 1978, as matplotlib's rgb_to_hsv)."""
    x = images_u8.reshape(-1, 3).astype(np.float32) / 255.0
    v = x.max(1)
    c = v - x.min(1)
    s = np.where(v > 0, c / np.maximum(v, 1e-12), 0.0)
    r, g, b = x.T
    safe = np.maximum(c, 1e-12)
    h = np.where(v == r, (g - b) / safe, np.where(v == g, 2.0 + (b - r) / safe, 4.0 + (r - g) / safe))
    h = np.where(c > 0, (h / 6.0) % 1.0, 0.0)
    return h, s, v


def colour_stats(images_u8: np.ndarray) -> dict:
    """Per-set colour summary: hue histogram of coloured pixels, paper-white share, accent images."""
    n = len(images_u8)
    h, s, v = hsv(images_u8)
    chroma = s * v
    coloured = chroma > CHROMA_COLOURED
    hist, _ = np.histogram(h[coloured], bins=HUE_BINS, range=(0, 1), weights=chroma[coloured])
    strong = (chroma > 0.25).reshape(n, -1).mean(1)
    return {"hue_hist": hist / max(hist.sum(), 1e-12), "coloured_pixels": float(coloured.mean()),
            "paper_white": float(((v >= 0.85) & (s <= 0.12)).mean()),
            "accent_images": float((strong >= 0.01).mean())}


def colour_row(fake_u8: np.ndarray, real_stats: dict) -> dict:
    f = colour_stats(fake_u8)
    return {"hue_tv": float(0.5 * np.abs(f["hue_hist"] - real_stats["hue_hist"]).sum()),
            "coloured_pixels": f["coloured_pixels"], "paper_white": f["paper_white"],
            "accent_images": f["accent_images"]}


class StyleKNN:
    """k-NN over cone vectors of 16 px thumbnails; labels are the real set's style folders."""

    def __init__(self, real_u8: np.ndarray, labels: np.ndarray, names: list[str], k: int = 5):
        from evalkit.memorization import cone_vectors
        self.vec = cone_vectors(real_u8, size=16)[0]
        self.labels, self.names, self.k = np.asarray(labels), list(names), k

    def _vote(self, d: np.ndarray) -> np.ndarray:
        idx = np.argsort(d, axis=1, kind="stable")[:, : self.k]
        votes = np.stack([(self.labels[idx] == c).sum(1) for c in range(len(self.names))], 1)
        return votes.argmax(1)

    def _dist(self, q: np.ndarray) -> np.ndarray:
        return ((q[:, None, :] - self.vec[None, :, :]) ** 2).sum(-1)

    def loo_accuracy(self) -> float:
        d = self._dist(self.vec)
        np.fill_diagonal(d, np.inf)
        return float((self._vote(d) == self.labels).mean())

    def shares(self, images_u8: np.ndarray) -> dict[str, float]:
        from evalkit.memorization import cone_vectors
        pred = self._vote(self._dist(cone_vectors(images_u8, size=16)[0]))
        return {name: float((pred == c).mean()) for c, name in enumerate(self.names)}


def score(fake_u8: np.ndarray, real_u8: np.ndarray, *, seed: int, threads: int, null: bool) -> dict:
    """C2ST (with the real-vs-real null when `null`), Laplacian SWD, spectral score of fake vs real."""
    from evalkit.c2st import KEY_AUC, KEY_AUC_HIGH, KEY_AUC_LOW, c2st, c2st_null
    from evalkit.lapswd import laplacian_swd
    from evalkit.spectral import spectral_score
    import time
    t0 = time.perf_counter()
    c = c2st(real_u8, fake_u8, seed=seed, threads=threads)
    out = {k: v for k, v in c.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    out["c2st_seconds"] = time.perf_counter() - t0     # the test alone (the budget: <= 2 min)
    if null:  # the real-vs-real split, once per real set
        n = c2st_null(real_u8, seed=seed, threads=threads)
        out.update(c2st_null_auc=n[KEY_AUC], c2st_null_auc_ci_low=n[KEY_AUC_LOW], c2st_null_auc_ci_high=n[KEY_AUC_HIGH])
    out.update({k: v for k, v in laplacian_swd(real_u8, fake_u8, seed=seed).items() if k.startswith("lapswd")})
    out.update({k: v for k, v in spectral_score(real_u8, fake_u8).items() if isinstance(v, float)})
    return out


def memorisation_summary(fake_u8: np.ndarray, real_u8: np.ndarray) -> tuple[dict, np.ndarray]:
    """Nearest-real-neighbour figures (evalkit.memorization, hsv64 space) and the closest-pairs grid."""
    from evalkit.memorization import closest_pairs_grid, memorisation
    m = memorisation(fake_u8, real_u8)
    space = m["hsv64"]
    row = {"nn_median": space["nn_median"], "real_loo_median": space["real_loo_median"],
           "flagged_share": space["flagged_share"], "near_duplicates": int(np.sum(m["near_duplicate"]["flagged"]))}
    return row, closest_pairs_grid(fake_u8, real_u8, space)  # nn_index points into real_u8


def labelled(grid_u8: np.ndarray, title: str) -> np.ndarray:
    """A grid with a white title band above it (PIL's default font)."""
    from PIL import Image, ImageDraw
    band = 22
    out = Image.new("RGB", (grid_u8.shape[1], grid_u8.shape[0] + band), "white")
    out.paste(Image.fromarray(grid_u8), (0, band))
    ImageDraw.Draw(out).text((4, 5), title, fill=(0, 0, 0))
    return np.asarray(out)


def side_by_side(panels: list[np.ndarray], gap: int = 12) -> np.ndarray:
    """Panels (HWC uint8, same height after padding) left to right with white gaps."""
    h = max(p.shape[0] for p in panels)
    cols = []
    for i, p in enumerate(panels):
        pad = np.full((h - p.shape[0], p.shape[1], 3), 255, np.uint8)
        cols.append(np.concatenate([p, pad]))
        if i < len(panels) - 1:
            cols.append(np.full((h, gap, 3), 255, np.uint8))
    return np.concatenate(cols, 1)

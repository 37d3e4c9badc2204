"""Improved precision and recall (Kynkäänniemi et al. 2019) with k-NN manifolds, k = 3.

Each set's manifold is the union of balls around its points, each ball's radius the distance to
that point's k-th nearest neighbour in its own set (self excluded). Precision = share of generated
points inside the real manifold; recall = share of real points inside the generated manifold;
"inside" means distance <= radius, as in the authors' code.

We compute it on Inception-v3 pool3 features (columns `precision_incv3_k3`, `recall_incv3_k3`).
The published metric uses VGG-16 fc2 features, so our values are NOT comparable with published
precision/recall numbers; they compare models within one of our tables only.
"""
from __future__ import annotations

import numpy as np

KEY_PRECISION = "precision_incv3_k3"
KEY_RECALL = "recall_incv3_k3"


def pairwise_distances(a: np.ndarray, b: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """Euclidean distances (len(a), len(b)) in float64, computed in row chunks."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    bb = (b * b).sum(1)
    out = np.empty((len(a), len(b)), np.float64)
    for i in range(0, len(a), chunk):
        x = a[i:i + chunk]
        d2 = (x * x).sum(1)[:, None] - 2.0 * x @ b.T + bb[None, :]
        np.sqrt(np.maximum(d2, 0.0), out=out[i:i + chunk])
    return out


def knn_radii(feats: np.ndarray, k: int = 3) -> np.ndarray:
    """Distance from each point to its k-th nearest neighbour in the same set (self excluded)."""
    n = len(feats)
    if n <= k:
        raise ValueError(f"k-NN radii need more than k={k} points, got {n}")
    d = pairwise_distances(feats, feats)
    np.fill_diagonal(d, 0.0)  # the self-distance is the 0th neighbour, whatever rounding says
    return np.partition(d, k, axis=1)[:, k]


def coverage_share(points: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> float:
    """Share of `points` within distance <= radius of at least one centre."""
    d = pairwise_distances(points, centres)
    return float((d <= radii[None, :]).any(axis=1).mean())


def precision_recall(real_feats: np.ndarray, gen_feats: np.ndarray, k: int = 3) -> dict:
    """Improved precision and recall of `gen_feats` against `real_feats` (rows are samples)."""
    real_feats = np.asarray(real_feats, np.float64)
    gen_feats = np.asarray(gen_feats, np.float64)
    if real_feats.ndim != 2 or gen_feats.ndim != 2 or real_feats.shape[1] != gen_feats.shape[1]:
        raise ValueError(f"features must be (N, D) with equal D, got {real_feats.shape} and {gen_feats.shape}")
    precision = coverage_share(gen_feats, real_feats, knn_radii(real_feats, k))
    recall = coverage_share(real_feats, gen_feats, knn_radii(gen_feats, k))
    return {"precision": precision, "recall": recall, "k": k, "n_real": len(real_feats), "n_gen": len(gen_feats)}

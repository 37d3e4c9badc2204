"""IS, FID, KID, MS-SSIM and improved precision/recall as pure functions of arrays (no file reading,
no sampling). `evalkit.table` registers them as metrics (CLI verbs, compare columns).

Definitions follow torch-fidelity 0.4.0 (IS/FID/KID), pytorch-msssim 1.0.0 (MS-SSIM = TF's
`ssim_multiscale` at 256 px) and Kynkaanniemi et al. 2019 (precision/recall); the tests check them
against both libraries and known answers. All statistics are float64.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import torch
import torch.nn.functional as F

from inkwash.cli import UserError

FID_MIN_N = 2048           # below this the 2048x2048 covariance is singular and FID is strongly biased
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
MS_SSIM_MIN_SIDE = 161     # > (11 - 1) * 2**4: the Gaussian must fit the coarsest of the 5 scales
MS_SSIM_UPSAMPLE_TO = 256

KEY_MS_SSIM = "ms_ssim"
KEY_MS_SSIM_UP = "ms_ssim_up256"


def feature_stats(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and covariance (D, D) with ddof 1, in float64, of features (N, D)."""
    x = np.asarray(feats, dtype=np.float64)
    return x.mean(axis=0), np.cov(x, rowvar=False)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + tr S1 + tr S2 - 2 tr sqrt(S1 S2) (Heusel et al. 2017).

    tr sqrt(S1 S2) = sum of sqrt(eigenvalues of sqrt(S1) S2 sqrt(S1)), a symmetric PSD matrix with the
    same eigenvalues as S1 S2: `eigh` twice, no scipy sqrtm. Round-off negatives are clipped at 0
    (torch-fidelity takes the real part of the complex sqrt, which is the same)."""
    diff = mu1 - mu2
    w, v = np.linalg.eigh(sigma1)
    root1 = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    m = root1 @ sigma2 @ root1
    ev = np.linalg.eigvalsh((m + m.T) / 2)
    tr_covmean = np.sqrt(np.clip(ev, 0.0, None)).sum()
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_covmean)


def _cov_factor(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and a factor G (k, D) with covariance (ddof 1) = G.T @ G, k = min(N, D), float64."""
    x = np.asarray(feats, dtype=np.float64)
    mu = x.mean(axis=0)
    g = (x - mu) / math.sqrt(len(x) - 1)            # (N, D): cov = g.T @ g
    if len(x) > x.shape[1]:                         # a D x D factor is smaller
        w, v = np.linalg.eigh(g.T @ g)
        g = (v * np.sqrt(np.clip(w, 0.0, None))).T
    return mu, g


def fid(feats_a: np.ndarray, feats_b: np.ndarray) -> dict:
    """FID between two feature sets (N, 2048). Fewer than 2048 rows on either side still computes,
    with a warning and small_n_warning=True (FID is biased in N: always report N).

    With covariances S1 = G1'G1 and S2 = G2'G2, the eigenvalues of S1 S2 are the squared singular
    values of G1 G2', so tr sqrt(S1 S2) is the nuclear norm of G1 G2' (exact; the same number as
    `frechet_distance`, with an N x N instead of a 2048 x 2048 problem when N < 2048)."""
    n_a, n_b = len(feats_a), len(feats_b)
    if n_a < 2 or n_b < 2:
        raise UserError(f"FID needs at least 2 images per set, got {n_a} and {n_b}")
    small = min(n_a, n_b) < FID_MIN_N
    if small:
        warnings.warn(f"FID with {min(n_a, n_b)} < {FID_MIN_N} images: the covariance is singular and the "
                      f"value is biased upwards; compare only at equal N", stacklevel=2)
    mu_a, g_a = _cov_factor(feats_a)
    mu_b, g_b = _cov_factor(feats_b)
    diff = mu_a - mu_b
    tr_covmean = np.linalg.svd(g_a @ g_b.T, compute_uv=False).sum()
    value = diff @ diff + (g_a * g_a).sum() + (g_b * g_b).sum() - 2.0 * tr_covmean
    return {"value": float(value), "n_a": n_a, "n_b": n_b, "small_n_warning": small}


def inception_score(logits: np.ndarray, splits: int = 10, seed: int = 2020) -> dict:
    """IS (Salimans et al. 2016) of logits (N, 1008): float64 softmax, seeded shuffle
    (RandomState(seed).permutation, as torch-fidelity), split k = rows floor(kN/s)..floor((k+1)N/s),
    exp(mean KL(p(y|x) || p_k(y))) per split; mean and population std over splits."""
    x = np.asarray(logits, dtype=np.float64)
    n = len(x)
    if splits < 1 or n < splits:
        raise UserError(f"IS needs at least as many images as splits, got {n} images and {splits} splits")
    x = x[np.random.RandomState(seed).permutation(n)]
    log_p = x - x.max(axis=1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    p = np.exp(log_p)
    scores = []
    for k in range(splits):
        lo, hi = k * n // splits, (k + 1) * n // splits
        q = p[lo:hi].mean(axis=0, keepdims=True)
        kl = (p[lo:hi] * (log_p[lo:hi] - np.log(q))).sum(axis=1).mean()
        scores.append(math.exp(kl))
    return {"mean": float(np.mean(scores)), "std": float(np.std(scores)), "n": n, "splits": splits, "seed": seed}


def _poly_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    # k(x, y) = (x.y / d + 1)^3 (Binkowski et al. 2018)
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def _mmd2_unbiased(kxx_sum: float, kxx_trace: float, kyy_sum: float, kyy_trace: float, kxy_sum: float,
                   m: int) -> float:
    return (kxx_sum - kxx_trace + kyy_sum - kyy_trace) / (m * (m - 1)) - 2.0 * kxy_sum / (m * m)


def kid(feats_a: np.ndarray, feats_b: np.ndarray, subsets: int = 100, subset_size: int = 1000,
        seed: int = 2020) -> dict:
    """KID: unbiased MMD^2 with the cubic polynomial kernel over `subsets` subsets of
    m = min(subset_size, n_a, n_b) rows each, drawn without replacement by RandomState(seed) (a, then b,
    per subset, as torch-fidelity). Mean and population std; m is recorded in `subset_size`."""
    a = np.asarray(feats_a, dtype=np.float64)
    b = np.asarray(feats_b, dtype=np.float64)
    n_a, n_b = len(a), len(b)
    m = min(subset_size, n_a, n_b)
    if m < 2:
        raise UserError(f"KID needs at least 2 images per set, got {n_a} and {n_b}")
    rng = np.random.RandomState(seed)
    draws = [(rng.choice(n_a, m, replace=False), rng.choice(n_b, m, replace=False)) for _ in range(subsets)]
    # Whole kernel matrices once when that is cheaper than per-subset ones and fits in ~1 GB.
    full = (n_a * n_a + n_b * n_b + n_a * n_b) <= min(3 * subsets * m * m, 130_000_000)
    if full:
        kaa, kbb, kab = _poly_kernel(a, a), _poly_kernel(b, b), _poly_kernel(a, b)
    mmds = np.empty(subsets)
    for s, (ia, ib) in enumerate(draws):
        if full:
            kxx, kyy, kxy = kaa[np.ix_(ia, ia)], kbb[np.ix_(ib, ib)], kab[np.ix_(ia, ib)]
        else:
            x, y = a[ia], b[ib]
            kxx, kyy, kxy = _poly_kernel(x, x), _poly_kernel(y, y), _poly_kernel(x, y)
        mmds[s] = _mmd2_unbiased(kxx.sum(), np.trace(kxx), kyy.sum(), np.trace(kyy), kxy.sum(), m)
    return {"mean": float(mmds.mean()), "std": float(mmds.std()), "subset_size": m,
            "subset_size_requested": subset_size, "subsets": subsets, "n_a": n_a, "n_b": n_b, "seed": seed}


def _gauss_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    # Built in float32 as pytorch-msssim and TF do (the window's rounding shows at ~1e-6 in MS-SSIM).
    coords = torch.arange(size, dtype=torch.float32) - size // 2
    g = torch.exp(-(coords ** 2) / (2 * sigma ** 2))
    return g / g.sum()


def _blur(x: torch.Tensor, win: torch.Tensor) -> torch.Tensor:
    # Separable Gaussian, valid convolution, per channel: a weighted sum of shifted views
    # (float64 grouped conv2d has no fast CPU kernel; this is ~20x faster and equal to 1e-15).
    k = len(win)
    h, w = x.shape[-2] - k + 1, x.shape[-1] - k + 1
    rows = sum(win[i] * x[..., :, i:i + w] for i in range(k))
    return sum(win[i] * rows[..., i:i + h, :] for i in range(k))


def _ssim_terms(x: torch.Tensor, y: torch.Tensor, win: torch.Tensor, data_range: float = 255.0):
    # Per-channel SSIM and contrast-structure means (Wang et al. 2004), (N, C) each.
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu1, mu2, xx, yy, xy = _blur(torch.stack([x, y, x * x, y * y, x * y]), win)
    mu1_sq, mu2_sq, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    s1, s2, s12 = xx - mu1_sq, yy - mu2_sq, xy - mu12
    cs_map = (2 * s12 + c2) / (s1 + s2 + c2)
    ssim_map = ((2 * mu12 + c1) / (mu1_sq + mu2_sq + c1)) * cs_map
    return ssim_map.flatten(2).mean(-1), cs_map.flatten(2).mean(-1)


def _to_float_nchw(images_u8) -> torch.Tensor:
    return torch.as_tensor(np.asarray(images_u8)).permute(0, 3, 1, 2).to(torch.float64)


def ms_ssim(a_u8: np.ndarray, b_u8: np.ndarray) -> np.ndarray:
    """MS-SSIM (Wang et al. 2003; pytorch-msssim semantics) of each pair a[i], b[i], float64 (N,).

    uint8 (N, H, W, 3) as 0..255 floats, data_range 255, 5 scales, 11x11 Gaussian sigma 1.5 (valid),
    ReLU on each scale's cs and on the final SSIM, product of powers per channel, mean over channels.
    Both sides must be >= 161 px (see `upsample_for_ms_ssim`)."""
    a_u8, b_u8 = np.asarray(a_u8), np.asarray(b_u8)
    if a_u8.shape != b_u8.shape or a_u8.ndim != 4:
        raise ValueError(f"ms_ssim needs two (N, H, W, C) arrays of one shape, got {a_u8.shape} and {b_u8.shape}")
    return ms_ssim_tensor(_to_float_nchw(a_u8), _to_float_nchw(b_u8)).numpy()


def ms_ssim_tensor(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """MS-SSIM of float (N, C, H, W) 0..255 tensors (same definition as `ms_ssim`), (N,)."""
    if min(x.shape[-2:]) < MS_SSIM_MIN_SIDE:
        raise ValueError(f"MS-SSIM needs images of at least {MS_SSIM_MIN_SIDE} px (5 scales, 11-px window), got "
                         f"{tuple(x.shape[-2:])}; upsample both sets (upsample_for_ms_ssim)")
    win = _gauss_window().to(x.dtype)
    weights = torch.tensor(MS_SSIM_WEIGHTS, dtype=x.dtype)
    mcs = []
    for level in range(len(MS_SSIM_WEIGHTS)):
        ssim_pc, cs = _ssim_terms(x, y, win)
        if level < len(MS_SSIM_WEIGHTS) - 1:
            mcs.append(torch.relu(cs))
            pad = [s % 2 for s in x.shape[2:]]
            x = F.avg_pool2d(x, kernel_size=2, padding=pad)
            y = F.avg_pool2d(y, kernel_size=2, padding=pad)
    stack = torch.stack(mcs + [torch.relu(ssim_pc)], dim=0)          # (levels, N, C)
    return torch.prod(stack ** weights.view(-1, 1, 1), dim=0).mean(1)


def upsample_for_ms_ssim(images_u8: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float64 (N, 3, H', W') with the smaller side bicubic-upsampled to 256
    (torch bicubic, align_corners False, clamped to 0..255, not re-quantised)."""
    x = torch.as_tensor(np.asarray(images_u8)).permute(0, 3, 1, 2).float()
    h, w = x.shape[-2:]
    s = MS_SSIM_UPSAMPLE_TO / min(h, w)
    x = F.interpolate(x, size=(round(h * s), round(w * s)), mode="bicubic", align_corners=False)
    return x.clamp_(0, 255).to(torch.float64)


def ms_ssim_diversity(images_u8: np.ndarray, pairs: int = 1000, seed: int = 0, batch_size: int = 32) -> dict:
    """Mean MS-SSIM over `pairs` seeded random pairs (i != j) of one image set (Odena et al. 2017:
    lower = more diverse; the real set's value is the target). Images under 161 px are upsampled
    bicubic to 256 and the result is labelled `ms_ssim_up256`."""
    images_u8 = np.asarray(images_u8)
    n = len(images_u8)
    if n < 2 or pairs < 1:
        raise UserError(f"MS-SSIM diversity needs >= 2 images and >= 1 pair, got {n} images, {pairs} pairs")
    rng = np.random.default_rng(seed)
    i = rng.integers(0, n, pairs)
    j = rng.integers(0, n - 1, pairs)
    j = j + (j >= i)                               # uniform over the other n - 1 images
    up = min(images_u8.shape[1:3]) < MS_SSIM_MIN_SIDE
    prep = upsample_for_ms_ssim if up else _to_float_nchw
    values = np.empty(pairs)
    for s in range(0, pairs, batch_size):
        ii, jj = i[s:s + batch_size], j[s:s + batch_size]
        values[s:s + len(ii)] = ms_ssim_tensor(prep(images_u8[ii]), prep(images_u8[jj])).numpy()
    std = float(values.std(ddof=1)) if pairs > 1 else 0.0
    return {"mean": float(values.mean()), "std": std, "sem": std / math.sqrt(pairs), "pairs": pairs, "n": n,
            "seed": seed, "upsampled": up, "label": KEY_MS_SSIM_UP if up else KEY_MS_SSIM}


# Improved precision and recall (Kynkaanniemi et al. 2019) with k-NN manifolds. Each set's manifold is
# the union of balls around its points, each ball's radius the distance to that point's k-th nearest
# neighbour in its own set (self excluded). Precision = share of generated points inside the real
# manifold; recall = share of real points inside the generated manifold; "inside" means distance <=
# radius, as in the authors' code. The published metric uses VGG-16 fc2 features; on other features
# the values compare models within one table only.

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
        raise UserError(f"k-NN radii need more than k={k} points, got {n}")
    d = pairwise_distances(feats, feats)
    np.fill_diagonal(d, 0.0)  # the self-distance is the 0th neighbour, whatever rounding says
    return np.partition(d, k, axis=1)[:, k]


def coverage_share(points: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> float:
    """Share of `points` within distance <= radius of at least one centre."""
    d = pairwise_distances(points, centres)
    return float((d <= radii[None, :]).any(axis=1).mean())


def precision_recall(real_feats: np.ndarray, gen_feats: np.ndarray, k: int = 3) -> dict:
    """Improved precision and recall (Kynkaanniemi et al. 2019): the share of generated features inside the
    real set's k-NN manifold and the share of real features inside the generated one; rows are samples."""
    real_feats = np.asarray(real_feats, np.float64)
    gen_feats = np.asarray(gen_feats, np.float64)
    if real_feats.ndim != 2 or gen_feats.ndim != 2 or real_feats.shape[1] != gen_feats.shape[1]:
        raise ValueError(f"features must be (N, D) with equal D, got {real_feats.shape} and {gen_feats.shape}")
    precision = coverage_share(gen_feats, real_feats, knn_radii(real_feats, k))
    recall = coverage_share(real_feats, gen_feats, knn_radii(gen_feats, k))
    return {"precision": precision, "recall": recall, "k": k, "n_real": len(real_feats), "n_gen": len(gen_feats)}

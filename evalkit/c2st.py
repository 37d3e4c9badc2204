"""Classifier two-sample test (Lopez-Paz & Oquab, "Revisiting Classifier Two-Sample Tests", ICLR 2017).

A small CNN learns to tell set A (real) from set B (generated). With k-fold cross-fitting every image
gets a score from a classifier that never saw it; the statistic is the ROC AUC of all those held-out
scores pooled (0.5: the classifier finds no difference; 1.0: it separates the sets perfectly), with a 95 %
confidence interval by DeLong et al. (1988), computed with Sun & Xu's (2014) midrank algorithm.
`c2st_with_null` runs the same protocol on a random split of A into two halves beside it: the floor
for this data, classifier and size (it should cover 0.5); `c2st_null` is that split alone.

Trivial cues come first for any classifier: both sets must share size and colour mode, and when
given as files also the format (`evalkit.imagesets.read_image_sets` checks and decodes both through
one path). The sets are balanced (a seeded subset of the larger), so AUC and accuracy mean the same
on both sides.

Determinism: the run uses fixed intra-op threads and `torch.use_deterministic_algorithms` inside
its own RNG scope (both restored afterwards), so a seed gives the same AUC at a given thread count.
The budget is a fixed number of epochs (not a clock), sized for 2 x 400 images at 64 px to take
under 2 minutes on 2 cores, the null included.
"""
from __future__ import annotations

import contextlib
import math

import numpy as np
import torch
from scipy.stats import rankdata
from torch import nn

from evalkit.imagesets import check_pair
from inkwash.cli import UserError

FOLDS = 5
EPOCHS = 12
BATCH = 32
LR = 2e-3
WIDTH = 16           # channels of the first conv; doubling per stage
THREADS = 2
MIN_PER_SIDE = 10    # per fold and side at least 2 images
Z_95 = 1.959963984540054

KEY_AUC = "c2st_auc"
KEY_AUC_LOW, KEY_AUC_HIGH = "c2st_auc_ci_low", "c2st_auc_ci_high"
KEY_NULL_AUC = "c2st_null_auc"


def _block(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)]


class Classifier(nn.Module):
    """A 4x4 stride-2 stem (its windows overlap, so it sees every pixel and pixel-level cues survive:
    checkerboards, noise, blur; a 3x3 stride-1 stem cost 5x as much per step), stride-2 3x3 conv
    stages down to 4x4, global average pooling (translation invariant, few parameters), one logit."""

    def __init__(self, resolution: int, width: int = WIDTH):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, width, 4, 2, 1), nn.LeakyReLU(0.2)]
        c, side = width, resolution // 2
        while side > 4:
            layers += _block(c, min(2 * c, 8 * width))
            c, side = min(2 * c, 8 * width), side // 2
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x).mean(dim=(2, 3))).squeeze(1)


def delong_auc(scores_pos: np.ndarray, scores_neg: np.ndarray) -> tuple[float, float]:
    """ROC AUC of positives over negatives (ties count 1/2) and its DeLong variance."""
    pos, neg = np.asarray(scores_pos, np.float64), np.asarray(scores_neg, np.float64)
    m, n = len(pos), len(neg)
    r_all = rankdata(np.concatenate([pos, neg]))          # midranks
    r_pos, r_neg = rankdata(pos), rankdata(neg)
    v10 = (r_all[:m] - r_pos) / n                         # per positive: share of negatives below it
    v01 = 1.0 - (r_all[m:] - r_neg) / m                   # per negative: share of positives above it
    auc = float(v10.mean())
    var = float(np.var(v10, ddof=1) / m + np.var(v01, ddof=1) / n) if m > 1 and n > 1 else float("nan")
    return auc, var


def _to_tensor(images_u8: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images_u8)).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def _check_counts(a: np.ndarray, b: np.ndarray, folds: int) -> None:
    need = max(MIN_PER_SIDE, 2 * folds)
    if min(len(a), len(b)) < need:
        raise UserError(f"c2st: {min(len(a), len(b))} images on the smaller side; need at least {need} "
                        f"for {folds} folds")


@contextlib.contextmanager
def deterministic_cpu(threads: int, seed: int):
    """Fixed thread count, deterministic kernels and a private RNG scope; all restored on exit."""
    old_threads, old_det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            yield
    finally:
        torch.use_deterministic_algorithms(old_det)
        torch.set_num_threads(old_threads)


def _augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Per image, a random one of: identity, 180-degree rotation, transpose, anti-transpose (applied to
    both sets alike). These keep the parity of x + y, so a pixel-period checkerboard keeps its
    phase; a single flip of an even-sized image inverts it and doubles what the classifier must learn."""
    rot = torch.rand(len(x), generator=g) < 0.5
    tr = torch.rand(len(x), generator=g) < 0.5
    x = torch.where(rot[:, None, None, None], x.flip(2, 3), x)
    return torch.where(tr[:, None, None, None], x.transpose(2, 3), x)


def _fit_predict(x_tr: torch.Tensor, y_tr: torch.Tensor, x_te: torch.Tensor, epochs: int, seed: int,
                 width: int) -> np.ndarray:
    """Train a fresh classifier on (x_tr, y_tr); return logits for x_te."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = Classifier(x_tr.shape[-1], width)
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    steps = epochs * math.ceil(len(x_tr) / BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=steps, pct_start=0.2)
    net.train()
    for _ in range(epochs):
        order = torch.randperm(len(x_tr), generator=g)
        for i in range(0, len(order), BATCH):
            idx = order[i:i + BATCH]
            if len(idx) < 2:
                continue  # BatchNorm needs two samples
            loss = nn.functional.binary_cross_entropy_with_logits(net(_augment(x_tr[idx], g)), y_tr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    net.eval()
    with torch.no_grad():
        return torch.cat([net(x_te[i:i + 256]) for i in range(0, len(x_te), 256)]).numpy()


def c2st(images_a_u8: np.ndarray, images_b_u8: np.ndarray, *, folds: int = FOLDS, epochs: int = EPOCHS,
         seed: int = 0, threads: int = THREADS, width: int = WIDTH) -> dict:
    """Held-out ROC AUC of a CNN telling set B from set A (uint8 (N, H, W, 3) each), k-fold cross-fitted.

    Returns {KEY_AUC, KEY_AUC_LOW, KEY_AUC_HIGH (95 % DeLong, clipped to [0, 1]), "auc_folds",
    "log_loss" (held-out, nats; ln 2 = 0.693 at chance), "accuracy" (held-out, threshold 0),
    "n_per_side", "folds", "epochs", "seed", "threads"}. About 0.5 when B is drawn like A.
    """
    check_pair("c2st", images_a_u8, images_b_u8)
    _check_counts(images_a_u8, images_b_u8, folds)
    rng = np.random.default_rng(seed)
    n = min(len(images_a_u8), len(images_b_u8))
    pick = lambda x: x if len(x) == n else x[np.sort(rng.choice(len(x), n, replace=False))]  # noqa: E731
    x = torch.cat([_to_tensor(pick(images_a_u8)), _to_tensor(pick(images_b_u8))])   # (2n, 3, H, W)
    y = torch.cat([torch.zeros(n), torch.ones(n)])
    # Stratified folds: each fold holds the same number of images of both sets.
    fold_of = np.concatenate([rng.permutation(n) % folds, rng.permutation(n) % folds])
    logits = np.empty(2 * n, np.float64)
    auc_folds = []
    with deterministic_cpu(threads, seed):
        for k in range(folds):
            te = torch.from_numpy(np.flatnonzero(fold_of == k))
            tr = torch.from_numpy(np.flatnonzero(fold_of != k))
            logits[te.numpy()] = _fit_predict(x[tr], y[tr], x[te], epochs, seed * 1000 + k, width)
            yt = y[te].numpy()
            auc_folds.append(delong_auc(logits[te.numpy()][yt == 1], logits[te.numpy()][yt == 0])[0])
    labels = y.numpy()
    auc, var = delong_auc(logits[labels == 1], logits[labels == 0])
    half = Z_95 * math.sqrt(var) if var == var else float("nan")
    log_loss = float(np.mean(np.logaddexp(0.0, -(2 * labels - 1) * logits)))   # BCE of the logits, stable
    return {KEY_AUC: auc, KEY_AUC_LOW: max(0.0, auc - half), KEY_AUC_HIGH: min(1.0, auc + half),
            "auc_folds": auc_folds, "log_loss": log_loss, "accuracy": float(np.mean((logits > 0) == (labels == 1))),
            "n_per_side": n, "folds": folds, "epochs": epochs, "seed": seed, "threads": threads}


def c2st_null(real_u8: np.ndarray, *, folds: int = FOLDS, epochs: int = EPOCHS, seed: int = 0,
              threads: int = THREADS, width: int = WIDTH) -> dict:
    """The null: `c2st` of a seeded half/half split of the real set (the floor for this data and size)."""
    perm = np.random.default_rng(seed + 1).permutation(len(real_u8))
    half = len(real_u8) // 2
    return c2st(real_u8[perm[:half]], real_u8[perm[half:2 * half]], folds=folds, epochs=epochs, seed=seed,
                threads=threads, width=width)


def c2st_with_null(real_u8: np.ndarray, fake_u8: np.ndarray, *, folds: int = FOLDS, epochs: int = EPOCHS,
                   seed: int = 0, threads: int = THREADS, width: int = WIDTH, null: dict | None = None) -> dict:
    """`c2st(real, fake)` plus the same protocol on a seeded half/half split of the real set.

    Returns the c2st dict with "null": the split's c2st dict and KEY_NULL_AUC: its AUC. `null`: that
    split's result when the caller already has it (`c2st_null` of the same real set and options).
    """
    opts = dict(folds=folds, epochs=epochs, seed=seed, threads=threads, width=width)
    result = c2st(real_u8, fake_u8, **opts)
    null = null if null is not None else c2st_null(real_u8, **opts)
    result["null"], result[KEY_NULL_AUC] = null, null[KEY_AUC]
    return result

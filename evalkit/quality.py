"""The weights-free quality metrics as evalkit.table registers them: the classifier two-sample test
with its real-vs-real null (evalkit.c2st), the Laplacian-pyramid SWD (evalkit.lapswd) and the
spectral artefact score (evalkit.spectral), each of a real set against a generated one, with the
per-side caps that keep their cost fixed, the columns that depend on a result and the small tables
their verbs print. None needs network weights; for all three lower is better (C2ST: 0.5 is chance).
"""
from __future__ import annotations

import numpy as np

from evalkit import c2st, lapswd, spectral
from inkwash.cli import UserError
from inkwash.hashing import sha256_bytes

# C2ST's time budget is a fixed protocol size, not a clock: at most 400 images per side (the issue's
# 2 x 400 at 64 px in under 2 minutes on 2 cores, the null on two halves of the real side included).
C2ST_MAX_PER_SIDE = 400
# Laplacian SWD holds 128 descriptors of 147 floats per image and level for both sides: 1024 images
# per side is about 1 GB at 64 px. Its value depends on N, so rows are comparable only at equal N.
LAPSWD_MAX_PER_SIDE = 1024

KEY_NULL_LOW, KEY_NULL_HIGH = "c2st_null_auc_ci_low", "c2st_null_auc_ci_high"
_NULLS: dict[tuple, dict] = {}   # the last real set's null result, by content hash and options


def cap(images_u8: np.ndarray, max_n: int, seed: int) -> np.ndarray:
    """At most `max_n` images: a seeded subset in the original order (deterministic for a seed)."""
    if len(images_u8) <= max_n:
        return images_u8
    return images_u8[np.sort(np.random.default_rng(seed).choice(len(images_u8), max_n, replace=False))]


def c2st_real_vs_generated(real_u8: np.ndarray, gen_u8: np.ndarray, folds: int = c2st.FOLDS,
                           epochs: int = c2st.EPOCHS, seed: int = 0, threads: int = c2st.THREADS,
                           max_per_side: int = C2ST_MAX_PER_SIDE) -> dict:
    """Classifier two-sample test (Lopez-Paz & Oquab 2017): held-out ROC AUC of a small CNN telling
    generated from real images (k-fold, 95 % DeLong CI), beside the same test on two halves of the real
    set (the null); 0.5 = indistinguishable, 1.0 = trivially separable.

    Each side is first cut to at most `max_per_side` images (seeded), which fixes the cost."""
    real, gen = cap(real_u8, max_per_side, seed), cap(gen_u8, max_per_side, seed + 1)
    need = max(c2st.MIN_PER_SIDE, 2 * folds)
    if len(real) // 2 < need:  # said here: c2st's own message would name the halves, not the input
        raise UserError(f"c2st: {len(real)} real images; the real-vs-real null splits them in halves and needs at "
                        f"least {need} per half for {folds} folds: give at least {2 * need} real images")
    opts = dict(folds=folds, epochs=epochs, seed=seed, threads=threads)
    # The null depends on the real set and the options only: compare measures it once for all its runs.
    key = (sha256_bytes(np.ascontiguousarray(real).tobytes()), real.shape, tuple(sorted(opts.items())))
    if key not in _NULLS:
        _NULLS.clear()   # one real set at a time
        _NULLS[key] = c2st.c2st_null(real, **opts)
    r = c2st.c2st_with_null(real, gen, **opts, null=dict(_NULLS[key]))
    null = r["null"]
    return {**r, KEY_NULL_LOW: null[c2st.KEY_AUC_LOW], KEY_NULL_HIGH: null[c2st.KEY_AUC_HIGH],
            "null_n_per_side": null["n_per_side"], "max_per_side": max_per_side,
            "n_given": [len(real_u8), len(gen_u8)]}


def lapswd_real_vs_generated(real_u8: np.ndarray, gen_u8: np.ndarray, seed: int = 0,
                             max_per_side: int = LAPSWD_MAX_PER_SIDE) -> dict:
    """Laplacian-pyramid sliced Wasserstein distance x 10^3 (Karras et al. 2018), per level and the
    mean over levels; 0 for identical sets, lower is better, comparable only at equal N.

    Each side is first cut to at most `max_per_side` images (seeded), which bounds memory and time."""
    real, gen = cap(real_u8, max_per_side, seed), cap(gen_u8, max_per_side, seed + 1)
    r = lapswd.laplacian_swd(real, gen, seed=seed)
    return {**r, "max_per_side": max_per_side, "n_given": [len(real_u8), len(gen_u8)]}


def lapswd_level_columns(result: dict) -> dict[str, str]:
    """The per-level columns of a Laplacian SWD result: lapswd_x1e3_64, _32, _16 at 64 px."""
    return {lapswd.KEY_SWD_LEVEL.format(px=s): lapswd.KEY_SWD_LEVEL.format(px=s) for s in result["levels_px"]}


def _table(rows: list[tuple], align: str) -> list[str]:
    """Rows of cells as aligned text lines; `align` is one '<' or '>' per column."""
    cells = [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(align))]
    return ["  " + "  ".join(f"{c:{a}{w}}" for c, a, w in zip(r, align, widths)).rstrip() for r in cells]


def human_c2st(r: dict) -> str:
    """The test beside its null: AUC, interval, log-loss and N per side."""
    null = r["null"]
    rows = [("", "AUC", "95 % CI", "log-loss", "images per side"),
            *((name, f"{x[c2st.KEY_AUC]:.3f}", f"[{x[c2st.KEY_AUC_LOW]:.3f}, {x[c2st.KEY_AUC_HIGH]:.3f}]",
               f"{x['log_loss']:.3f}", x["n_per_side"])
              for name, x in (("real vs generated", r), ("real vs real (null)", null)))]
    return "\n".join(["c2st: classifier two-sample test, held-out ROC AUC (0.5 = indistinguishable, 1.0 = "
                      "trivially separable; lower is better, the null is the floor)",
                      *_table(rows, "<>>>>"),
                      f"  {r['folds']} folds, {r['epochs']} epochs, seed {r['seed']}, torch threads {r['threads']}, "
                      f"at most {r['max_per_side']} images per side (given {r['n_given'][0]} real, "
                      f"{r['n_given'][1]} generated)"])


def human_lapswd(r: dict) -> str:
    """SWD x 1e3 per pyramid level, finest first, and the mean."""
    rows = [("level", "SWD x 1e3"),
            *((f"{s} px", f"{r[lapswd.KEY_SWD_LEVEL.format(px=s)]:.2f}") for s in r["levels_px"]),
            ("mean", f"{r[lapswd.KEY_SWD_MEAN]:.2f}")]
    return "\n".join(["lapswd: Laplacian-pyramid sliced Wasserstein distance (0 = identical, lower is better; finest "
                      "level first)", *_table(rows, "<>"),
                      f"  {r['n']} images per side (at most {r['max_per_side']}), seed {r['seed']}; compare values "
                      f"only at equal N"])


def human_spectral(r: dict) -> str:
    """The upper-band distance, its sign and the set sizes."""
    rows = [("distance", f"{r[spectral.KEY_SPECTRAL]:.3f} dB"),
            ("bias", f"{r[spectral.KEY_SPECTRAL_BIAS]:+.3f} dB"),
            ("images", f"{r['n_a']} real, {r['n_b']} generated")]
    return "\n".join([f"spectral: radial power spectrum distance over rings >= {r['band_start_cpi']} cycles per image "
                      f"(0 = identical, lower is better)", *_table(rows, "<<"),
                      "  bias > 0: excess high-frequency power (checkerboard, noise); < 0: too smooth (blur)"])

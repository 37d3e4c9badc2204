"""Spectral artefact score: how far the azimuthally averaged power spectrum of generated images
departs from the real images' over the upper frequency band (Durall, Keuper & Keuper, CVPR 2020).

Durall et al. show that up-sampling by transposed convolution (and nearest-neighbour) leaves
periodic peaks in the spectrum, and that the 1-D azimuthal average of the log power spectrum of
generated images departs from the real one at high frequencies. Per image:

1. grey = ITU-R BT.601 luma of RGB in [0, 1], minus its mean (the DC term carries no texture);
2. P(u, v) = |FFT2(grey)|^2 / (H W) (orthonormal FFT, so the scale does not depend on the size);
3. the mean of P over rings of equal radius rho = round(sqrt(u^2 + v^2)), u, v in cycles per
   image, out to the corner (rho = H/sqrt(2), so the checkerboard of stride-2 up-sampling at
   (H/2, H/2) is included), in decibels: 10 log10(ring mean + 1e-10). This is the radially
   averaged power spectral density; Durall et al. average the log amplitude over the ring
   instead, which averages a narrow peak away (a checkerboard is one bin of its ring).

The set's curve is the mean over its images. The score is the mean absolute difference of the two
curves in dB over the upper band, rho >= H/4 (half the Nyquist frequency of the axes and above),
every ring weighted equally. 0 for identical sets; a real-vs-real split gives the noise floor.
`bias_db` is the signed mean (positive: the second set has too much high-frequency power, as a
checkerboard or noise gives; negative: too smooth, as blur gives).
"""
from __future__ import annotations

import numpy as np

from evalkit.imagesets import check_pair
from inkwash.cli import UserError

EPS = 1e-10
LUMA = np.array([0.299, 0.587, 0.114], np.float64)   # ITU-R BT.601
BAND_START = 0.25      # upper band starts at this fraction of the side, in cycles per image

KEY_SPECTRAL = "spectral_db"
KEY_SPECTRAL_BIAS = "spectral_bias_db"


def ring_index(side: int) -> np.ndarray:
    """(side, side) integer ring radius of every FFT bin, in cycles per image (unshifted layout)."""
    f = np.fft.fftfreq(side) * side                    # 0, 1, ..., -1 cycles per image
    return np.rint(np.hypot(f[:, None], f[None, :])).astype(np.int64)


def radial_spectrum(images_u8: np.ndarray, batch: int = 256) -> np.ndarray:
    """Per-image radially averaged power spectrum: float64 (N, R) in dB, R = ring count."""
    check_pair("spectral", images_u8, images_u8)
    n, h, w, _ = images_u8.shape
    rings = ring_index(h).ravel()
    counts = np.bincount(rings)
    out = np.empty((n, len(counts)), np.float64)
    for start in range(0, n, batch):
        grey = images_u8[start:start + batch].astype(np.float64) @ LUMA / 255.0   # (B, H, W)
        grey -= grey.mean(axis=(1, 2), keepdims=True)
        power = (np.abs(np.fft.fft2(grey, norm="ortho")) ** 2).reshape(len(grey), -1)   # (B, H*W)
        # Ring sums per image: one bincount over (image, ring) pairs.
        keys = (np.arange(len(grey))[:, None] * len(counts) + rings[None, :]).ravel()
        sums = np.bincount(keys, weights=power.ravel(), minlength=len(grey) * len(counts))
        out[start:start + len(grey)] = 10.0 * np.log10(sums.reshape(len(grey), -1) / counts + EPS)
    return out


def spectral_score(images_a_u8: np.ndarray, images_b_u8: np.ndarray, band_start: float = BAND_START) -> dict:
    """Upper-band distance (dB) between the mean radial log spectra of set A (real) and set B.

    Returns {KEY_SPECTRAL: mean |curve_b - curve_a| over rings >= band_start * side,
    KEY_SPECTRAL_BIAS: the signed mean, "rings_cpi": ring radii (cycles per image), "curve_a_db",
    "curve_b_db": the two curves over all rings, "band_start_cpi", "n_a", "n_b"}.
    """
    check_pair("spectral", images_a_u8, images_b_u8)
    if not 0 < band_start < 0.7:
        raise UserError(f"spectral: band_start {band_start} must lie in (0, 0.7) of the side")
    curve_a = radial_spectrum(images_a_u8).mean(axis=0)
    curve_b = radial_spectrum(images_b_u8).mean(axis=0)
    side = images_a_u8.shape[1]
    first = int(np.ceil(band_start * side))
    diff = curve_b[first:] - curve_a[first:]
    return {KEY_SPECTRAL: float(np.abs(diff).mean()), KEY_SPECTRAL_BIAS: float(diff.mean()),
            "rings_cpi": list(range(len(curve_a))), "curve_a_db": curve_a.tolist(), "curve_b_db": curve_b.tolist(),
            "band_start_cpi": first, "n_a": len(images_a_u8), "n_b": len(images_b_u8)}

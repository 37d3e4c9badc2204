"""Objectives: Wasserstein terms, gradient penalty, non-saturating BCE, and the HSV-cone colour loss.

Scores are critic outputs of shape (N,). Every function returns a float32 scalar tensor; callers
pass scores computed under autocast and these functions cast to float32 first.

HSV cone (paper eq. 1-2), our interpretation: with RGB in [0, 1], V = max, m = min, chroma
C = V - m = V*S, and the hue direction from the opponent axes alpha = R - (G + B)/2,
beta = sqrt(3)/2 (G - B) (the atan2 hue; equals the hexcone hue at the primaries):
    x = r*C*alpha/|(alpha, beta)|,  y = r*C*beta/|(alpha, beta)|,  z = h*(1 - V).
No trigonometry and no hue wrap-around; greys lie on the axis (C = 0) and black at the apex (0, 0, h).
The norm is sqrt(alpha^2 + beta^2 + eps^2), so gradients stay finite at greys and black.

The paper does not say how two unpaired image sets are compared. Pairing each fake with a random
real image pulls every sample toward the mean real image; instead the default compares the
distributions of cone points of all pixels: a sliced Wasserstein distance (random unit directions,
sorted projections, mean squared difference: an estimate of SW_2^2).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

HSV_EPS = 1e-4


def wgan_critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Critic minimises D(fake) - D(real) (maximises the Wasserstein estimate D(real) - D(fake))."""
    return fake_scores.float().mean() - real_scores.float().mean()


def wgan_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """Generator minimises -D(fake)."""
    return -fake_scores.float().mean()


def bce_critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Discriminator BCE with logits: -log sigmoid(D(real)) - log(1 - sigmoid(D(fake)))."""
    return F.softplus(-real_scores.float()).mean() + F.softplus(fake_scores.float()).mean()


def bce_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss (Goodfellow et al. 2014): -log sigmoid(D(fake))."""
    return F.softplus(-fake_scores.float()).mean()


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor | None = None,
                     eps: torch.Tensor | None = None) -> torch.Tensor:
    """Gulrajani et al. 2017: E[(||grad_x D(x_hat)||_2 - 1)^2] on x_hat = e*real + (1-e)*fake, e ~ U(0,1).

    Multiply by lambda outside. `eps` (N, 1, 1, 1) may be given for reproducible tests.
    """
    n = real.shape[0]
    if eps is None:
        eps = torch.rand(n, 1, 1, 1, device=real.device, dtype=torch.float32)
    x_hat = (eps * real.float() + (1 - eps) * fake.float()).detach().requires_grad_(True)
    scores = critic(x_hat, labels)
    (grad,) = torch.autograd.grad(scores.float().sum(), x_hat, create_graph=True)
    norm = grad.float().flatten(1).norm(2, dim=1)
    return ((norm - 1.0) ** 2).mean()


def hsv_cone(rgb01: torch.Tensor, r: float = 1.0, h: float = 1.0, dim: int = 1) -> torch.Tensor:
    """RGB in [0, 1] -> HSV-cone points (x, y, z), channels on `dim` (1 for (N, 3) or (N, 3, H, W))."""
    rgb = rgb01.float()
    red, green, blue = rgb.unbind(dim)
    v = torch.maximum(torch.maximum(red, green), blue)
    m = torch.minimum(torch.minimum(red, green), blue)
    chroma = v - m  # = V * S
    alpha = red - 0.5 * (green + blue)
    beta = (math.sqrt(3.0) / 2.0) * (green - blue)
    norm = torch.sqrt(alpha * alpha + beta * beta + HSV_EPS * HSV_EPS)
    x = r * chroma * alpha / norm
    y = r * chroma * beta / norm
    z = h * (1.0 - v)
    return torch.stack((x, y, z), dim)


def cone_pixels(images: torch.Tensor, r: float = 1.0, h: float = 1.0) -> torch.Tensor:
    """Images float NCHW in [-1, 1] -> cone points of every pixel, (N*H*W, 3) float32."""
    rgb01 = (images.float().clamp(-1, 1) + 1.0) * 0.5
    return hsv_cone(rgb01, r, h, dim=1).permute(0, 2, 3, 1).reshape(-1, 3)


def _sample_rows(points: torch.Tensor, n: int, generator: torch.Generator | None) -> torch.Tensor:
    if points.shape[0] <= n:
        return points
    gen_device = generator.device if generator is not None else points.device
    idx = torch.randint(0, points.shape[0], (n,), generator=generator, device=gen_device)
    return points[idx.to(points.device)]


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, n_proj: int = 64,
                       generator: torch.Generator | None = None) -> torch.Tensor:
    """SW_2^2 estimate between point clouds a (P, D) and b (P, D) of equal size: random unit directions,
    sorted projections, mean squared difference."""
    if a.shape != b.shape:
        raise ValueError(f"sliced_wasserstein: point clouds must have equal shapes, got {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")
    gen_device = generator.device if generator is not None else a.device
    dirs = torch.randn(n_proj, a.shape[1], generator=generator, device=gen_device, dtype=torch.float32)
    dirs = dirs.to(a.device)
    dirs = dirs / dirs.norm(dim=1, keepdim=True)
    # Sort along the contiguous last axis (several times faster on CPU than along dim 0).
    pa = torch.sort(dirs @ a.float().T, dim=1).values  # (n_proj, P)
    pb = torch.sort(dirs @ b.float().T, dim=1).values
    return ((pa - pb) ** 2).mean()


def hsv_swd(fake: torch.Tensor, real: torch.Tensor, n_proj: int = 64, generator: torch.Generator | None = None,
            n_pixels: int = 16_384, r: float = 1.0, h: float = 1.0) -> torch.Tensor:
    """Sliced Wasserstein distance between the HSV-cone pixel distributions of two image batches.

    Args:
        fake, real: float NCHW in [-1, 1] (any batch sizes, same resolution not required).
        n_proj: random projection directions; n_pixels: pixels sampled from each side.
    Returns: float32 scalar, 0 for identical pixel sets.
    """
    with torch.autocast(fake.device.type, enabled=False):
        pf = cone_pixels(fake, r, h)
        pr = cone_pixels(real, r, h)
        n = min(n_pixels, pf.shape[0], pr.shape[0])
        pf = _sample_rows(pf, n, generator)
        pr = _sample_rows(pr, n, generator)
        return sliced_wasserstein(pf, pr.detach(), n_proj, generator)


def hsv_moments(fake: torch.Tensor, real: torch.Tensor, r: float = 1.0, h: float = 1.0) -> torch.Tensor:
    """||mu_f - mu_r||^2 + ||Sigma_f - Sigma_r||_F^2 of HSV-cone pixel points (option A, a weaker fallback)."""
    with torch.autocast(fake.device.type, enabled=False):
        pf = cone_pixels(fake, r, h)
        pr = cone_pixels(real, r, h).detach()
        mf, mr = pf.mean(0), pr.mean(0)
        cf = (pf - mf).T @ (pf - mf) / pf.shape[0]
        cr = (pr - mr).T @ (pr - mr) / pr.shape[0]
        return ((mf - mr) ** 2).sum() + ((cf - cr) ** 2).sum()


def hsv_term(kind: str, fake: torch.Tensor, real: torch.Tensor, *, n_proj: int = 64, n_pixels: int = 16_384,
             r: float = 1.0, h: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """The generator's HSV-cone term: kind swd | moments | off (off -> 0)."""
    if kind == "swd":
        return hsv_swd(fake, real, n_proj, generator, n_pixels, r, h)
    if kind == "moments":
        return hsv_moments(fake, real, r, h)
    if kind == "off":
        return torch.zeros((), device=fake.device)
    raise ValueError(f"hsv_loss: unknown {kind!r}; choose swd, moments or off")

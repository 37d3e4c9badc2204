"""Differentiable augmentation applied alike to real and generated batches (DiffAugment).

Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training": the critic sees
T(x) for reals and T(G(z)) for fakes, in both the critic and the generator update, and gradients
flow through T. The three policies follow the paper's reference implementation:

- color: brightness + U(-0.5, 0.5), saturation x U(0, 2) around the per-pixel channel mean,
  contrast x U(0.5, 1.5) around the per-image mean;
- translation: an integer shift of up to 1/8 of each side per image, filled with 0 (mid grey in
  [-1, 1]);
- cutout: one square of half the side per image, set to 0.

Every random draw goes through the optional `torch.Generator`, so a run is repeatable.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

POLICIES = ("color", "translation", "cutout")


def _rand(shape: tuple[int, ...], x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """U(0, 1) of `shape` drawn on the generator's device, then moved to x's device and dtype."""
    device = generator.device if generator is not None else x.device
    return torch.rand(shape, generator=generator, device=device).to(x.device, x.dtype)


def _randint(low: int, high: int, shape: tuple[int, ...], x: torch.Tensor,
             generator: torch.Generator | None) -> torch.Tensor:
    """Integers in [low, high) drawn on the generator's device, then moved to x's device."""
    device = generator.device if generator is not None else x.device
    return torch.randint(low, high, shape, generator=generator, device=device).to(x.device)


def rand_color(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random brightness, saturation and contrast per image (DiffAugment's `color`)."""
    n = x.shape[0]
    x = x + (_rand((n, 1, 1, 1), x, generator) - 0.5)
    mean_c = x.mean(dim=1, keepdim=True)
    x = (x - mean_c) * (_rand((n, 1, 1, 1), x, generator) * 2.0) + mean_c
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_rand((n, 1, 1, 1), x, generator) + 0.5) + mean


def rand_translation(x: torch.Tensor, ratio: float = 0.125,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """Shift each image by up to `ratio` of its side, filling the uncovered band with 0."""
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = _randint(-sh, sh + 1, (n, 1, 1), x, generator)
    tx = _randint(-sw, sw + 1, (n, 1, 1), x, generator)
    gy, gx = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    # Index into a copy padded by one pixel of zeros; shifted-out positions land on the padding.
    iy = torch.clamp(gy.unsqueeze(0) + ty + 1, 0, h + 1)  # (N, H, W)
    ix = torch.clamp(gx.unsqueeze(0) + tx + 1, 0, w + 1)
    padded = F.pad(x, (1, 1, 1, 1))  # (N, C, H+2, W+2)
    flat = padded.permute(0, 2, 3, 1).reshape(n, (h + 2) * (w + 2), -1)  # (N, P, C)
    idx = (iy * (w + 2) + ix).reshape(n, -1, 1).expand(-1, -1, x.shape[1])
    out = torch.gather(flat, 1, idx).reshape(n, h, w, -1)
    return out.permute(0, 3, 1, 2).contiguous()


def rand_cutout(x: torch.Tensor, ratio: float = 0.5, generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero one square of `ratio` of the side per image, at a random centre (may overlap the edge)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = _randint(0, h + (1 - ch % 2), (n, 1, 1), x, generator)
    ox = _randint(0, w + (1 - cw % 2), (n, 1, 1), x, generator)
    gy = torch.arange(h, device=x.device).view(1, h, 1)
    gx = torch.arange(w, device=x.device).view(1, 1, w)
    inside = ((gy >= oy - ch // 2) & (gy < oy - ch // 2 + ch) & (gx >= ox - cw // 2) & (gx < ox - cw // 2 + cw))
    mask = (~inside).to(x.dtype).unsqueeze(1)  # (N, 1, H, W)
    return x * mask


_FUNCS = {"color": rand_color, "translation": rand_translation, "cutout": rand_cutout}


def diff_augment(x: torch.Tensor, policy: str = "color,translation,cutout",
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Apply the comma-separated DiffAugment `policy` to a float NCHW batch in [-1, 1].

    Returns a tensor of the same shape; differentiable with respect to `x`. An empty policy
    returns `x` unchanged. Values may leave [-1, 1] (colour jitter), as in the reference.
    """
    names = [p.strip() for p in policy.split(",") if p.strip()]
    for name in names:
        if name not in _FUNCS:
            raise ValueError(f"diff_augment policy {name!r}: unknown; use a comma-separated subset of {','.join(POLICIES)}")
    for name in names:
        x = _FUNCS[name](x, generator=generator)
    return x

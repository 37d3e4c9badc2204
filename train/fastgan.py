"""A FastGAN-style generator and self-supervised critic sized for 100-1,000 images on a CPU.

Liu et al., "Towards Faster and Stabilized GAN Training for High-fidelity Few-shot Image Synthesis"
(ICLR 2021), scaled down:

- Generator: z -> 4x4 (linear, BN, GLU), then per doubling nearest-neighbour up-sampling + 3x3 conv
  + BN + GLU (no transposed convolutions, so no checkerboard from uneven kernel overlap); every
  other stage has a second 3x3 conv ("UpBlockComp"). Skip-layer excitation (SLE): the 4x4 map and
  the 8x8 map, pooled to 4x4 and squeezed through 4x4 conv -> LeakyReLU -> 1x1 conv -> sigmoid,
  gate the channels of the maps 8x larger (32 and 64 px at 64 px output). No noise injection: it
  would make the exported generator random, and at this size it is the first thing to drop.
- Critic: a 4x4 stride-2 stem, then residual down blocks (4x4 stride-2 conv + norm + LReLU + 3x3
  conv, averaged with an average-pool + 1x1 branch), spectral norm on every conv and linear layer,
  down to 4x4 and one linear score (+ projection for classes, as `train.models.Critic`).
- Self-supervision: two small decoders on the critic's 8x8 features reconstruct the real image at
  half resolution and, from a random quadrant of those features, that quadrant of the image at
  full resolution. FastGAN scores the reconstructions by LPIPS, which needs pretrained weights; we
  use L1 (weights-free). Only real images are reconstructed; only the critic learns from it.

`critic(x, labels) -> scores (N,)` is the standard call; `critic.forward_aux(x, labels, quadrant)`
also returns the reconstructions, and `reconstruction_loss` turns them into the auxiliary term.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from train.models import MODELS, Architecture, Critic, Generator, _critic_norm

# FastGAN's channel multipliers per side (nfc_multi in its code), times `ngf` / `ndf`.
CHANNEL_MULT = {4: 16, 8: 8, 16: 4, 32: 2, 64: 2, 128: 1, 256: 0.5}
NGF = 16          # generator width: 256 channels at 4x4, 32 at 64x64
NDF = 16          # critic width
TAP_SIDE = 8      # the critic features the decoders read


def _channels(side: int, width: int) -> int:
    return max(8, int(CHANNEL_MULT[side] * width))


def _init(module: nn.Module) -> None:
    """FastGAN's init: conv and linear weights N(0, 0.02), BN scale N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class _UpBlock(nn.Module):
    """Nearest x2, 3x3 conv to 2C, BN, GLU (-> C); `comp` adds a second conv, BN, GLU at the new size."""

    def __init__(self, c_in: int, c_out: int, comp: bool):
        super().__init__()
        layers: list[nn.Module] = [nn.Upsample(scale_factor=2, mode="nearest"),
                                   nn.Conv2d(c_in, 2 * c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(2 * c_out),
                                   nn.GLU(dim=1)]
        if comp:
            layers += [nn.Conv2d(c_out, 2 * c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(2 * c_out), nn.GLU(dim=1)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class _SLE(nn.Module):
    """Skip-layer excitation: a small map gates the channels of a large one (FastGAN's SEBlock)."""

    def __init__(self, c_small: int, c_large: int):
        super().__init__()
        self.body = nn.Sequential(nn.AdaptiveAvgPool2d(4), nn.Conv2d(c_small, c_large, 4, 1, 0, bias=False),
                                  nn.LeakyReLU(0.1), nn.Conv2d(c_large, c_large, 1, 1, 0, bias=False), nn.Sigmoid())

    def forward(self, small: torch.Tensor, large: torch.Tensor) -> torch.Tensor:
        return large * self.body(small)


class FastGANGenerator(Generator):
    """z (N, latent_dim) [+ labels] -> (N, 3, R, R) in [-1, 1]; see the module docstring."""

    def __init__(self, latent_dim: int = 100, resolution: int = 64, num_classes: int = 0, ngf: int = NGF):
        super().__init__(latent_dim, resolution, num_classes)
        c4 = _channels(4, ngf)
        self.init = nn.Sequential(nn.Linear(latent_dim, 2 * c4 * 16, bias=False))
        self.init_norm = nn.Sequential(nn.BatchNorm2d(2 * c4), nn.GLU(dim=1))
        sides = [4 * 2 ** i for i in range(int(math.log2(resolution // 4)) + 1)]   # 4, 8, ..., R
        self.ups = nn.ModuleList(_UpBlock(_channels(s, ngf), _channels(2 * s, ngf), comp=(i % 2 == 0))
                                 for i, s in enumerate(sides[:-1]))
        # SLE pairs (small side, large side = 8x): 4 -> 32 and 8 -> 64 at 64 px (FastGAN: 8 -> 128, 16 -> 256).
        self.sle_pairs = [(s, 8 * s) for s in sides if 8 * s in sides and 8 * s >= resolution // 2]
        self.sle = nn.ModuleList(_SLE(_channels(s, ngf), _channels(big, ngf)) for s, big in self.sle_pairs)
        self.to_rgb = nn.Conv2d(_channels(resolution, ngf), 3, 3, 1, 1)
        _init(self)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        z = self.condition(z, labels)
        h = self.init_norm(self.init(z).view(z.shape[0], -1, 4, 4))    # (N, C4, 4, 4)
        feats = {4: h}
        for up in self.ups:
            h = up(h)
            side = h.shape[-1]
            for (small, big), sle in zip(self.sle_pairs, self.sle):
                if big == side:
                    h = sle(feats[small], h)
            feats[side] = h
        return torch.tanh(self.to_rgb(h))


class _DownBlock(nn.Module):
    """FastGAN's DownBlockComp: (4x4/2 conv, norm, LReLU, 3x3 conv, norm, LReLU + avgpool, 1x1 conv,
    norm, LReLU) / 2, spectral-normalised convs."""

    def __init__(self, c_in: int, c_out: int, norm: str):
        super().__init__()
        self.main = nn.Sequential(spectral_norm(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False)), _critic_norm(norm, c_out),
                                  nn.LeakyReLU(0.2), spectral_norm(nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)),
                                  _critic_norm(norm, c_out), nn.LeakyReLU(0.2))
        self.direct = nn.Sequential(nn.AvgPool2d(2), spectral_norm(nn.Conv2d(c_in, c_out, 1, 1, 0, bias=False)),
                                    _critic_norm(norm, c_out), nn.LeakyReLU(0.2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.main(x) + self.direct(x)) / 2


def _decoder(c_in: int, n_up: int, width: int) -> nn.Sequential:
    """FastGAN's SimpleDecoder: n_up x (nearest x2, 3x3 conv, BN, GLU), then 3x3 conv to RGB, tanh."""
    layers: list[nn.Module] = []
    c = c_in
    for i in range(n_up):
        c_out = max(8, width * 2 ** (n_up - 1 - i))
        layers += [nn.Upsample(scale_factor=2, mode="nearest"),
                   spectral_norm(nn.Conv2d(c, 2 * c_out, 3, 1, 1, bias=False)), nn.BatchNorm2d(2 * c_out), nn.GLU(dim=1)]
        c = c_out
    layers += [spectral_norm(nn.Conv2d(c, 3, 3, 1, 1)), nn.Tanh()]
    return nn.Sequential(*layers)


class FastGANCritic(Critic):
    """images (N, 3, R, R) [+ labels] -> scores (N,); `forward_aux` adds the decoders' reconstructions."""

    def __init__(self, resolution: int = 64, num_classes: int = 0, norm: str = "batch", ndf: int = NDF):
        sides = [resolution // 2 ** i for i in range(int(math.log2(resolution // 4)) + 1)]   # R, R/2, ..., 4
        stem = nn.Sequential(spectral_norm(nn.Conv2d(3, _channels(sides[1], ndf), 4, 2, 1, bias=False)),
                             nn.LeakyReLU(0.2))
        blocks = [_DownBlock(_channels(s, ndf), _channels(s // 2, ndf), norm) for s in sides[1:-1]]
        c4 = _channels(4, ndf)
        super().__init__(nn.Sequential(stem, *blocks), c4 * 16, num_classes)
        self.tap = 1 + sides[1:-1].index(2 * TAP_SIDE) + 1   # body[:tap]: stem and blocks down to 8x8
        self.fc = spectral_norm(self.fc)
        self.resolution = resolution
        c8 = _channels(TAP_SIDE, ndf)
        n_up = int(math.log2(resolution // 2 // TAP_SIDE))     # 8 -> R/2
        self.decode_whole = _decoder(c8, n_up, ndf)
        self.decode_part = _decoder(c8, n_up + 1, ndf)         # a 4x4 quadrant -> R/2 (the quadrant at full size)
        _init(self)

    def forward_aux(self, x: torch.Tensor, labels: torch.Tensor | None = None,
                    quadrant: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(scores (N,), reconstruction of x at R/2, reconstruction of `quadrant` (0-3, row-major) of x
        at R/2), both (N, 3, R/2, R/2) in [-1, 1]."""
        h8 = self.body[:self.tap](x)                          # (N, C8, 8, 8)
        h = self.body[self.tap:](h8).flatten(1)
        out = self.fc(h).squeeze(1)
        if self.proj is not None:
            if labels is None:
                raise ValueError("labels: this critic is class-conditional; pass labels of shape (N,)")
            out = out + (self.proj(labels) * h).sum(1)
        r, c = divmod(quadrant, 2)
        part = h8[:, :, 4 * r:4 * r + 4, 4 * c:4 * c + 4]
        return out, self.decode_whole(h8), self.decode_part(part)


def quadrant_of(x: torch.Tensor, quadrant: int) -> torch.Tensor:
    """Quadrant 0-3 (row-major) of images (N, C, R, R): (N, C, R/2, R/2)."""
    half = x.shape[-1] // 2
    r, c = divmod(quadrant, 2)
    return x[:, :, half * r:half * (r + 1), half * c:half * (c + 1)]


def reconstruction_loss(critic: FastGANCritic, real: torch.Tensor, labels: torch.Tensor | None = None,
                        generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Critic scores of `real` and FastGAN's self-supervised term with L1 for LPIPS: |dec(f) - real at
    R/2| + |dec(quadrant of f) - that quadrant of real|, each a mean over pixels. Returns (scores, loss)."""
    quadrant = int(torch.randint(0, 4, (1,), generator=generator))
    scores, whole, part = critic.forward_aux(real, labels, quadrant)
    target_whole = F.avg_pool2d(real, 2)
    target_part = quadrant_of(real, quadrant)
    loss = (whole.float() - target_whole.float()).abs().mean() + (part.float() - target_part.float()).abs().mean()
    return scores, loss


def hinge_critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Hinge loss (Lim & Ye 2017; FastGAN's D): mean relu(1 - D(real)) + mean relu(1 + D(fake))."""
    return F.relu(1.0 - real_scores.float()).mean() + F.relu(1.0 + fake_scores.float()).mean()


def hinge_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """Generator side of the hinge loss: -mean D(fake)."""
    return -fake_scores.float().mean()


MODELS["fastgan"] = Architecture(FastGANGenerator, FastGANCritic, "FastGAN-style, Liu et al. 2021 (SLE, up-sample + conv)",
                                 table4=True)

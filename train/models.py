"""The networks: the paper's generator and critic (Tables 2-3) and the two baselines.

Every package that needs a network gets it from `build`. Images are float NCHW in [-1, 1].
"""
from __future__ import annotations

import math

import torch
from torch import nn

MODELS = ("paper", "dcgan", "mlp")
RESOLUTIONS = (64, 128, 256)
CRITIC_NORMS = ("batch", "layer", "none")


def _check(name: str, resolution: int, latent_dim: int, num_classes: int, critic_norm: str) -> None:
    if name not in MODELS:
        raise ValueError(f"model: unknown {name!r}; choose one of {', '.join(MODELS)}")
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution: {resolution} is not supported; choose 64, 128 or 256")
    if latent_dim < 1:
        raise ValueError(f"latent_dim: must be positive, got {latent_dim}")
    if num_classes < 0:
        raise ValueError(f"num_classes: must be >= 0, got {num_classes}")
    if critic_norm not in CRITIC_NORMS:
        raise ValueError(f"critic_norm: unknown {critic_norm!r}; choose one of {', '.join(CRITIC_NORMS)}")


def _critic_norm(kind: str, channels: int) -> nn.Module:
    """Normalisation for a critic conv layer; 'layer' normalises over (C, H, W) per sample."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    return nn.Identity()


class _Conditioning(nn.Module):
    """Label embedding multiplied into the latent (class-conditional generators)."""

    def __init__(self, num_classes: int, latent_dim: int):
        super().__init__()
        self.embed = nn.Embedding(num_classes, latent_dim)
        nn.init.normal_(self.embed.weight, 1.0, 0.02)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return z * self.embed(labels)


class Generator(nn.Module):
    """Base class: latent (N, latent_dim) [+ labels (N,)] -> images (N, 3, R, R) in [-1, 1]."""

    def __init__(self, latent_dim: int, resolution: int, num_classes: int):
        super().__init__()
        self.latent_dim = latent_dim
        self.resolution = resolution
        self.num_classes = num_classes
        self.cond = _Conditioning(num_classes, latent_dim) if num_classes > 0 else None

    def condition(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if self.cond is None:
            return z
        if labels is None:
            raise ValueError("labels: this generator is class-conditional; pass labels of shape (N,)")
        return self.cond(z, labels)


class Critic(nn.Module):
    """Base class: images (N, 3, R, R) [+ labels] -> scores (N,). Projection conditioning
    (Miyato & Koyama 2018): score = w.h + b + <embed(y), h>."""

    def __init__(self, body: nn.Module, feature_dim: int, num_classes: int):
        super().__init__()
        self.num_classes = num_classes
        self.body = body  # feature trunk: images -> (N, ...) with feature_dim values per image
        self.fc = nn.Linear(feature_dim, 1)
        self.proj = nn.Embedding(num_classes, feature_dim) if num_classes > 0 else None
        if self.proj is not None:
            nn.init.normal_(self.proj.weight, 0.0, 0.02)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.body(x).flatten(1)  # (N, feature_dim)
        out = self.fc(h).squeeze(1)
        if self.proj is not None:
            if labels is None:
                raise ValueError("labels: this critic is class-conditional; pass labels of shape (N,)")
            out = out + (self.proj(labels) * h).sum(1)
        return out


class PaperGenerator(Generator):
    """Paper Table 3: Dense -> s x s x 512, BN, ReLU; ConvT 5x5/2 to 256, 128, 64 (BN, ReLU);
    ConvT 5x5/2 to 3, tanh. s = resolution / 16 (16 at 256 px)."""

    def __init__(self, latent_dim: int = 100, resolution: int = 256, num_classes: int = 0):
        super().__init__(latent_dim, resolution, num_classes)
        self.seed_size = resolution // 16
        self.fc = nn.Linear(latent_dim, self.seed_size * self.seed_size * 512)
        self.bn0 = nn.BatchNorm2d(512)
        layers: list[nn.Module] = []
        chans = [512, 256, 128, 64]
        for cin, cout in zip(chans[:-1], chans[1:]):
            # kernel 5, stride 2, padding 2, output_padding 1: exactly doubles H and W ("same").
            layers += [nn.ConvTranspose2d(cin, cout, 5, 2, 2, output_padding=1),
                       nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
        layers += [nn.ConvTranspose2d(64, 3, 5, 2, 2, output_padding=1), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        z = self.condition(z, labels)
        h = self.fc(z).view(-1, 512, self.seed_size, self.seed_size)  # (N, 512, s, s)
        h = torch.relu(self.bn0(h))
        return self.body(h)


class PaperCritic(Critic):
    """Paper Table 2: Conv 5x5/2 to 64, 128, 256, 512 with LeakyReLU 0.2 and normalisation on
    all but the first, then Dense 1."""

    def __init__(self, resolution: int = 256, num_classes: int = 0, norm: str = "batch"):
        s = resolution // 16
        # kernel 5, stride 2, padding 2: exactly halves H and W ("same").
        layers: list[nn.Module] = [nn.Conv2d(3, 64, 5, 2, 2), nn.LeakyReLU(0.2, inplace=True)]
        for cin, cout in ((64, 128), (128, 256), (256, 512)):
            layers += [nn.Conv2d(cin, cout, 5, 2, 2), _critic_norm(norm, cout), nn.LeakyReLU(0.2, inplace=True)]
        super().__init__(nn.Sequential(*layers), 512 * s * s, num_classes)


def _dcgan_channels(resolution: int, base: int = 64, cap: int = 512) -> list[int]:
    """Channels per stage from 4x4 up to the output resolution (top stage has `base`)."""
    stages = int(math.log2(resolution // 4))  # upsampling steps from 4x4
    return [min(cap, base * 2 ** (stages - 1 - i)) for i in range(stages)]


def _dcgan_init(module: nn.Module) -> None:
    """Radford et al. 2015: weights from N(0, 0.02); BN scale from N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DCGANGenerator(Generator):
    """Radford et al. 2015: ConvT 4x4 from 1x1 to 4x4, then 4x4 stride-2 ConvT, BN, ReLU; tanh."""

    def __init__(self, latent_dim: int = 100, resolution: int = 64, num_classes: int = 0):
        super().__init__(latent_dim, resolution, num_classes)
        ch = _dcgan_channels(resolution)
        layers: list[nn.Module] = [nn.ConvTranspose2d(latent_dim, ch[0], 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(ch[0]), nn.ReLU(inplace=True)]
        for cin, cout in zip(ch[:-1], ch[1:]):
            layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
        layers += [nn.ConvTranspose2d(ch[-1], 3, 4, 2, 1, bias=False), nn.Tanh()]
        self.body = nn.Sequential(*layers)
        _dcgan_init(self)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        z = self.condition(z, labels)
        return self.body(z[:, :, None, None])


class DCGANCritic(Critic):
    """Radford et al. 2015 discriminator: 4x4 stride-2 convs, LeakyReLU 0.2, normalisation on all
    but the first, down to 4x4, then a linear score (a 4x4 valid conv in the original)."""

    def __init__(self, resolution: int = 64, num_classes: int = 0, norm: str = "batch"):
        ch = list(reversed(_dcgan_channels(resolution)))
        layers: list[nn.Module] = [nn.Conv2d(3, ch[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
        for cin, cout in zip(ch[:-1], ch[1:]):
            layers += [nn.Conv2d(cin, cout, 4, 2, 1, bias=False), _critic_norm(norm, cout),
                       nn.LeakyReLU(0.2, inplace=True)]
        super().__init__(nn.Sequential(*layers), ch[-1] * 16, num_classes)
        _dcgan_init(self)


class MLPGenerator(Generator):
    """The "primitive" fully connected GAN: 100 -> 256 -> 512 -> 1024 -> R*R*3, LeakyReLU 0.2, tanh."""

    def __init__(self, latent_dim: int = 100, resolution: int = 64, num_classes: int = 0):
        super().__init__(latent_dim, resolution, num_classes)
        dims = [latent_dim, 256, 512, 1024]
        layers: list[nn.Module] = []
        for din, dout in zip(dims[:-1], dims[1:]):
            layers += [nn.Linear(din, dout), nn.LeakyReLU(0.2, inplace=True)]
        layers += [nn.Linear(1024, resolution * resolution * 3), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        z = self.condition(z, labels)
        return self.body(z).view(-1, 3, self.resolution, self.resolution)


class MLPCritic(Critic):
    """Mirror of the MLP generator: R*R*3 -> 1024 -> 512 -> 256 -> 1, LeakyReLU 0.2."""

    def __init__(self, resolution: int = 64, num_classes: int = 0, norm: str = "none"):
        dims = [resolution * resolution * 3, 1024, 512, 256]
        layers: list[nn.Module] = [nn.Flatten()]
        for din, dout in zip(dims[:-1], dims[1:]):
            layers += [nn.Linear(din, dout), nn.LeakyReLU(0.2, inplace=True)]
        super().__init__(nn.Sequential(*layers), 256, num_classes)


def build(name: str, resolution: int = 256, latent_dim: int = 100, num_classes: int = 0,
          critic_norm: str = "batch") -> tuple[Generator, Critic]:
    """Return (generator, critic) for `name` in paper | dcgan | mlp.

    `critic_norm` (batch | layer | none) replaces the critic's BatchNorm; a gradient penalty needs
    per-sample gradients, which batch statistics make undefined. The MLP critic has no
    normalisation layers, so the switch does not apply to it.
    """
    _check(name, resolution, latent_dim, num_classes, critic_norm)
    if name == "paper":
        return (PaperGenerator(latent_dim, resolution, num_classes),
                PaperCritic(resolution, num_classes, critic_norm))
    if name == "dcgan":
        return (DCGANGenerator(latent_dim, resolution, num_classes),
                DCGANCritic(resolution, num_classes, critic_norm))
    return MLPGenerator(latent_dim, resolution, num_classes), MLPCritic(resolution, num_classes)


def count_params_keras(module: nn.Module) -> int:
    """Parameters plus BatchNorm running mean and variance, as Keras' model.summary() counts."""
    n = sum(p.numel() for p in module.parameters())
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats:
            n += m.running_mean.numel() + m.running_var.numel()
    return n


def _leaf_params(m: nn.Module) -> int:
    n = sum(p.numel() for p in m.parameters(recurse=False))
    if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats:
        n += m.running_mean.numel() + m.running_var.numel()
    return n


def summary_rows(module: nn.Module, *inputs: torch.Tensor) -> list[tuple[str, str, int]]:
    """Keras-style rows (layer, output shape, parameters) from one forward pass in eval mode."""
    rows: list[tuple[str, str, int]] = []
    hooks = []

    def hook(name: str):
        def fn(m: nn.Module, _inp, out):
            shape = "(None, " + ", ".join(str(s) for s in out.shape[1:]) + ")"
            rows.append((f"{name} ({type(m).__name__})", shape, _leaf_params(m)))
        return fn

    for name, m in module.named_modules():
        if name and not list(m.children()):
            hooks.append(m.register_forward_hook(hook(name)))
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            module(*inputs)
    finally:
        module.train(was_training)
        for h in hooks:
            h.remove()
    return rows


def format_summary(title: str, module: nn.Module, *inputs: torch.Tensor) -> str:
    """A table in the style of Keras' model.summary() (the paper's Tables 2-3)."""
    rows = summary_rows(module, *inputs)
    width = max(len(r[0]) for r in rows) + 2
    line = "-" * (width + 40)
    out = [f"Model: {title}", line, f"{'Layer (type)':<{width}}{'Output Shape':<28}{'Param #':>12}", "=" * len(line)]
    for name, shape, n in rows:
        out.append(f"{name:<{width}}{shape:<28}{n:>12,}")
    total = count_params_keras(module)
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    out += ["=" * len(line), f"Total params: {total:,}", f"Trainable params: {trainable:,}",
            f"Non-trainable params: {total - trainable:,}", line]
    return "\n".join(out)

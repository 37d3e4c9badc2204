"""The networks: the paper's generator and critic (Tables 2-3) and the two baselines.

Every package that needs a network gets it from here: `ModelSpec` says which network and of what
shape (it travels in checkpoints, export sidecars and samplers), `MODELS` lists the architectures,
`build` makes a (generator, critic) pair. Images are float NCHW in [-1, 1].

Adding a model is one `MODELS` entry (its generator and critic classes) plus a preset in
`train/config.py`; everything that enumerates models (`python -m train models`, Table 4) reads `MODELS`.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
from torch import nn

from inkwash.cli import UserError

RESOLUTIONS = (64, 128, 256)
CRITIC_NORMS = ("batch", "layer", "none")
OUTPUT_RANGE = (-1.0, 1.0)  # every generator ends in tanh


@dataclass(frozen=True)
class ModelSpec:
    """What a trained generator is: architecture and shape. Stored in every checkpoint (`to_dict`),
    serialised in export sidecars and read back by samplers and critic loaders (`from_dict`)."""
    name: str = "paper"                  # a key of MODELS
    resolution: int = 256                # px; 64, 128 or 256
    latent_dim: int = 100                # size of z
    num_classes: int = 0                 # 0 = unconditional; else class-conditional with this many classes
    class_names: tuple[str, ...] = ()    # one name per class (the data folder's subfolders)
    critic_norm: str = "batch"           # batch | layer | none: normalisation in the critic
    output_range: tuple[float, float] = OUTPUT_RANGE  # generator output range (tanh)

    def __post_init__(self):
        object.__setattr__(self, "class_names", tuple(str(c) for c in self.class_names))
        object.__setattr__(self, "output_range", tuple(float(v) for v in self.output_range))

    def validate(self) -> ModelSpec:
        """Raise UserError naming the field for any bad value; return self."""
        if self.name not in MODELS:
            raise UserError(f"model: unknown {self.name!r}; choose one of {', '.join(MODELS)}")
        if self.resolution not in RESOLUTIONS:
            raise UserError(f"resolution: {self.resolution} is not supported; choose 64, 128 or 256")
        if self.latent_dim < 1:
            raise UserError(f"latent_dim: must be positive, got {self.latent_dim}")
        if self.num_classes < 0:
            raise UserError(f"num_classes: must be >= 0, got {self.num_classes}")
        if self.class_names and len(self.class_names) != self.num_classes:
            raise UserError(f"class_names: {len(self.class_names)} names for {self.num_classes} classes")
        if self.critic_norm not in CRITIC_NORMS:
            raise UserError(f"critic_norm: unknown {self.critic_norm!r}; choose one of {', '.join(CRITIC_NORMS)}")
        return self

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0

    def to_dict(self) -> dict:
        """Plain JSON-able dict (lists for tuples): the checkpoint's and the sidecar's "model" entry."""
        d = dataclasses.asdict(self)
        d["class_names"], d["output_range"] = list(self.class_names), list(self.output_range)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ModelSpec:
        """Read a spec written by `to_dict` (or by older versions, whose dicts lack some fields)."""
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in d.items() if k in known and v is not None}
        if "num_classes" not in values and values.get("class_names"):
            values["num_classes"] = len(values["class_names"])
        return cls(**values)

    def build(self) -> tuple[Generator, Critic]:
        """A fresh (generator, critic) pair of this spec (random weights, train mode)."""
        self.validate()
        arch = MODELS[self.name]
        norm = self.critic_norm if self.critic_norm in arch.critic_norms else arch.critic_norms[0]
        return (arch.generator(self.latent_dim, self.resolution, self.num_classes),
                arch.critic(self.resolution, self.num_classes, norm))

    def build_generator(self) -> Generator:
        """A fresh generator of this spec."""
        self.validate()
        return MODELS[self.name].generator(self.latent_dim, self.resolution, self.num_classes)


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
        # The head and the scores in fp32 also under autocast (train.precision): a bf16 Linear over
        # 512*s*s features would round the scores the losses and the gradient penalty are made of.
        with torch.autocast(h.device.type, enabled=False):
            h = h.float()
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


@dataclass(frozen=True)
class Architecture:
    """One entry of MODELS: the classes and what the architecture is."""
    generator: type[Generator]      # (latent_dim, resolution, num_classes) -> Generator
    critic: type[Critic]            # (resolution, num_classes, norm) -> Critic
    title: str                      # one line for summaries and tables
    critic_norms: tuple[str, ...] = CRITIC_NORMS  # the critic's norm choices; the first is its default
    table4: bool = True             # a row of the paper's Table 4 (`python -m evalkit table4`)


MODELS: dict[str, Architecture] = {
    "paper": Architecture(PaperGenerator, PaperCritic, "the paper's WGAN, Tables 2-3 (5x5 stride-2 convs)"),
    "dcgan": Architecture(DCGANGenerator, DCGANCritic, "DCGAN, Radford et al. 2015 (4x4 stride-2 convs)"),
    "mlp": Architecture(MLPGenerator, MLPCritic, "the \"primitive\" fully connected GAN", critic_norms=("none",)),
}


def build(name: str, resolution: int = 256, latent_dim: int = 100, num_classes: int = 0,
          critic_norm: str = "batch") -> tuple[Generator, Critic]:
    """Return (generator, critic) for `name`, a key of MODELS (paper | dcgan | mlp).

    `critic_norm` (batch | layer | none) replaces the critic's BatchNorm; a gradient penalty needs
    per-sample gradients, which batch statistics make undefined. An architecture whose critic has
    no normalisation layers (the MLP) ignores it.
    """
    return ModelSpec(name, resolution, latent_dim, num_classes, critic_norm=critic_norm).build()


def count_params_keras(module: nn.Module) -> int:
    """Parameters plus BatchNorm running mean and variance, as Keras' model.summary() counts."""
    n = sum(p.numel() for p in module.parameters())
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats:
            n += m.running_mean.numel() + m.running_var.numel()
    return n


def _is_layer(name: str, m: nn.Module) -> bool:
    """A row of the summary: a module without children, or with only the parametrizations (spectral norm)
    of its own weights, which are counted with it."""
    return bool(name) and "parametrizations" not in name.split(".") and \
        all(child == "parametrizations" for child, _ in m.named_children())


def _leaf_params(m: nn.Module) -> int:
    n = sum(p.numel() for p in m.parameters(recurse=False))
    if hasattr(m, "parametrizations"):   # the original weights live in the parametrization (torch.nn.utils.parametrize)
        n += sum(p.numel() for p in m.parametrizations.parameters())
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
        if _is_layer(name, m):
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
            f"Non-trainable params: {total - trainable:,}"]
    unused = total - sum(r[2] for r in rows)
    if unused:  # layers the scoring pass never calls: FastGAN's reconstruction decoders (train.fastgan)
        out.append(f"Params outside the forward pass (auxiliary heads): {unused:,}")
    out.append(line)
    return "\n".join(out)


# Last: train.fastgan subclasses Generator and Critic, then adds its entry to MODELS itself. An entry in the
# dict above would import its classes from here, which fails whenever train.fastgan is imported first.
import train.fastgan  # noqa: E402,F401

"""TrainConfig: one dataclass for a training run, the presets, and the argparse parser built from it.

Resolution order (later wins): dataclass defaults < the preset < the loss's own recipe when
`--loss` names another loss than the preset's < every flag given on the command line. Flags
default to None, meaning "from the preset"; the resolved config is what run folders record.
"""
from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from inkwash.cli import UserError
from train import models
from train.device import DEVICES, resolve_device

PRESETS_NAMES = ("demo", "paper-demo", "paper", "dcgan", "mlp", "fastgan")
LOSSES = ("wgan-clip", "wgan-gp", "bce", "hinge")
HSV_LOSSES = ("swd", "moments", "off")
HSV_SCALES = ("fixed", "relative")
OPTIMIZERS = ("rmsprop", "adam")
DTYPES = ("auto", "fp32", "bf16", "fast")
# The fields that fix the networks' shape: on --resume they come from the checkpoint's ModelSpec.
ARCHITECTURE_FIELDS = ("model", "resolution", "latent_dim", "critic_norm", "conditional")


@dataclass
class TrainConfig:
    preset: str = "paper"           # a key of PRESETS: the recipe the other fields came from
    data: Path | None = None        # folder of patterns (subfolders = classes); None = built-in demo set
    out: Path = Path("runs")        # parent of run folders
    name: str | None = None         # run folder name under `out`; None = the preset's name
    model: str = "paper"            # a key of train.models.MODELS: paper | dcgan | mlp | fastgan
    resolution: int = 256           # 64, 128 or 256 px
    latent_dim: int = 100           # size of z
    critic_norm: str = "batch"      # batch | layer | none (wgan-gp needs no batch statistics)
    loss: str = "wgan-clip"         # wgan-clip | wgan-gp | bce (non-saturating) | hinge
    iters: int = 16_000             # generator steps (the paper's schedule); critic steps = iters * n_critic
    batch_size: int = 64            # global batch (split over torchrun processes)
    n_critic: int = 5               # critic steps per generator step
    optimizer: str = "rmsprop"      # rmsprop | adam
    lr_g: float = 5e-5              # generator learning rate
    lr_d: float = 5e-5              # critic learning rate
    beta1: float = 0.5              # Adam beta1
    beta2: float = 0.999            # Adam beta2
    clip: float = 0.01              # wgan-clip: critic weights clamped to [-clip, clip]
    gp_lambda: float = 10.0         # wgan-gp: gradient-penalty weight
    w_rec: float = 0.0              # critic's self-supervised reconstruction term (critics with decoders: fastgan)
    hsv_loss: str = "swd"           # swd (sliced Wasserstein) | moments | off: the HSV-cone colour term
    w_adv: float = 0.5              # weight of the adversarial term in the generator loss (paper eq. 3)
    w_hsv: float = 0.5              # weight of the HSV-cone term (paper eq. 3)
    hsv_scale: str = "fixed"        # fixed: w_hsv x hsv | relative: scaled to the adversarial term (train.gan_loss)
    hsv_r: float = 1.0              # cone radius r
    hsv_h: float = 1.0              # cone height h
    hsv_proj: int = 64              # random projections per step for the sliced Wasserstein term
    hsv_pixels: int = 16_384        # pixels sampled from each side for the HSV term
    ema: bool = False               # keep an exponential moving average of the generator weights
    ema_decay: float = 0.999        # EMA decay per generator step
    diffaug: bool = False           # DiffAugment on everything the critic sees (real and fake)
    diffaug_policy: str = "color,translation,cutout"  # comma-separated DiffAugment ops
    xflip: bool = False             # mirror each real image left-right with probability 1/2 (FastGAN's loader)
    amplify_to: int | None = None   # self-amplify the data set to this many images (train.data)
    drop_near_duplicates: bool = False  # skip the data folder's perceptual near-duplicates (train.near_duplicates)
    conditional: bool = False       # class-conditional training, labels from subfolders
    deterministic: bool = False     # deterministic kernels (PyTorch warns where it has none); slower
    seed: int = 0                   # seeds every random number generator
    device: str = "auto"            # auto | cpu | cuda
    dtype: str = "auto"             # auto (bf16 autocast on GPUs with native bf16, else fp32) | fp32 | bf16 | fast
    compile: bool = False           # torch.compile the networks (CUDA)
    tick: int = 100                 # generator steps per tick: one losses.csv row and plot per tick
    grid_every: int = 5             # ticks between fixed-noise sample grids
    ckpt_every: int = 5             # ticks between checkpoints
    keep: int = 3                   # keep the last K iter_XXXXXXX.pt checkpoints besides latest.pt
    n_grid: int = 64                # images in a sample grid (unconditional)
    eval_n: int = 64                # samples and real images for the hsv_swd progress metric
    resume: str | None = None       # "latest" (this run's latest.pt) or a checkpoint path
    quiet: bool = False             # no progress bar
    record_repo: bool = False       # also record the git state of the repository holding the working folder
    extra: dict = field(default_factory=dict)  # resolved-from info (not a flag)

    def to_dict(self) -> dict:
        """Plain JSON-able dict (paths as strings)."""
        d = dataclasses.asdict(self)
        for k, v in d.items():
            if isinstance(v, Path):
                d[k] = str(v)
        return d

    @property
    def run_dir(self) -> Path:
        return Path(self.out) / (self.name or self.preset)


# Each loss's own recipe: applied when --loss overrides the preset's loss.
LOSS_RECIPES: dict[str, dict] = {
    # Arjovsky et al. 2017 defaults; the paper states RMSProp 5e-5.
    "wgan-clip": dict(optimizer="rmsprop", lr_g=5e-5, lr_d=5e-5, clip=0.01, n_critic=5, critic_norm="batch"),
    # Gulrajani et al. 2017: lambda 10, Adam 1e-4 (0, 0.9), no BatchNorm in the critic.
    "wgan-gp": dict(optimizer="adam", lr_g=1e-4, lr_d=1e-4, beta1=0.0, beta2=0.9, gp_lambda=10.0, n_critic=5,
                    critic_norm="layer"),
    # Radford et al. 2015: Adam 2e-4, beta1 0.5, one D step per G step.
    "bce": dict(optimizer="adam", lr_g=2e-4, lr_d=2e-4, beta1=0.5, beta2=0.999, n_critic=1, critic_norm="batch"),
    # Hinge loss (Lim & Ye 2017) as FastGAN trains it (Liu et al. 2021, train.py): Adam 2e-4, betas (0.5, 0.999),
    # one critic step per generator step.
    "hinge": dict(optimizer="adam", lr_g=2e-4, lr_d=2e-4, beta1=0.5, beta2=0.999, n_critic=1, critic_norm="batch"),
}

# The toolkit's small-data recipe: FastGAN (Liu et al., ICLR 2021) with its hinge loss, its critic's
# self-supervised reconstruction term (weight 1, L1 for LPIPS), DiffAugment colour + translation (Zhao et al.,
# NeurIPS 2020, the policy FastGAN trains with), horizontal flips and a generator EMA of decay 0.999 (FastGAN's
# avg_param_G lerp of 0.001), plus the paper's HSV-cone term at 0.5/0.5 scaled relative to the adversarial term
# (train.gan_loss), so the colour term carries half of the generator loss by design.
FASTGAN_RECIPE = dict(model="fastgan", loss="hinge", **LOSS_RECIPES["hinge"], w_rec=1.0, diffaug=True,
                      diffaug_policy="color,translation", xflip=True, ema=True, ema_decay=0.999, hsv_loss="swd",
                      w_adv=0.5, w_hsv=0.5, hsv_scale="relative")

PRESETS: dict[str, dict] = {
    # The ink-wash paper: 256 px, Wasserstein + HSV cone 0.5/0.5, RMSProp 5e-5, 16k iterations, batch 64.
    "paper": dict(model="paper", resolution=256, loss="wgan-clip", **LOSS_RECIPES["wgan-clip"], batch_size=64,
                  iters=16_000, hsv_loss="swd", w_adv=0.5, w_hsv=0.5, tick=100, grid_every=5, ckpt_every=5),
    # DCGAN as its paper trained it: 64 px, batch 128, non-saturating BCE, no colour term.
    "dcgan": dict(model="dcgan", resolution=64, loss="bce", **LOSS_RECIPES["bce"], batch_size=128, iters=16_000,
                  hsv_loss="off", w_adv=1.0, w_hsv=0.0, tick=100, grid_every=5, ckpt_every=5),
    # The "primitive" fully connected GAN (Goodfellow et al. 2014), trained like DCGAN.
    "mlp": dict(model="mlp", resolution=64, loss="bce", **{**LOSS_RECIPES["bce"], "critic_norm": "none"}, batch_size=64,
                iters=16_000, hsv_loss="off", w_adv=1.0, w_hsv=0.0, tick=100, grid_every=5, ckpt_every=5),
    # Table 4's fourth row: FASTGAN_RECIPE on the schedule of the other rows (256 px as the paper's, 16k
    # iterations), at FastGAN's own batch size of 8.
    "fastgan": dict(**FASTGAN_RECIPE, resolution=256, batch_size=8, iters=16_000, tick=100, grid_every=5,
                    ckpt_every=5),
    # `python -m train`: FASTGAN_RECIPE at 64 px on the demo set, sized for 15 minutes on 2 idle CPU cores,
    # under `--dtype fast` (bf16 autocast where the CPU or GPU has it natively, fp32 elsewhere).
    # Calibration (benchmarks/quality_bench.py holds the 15 minutes as 2 cores x 900 s = 1,800 single-thread
    # CPU-seconds): on the idle 2-core AMD EPYC (Zen 4, avx512_bf16) one bf16 thread trained these 2,000
    # iterations in 1,023 CPU-s (fp32: 1,237), HSV term, reconstruction and ticks included; with 2 threads
    # `make demo` trained them in 534 s wall (results/pipeline_bench.md). 2,000 rather than 1,600: at 1,600
    # the EMA samples were too smooth (spectral score 4.84 dB), at 2,000 under bf16 2.29 dB, under half the
    # paper-demo recipe's (fp32: 4.50; results/quality_demo.md). A CPU without native bf16 trains in fp32,
    # 1.2x (one thread, quality_demo) to 1.6x (two threads, results/train_bench.md) slower per iteration.
    # The EMA's warm-up min(0.999, (1 + it) / (10 + it)) ends this run at an effective decay of 0.9955.
    "demo": dict(**FASTGAN_RECIPE, resolution=64, batch_size=16, iters=2000, dtype="fast", hsv_pixels=8192,
                 tick=40, grid_every=5, ckpt_every=5, n_grid=36),
    # The demo before FastGAN (kept unchanged): the paper architecture at 64 px, sized for 2 CPU cores.
    # Non-saturating BCE with one critic step (a WGAN needs n_critic 5 and many more steps), batch 16,
    # DiffAugment without colour jitter (colour fidelity is what the HSV term measures), G EMA.
    "paper-demo": dict(model="paper", resolution=64, loss="bce", **LOSS_RECIPES["bce"], batch_size=16, iters=2000,
                       hsv_loss="swd", w_adv=0.5, w_hsv=0.5, hsv_pixels=8192, ema=True, ema_decay=0.99, diffaug=True,
                       diffaug_policy="translation,cutout", tick=20, grid_every=5, ckpt_every=5, n_grid=36),
}


# Flags whose meaning is "true when given"; everything else takes a value.
_BOOL_FIELDS = ("ema", "diffaug", "xflip", "conditional", "deterministic", "compile", "quiet", "record_repo",
                "drop_near_duplicates")
_HELP = {
    "iters": "generator steps (iterations count generator steps; critic steps = iters x n_critic)",
    "resume": "continue a run: no value = RUN_DIR/checkpoints/latest.pt, or a checkpoint path. "
              "The architecture comes from the checkpoint, the schedule from this command line",
    "data": "image folder (subfolders = classes); default: the built-in demo set",
    "batch_size": "global batch size (divided over torchrun processes)",
    "drop_near_duplicates": "skip perceptual near-duplicates in --data (the same artwork resized, re-encoded or "
                            "slightly cropped; see python -m train prepare's data_report)",
    "dtype": "precision of the networks' forward passes: auto = bf16 autocast on GPUs with native bf16 "
             "(compute capability >= 8.0), else fp32; bf16 = bf16 autocast, also on a CPU with native bf16 "
             "(avx512_bf16/amx_bf16; opt-in there); fast = bf16 autocast wherever it is native, CPU included, "
             "else fp32 (never refused; make demo uses it); losses, gradient penalty, HSV term and scores are fp32 "
             "either way (train.precision)",
    "w_rec": "weight of the critic's self-supervised reconstruction term (L1 of its decoders on the augmented "
             "real batch); only for a critic with decoders (--model fastgan)",
    "hsv_scale": "fixed: the generator loss is w_adv x adv + w_hsv x hsv (paper eq. 3); relative: the HSV term is "
                 "rescaled by running |adv| / running hsv, so it is w_hsv/w_adv times as large as the adversarial "
                 "term (train.gan_loss)",
    "xflip": "mirror each real image left-right with probability 1/2 (the generator learns mirrored patterns too)",
    "record_repo": "record in run.json the git commit (+'-dirty') of the repository holding the working folder "
                   "(your own project; the toolkit's own commit and version are always recorded)",
}


def _field_help(f: dataclasses.Field) -> str:
    return _HELP.get(f.name, f.name.replace("_", " "))


def configure(p: argparse.ArgumentParser) -> None:
    """The `python -m train` flags: --preset, --dry-run and one flag per TrainConfig field, each
    defaulting to None ("from the preset")."""
    p.add_argument("--preset", choices=PRESETS_NAMES, default="demo", help="recipe")
    p.add_argument("--dry-run", action="store_true", help="print the resolved config as JSON and exit")
    choices = {"model": tuple(models.MODELS), "resolution": models.RESOLUTIONS, "critic_norm": models.CRITIC_NORMS,
               "loss": LOSSES, "hsv_loss": HSV_LOSSES, "hsv_scale": HSV_SCALES, "optimizer": OPTIMIZERS,
               "device": DEVICES, "dtype": DTYPES}
    for f in dataclasses.fields(TrainConfig):
        if f.name in ("preset", "extra"):
            continue
        flag = "--" + f.name.replace("_", "-")
        if f.name in _BOOL_FIELDS:
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=_field_help(f))
        elif f.name == "resume":
            p.add_argument(flag, nargs="?", const="latest", default=None, metavar="PATH", help=_field_help(f))
        else:
            typ = {"data": Path, "out": Path, "resolution": int, "amplify_to": int}.get(f.name)
            if typ is None:
                typ = type(f.default) if f.default is not None and not isinstance(f.default, Path) else str
            one_of = f"; one of {', '.join(map(str, choices[f.name]))}" if f.name in choices else ""
            # No argparse `choices`: validate() reports a bad value in one line naming the field.
            p.add_argument(flag, type=typ, default=None, help=f"{_field_help(f)}{one_of} (unset: from the preset)")


def resolve(args: dict) -> TrainConfig:
    """Preset + loss recipe + flags -> validated TrainConfig; `args` maps field names to values or None."""
    preset = args.get("preset") or "demo"
    if preset not in PRESETS:
        raise UserError(f"preset: unknown {preset!r}; choose one of {', '.join(PRESETS_NAMES)}")
    values = dict(PRESETS[preset])
    loss = args.get("loss")
    if loss is not None and loss != values["loss"]:
        if loss not in LOSS_RECIPES:
            raise UserError(f"loss: unknown {loss!r}; choose one of {', '.join(LOSSES)}")
        values.update(LOSS_RECIPES[loss])
    given = {k: v for k, v in args.items() if v is not None and k not in ("preset", "dry_run")}
    values.update(given)
    if values.get("model") == "mlp":
        values["critic_norm"] = "none"   # the MLP critic has no normalisation layers
    if "w_rec" not in given and values.get("model") in models.MODELS and not has_reconstruction(values["model"]):
        values["w_rec"] = 0.0            # a preset's reconstruction term, on a --model whose critic has no decoders
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = set(values) - names
    if unknown:
        raise UserError(f"config: unknown field(s) {', '.join(sorted(unknown))}")
    cfg = TrainConfig(preset=preset, **values)
    cfg.extra = {"flags": sorted(given)}
    return validate(cfg)


def model_spec(cfg: TrainConfig, class_names: list[str] | tuple[str, ...] = ()) -> models.ModelSpec:
    """The networks `cfg` trains: its architecture fields, with `class_names` for a conditional run."""
    names = tuple(class_names) if cfg.conditional else ()
    return models.ModelSpec(cfg.model, cfg.resolution, cfg.latent_dim, len(names), names, cfg.critic_norm)


def has_reconstruction(model: str) -> bool:
    """True when `model`'s critic has self-supervised decoders (`forward_aux`, train.fastgan)."""
    return hasattr(models.MODELS[model].critic, "forward_aux")


def validate(cfg: TrainConfig) -> TrainConfig:
    """Raise UserError naming the field for any bad value, before any work is done; return `cfg`."""
    def need(cond: bool, msg: str) -> None:
        if not cond:
            raise UserError(msg)

    model_spec(cfg).validate()  # model, resolution, latent_dim, critic_norm
    need(cfg.loss in LOSSES, f"loss: unknown {cfg.loss!r}; choose one of {', '.join(LOSSES)}")
    need(cfg.hsv_loss in HSV_LOSSES, f"hsv_loss: unknown {cfg.hsv_loss!r}; choose one of {', '.join(HSV_LOSSES)}")
    need(cfg.hsv_scale in HSV_SCALES, f"hsv_scale: unknown {cfg.hsv_scale!r}; choose one of {', '.join(HSV_SCALES)}")
    need(not (cfg.hsv_scale == "relative" and cfg.hsv_loss == "off" and "hsv_scale" in cfg.extra.get("flags", ())),
         "hsv_scale: relative scales the HSV term and --hsv-loss off has none; drop one of them (or use --w-hsv 0)")
    need(cfg.optimizer in OPTIMIZERS, f"optimizer: choose one of {', '.join(OPTIMIZERS)}")
    need(cfg.device in DEVICES, f"device: choose one of {', '.join(DEVICES)}")
    need(cfg.dtype in DTYPES, f"dtype: choose one of {', '.join(DTYPES)}")
    for name in ("iters", "batch_size", "n_critic", "hsv_proj", "hsv_pixels", "tick", "grid_every",
                 "ckpt_every", "n_grid", "eval_n"):
        need(getattr(cfg, name) >= 1, f"{name}: must be >= 1, got {getattr(cfg, name)}")
    need(cfg.keep >= 0, f"keep: must be >= 0, got {cfg.keep}")
    for name in ("lr_g", "lr_d", "clip", "hsv_r", "hsv_h"):
        need(getattr(cfg, name) > 0, f"{name}: must be > 0, got {getattr(cfg, name)}")
    for name in ("gp_lambda", "w_adv", "w_hsv", "w_rec"):
        need(getattr(cfg, name) >= 0, f"{name}: must be >= 0, got {getattr(cfg, name)}")
    need(0 <= cfg.beta1 < 1 and 0 <= cfg.beta2 < 1, "beta1/beta2: must lie in [0, 1)")
    need(cfg.w_rec == 0 or has_reconstruction(cfg.model),
         f"w_rec: the {cfg.model} critic has no reconstruction decoders; use --w-rec 0 (or --model fastgan)")
    need(0 < cfg.ema_decay < 1, f"ema_decay: must lie in (0, 1), got {cfg.ema_decay}")
    need(cfg.amplify_to is None or cfg.amplify_to >= 1, "amplify_to: must be >= 1")
    need(not (cfg.loss == "wgan-gp" and cfg.critic_norm == "batch"),
         "critic_norm: wgan-gp needs per-sample gradients; use --critic-norm layer or none")
    need(cfg.data is None or Path(cfg.data).is_dir(), f"data: {cfg.data} is not a folder; pass a folder of images")
    need(cfg.name is None or (cfg.name and "/" not in cfg.name and cfg.name not in (".", "..")),
         f"name: {cfg.name!r} must be a plain folder name")
    if cfg.diffaug:
        ops = [o.strip() for o in cfg.diffaug_policy.split(",") if o.strip()]
        need(ops and set(ops) <= {"color", "translation", "cutout"},
             f"diffaug_policy: {cfg.diffaug_policy!r}; use a comma list of color, translation, cutout")
    if cfg.dtype == "bf16" and cfg.device in ("cpu", "auto"):
        import torch

        from train.precision import cpu_native_bf16
        need(cfg.device == "auto" and torch.cuda.is_available() or cpu_native_bf16(),
             "dtype: bf16 autocast needs a CUDA GPU or a CPU with native bf16 instructions (avx512_bf16, "
             "amx_bf16), and this machine has neither; use --dtype fp32")
    resolve_device(cfg.device)  # --device cuda without a GPU: a DeviceError naming the flag
    return cfg


def resume_path(cfg: TrainConfig) -> Path | None:
    """The checkpoint `cfg.resume` names ("latest": this run's latest.pt), or None when not resuming."""
    if cfg.resume is None:
        return None
    path = cfg.run_dir / "checkpoints" / "latest.pt" if cfg.resume == "latest" else Path(cfg.resume)
    if not path.is_file():
        raise UserError(f"resume: no checkpoint at {path}; train first or pass --resume PATH")
    return path


def for_resume(cfg: TrainConfig, state: dict, path: Path) -> TrainConfig:
    """A new validated config that continues the checkpoint `state` (read from `path`).

    The architecture comes from the checkpoint's ModelSpec, the schedule from `cfg`. A flag given
    on the command line that contradicts the checkpoint is an error, not silently replaced. A
    checkpoint path inside some run's `checkpoints/` continues in that run folder unless --out or
    --name says otherwise.
    """
    spec = models.ModelSpec.from_dict(state["model"])
    prev = state.get("config", {})
    flags = set(cfg.extra.get("flags", ()))
    if prev.get("optimizer", cfg.optimizer) != cfg.optimizer:
        raise UserError(f"optimizer: the checkpoint was trained with {prev['optimizer']}; pass "
                        f"--optimizer {prev['optimizer']} to resume it")
    arch = {"model": spec.name, "resolution": spec.resolution, "latent_dim": spec.latent_dim,
            "critic_norm": spec.critic_norm, "conditional": spec.conditional}
    for name in flags & set(ARCHITECTURE_FIELDS):
        if getattr(cfg, name) != arch[name]:
            flag = "--" + name.replace("_", "-")
            raise UserError(f"{name}: the checkpoint {path} has {name} {arch[name]}; drop {flag} (the architecture "
                            f"comes from the checkpoint) or train a new run")
    if cfg.loss == "wgan-gp" and spec.critic_norm == "batch":
        raise UserError(f"loss: the checkpoint {path} has a BatchNorm critic, which a gradient penalty cannot "
                        f"train (per-sample gradients); resume with --loss {prev.get('loss', 'wgan-clip')}")
    place = {}
    if (cfg.resume != "latest" and cfg.name is None and "out" not in flags
            and Path(path).resolve().parent.name == "checkpoints"):
        run_dir = Path(path).resolve().parent.parent  # continue in the checkpoint's own run folder
        place = {"out": run_dir.parent, "name": run_dir.name}
    if "w_rec" not in flags and not has_reconstruction(spec.name):
        place["w_rec"] = 0.0   # the preset's reconstruction term, on a checkpoint whose critic has no decoders
    return validate(dataclasses.replace(cfg, **arch, **place, extra=dict(cfg.extra)))

"""python -m train [prepare|models] ...: train (no verb), prepare a folder, or print the models.

Each verb imports what it needs when it runs, so `python -m train prepare` never loads torch.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys

from inkwash import cli

log = logging.getLogger(__name__)


def _train_args(p: argparse.ArgumentParser) -> None:
    from train import config
    config.configure(p)


def _train(args: argparse.Namespace) -> int:
    """Resolve the preset, validate, then train or print the config (--dry-run)."""
    from train import config
    values = vars(args)
    dry_run = values.pop("dry_run")
    cfg = config.resolve(values)
    if dry_run:
        print(json.dumps(cfg.to_dict(), indent=2))
        return 0
    from train import loop
    try:
        run_dir = loop.run(cfg)
    except loop.Interrupted as e:
        log.info("%s", e)
        return cli.EXIT_INTERRUPTED
    log.info("run folder: %s", run_dir)
    return 0


def _prepare_args(p: argparse.ArgumentParser) -> None:
    from train import prepare
    prepare.configure(p)


def _prepare(args: argparse.Namespace) -> int:
    from train import prepare
    return prepare.run_args(args)


def _models_args(p: argparse.ArgumentParser) -> None:
    from train import models
    p.add_argument("--model", choices=list(models.MODELS), action="append",
                   help=f"model to summarise (repeatable); default: all of {', '.join(models.MODELS)}")
    p.add_argument("--resolution", type=int, default=256, choices=models.RESOLUTIONS, help="image size in px")
    p.add_argument("--latent-dim", type=cli.positive_int, default=100, help="latent vector size")
    p.add_argument("--num-classes", type=int, default=0, help="classes for the conditional variant (0: none)")


def _models(args: argparse.Namespace) -> int:
    """Keras-style summaries of each model in train.models.MODELS, like the paper's Tables 2-3."""
    import torch

    from train import models
    if args.num_classes < 0:
        raise cli.UserError(f"--num-classes {args.num_classes}: must be >= 0")
    for name in args.model or models.MODELS:
        spec = models.ModelSpec(name, args.resolution, args.latent_dim, args.num_classes)
        gen, critic = spec.build()
        z = torch.zeros(1, args.latent_dim)
        y = torch.zeros(1, dtype=torch.long) if args.num_classes else None
        x = torch.zeros(1, 3, args.resolution, args.resolution)
        print(models.format_summary(f"{name} generator ({args.resolution} px)", gen, z, y))
        print()
        print(models.format_summary(f"{name} critic ({args.resolution} px)", critic, x, y))
        print()
    return 0


TRAIN = cli.Verb(
    "train", "train a GAN (the default: no verb)", configure=_train_args, run=_train,
    description="Train a GAN on a folder of patterns (default: the built-in demo set). --preset chooses a whole "
                "recipe; every other flag overrides one part of it (unset flags come from the preset). "
                "Iterations count generator steps.",
    example="python -m train --preset paper --data patterns/ --out runs --name ink256")
PREPARE = cli.Verb(
    "prepare", "normalise a folder of patterns and report every file", configure=_prepare_args, run=_prepare,
    description="Normalise a messy folder of patterns exactly as training will see it: square sRGB\n"
                "images, a report of every file (converted, skipped and why), a contact sheet.",
    example="python -m train prepare --data ~/patterns --out runs/prepared --resolution 256 --amplify-to 821")
MODELS = cli.Verb(
    "models", "print Keras-style summaries of the models (the paper's Tables 2-3)", configure=_models_args,
    run=_models,
    description="Print a Keras-style summary (layer, output shape, parameters) of each model. Parameters are "
                "counted as Keras does: BatchNorm running mean and variance included.",
    example="python -m train models --model paper --resolution 256")

COMMAND = cli.Command(prog="python -m train", description="Train GANs on folders of patterns.",
                      verbs=[PREPARE, MODELS], default=TRAIN)


def main(argv: list[str] | None = None) -> int:
    return COMMAND.main(argv)


if __name__ == "__main__":
    sys.exit(main())

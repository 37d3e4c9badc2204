"""python -m train [prepare|models] ...: train (no verb), prepare a folder, or print the models."""
from __future__ import annotations

import argparse
import logging
import sys

import torch

from train import models

VERBS = ("prepare", "models")


def models_main(argv: list[str]) -> int:
    """`python -m train models`: Keras-style summaries like the paper's Tables 2-3."""
    p = argparse.ArgumentParser(
        prog="python -m train models", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Print a Keras-style summary (layer, output shape, parameters) of each model. "
                    "Parameters are counted as Keras does: BatchNorm running mean and variance included.",
        epilog="example: python -m train models --model paper --resolution 256")
    p.add_argument("--model", choices=models.MODELS, action="append",
                   help="model to summarise (repeatable); default: all three")
    p.add_argument("--resolution", type=int, default=256, choices=models.RESOLUTIONS, help="image size in px")
    p.add_argument("--latent-dim", type=int, default=100, help="latent vector size")
    p.add_argument("--num-classes", type=int, default=0, help="classes for the conditional variant (0: none)")
    args = p.parse_args(argv)
    for name in args.model or models.MODELS:
        gen, critic = models.build(name, args.resolution, args.latent_dim, args.num_classes)
        z = torch.zeros(1, args.latent_dim)
        y = torch.zeros(1, dtype=torch.long) if args.num_classes else None
        x = torch.zeros(1, 3, args.resolution, args.resolution)
        print(models.format_summary(f"{name} generator ({args.resolution} px)", gen, z, y))
        print()
        print(models.format_summary(f"{name} critic ({args.resolution} px)", critic, x, y))
        print()
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    verb = argv[0] if argv and argv[0] in VERBS else None
    try:
        if verb == "models":
            return models_main(argv[1:])
        if verb == "prepare":
            from train import prepare
            return prepare.main(argv[1:])
        from train import cli
        return cli.main(argv)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

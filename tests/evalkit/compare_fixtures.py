"""Fixtures for the compare, table4 and critic-vs-human tests: tiny run folders written directly
(random-weight networks saved in the training checkpoint format with a run.json), folders of real
PNGs and a study export. Tests run in importlib mode, so they load this file by path."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from train.checkpoint import save_checkpoint
from train.models import build


def write_patterns(folder: Path, n: int, seed: int, size: int = 64) -> list[Path]:
    """n smooth random colour patterns as PNG files; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        base = (rng.random((6, 6, 3)) * 255).astype(np.uint8)
        im = Image.fromarray(base).resize((size, size), Image.BICUBIC)
        p = folder / f"img_{i:03d}.png"
        im.save(p)
        paths.append(p)
    return paths


def write_tiny_run(run_dir: Path, model: str = "dcgan", resolution: int = 64, seed: int = 0,
                   iterations: int = 10, wall_seconds: float = 12.5) -> Path:
    """A finished run folder as `python -m train` writes it (config.json, checkpoints/latest.pt, run.json),
    with randomly initialised networks (BatchNorm statistics perturbed so eval mode is not trivial)."""
    torch.manual_seed(seed)
    gen, critic = build(model, resolution)
    for m in list(gen.modules()) + list(critic.modules()):
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    run_dir.mkdir(parents=True, exist_ok=True)
    config = {"preset": model, "model": model, "resolution": resolution, "latent_dim": 100, "iters": iterations,
              "seed": seed}
    (run_dir / "config.json").write_text(json.dumps(config))
    meta = {"name": model, "resolution": resolution, "latent_dim": 100, "num_classes": 0,
            "critic_norm": "batch" if model != "mlp" else "none", "class_names": []}
    save_checkpoint(run_dir / "checkpoints" / "latest.pt",
                    {"model": meta, "config": config, "generator": gen.state_dict(), "critic": critic.state_dict(),
                     "generator_ema": None, "iteration": iterations})
    run = {"preset": model, "model": model, "resolution": resolution, "loss": "bce", "iterations": iterations,
           "wall_seconds": wall_seconds, "seconds_per_iter": wall_seconds / iterations, "device": "cpu",
           "dtype": "fp32", "batch_size": 8, "n_critic": 1, "versions": {}, "commit": "test", "hardware": {},
           "date": "2026-01-01T00:00:00Z", "data": {}, "hsv_swd_step0": None, "hsv_swd_final": None}
    (run_dir / "run.json").write_text(json.dumps(run))
    return run_dir


def write_study_export(folder: Path, images_u8: np.ndarray, is_generated: list[bool], fool_rate: list[float]) -> Path:
    """A study export folder: images.csv (image_id, is_generated, model, fool_rate) + images/<id>.png."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    with open(folder / "images.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image_id", "is_generated", "model", "kind", "fool_rate"])
        for i, (im, g, r) in enumerate(zip(images_u8, is_generated, fool_rate)):
            Image.fromarray(im).save(folder / "images" / f"im{i:03d}.png")
            w.writerow([f"im{i:03d}", str(g).lower(), "paper" if g else "", "main", r])
    return folder


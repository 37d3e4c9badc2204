"""Checkpoints: the one place that reads or writes .pt files (atomic save, shared loader).

A checkpoint is a dict of plain types and tensors, so it loads with `weights_only=True`:

    {"format": 1,
     "model": {"name", "resolution", "latent_dim", "num_classes", "critic_norm", "class_names"},
     "config": {...},                  # the run's TrainConfig as a dict
     "generator": state_dict, "critic": state_dict, "generator_ema": state_dict | None,
     "opt_g": state_dict, "opt_d": state_dict, "iteration": int, ...}
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from train import models
from inkwash.atomic import atomic_file

FORMAT_VERSION = 1


def save_checkpoint(path: Path, state: dict) -> None:
    """Write `state` to `path` atomically: a temp file in the same folder, then os.replace."""
    with atomic_file(path, "wb", fsync=True) as f:
        torch.save({"format": FORMAT_VERSION, **state}, f)


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint written by `save_checkpoint`; a clear ValueError names a bad file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # truncated, not a torch file, or pickled objects we never write
        raise ValueError(f"{path}: not a readable checkpoint ({type(e).__name__}: {e})") from e
    if not isinstance(state, dict) or "model" not in state or "generator" not in state:
        raise ValueError(f"{path}: not a checkpoint of this toolkit (no 'model'/'generator' entries)")
    if state.get("format", 0) > FORMAT_VERSION:
        raise ValueError(f"{path}: written by a newer version (format {state['format']}); upgrade the toolkit")
    return state


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def load_generator(path: Path, ema: bool = True, map_location: str | torch.device = "cpu"
                   ) -> tuple[models.Generator, dict]:
    """Rebuild the generator of a checkpoint in eval mode.

    Uses the EMA weights when `ema` and the checkpoint has them. Returns (generator, info) with
    info = {"model": {...}, "ema": bool, "iteration": int, "checkpoint": str, "checkpoint_sha256": str}.
    """
    state = load_checkpoint(path, map_location)
    meta = state["model"]
    gen, _ = models.build(meta["name"], meta["resolution"], meta["latent_dim"], meta.get("num_classes", 0),
                          meta.get("critic_norm", "batch"))
    use_ema = bool(ema and state.get("generator_ema") is not None)
    gen.load_state_dict(state["generator_ema"] if use_ema else state["generator"])
    gen.eval()
    info = {"model": dict(meta), "ema": use_ema, "iteration": int(state.get("iteration", 0)),
            "checkpoint": str(Path(path).resolve()), "checkpoint_sha256": sha256_file(path)}
    return gen, info

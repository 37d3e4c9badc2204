"""Checkpoints: the one place that reads or writes .pt files (atomic save, shared loader).

A checkpoint is a dict of plain types and tensors, so it loads with `weights_only=True`:

    {"format": 1,
     "model": ModelSpec.to_dict(),     # train.models.ModelSpec: architecture and shape
     "config": {...},                  # the run's TrainConfig as a dict
     "generator": state_dict, "critic": state_dict, "generator_ema": state_dict | None,
     "opt_g": state_dict, "opt_d": state_dict, "iteration": int, ...}
"""
from __future__ import annotations

from pathlib import Path

import torch

from inkwash.atomic import atomic_file, replace_with_copy
from inkwash.cli import UserError
from inkwash.hashing import sha256_file
from train import models

FORMAT_VERSION = 1


def save_checkpoint(path: Path, state: dict) -> None:
    """Write `state` to `path` atomically: a temp file in the same folder, then os.replace."""
    with atomic_file(path, "wb", fsync=True) as f:
        torch.save({"format": FORMAT_VERSION, **state}, f)


def save_checkpoints(ckpt_dir: Path, state: dict, iteration: int, keep: int) -> Path:
    """latest.pt plus the last `keep` iter_XXXXXXX.pt (keep 0: latest.pt only), each replaced
    atomically; latest.pt shares the snapshot's bytes (a hard link where the file system allows)."""
    latest = Path(ckpt_dir) / "latest.pt"
    if keep <= 0:
        save_checkpoint(latest, state)
        return latest
    snap = Path(ckpt_dir) / f"iter_{iteration:07d}.pt"
    save_checkpoint(snap, state)
    replace_with_copy(snap, latest)
    for old in sorted(Path(ckpt_dir).glob("iter_*.pt"))[:-keep]:
        old.unlink()
    return latest


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint written by `save_checkpoint`; a UserError (a ValueError) names a bad file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # truncated, not a torch file, or pickled objects we never write
        raise UserError(f"{path}: not a readable checkpoint ({type(e).__name__}: {e})") from e
    if not isinstance(state, dict) or "model" not in state or "generator" not in state:
        raise UserError(f"{path}: not a checkpoint of this toolkit (no 'model'/'generator' entries)")
    if state.get("format", 0) > FORMAT_VERSION:
        raise UserError(f"{path}: written by a newer version (format {state['format']}); upgrade the toolkit")
    return state


def load_spec(state: dict) -> models.ModelSpec:
    """The ModelSpec of a loaded checkpoint (its "model" entry)."""
    return models.ModelSpec.from_dict(state["model"])


def _info(path: Path, state: dict, spec: models.ModelSpec) -> dict:
    return {"spec": spec, "iteration": int(state.get("iteration", 0)), "checkpoint": str(Path(path).resolve()),
            "checkpoint_sha256": sha256_file(path)}


def load_generator(path: Path, ema: bool = True, map_location: str | torch.device = "cpu"
                   ) -> tuple[models.Generator, dict]:
    """Rebuild the generator of a checkpoint in eval mode.

    Uses the EMA weights when `ema` and the checkpoint has them. Returns (generator, info) with
    info = {"spec": ModelSpec, "ema": bool, "iteration": int, "checkpoint": str, "checkpoint_sha256": str}.
    """
    state = load_checkpoint(path, map_location)
    spec = load_spec(state)
    gen = spec.build_generator()
    use_ema = bool(ema and state.get("generator_ema") is not None)
    gen.load_state_dict(state["generator_ema"] if use_ema else state["generator"])
    gen.eval()
    return gen, {**_info(path, state, spec), "ema": use_ema}


def load_critic(path: Path, map_location: str | torch.device = "cpu") -> tuple[models.Critic, dict]:
    """Rebuild the critic of a checkpoint in eval mode (BatchNorm uses its running statistics).

    Returns (critic, info) with info = {"spec", "iteration", "checkpoint", "checkpoint_sha256"}."""
    state = load_checkpoint(path, map_location)
    if state.get("critic") is None:
        raise UserError(f"{path}: the checkpoint has no critic weights")
    spec = load_spec(state)
    _, critic = spec.build()
    critic.load_state_dict(state["critic"])
    critic.eval()
    return critic, _info(path, state, spec)

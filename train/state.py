"""Training state: the networks of a ModelSpec, the generator EMA, both optimisers and the RNG streams,
made fresh or restored from a checkpoint, and the checkpoint dict that saves them.

Everything a run needs to continue bitwise where it stopped lives in `TrainState` or in the RNG
streams (stylegan2-ada's snapshot_data plus nanoGPT's optimiser state).
"""
from __future__ import annotations

import copy
import logging
import random
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from train import dist, models
from train.config import TrainConfig

log = logging.getLogger(__name__)

CHANNELS_LAST = True  # the layout for CUDA tensor cores; on CPU (oneDNN) about the same speed as NCHW


@dataclass
class TrainState:
    """The trained objects of a run and how far it has come."""
    spec: models.ModelSpec
    gen: models.Generator
    critic: models.Critic
    gen_ema: models.Generator | None   # exponential moving average of `gen` (cfg.ema), else None
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    iteration: int = 0                 # generator steps done
    wall_before: float = 0.0           # seconds trained by earlier sessions of this run
    hsv_step0: float | None = None     # hsv_swd of the untrained generator (measured once per run)

    @property
    def sampler(self) -> models.Generator:
        """The generator that draws grids and the progress metric: the EMA when there is one."""
        return self.gen_ema if self.gen_ema is not None else self.gen

    def modules(self) -> list[nn.Module]:
        """Every network whose buffers ranks keep in step."""
        return [m for m in (self.gen, self.critic, self.gen_ema) if m is not None]


def seed_all(seed: int) -> None:
    """Seed torch, numpy's global generator and Python's `random`."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def make_optimizer(cfg: TrainConfig, params, lr: float) -> torch.optim.Optimizer:
    """RMSProp (the paper, Arjovsky et al. 2017) or Adam with cfg's betas."""
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    return torch.optim.Adam(params, lr=lr, betas=(cfg.beta1, cfg.beta2))


def _set_hyper(opt: torch.optim.Optimizer, cfg: TrainConfig, lr: float) -> None:
    """The schedule comes from the command line, also after --resume."""
    for g in opt.param_groups:
        g["lr"] = lr
        if "betas" in g:
            g["betas"] = (cfg.beta1, cfg.beta2)


def make_state(cfg: TrainConfig, spec: models.ModelSpec, device: torch.device, info: dist.DistInfo,
               resume: dict | None) -> TrainState:
    """Build the networks of `spec` (seeded, the same on every rank), then load `resume` if given,
    then broadcast rank 0's weights so every rank starts identical."""
    seed_all(cfg.seed)
    gen, critic = spec.build()
    if info.enabled and device.type == "cuda":
        gen = nn.SyncBatchNorm.convert_sync_batchnorm(gen)
        critic = nn.SyncBatchNorm.convert_sync_batchnorm(critic)
    for net in (gen, critic):
        net.to(device)
        if CHANNELS_LAST:
            net.to(memory_format=torch.channels_last)
    gen_ema = copy.deepcopy(gen).eval().requires_grad_(False) if cfg.ema else None
    st = TrainState(spec, gen, critic, gen_ema, make_optimizer(cfg, gen.parameters(), cfg.lr_g),
                    make_optimizer(cfg, critic.parameters(), cfg.lr_d))
    if resume is not None:
        st.gen.load_state_dict(resume["generator"])
        st.critic.load_state_dict(resume["critic"])
        if gen_ema is not None:
            gen_ema.load_state_dict(resume["generator_ema"] if resume.get("generator_ema") is not None
                                    else resume["generator"])
        st.opt_g.load_state_dict(resume["opt_g"])
        st.opt_d.load_state_dict(resume["opt_d"])
        st.iteration = int(resume["iteration"])
        st.wall_before = float(resume.get("wall_seconds", 0.0))
        st.hsv_step0 = resume.get("hsv_swd_step0")
    _set_hyper(st.opt_g, cfg, cfg.lr_g)
    _set_hyper(st.opt_d, cfg, cfg.lr_d)
    for net in st.modules():
        dist.broadcast_module(net, info)
    return st


@torch.no_grad()
def update_ema(st: TrainState, decay: float) -> None:
    """One EMA step after generator step `st.iteration` (counted before it is incremented).

    Ramp-up as TF's ExponentialMovingAverage with num_updates: early averages do not drag along the
    random initialisation. Buffers (BatchNorm statistics) are copied, not averaged."""
    if st.gen_ema is None:
        return
    it = st.iteration
    d = min(decay, (1.0 + it) / (10.0 + it))
    torch._foreach_lerp_(list(st.gen_ema.parameters()), list(st.gen.parameters()), 1.0 - d)
    for b_ema, b in zip(st.gen_ema.buffers(), st.gen.buffers()):
        b_ema.copy_(b)


def rng_state(device: torch.device) -> dict:
    """This process's RNG states as plain tensors and types (loads with weights_only=True): torch's CPU
    stream, numpy's and Python's, and the CUDA stream of `device` only (not of every visible GPU, so
    a checkpoint resumes on a machine with fewer GPUs)."""
    np_state = np.random.get_state()
    return {"torch": torch.get_rng_state(),
            "cuda_device": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
            "numpy": {"name": str(np_state[0]), "keys": torch.from_numpy(np_state[1].astype(np.int64)),
                      "pos": int(np_state[2]), "has_gauss": int(np_state[3]), "cached": float(np_state[4])},
            "python": [int(v) for v in random.getstate()[1]]}


def set_rng_state(state: dict, device: torch.device) -> None:
    """Restore what `rng_state` saved (a CUDA state only onto a CUDA `device`)."""
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda_device")
    if cuda is None and state.get("cuda"):  # format of earlier versions: every visible GPU's state
        index = (device.index or 0) if device.type == "cuda" else 0
        cuda = state["cuda"][index] if index < len(state["cuda"]) else None
    if cuda is not None and device.type == "cuda":
        torch.cuda.set_rng_state(cuda, device)
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    random.setstate((3, tuple(state["python"]), None))


def seed_streams(cfg: TrainConfig, info: dist.DistInfo, resume: dict | None, iteration: int,
                 device: torch.device) -> None:
    """Per-rank RNG streams for batches, noise and augmentation; a resumed run continues its own.

    Resumed with another number of processes, no saved stream belongs to a rank: every rank is
    reseeded from (seed, rank, iteration), deterministically, and says so."""
    seed_all(cfg.seed * 1000 + info.rank + 1)
    if resume is None:
        return
    states = resume.get("rng")
    states = states if isinstance(states, list) else [states]
    if len(states) == info.world_size:
        set_rng_state(states[info.rank], device)
    else:
        log.info("resume: RNG states saved by %d process(es), running %d; reseeding rank %d from seed %d and "
                 "iteration %d", len(states), info.world_size, info.rank, cfg.seed, iteration)
        seed_all(cfg.seed * 1000 + info.rank + 1 + iteration)


def _per_rank(obj, info: dist.DistInfo) -> list:
    """`obj` of every rank, in rank order (collective under torchrun), else [obj]."""
    if not info.enabled:
        return [obj]
    out = [None] * info.world_size
    torch.distributed.all_gather_object(out, obj, group=info.stop_group)
    return out


def loss_state_of_rank(resume: dict | None, info: dist.DistInfo) -> dict | None:
    """This rank's saved objective state (train.gan_loss.GANLoss.state_dict) from a checkpoint; rank 0's
    when the checkpoint was saved by another number of processes; None for older checkpoints."""
    states = (resume or {}).get("loss_state")
    if not states:
        return None
    return states[info.rank] if len(states) == info.world_size else states[0]


def checkpoint_dict(st: TrainState, cfg: TrainConfig, info: dist.DistInfo, wall: float,
                    hsv_final: float | None, device: torch.device, loss_state: dict | None = None) -> dict:
    """What a checkpoint holds (train.checkpoint's format). Collective under torchrun: every rank
    calls it, because the RNG states and objective states (`loss_state`: the HSV scale's running
    magnitudes, which differ per rank) of all ranks are gathered (in rank order)."""
    rngs = _per_rank(rng_state(device), info)
    return {"model": st.spec.to_dict(), "config": cfg.to_dict(), "generator": st.gen.state_dict(),
            "critic": st.critic.state_dict(), "loss_state": _per_rank(loss_state, info),
            "generator_ema": st.gen_ema.state_dict() if st.gen_ema is not None else None,
            "opt_g": st.opt_g.state_dict(), "opt_d": st.opt_d.state_dict(), "iteration": st.iteration, "rng": rngs,
            "aug": {"diffaug": cfg.diffaug, "policy": cfg.diffaug_policy if cfg.diffaug else "", "xflip": cfg.xflip},
            "wall_seconds": wall, "hsv_swd_step0": st.hsv_step0, "hsv_swd_final": hsv_final}

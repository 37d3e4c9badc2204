"""The training loop: run(cfg) trains one run folder (the part of stylegan2-ada's training_loop.py).

The steps: resume (a new config from the checkpoint), data on the device, state (train.state),
loss (train.gan_loss), then per iteration n_critic critic steps and one generator step, and per
tick one losses.csv row, sample grids and checkpoints (train.records, train.checkpoint).

runs/<name>/: config.json (before the first step), checkpoints/latest.pt + iter_XXXXXXX.pt (keep-last-K),
samples/grid_XXXXXXX.png (fixed noise), losses.csv (one flushed row per tick), losses.png, run.json.
"""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from inkwash import atomic, provenance
from inkwash.cli import UserError
from train import checkpoint, config, dist, precision, state
from train.config import TrainConfig
from train.data import Dataset
from train.device import resolve_device, set_tf32
from train.device_data import DeviceData
from train.gan_loss import GANLoss
from train.records import CSV_FIELDS, Probe, Records, TickStats

log = logging.getLogger(__name__)


class Interrupted(Exception):
    """Raised by run() after Ctrl-C / SIGTERM once the checkpoint and run.json are written."""

    def __init__(self, run_dir: Path, iteration: int):
        super().__init__(f"interrupted at iteration {iteration}; checkpoint saved in {run_dir}/checkpoints; "
                         f"continue with --resume")
        self.run_dir, self.iteration = run_dir, iteration


def configure_backends(cfg: TrainConfig, device: torch.device) -> None:
    """Deterministic kernels on request; else cuDNN autotuning; TF32 on CUDA."""
    if cfg.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    elif device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    if device.type == "cuda":
        set_tf32(True)


def load_data(cfg: TrainConfig, info: dist.DistInfo) -> Dataset:
    """The data set: cfg.data via train.data.load_folder, or the built-in demo set.

    Under torchrun, rank 0 alone generates the demo set and decodes the folder (with every core),
    writing the cache; the other ranks wait for it, then read the cache with one process and never
    write it. A rank that cannot see that cache (another machine) decodes for itself, and says so."""
    from train.data import load_folder

    def load(workers: int | None, update_cache: bool) -> Dataset:
        folder = cfg.data
        if folder is None:
            from train.demo import demo_folder
            folder = demo_folder(workers=workers)
        return load_folder(folder, cfg.resolution, labels=cfg.conditional, amplify_to=cfg.amplify_to, seed=cfg.seed,
                           workers=workers, progress=not cfg.quiet and info.is_main, update_cache=update_cache,
                           drop_near_duplicates=cfg.drop_near_duplicates)

    if not info.enabled:
        return load(None, True)
    ds, failure = None, None
    if info.is_main:
        try:
            ds = load(None, True)
        except UserError as e:
            failure = str(e)
    failure = dist.from_rank0(failure, info)  # the other ranks wait here for rank 0's cache
    if failure is not None:
        raise UserError(failure)
    if not info.is_main:
        ds = load(1, False)
    t = ds.timing
    log.info("rank %d: data set of %d images (%d files decoded here, %d from the cache)", info.rank, len(ds),
             t["files_decoded"], t["files_from_cache"])
    if not info.is_main and t["files_decoded"]:
        log.warning("rank %d: the data cache rank 0 wrote is not visible here; point INKWASH_CACHE at a folder "
                    "every machine shares", info.rank)
    return ds


@contextlib.contextmanager
def stop_requests(rank: int = 0, done: Callable[[], int] = lambda: 0) -> Iterator[dict]:
    """While active, Ctrl-C / SIGTERM set flag["stop"]: the loop saves a checkpoint and stops at the end
    of the iteration under way (`done()` iterations finished). A second Ctrl-C stops at once. Handlers
    are restored after. Signals reach only the main thread."""
    flag = {"stop": False}
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, _frame):
        if flag["stop"] and signum == signal.SIGINT:
            raise KeyboardInterrupt
        flag["stop"] = True
        log.info("rank %d: stop requested (signal %d) after iteration %d: finishing this iteration, then saving a "
                 "checkpoint", rank, signum, done())

    old = [(sig, signal.signal(sig, handler)) for sig in (signal.SIGINT, signal.SIGTERM)]
    try:
        yield flag
    finally:
        for sig, h in old:
            signal.signal(sig, h)


@dataclass
class Session:
    """One process's share of a run: what the steps and ticks read and update."""
    cfg: TrainConfig
    device: torch.device
    info: dist.DistInfo
    st: state.TrainState
    data: DeviceData
    loss: GANLoss
    probe: Probe
    records: Records | None            # rank 0 only
    run_dir: Path
    stats: TickStats
    t0: float = field(default_factory=time.perf_counter)   # start of this session's steps
    t_steps: float = 0.0               # start of the current stretch of steps (tick work excluded)
    tick_start_it: int = 0
    warm_step_seconds: float = 0.0     # steps after the session's first tick (warm-up: allocator, autotuning)
    warm_iters: int = 0
    first_tick_done: bool = False
    hsv_final: float | None = None
    digests: list[str] = field(default_factory=list)
    interrupted: bool = False

    @property
    def wall(self) -> float:
        return self.st.wall_before + time.perf_counter() - self.t0


def run(cfg: TrainConfig, dataset: Dataset | None = None) -> Path:
    """Train as `cfg` says; return the run folder. `dataset` (a train.data.Dataset) replaces loading.

    Raises Interrupted after saving a checkpoint when stopped by Ctrl-C or SIGTERM.
    """
    device = resolve_device(cfg.device)
    info = dist.setup(device.type)
    try:
        return _run(cfg, device, info, dataset)
    finally:
        dist.teardown(info)


def _run(cfg: TrainConfig, device: torch.device, info: dist.DistInfo, dataset: Dataset | None) -> Path:
    # Provenance: the code that runs, read now, before a long run lets HEAD move.
    prov = provenance.provenance()
    if cfg.record_repo:  # the user's own project, on request only: never mistaken for the toolkit's commit
        prov["user_repository"] = {"path": str(Path.cwd()), "state": provenance.repo_state(Path.cwd())}
    if info.enabled and device.type == "cuda":
        device = torch.device("cuda", info.local_rank)

    # Resume: a new validated config with the checkpoint's architecture and this command's schedule.
    resume_path = config.resume_path(cfg)
    resume = checkpoint.load_checkpoint(resume_path, map_location="cpu") if resume_path else None
    if resume is not None:
        cfg = config.for_resume(cfg, resume, resume_path)
    if cfg.batch_size % info.world_size:
        raise UserError(f"batch_size: {cfg.batch_size} is not divisible by {info.world_size} processes")
    if cfg.compile and cfg.loss == "wgan-gp":
        log.info("compile: the critic stays eager with wgan-gp (double backward); the generator is compiled")
    configure_backends(cfg, device)
    prec = precision.detect(device, cfg.dtype)  # the precision of each piece: train.precision
    t_setup = time.perf_counter()

    # Data: uint8 NCHW, on the GPU when it fits in a share of its free memory (train.device_data).
    ds = dataset if dataset is not None else load_data(cfg, info)
    data = DeviceData(ds, cfg, device, cfg.batch_size // info.world_size)
    spec = config.model_spec(cfg, data.class_names)
    if resume is not None and cfg.conditional and checkpoint.load_spec(resume).class_names != spec.class_names:
        raise UserError("data: class subfolders differ from the checkpoint's; resume with the same data")

    # State: networks of the spec, EMA, optimisers (same init on every rank, then rank 0's broadcast).
    st = state.make_state(cfg, spec, device, info, resume)
    gen_run = torch.compile(st.gen) if cfg.compile else st.gen
    critic_run = torch.compile(st.critic) if cfg.compile and cfg.loss != "wgan-gp" else st.critic

    # Loss (augmentation: the same op for real and fake) and per-rank RNG streams, restored on resume.
    augment = (lambda x: x)
    if cfg.diffaug:
        from train.augment import diff_augment
        augment = (lambda x: diff_augment(x, cfg.diffaug_policy))
    loss = GANLoss(cfg, gen_run, critic_run, st.critic, augment, prec)
    loss.load_state_dict(state.loss_state_of_rank(resume, info), device)  # the HSV scale's running magnitudes
    state.seed_streams(cfg, info, resume, st.iteration, device)
    probe = Probe(cfg, spec, data.u8, device)

    # Run folder (rank 0 only): config.json before the first step, the step-0 grid and metric.
    run_dir = cfg.run_dir
    records = None
    if info.is_main:
        (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        (run_dir / "samples").mkdir(parents=True, exist_ok=True)
        atomic.write_json(run_dir / "config.json", cfg.to_dict())
        records = Records(run_dir, st.iteration)
        if st.hsv_step0 is None:
            st.hsv_step0 = probe.hsv_swd(st.sampler)
            probe.save_grid(st.sampler, run_dir / "samples" / f"grid_{st.iteration:07d}.png")
    setup_seconds = time.perf_counter() - t_setup

    s = Session(cfg, device, info, st, data, loss, probe, records, run_dir, TickStats(device))
    start_it = st.iteration
    _train(s)

    # run.json (rank 0 only).
    session_seconds = time.perf_counter() - s.t0
    if info.is_main:
        fields = _run_summary(s, start_it, session_seconds, setup_seconds, prec, resume_path, ds)
        atomic.write_json(run_dir / "run.json", {**fields, **prov, "date": provenance.utc_now(),
                                                  "hardware": {**prov["hardware"],
                                                               "torch_threads": torch.get_num_threads()},
                                                  "config": cfg.to_dict()})
        log.info("%s: %d iterations in %.1f s; hsv_swd %.5f -> %s", run_dir, st.iteration, s.wall,
                 st.hsv_step0 or float("nan"), f"{s.hsv_final:.5f}" if s.hsv_final is not None else "n/a")
    if s.interrupted:
        raise Interrupted(run_dir, st.iteration)
    return run_dir


def _train(s: Session) -> None:
    """Iterations until cfg.iters or a stop request; a tick after every cfg.tick of them."""
    cfg, st, info = s.cfg, s.st, s.info
    g_params, d_params = list(st.gen.parameters()), list(st.critic.parameters())
    bar = tqdm(total=cfg.iters, initial=st.iteration, desc=f"train {s.run_dir.name}", unit="it", dynamic_ncols=True,
               disable=cfg.quiet or not info.is_main)
    s.t0 = s.t_steps = time.perf_counter()
    s.tick_start_it = st.iteration
    try:
        with stop_requests(info.rank, lambda: st.iteration) as stop:
            while st.iteration < cfg.iters:
                # Critic steps.
                for _ in range(cfg.n_critic):
                    real, y_real = s.data.real_batch()
                    z = torch.randn(s.data.batch, cfg.latent_dim, device=s.device)
                    st.opt_d.zero_grad(set_to_none=True)
                    terms = s.loss.critic_step(real, y_real, z, s.data.fake_labels())
                    dist.average_gradients(d_params, info)
                    st.opt_d.step()
                    s.loss.after_critic_step()
                    s.stats.add("critic", terms)

                # Generator step (its HSV term compares with the last critic step's real batch) and EMA.
                z = torch.randn(s.data.batch, cfg.latent_dim, device=s.device)
                st.opt_g.zero_grad(set_to_none=True)
                terms = s.loss.generator_step(z, s.data.fake_labels(), real)
                dist.average_gradients(g_params, info)
                st.opt_g.step()
                state.update_ema(st, cfg.ema_decay)
                s.stats.add("generator", terms)
                st.iteration += 1
                bar.update(1)

                # Stop requests: the ranks agree after every iteration (one CPU all-reduce, train.dist).
                stop["stop"] = dist.any_rank(stop["stop"], info)

                # Tick: the only host syncs.
                if st.iteration % cfg.tick == 0 or st.iteration >= cfg.iters or stop["stop"]:
                    _tick(s, stop, bar)
                    if stop["stop"]:
                        s.interrupted = True
                        break
    finally:
        bar.close()


def _tick(s: Session, stop: dict, bar: tqdm) -> None:
    """One losses.csv row and plot; a grid every grid_every ticks; a checkpoint every ckpt_every."""
    cfg, st, info, it = s.cfg, s.st, s.info, s.st.iteration
    # Step timing: the session's first tick is warm-up.
    if s.device.type == "cuda":
        torch.cuda.synchronize(s.device)
    if s.first_tick_done:
        s.warm_step_seconds += time.perf_counter() - s.t_steps
        s.warm_iters += it - s.tick_start_it
    s.first_tick_done = True
    at_end, tick_i = it >= cfg.iters, it // cfg.tick
    means = s.stats.read()
    wall = s.wall
    for net in st.modules():
        dist.average_buffers(net, info)

    # Records (rank 0): the CSV row, the plot, the grid.
    if info.is_main:
        s.hsv_final = s.probe.hsv_swd(st.sampler)
        s.records.append({"iteration": it, "kimg": round(it * cfg.batch_size / 1000, 3), "seconds": round(wall, 2),
                          **{k: means[k] for k in CSV_FIELDS if k in means}, "hsv_swd_eval": s.hsv_final})
        bar.set_postfix(d=f"{means['loss_d']:.3f}", g_adv=f"{means['loss_g_adv']:.3f}",
                        hsv=f"{means['loss_hsv']:.4f}", swd=f"{s.hsv_final:.4f}")
        if tick_i % cfg.grid_every == 0 or at_end or stop["stop"]:
            s.probe.save_grid(st.sampler, s.run_dir / "samples" / f"grid_{it:07d}.png")

    # Checkpoint (collective: every rank takes part in gathering digests and RNG states).
    if tick_i % cfg.ckpt_every == 0 or at_end or stop["stop"]:
        if info.enabled:
            s.digests = dist.gather_digests([st.gen, st.critic], info)
            if len(set(s.digests)) != 1:
                log.warning("ranks' weights differ at iteration %d: %s", it, s.digests)
        ckpt = state.checkpoint_dict(st, cfg, info, wall, s.hsv_final, s.device, s.loss.state_dict())
        if info.is_main:
            checkpoint.save_checkpoints(s.run_dir / "checkpoints", ckpt, it, cfg.keep)
        del ckpt
    s.t_steps, s.tick_start_it = time.perf_counter(), it


def _run_summary(s: Session, start_it: int, session_seconds: float, setup_seconds: float,
                 prec: precision.Precision, resume_path: Path | None, ds: Dataset) -> dict:
    """run.json's own fields: what was trained, how long it took, where the data came from."""
    cfg, it = s.cfg, s.st.iteration
    hsv0, hsv1 = s.st.hsv_step0, s.hsv_final
    return {
        "preset": cfg.preset, "model": cfg.model, "resolution": cfg.resolution, "loss": cfg.loss,
        "hsv_loss": cfg.hsv_loss, "iterations": it, "target_iterations": cfg.iters,
        "wall_seconds": round(s.st.wall_before + session_seconds, 3), "session_seconds": round(session_seconds, 3),
        "setup_seconds": round(setup_seconds, 3),
        "seconds_per_iter": round(session_seconds / max(it - start_it, 1), 5),
        # Steps only (no tick work: metric, grids, plots, checkpoints), after the session's first tick.
        "step_seconds_per_iter": round(s.warm_step_seconds / s.warm_iters, 5) if s.warm_iters else None,
        "step_iters_timed": s.warm_iters,
        "device": str(s.device), "dtype": prec.name, "dtype_reason": prec.reason,
        "data_placement": s.data.placement, "data_placement_reason": s.data.placement_reason,
        "batch_size": cfg.batch_size,
        "n_critic": cfg.n_critic, "world_size": s.info.world_size, "rank_weight_digests": s.digests,
        "resumed_from": str(resume_path) if resume_path else None, "interrupted": s.interrupted,
        "data": {**ds.summary_dict, "path": str(ds.root) if ds.root is not None else None},
        "hsv_swd_step0": hsv0, "hsv_swd_final": hsv1,
        "hsv_swd_ratio": (hsv1 / hsv0) if hsv1 is not None and hsv0 else None,
    }

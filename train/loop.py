"""The training loop: run(cfg) trains one run folder (the part of stylegan2-ada's training_loop.py).

runs/<name>/: config.json (before the first step), checkpoints/latest.pt + iter_XXXXXXX.pt (keep-last-K),
samples/grid_XXXXXXX.png (fixed noise), losses.csv (one flushed row per tick), losses.png, run.json.
"""
from __future__ import annotations

import contextlib
import copy
import csv
import json
import logging
import os
import platform
import random
import shutil
import signal
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from inkwash import atomic, provenance
from train import checkpoint, dist, images, losses, models
from train.config import TrainConfig

log = logging.getLogger(__name__)

CSV_FIELDS = ("iteration", "kimg", "seconds", "loss_d", "loss_g", "loss_g_adv", "loss_hsv", "w_estimate",
              "gradient_penalty", "d_real", "d_fake", "hsv_swd_eval")
EVAL_PIXELS = 16_384  # pixels per side for the hsv_swd progress metric
EVAL_PROJ = 64        # fixed projection directions for the hsv_swd progress metric


class Interrupted(Exception):
    """Raised by run() after Ctrl-C / SIGTERM once the checkpoint and run.json are written."""

    def __init__(self, run_dir: Path, iteration: int):
        super().__init__(f"interrupted at iteration {iteration}; checkpoint saved in {run_dir}/checkpoints; "
                         f"continue with --resume")
        self.run_dir, self.iteration = run_dir, iteration


# Setup helpers.

def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: cuda requested but no CUDA GPU is visible; use --device cpu or auto")
    return torch.device(name)


def _configure_backends(cfg: TrainConfig, device: torch.device) -> None:
    if cfg.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    elif device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def load_data(cfg: TrainConfig, info: dist.DistInfo):
    """The data set: cfg.data via train.data.load_folder, or the built-in demo set."""
    from train.data import load_folder
    folder = cfg.data
    if folder is None:
        from train.demo import demo_folder
        if info.enabled and not info.is_main:
            dist.barrier(info)  # rank 0 generates the demo set first
        folder = demo_folder()
        if info.enabled and info.is_main:
            dist.barrier(info)
    ds = load_folder(folder, cfg.resolution, labels=cfg.conditional, amplify_to=cfg.amplify_to, seed=cfg.seed,
                     progress=not cfg.quiet and info.is_main)
    return ds, Path(folder)


def rng_state() -> dict:
    """Every RNG state as plain tensors and types (loads with weights_only=True)."""
    np_state = np.random.get_state()
    return {"torch": torch.get_rng_state(),
            "cuda": list(torch.cuda.get_rng_state_all()) if torch.cuda.is_available() else [],
            "numpy": {"name": str(np_state[0]), "keys": torch.from_numpy(np_state[1].astype(np.int64)),
                      "pos": int(np_state[2]), "has_gauss": int(np_state[3]), "cached": float(np_state[4])},
            "python": [int(v) for v in random.getstate()[1]]}


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    random.setstate((3, tuple(state["python"]), None))


def _seed_all(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def make_optimizer(cfg: TrainConfig, params, lr: float) -> torch.optim.Optimizer:
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    return torch.optim.Adam(params, lr=lr, betas=(cfg.beta1, cfg.beta2))


def _set_hyper(opt: torch.optim.Optimizer, cfg: TrainConfig, lr: float) -> None:
    """The schedule comes from the command line, also after --resume."""
    for g in opt.param_groups:
        g["lr"] = lr
        if "betas" in g:
            g["betas"] = (cfg.beta1, cfg.beta2)


def resolve_resume(cfg: TrainConfig) -> Path | None:
    if cfg.resume is None:
        return None
    path = cfg.run_dir / "checkpoints" / "latest.pt" if cfg.resume == "latest" else Path(cfg.resume)
    if not path.is_file():
        raise ValueError(f"resume: no checkpoint at {path}; train first or pass --resume PATH")
    flags = set(cfg.extra.get("flags", ()))
    if (cfg.resume != "latest" and cfg.name is None and "out" not in flags
            and path.resolve().parent.name == "checkpoints"):
        run_dir = path.resolve().parent.parent  # continue in the checkpoint's own run folder
        cfg.out, cfg.name = run_dir.parent, run_dir.name
    return path


# Records: provenance, CSV, plot, checkpoints.

def hardware() -> dict:
    return {"cpu": provenance.cpu_model(), "cpu_cores": provenance.cpu_cores(),
            "torch_threads": torch.get_num_threads(), "gpu": provenance.gpu_names(),
            "gpu_count": torch.cuda.device_count() if torch.cuda.is_available() else 0}


def versions() -> dict:
    import sys
    return {"python": sys.version.split()[0], "torch": torch.__version__, "numpy": np.__version__,
            "cuda": torch.version.cuda or "none", "platform": platform.platform()}


class Records:
    """losses.csv (appended, flushed per tick) and losses.png (redrawn per tick)."""

    def __init__(self, run_dir: Path, start_iteration: int):
        self.csv_path, self.png_path = run_dir / "losses.csv", run_dir / "losses.png"
        self.rows: list[dict] = []
        if start_iteration > 0 and self.csv_path.is_file():
            with open(self.csv_path, newline="") as f:  # keep rows up to the checkpoint we resume from
                self.rows = [r for r in csv.DictReader(f) if int(r["iteration"]) <= start_iteration]
        with atomic.atomic_file(self.csv_path, "w", newline="") as f:
            w = csv.DictWriter(f, CSV_FIELDS)
            w.writeheader()
            w.writerows(self.rows)

    def append(self, row: dict) -> None:
        self.rows.append(row)
        with open(self.csv_path, "a", newline="") as f:
            csv.DictWriter(f, CSV_FIELDS).writerow(row)
            f.flush()
        self.plot()

    def plot(self) -> None:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        it = [int(r["iteration"]) for r in self.rows]
        col = lambda k: [float(r[k]) if r[k] not in ("", None) else float("nan") for r in self.rows]  # noqa: E731
        fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
        for k in ("loss_d", "loss_g_adv", "w_estimate"):
            a.plot(it, col(k), label=k)
        a.set_xlabel("generator steps")
        a.set_title("adversarial terms")
        a.legend()
        b.plot(it, col("loss_hsv"), label="loss_hsv (train batch)")
        b.plot(it, col("hsv_swd_eval"), label="hsv_swd (fixed samples vs real)")
        b.set_xlabel("generator steps")
        b.set_yscale("log")
        b.set_title("HSV-cone colour term")
        b.legend()
        fig.tight_layout()
        with atomic.atomic_file(self.png_path) as f:
            fig.savefig(f, format="png", dpi=90)
        plt.close(fig)


def save_checkpoints(ckpt_dir: Path, state: dict, iteration: int, keep: int) -> Path:
    """latest.pt plus keep-last-K iter_XXXXXXX.pt, each written atomically."""
    latest = ckpt_dir / "latest.pt"
    if keep <= 0:
        checkpoint.save_checkpoint(latest, state)
        return latest
    snap = ckpt_dir / f"iter_{iteration:07d}.pt"
    checkpoint.save_checkpoint(snap, state)
    tmp = ckpt_dir / f".latest.pt.{os.getpid()}.tmp"
    try:
        os.link(snap, tmp)  # same bytes, no second write
    except OSError:
        shutil.copyfile(snap, tmp)
    os.replace(tmp, latest)
    for old in sorted(ckpt_dir.glob("iter_*.pt"))[:-keep]:
        old.unlink()
    return latest


# Sampling and the progress metric.

@torch.no_grad()
def sample_images(gen: models.Generator, z: torch.Tensor, labels: torch.Tensor | None, batch: int = 64
                  ) -> torch.Tensor:
    """Float NCHW [-1, 1] samples from `gen` in eval mode (no RNG, no buffer updates)."""
    was = gen.training
    gen.eval()
    try:
        outs = [gen(z[i:i + batch], None if labels is None else labels[i:i + batch]).float()
                for i in range(0, z.shape[0], batch)]
    finally:
        gen.train(was)
    return torch.cat(outs)


def eval_hsv_swd(fake: torch.Tensor, real: torch.Tensor, cfg: TrainConfig) -> float:
    """hsv_swd between fixed samples and fixed real images with fixed pixels and directions."""
    g = torch.Generator().manual_seed(cfg.seed + 7919)
    return float(losses.hsv_swd(fake.cpu(), real.cpu(), EVAL_PROJ, g, EVAL_PIXELS, cfg.hsv_r, cfg.hsv_h))


# The loop.

def _install_stop_handlers(flag: dict) -> list:
    if threading.current_thread() is not threading.main_thread():
        return []
    old = []

    def handler(signum, _frame):
        if flag["stop"] and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C stops at once
        flag["stop"] = True
        log.info("stop requested (signal %d): finishing this step, then saving a checkpoint", signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        old.append((sig, signal.signal(sig, handler)))
    return old


def run(cfg: TrainConfig, dataset=None) -> Path:
    """Train as `cfg` says; return the run folder. `dataset` (a train.data.Dataset) replaces loading.

    Raises Interrupted after saving a checkpoint when stopped by Ctrl-C or SIGTERM.
    """
    device = resolve_device(cfg.device)
    info = dist.setup(device.type)
    try:
        return _run(cfg, device, info, dataset)
    finally:
        dist.teardown(info)


def _run(cfg: TrainConfig, device: torch.device, info: dist.DistInfo, dataset) -> Path:
    commit = provenance.git_commit()  # the code that runs: read now, before a long run lets HEAD move
    if info.enabled and device.type == "cuda":
        device = torch.device("cuda", info.local_rank)
    if cfg.batch_size % info.world_size:
        raise ValueError(f"batch_size: {cfg.batch_size} is not divisible by {info.world_size} processes")
    if cfg.compile and cfg.loss == "wgan-gp":
        log.info("compile: the critic stays eager with wgan-gp (double backward); the generator is compiled")
    resume_path = resolve_resume(cfg)
    resume = checkpoint.load_checkpoint(resume_path, map_location="cpu") if resume_path else None
    if resume is not None:
        meta = resume["model"]
        prev = resume.get("config", {})
        if prev.get("optimizer", cfg.optimizer) != cfg.optimizer:
            raise ValueError(f"optimizer: the checkpoint was trained with {prev['optimizer']}; pass "
                             f"--optimizer {prev['optimizer']} to resume it")
        cfg.model, cfg.resolution, cfg.latent_dim = meta["name"], meta["resolution"], meta["latent_dim"]
        cfg.critic_norm = meta.get("critic_norm", cfg.critic_norm)
        cfg.conditional = meta.get("num_classes", 0) > 0
    _configure_backends(cfg, device)
    use_bf16 = device.type == "cuda" and cfg.dtype in ("auto", "bf16")
    amp = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if use_bf16 else contextlib.nullcontext
    channels_last = True  # the layout for CUDA tensor cores; on CPU (oneDNN) about the same speed as NCHW
    t_setup = time.perf_counter()

    # Data: resident on the device as uint8 NCHW; batches are converted on the device.
    if dataset is None:
        ds, data_path = load_data(cfg, info)
    else:
        ds, data_path = dataset, Path(getattr(dataset, "path", "injected"))
    num_classes = len(ds.class_names) if cfg.conditional else 0
    if cfg.conditional and num_classes < 2:
        raise ValueError(f"conditional: {data_path} has {num_classes} class subfolder(s); need at least 2")
    if resume is not None and cfg.conditional and list(resume["model"].get("class_names", [])) != list(ds.class_names):
        raise ValueError("data: class subfolders differ from the checkpoint's; resume with the same data")
    data_u8 = torch.from_numpy(np.ascontiguousarray(ds.images_u8)).permute(0, 3, 1, 2).contiguous().to(device)
    data_labels = ds.labels.to(device) if num_classes else None
    n_data = data_u8.shape[0]
    if tuple(data_u8.shape[2:]) != (cfg.resolution, cfg.resolution):
        raise ValueError(f"resolution: data is {tuple(data_u8.shape[2:])} px but the model needs {cfg.resolution}")

    # Networks, EMA, optimizers (same init on every rank, then rank 0's copy broadcast).
    _seed_all(cfg.seed)
    gen, critic = models.build(cfg.model, cfg.resolution, cfg.latent_dim, num_classes, cfg.critic_norm)
    if info.enabled and device.type == "cuda":
        gen = torch.nn.SyncBatchNorm.convert_sync_batchnorm(gen)
        critic = torch.nn.SyncBatchNorm.convert_sync_batchnorm(critic)
    gen.to(device)
    critic.to(device)
    if channels_last:
        gen.to(memory_format=torch.channels_last)
        critic.to(memory_format=torch.channels_last)
    gen_ema = copy.deepcopy(gen).eval().requires_grad_(False) if cfg.ema else None
    opt_g = make_optimizer(cfg, gen.parameters(), cfg.lr_g)
    opt_d = make_optimizer(cfg, critic.parameters(), cfg.lr_d)
    start_it, wall_before, hsv_step0 = 0, 0.0, None
    if resume is not None:
        gen.load_state_dict(resume["generator"])
        critic.load_state_dict(resume["critic"])
        if gen_ema is not None:
            gen_ema.load_state_dict(resume["generator_ema"] if resume.get("generator_ema") is not None
                                    else resume["generator"])
        opt_g.load_state_dict(resume["opt_g"])
        opt_d.load_state_dict(resume["opt_d"])
        start_it = int(resume["iteration"])
        wall_before = float(resume.get("wall_seconds", 0.0))
        hsv_step0 = resume.get("hsv_swd_step0")
    _set_hyper(opt_g, cfg, cfg.lr_g)
    _set_hyper(opt_d, cfg, cfg.lr_d)
    dist.broadcast_module(gen, info)
    dist.broadcast_module(critic, info)
    if gen_ema is not None:
        dist.broadcast_module(gen_ema, info)
    gen_run = torch.compile(gen) if cfg.compile else gen
    critic_run = torch.compile(critic) if cfg.compile and cfg.loss != "wgan-gp" else critic
    sampler = gen_ema if gen_ema is not None else gen

    # Augmentation (same op for real and fake) and RNG: per-rank streams, restored on resume.
    augment = (lambda x: x)
    if cfg.diffaug:
        from train.augment import diff_augment
        augment = (lambda x: diff_augment(x, cfg.diffaug_policy))
    _seed_all(cfg.seed * 1000 + info.rank + 1)
    if resume is not None:
        states = resume.get("rng")
        states = states if isinstance(states, list) else [states]
        if len(states) == info.world_size:
            set_rng_state(states[info.rank])
        else:
            log.info("resume: RNG states saved by %d process(es), running %d; reseeding", len(states),
                     info.world_size)
            _seed_all(cfg.seed * 1000 + info.rank + 1 + start_it)

    # Fixed noise for grids and the progress metric; a fixed real subset.
    fixed = torch.Generator().manual_seed(cfg.seed + 1)
    if num_classes:
        cols = 8
        grid_z = torch.randn(cols, cfg.latent_dim, generator=fixed).repeat(num_classes, 1)
        grid_y = torch.arange(num_classes).repeat_interleave(cols)
    else:
        cols = None
        grid_z, grid_y = torch.randn(cfg.n_grid, cfg.latent_dim, generator=fixed), None
    eval_z = torch.randn(cfg.eval_n, cfg.latent_dim, generator=fixed)
    eval_y = torch.randint(0, num_classes, (cfg.eval_n,), generator=fixed) if num_classes else None
    real_idx = torch.randperm(n_data, generator=fixed)[:cfg.eval_n]
    eval_real = data_u8[real_idx.to(device)].float().div(127.5).sub(1.0)
    grid_z, eval_z = grid_z.to(device), eval_z.to(device)
    grid_y = grid_y.to(device) if grid_y is not None else None
    eval_y = eval_y.to(device) if eval_y is not None else None

    # Run folder (rank 0 only).
    run_dir = cfg.run_dir
    ckpt_dir, samples_dir = run_dir / "checkpoints", run_dir / "samples"
    records = None
    if info.is_main:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        samples_dir.mkdir(parents=True, exist_ok=True)
        atomic.write_text(run_dir / "config.json", json.dumps(cfg.to_dict(), indent=2) + "\n")
        records = Records(run_dir, start_it)
        if hsv_step0 is None:
            hsv_step0 = eval_hsv_swd(sample_images(sampler, eval_z, eval_y), eval_real, cfg)
            images.save_png(samples_dir / f"grid_{start_it:07d}.png",
                            images.grid(images.to_uint8(sample_images(sampler, grid_z, grid_y)), cols))
    model_meta = models.ModelSpec(cfg.model, cfg.resolution, cfg.latent_dim, num_classes,
                                  tuple(ds.class_names) if num_classes else (), cfg.critic_norm).to_dict()
    setup_seconds = time.perf_counter() - t_setup

    local_b = cfg.batch_size // info.world_size
    is_wgan = cfg.loss in ("wgan-clip", "wgan-gp")
    d_loss_fn = losses.wgan_critic_loss if is_wgan else losses.bce_critic_loss
    g_loss_fn = losses.wgan_generator_loss if is_wgan else losses.bce_generator_loss
    g_params, d_params = list(gen.parameters()), list(critic.parameters())

    def real_batch():
        idx = torch.randint(0, n_data, (local_b,), device=device)
        x = data_u8[idx].float().div_(127.5).sub_(1.0)  # (B, 3, R, R) in [-1, 1]
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, (data_labels[idx] if num_classes else None)

    def fake_labels():
        return data_labels[torch.randint(0, n_data, (local_b,), device=device)] if num_classes else None

    def make_state(iteration: int, wall: float, hsv_final: float | None) -> dict:
        rngs = [rng_state()]
        if info.enabled:
            rngs = [None] * info.world_size
            torch.distributed.all_gather_object(rngs, rng_state())
        return {"model": model_meta, "config": cfg.to_dict(), "generator": gen.state_dict(),
                "critic": critic.state_dict(), "generator_ema": gen_ema.state_dict() if gen_ema is not None else None,
                "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(), "iteration": iteration, "rng": rngs,
                "aug": {"diffaug": cfg.diffaug, "policy": cfg.diffaug_policy if cfg.diffaug else ""},
                "wall_seconds": wall, "hsv_swd_step0": hsv_step0, "hsv_swd_final": hsv_final}

    stop = {"stop": False}
    old_handlers = _install_stop_handlers(stop)
    stats = torch.zeros(7, device=device)  # loss_d, loss_g, adv, hsv, w_est, gp, d_real... summed per tick
    n_stat_d = n_stat_g = 0
    it = tick_start_it = start_it
    hsv_final = None
    t0 = time.perf_counter()
    t_steps = t0           # start of the current run of steps (tick work excluded)
    warm_step_seconds, warm_iters, first_tick_done = 0.0, 0, False
    bar = tqdm(total=cfg.iters, initial=start_it, desc=f"train {run_dir.name}", unit="it", dynamic_ncols=True,
               disable=cfg.quiet or not info.is_main)
    interrupted = False
    digests: list[str] = []
    try:
        while it < cfg.iters:
            # Critic steps.
            critic.requires_grad_(True)
            for _ in range(cfg.n_critic):
                real, y_real = real_batch()
                z = torch.randn(local_b, cfg.latent_dim, device=device)
                y_fake = fake_labels()
                with torch.no_grad(), amp():
                    fake = gen_run(z, y_fake)
                real_a, fake_a = augment(real), augment(fake.float())
                with amp():
                    d_real = critic_run(real_a, y_real)
                    d_fake = critic_run(fake_a, y_fake)
                loss_d = d_loss_fn(d_real, d_fake)
                gp = torch.zeros((), device=device)
                if cfg.loss == "wgan-gp":
                    with amp():
                        gp = losses.gradient_penalty(critic_run, real_a, fake_a, y_real if num_classes else None)
                    loss_d = loss_d + cfg.gp_lambda * gp
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                dist.average_gradients(d_params, info)
                opt_d.step()
                if cfg.loss == "wgan-clip":
                    with torch.no_grad():
                        for p in d_params:
                            p.clamp_(-cfg.clip, cfg.clip)
                stats[0] += loss_d.detach()
                stats[4] += (d_real.float().mean() - d_fake.float().mean()).detach()
                stats[5] += gp.detach()
                stats[6] += d_real.float().mean().detach()
                n_stat_d += 1

            # Generator step.
            critic.requires_grad_(False)
            z = torch.randn(local_b, cfg.latent_dim, device=device)
            y_fake = fake_labels()
            with amp():
                fake = gen_run(z, y_fake)
                d_fake_g = critic_run(augment(fake), y_fake)
            adv = g_loss_fn(d_fake_g)
            hsv = losses.hsv_term(cfg.hsv_loss, fake, real, n_proj=cfg.hsv_proj, n_pixels=cfg.hsv_pixels,
                                  r=cfg.hsv_r, h=cfg.hsv_h)
            loss_g = cfg.w_adv * adv + cfg.w_hsv * hsv
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            dist.average_gradients(g_params, info)
            opt_g.step()
            if gen_ema is not None:
                with torch.no_grad():
                    # Ramp-up (as TF's ExponentialMovingAverage with num_updates): early averages do not
                    # drag along the random initialisation.
                    decay = min(cfg.ema_decay, (1.0 + it) / (10.0 + it))
                    torch._foreach_lerp_(list(gen_ema.parameters()), g_params, 1.0 - decay)
                    for b_ema, b in zip(gen_ema.buffers(), gen.buffers()):
                        b_ema.copy_(b)
            stats[1] += loss_g.detach()
            stats[2] += adv.detach()
            stats[3] += hsv.detach()
            n_stat_g += 1
            it += 1
            bar.update(1)

            # Tick: one CSV row, plot, grid, checkpoint (the only host syncs). Under torchrun the ranks
            # agree on stopping at tick boundaries.
            at_end = it >= cfg.iters
            if it % cfg.tick == 0 or at_end or (stop["stop"] and not info.enabled):
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                if first_tick_done:  # the first tick of a session is warm-up (allocator, cudnn autotuning)
                    warm_step_seconds += time.perf_counter() - t_steps
                    warm_iters += it - tick_start_it
                first_tick_done = True
                if info.enabled:
                    flag = torch.tensor([1.0 if stop["stop"] else 0.0], device=device)
                    torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
                    stop["stop"] = bool(flag.item())
                tick_i = it // cfg.tick
                s = (stats / torch.tensor([max(n_stat_d, 1), max(n_stat_g, 1), max(n_stat_g, 1), max(n_stat_g, 1),
                                           max(n_stat_d, 1), max(n_stat_d, 1), max(n_stat_d, 1)],
                                          device=device)).tolist()
                stats.zero_()
                n_stat_d = n_stat_g = 0
                wall = wall_before + time.perf_counter() - t0
                dist.average_buffers(gen, info)
                dist.average_buffers(critic, info)
                if gen_ema is not None:
                    dist.average_buffers(gen_ema, info)
                if info.is_main:
                    hsv_final = eval_hsv_swd(sample_images(sampler, eval_z, eval_y), eval_real, cfg)
                    row = {"iteration": it, "kimg": round(it * cfg.batch_size / 1000, 3), "seconds": round(wall, 2),
                           "loss_d": s[0], "loss_g": s[1], "loss_g_adv": s[2], "loss_hsv": s[3], "w_estimate": s[4],
                           "gradient_penalty": s[5], "d_real": s[6], "d_fake": s[6] - s[4],
                           "hsv_swd_eval": hsv_final}
                    records.append(row)
                    bar.set_postfix(d=f"{s[0]:.3f}", g_adv=f"{s[2]:.3f}", hsv=f"{s[3]:.4f}", swd=f"{hsv_final:.4f}")
                    if tick_i % cfg.grid_every == 0 or at_end or stop["stop"]:
                        images.save_png(samples_dir / f"grid_{it:07d}.png",
                                        images.grid(images.to_uint8(sample_images(sampler, grid_z, grid_y)), cols))
                if tick_i % cfg.ckpt_every == 0 or at_end or stop["stop"]:
                    if info.enabled:
                        digests = dist.gather_digests([gen, critic], info)
                        if len(set(digests)) != 1:
                            log.warning("ranks' weights differ at iteration %d: %s", it, digests)
                    state = make_state(it, wall, hsv_final)
                    if info.is_main:
                        save_checkpoints(ckpt_dir, state, it, cfg.keep)
                    del state
                if stop["stop"]:
                    interrupted = True
                    break
                t_steps, tick_start_it = time.perf_counter(), it
    finally:
        bar.close()
        for sig, h in old_handlers:
            signal.signal(sig, h)

    # run.json
    session_seconds = time.perf_counter() - t0
    wall = wall_before + session_seconds
    if info.is_main:
        summary = dict(getattr(ds, "summary_dict", {}) or {})
        summary["path"] = str(data_path)
        run_info = {
            "preset": cfg.preset, "model": cfg.model, "resolution": cfg.resolution, "loss": cfg.loss,
            "hsv_loss": cfg.hsv_loss, "iterations": it, "target_iterations": cfg.iters,
            "wall_seconds": round(wall, 3), "session_seconds": round(session_seconds, 3),
            "setup_seconds": round(setup_seconds, 3),
            "seconds_per_iter": round(session_seconds / max(it - start_it, 1), 5),
            # Steps only (no tick work: metric, grids, plots, checkpoints), after the session's first tick.
            "step_seconds_per_iter": round(warm_step_seconds / warm_iters, 5) if warm_iters else None,
            "step_iters_timed": warm_iters,
            "device": str(device), "dtype": "bf16-autocast" if use_bf16 else "fp32", "batch_size": cfg.batch_size,
            "n_critic": cfg.n_critic, "world_size": info.world_size,
            "rank_weight_digests": digests, "resumed_from": str(resume_path) if resume_path
            else None, "interrupted": interrupted, "versions": versions(), "commit": commit,
            "hardware": hardware(), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "data": summary, "hsv_swd_step0": hsv_step0, "hsv_swd_final": hsv_final,
            "hsv_swd_ratio": (hsv_final / hsv_step0) if hsv_final is not None and hsv_step0 else None,
            "config": cfg.to_dict(),
        }
        atomic.write_text(run_dir / "run.json", json.dumps(run_info, indent=2) + "\n")
        log.info("%s: %d iterations in %.1f s; hsv_swd %.5f -> %s", run_dir, it, wall, hsv_step0 or float("nan"),
                 f"{hsv_final:.5f}" if hsv_final is not None else "n/a")
    if interrupted:
        raise Interrupted(run_dir, it)
    return run_dir

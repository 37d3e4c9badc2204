"""What a run records per tick: the tick statistics, losses.csv (one flushed row per tick),
losses.png, the fixed-noise sample grids and the hsv_swd progress metric.
"""
from __future__ import annotations

import csv
from pathlib import Path

import torch

from inkwash import atomic
from train import images, losses, models
from train.config import TrainConfig

CSV_FIELDS = ("iteration", "kimg", "seconds", "loss_d", "loss_g", "loss_g_adv", "loss_hsv", "w_estimate",
              "gradient_penalty", "d_real", "d_fake", "hsv_swd_eval", "loss_rec", "share_adv", "share_hsv")
CRITIC_STATS = ("loss_d", "w_estimate", "gradient_penalty", "loss_rec", "d_real")    # averaged over critic steps
# share_adv / share_hsv: each weighted term's share of the generator loss, averaged over generator steps.
GENERATOR_STATS = ("loss_g", "loss_g_adv", "loss_hsv", "share_adv", "share_hsv")
EVAL_PIXELS = 16_384  # pixels per side for the hsv_swd progress metric
EVAL_PROJ = 64        # fixed projection directions for the hsv_swd progress metric


class TickStats:
    """Sums of the step statistics over one tick, kept on the device: adding never syncs with the
    host; `read` does, once per tick."""

    def __init__(self, device: torch.device):
        self.sums = {k: torch.zeros((), device=device) for k in CRITIC_STATS + GENERATOR_STATS}
        self.counts = {"critic": 0, "generator": 0}

    def add(self, kind: str, values: dict[str, torch.Tensor]) -> None:
        """Add one step's detached values; `kind` is "critic" or "generator"."""
        for k, v in values.items():
            self.sums[k] += v
        self.counts[kind] += 1

    def read(self) -> dict[str, float]:
        """The tick's means (one host sync), plus d_fake = d_real - w_estimate; then start a new tick."""
        names = list(self.sums)
        n_d, n_g = max(self.counts["critic"], 1), max(self.counts["generator"], 1)
        sums = torch.stack([self.sums[k] for k in names])
        div = torch.tensor([n_d if k in CRITIC_STATS else n_g for k in names], dtype=sums.dtype, device=sums.device)
        means = dict(zip(names, (sums / div).tolist()))
        for v in self.sums.values():
            v.zero_()
        self.counts = {"critic": 0, "generator": 0}
        means["d_fake"] = means["d_real"] - means["w_estimate"]
        return means


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
        """One row of CSV_FIELDS, flushed to disk, and the plot redrawn."""
        self.rows.append(row)
        with open(self.csv_path, "a", newline="") as f:
            csv.DictWriter(f, CSV_FIELDS).writerow(row)
            f.flush()
        self.plot()

    def plot(self) -> None:
        """losses.png: the adversarial terms and the HSV-cone term over generator steps."""
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


class Probe:
    """Fixed noise for the sample grids and the progress metric, and a fixed real subset: the same
    for the whole run (also across --resume), so grids and hsv_swd_eval are comparable over time."""

    def __init__(self, cfg: TrainConfig, spec: models.ModelSpec, data_u8: torch.Tensor, device: torch.device):
        """`data_u8`: the training images, uint8 (N, 3, R, R), on `device` or in host memory."""
        fixed = torch.Generator().manual_seed(cfg.seed + 1)
        k = spec.num_classes
        if k:  # one row per class, the same 8 latents in every row
            self.cols = 8
            grid_z = torch.randn(self.cols, spec.latent_dim, generator=fixed).repeat(k, 1)
            grid_y = torch.arange(k).repeat_interleave(self.cols)
        else:
            self.cols = None
            grid_z, grid_y = torch.randn(cfg.n_grid, spec.latent_dim, generator=fixed), None
        eval_z = torch.randn(cfg.eval_n, spec.latent_dim, generator=fixed)
        eval_y = torch.randint(0, k, (cfg.eval_n,), generator=fixed) if k else None
        real_idx = torch.randperm(data_u8.shape[0], generator=fixed)[:cfg.eval_n]
        self.eval_real = data_u8[real_idx.to(data_u8.device)].to(device).float().div(127.5).sub(1.0)
        self.grid_z, self.eval_z = grid_z.to(device), eval_z.to(device)
        self.grid_y = grid_y.to(device) if grid_y is not None else None
        self.eval_y = eval_y.to(device) if eval_y is not None else None
        self.seed, self.r, self.h = cfg.seed, cfg.hsv_r, cfg.hsv_h

    def hsv_swd(self, gen: models.Generator) -> float:
        """hsv_swd between the fixed samples and the fixed real images, with fixed pixels and directions."""
        fake = sample_images(gen, self.eval_z, self.eval_y)
        g = torch.Generator().manual_seed(self.seed + 7919)
        return float(losses.hsv_swd(fake.cpu(), self.eval_real.cpu(), EVAL_PROJ, g, EVAL_PIXELS, self.r, self.h))

    def save_grid(self, gen: models.Generator, path: Path) -> None:
        """The fixed-noise grid as a PNG (one class per row for a conditional generator)."""
        fake = sample_images(gen, self.grid_z, self.grid_y)
        images.save_png(path, images.grid(images.to_uint8(fake), self.cols))


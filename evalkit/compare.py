"""`python -m evalkit compare RUN_DIR... --real DIR`: the paper's Table 4 for any set of runs.

For each run: training time (run.json), generation time for N images through the exported ONNX
sampler (to memory and to PNG files, separately), IS/FID/KID from one Inception feature pass,
MS-SSIM diversity of the generated and the real set (same pairs and seed), a memorisation check
and improved precision/recall. Everything lands in one csv/json/md plus plots via
`evalkit.report.write_result`.
"""
from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from evalkit import memorization, prdc, report
from evalkit.report import UNAVAILABLE_WEIGHTS, BarPlot, n_label
from train.images import grid, save_png

log = logging.getLogger(__name__)

IS_SPLITS = 10
KID_SUBSETS = 100
METRIC_SEED = 2020  # IS split shuffle and KID subsets (torch-fidelity's default)
SAMPLE_GRID = 16
WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"


@dataclass
class CompareConfig:
    runs: list[Path] = field(default_factory=list)  # run folders (runs/<name>/ with run.json)
    real: Path | None = None           # folder of real images (the training originals)
    n: int = 10_000                    # generated images per model (same N for every model)
    out: Path = Path("results/compare")  # output folder: compare.{csv,json,md} + plots
    inception_weights: Path | None = None  # FID Inception-v3 state dict; None = resolve (env, hub cache)
    device: str = "auto"               # auto | cpu | cuda, for the sampler and the feature network
    seed: int = 0                      # latent seed of the generated set and of the MS-SSIM pairs
    pairs: int = 1000                  # MS-SSIM diversity pairs (generated and real alike)
    batch_size: int = 64               # sampler and feature batch size


class CompareError(ValueError):
    """Bad input for compare: one line naming the file or field and the fix."""


def read_run(run_dir: Path) -> dict:
    """run.json of a run folder, checked for the keys compare needs."""
    path = Path(run_dir) / "run.json"
    if not path.is_file():
        raise CompareError(f"{path}: no run.json; pass a run folder written by `python -m train`")
    try:
        info = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise CompareError(f"{path}: not valid JSON ({e}); re-run training or restore the file") from e
    missing = [k for k in ("model", "resolution", "iterations", "wall_seconds") if k not in info]
    if missing:
        raise CompareError(f"{path}: missing {', '.join(missing)}; the run did not finish writing run.json")
    return info


def load_real(path: Path, resolution: int) -> tuple[np.ndarray, dict]:
    """Unamplified real originals at `resolution` px as uint8 (N, R, R, 3), and a summary."""
    path = Path(path)
    if not path.is_dir():
        raise CompareError(f"--real {path}: not a folder; pass the folder of real training images")
    from train.data import load_folder
    try:
        ds = load_folder(path, resolution, amplify_to=None, progress=False)
    except ValueError as e:  # train.data.DataError: no usable image
        raise CompareError(f"--real {path}: {e}") from e
    images = ds.images_u8[np.asarray(ds.is_original, bool)]
    return images, {"path": str(path.resolve()), "n_files": len(ds.source_paths), "n_originals": len(images),
                    "loader": f"train.data.load_folder(resolution={resolution}, amplify_to=None)",
                    "summary": ds.summary_dict}


def onnx_for(run_dir: Path) -> tuple[Path, bool]:
    """The run's exported generator, exporting it first when there is none."""
    onnx = Path(run_dir) / "export" / "generator.onnx"
    if onnx.is_file():
        return onnx, False
    from export.onnx_export import export_run
    log.info("%s: no ONNX export yet; exporting", run_dir)
    return Path(export_run(run_dir)), True


def time_generation(sampler, n: int, seed: int, batch_size: int, png_dir: Path) -> tuple[np.ndarray, float, float]:
    """Generate n images to memory, then the same n to PNG files in png_dir with the toolkit's writer
    (`python -m export sample`'s: worker processes encode while the next batch is generated); both
    timed after one untimed warm-up batch. Returns (images_u8, seconds_to_memory, seconds_to_png)."""
    from export.writer import write_samples

    sampler.sample(min(n, batch_size), seed=seed, batch_size=batch_size)  # warm-up: session init, allocations
    t0 = time.perf_counter()
    images = sampler.sample(n, seed=seed, batch_size=batch_size)
    mem_seconds = time.perf_counter() - t0

    t0 = time.perf_counter()
    write_samples(sampler, n, png_dir, seed=seed, fmt="png", batch_size=batch_size, quiet=True)
    png_seconds = time.perf_counter() - t0
    written = len(list(png_dir.glob("*.png")))
    if written != n:
        raise RuntimeError(f"{png_dir}: the PNG writer wrote {written} of {n} images")
    return images, mem_seconds, png_seconds


def _inception(cfg: CompareConfig) -> tuple[Path | None, str | None, str | None]:
    """(weights path, sha256, None) or (None, None, why unavailable)."""
    from evalkit.inception import WeightsUnavailable, resolve_weights
    if cfg.inception_weights is not None and not Path(cfg.inception_weights).is_file():
        raise CompareError(f"--inception-weights {cfg.inception_weights}: no such file; "
                           f"pass the path of {WEIGHTS_FILE}")
    try:
        path, sha = resolve_weights(cfg.inception_weights)
    except WeightsUnavailable as e:
        return None, None, str(e)
    except ValueError as e:  # a file of the wrong structure
        raise CompareError(f"--inception-weights: {e}") from e
    return Path(path), sha, None


def _features(images_u8: np.ndarray, weights: Path, cfg: CompareConfig) -> dict:
    from evalkit.features import extract_features
    return extract_features(images_u8, weights, device=cfg.device, batch_size=cfg.batch_size)


def _msssim_columns(prefix: str, d: dict) -> dict:
    return {prefix: d["mean"], prefix + "_std": d["std"], prefix + "_sem": d["sem"]}


def compare_run(run_dir: Path, cfg: CompareConfig, real: dict, out: Path, label: str) -> dict:
    """One row of the table for one run."""
    from evalkit import metrics
    from export import load_sampler

    info = read_run(run_dir)
    name = Path(run_dir).name
    seconds_per_iter = info.get("seconds_per_iter") or info["wall_seconds"] / max(1, info["iterations"])
    row = {"model": name, "arch": info["model"], "preset": info.get("preset"), "resolution_px": info["resolution"],
           "train_iterations": info["iterations"], "train_seconds": info["wall_seconds"],
           "train_seconds_per_1k_iters": 1000.0 * seconds_per_iter, "train_device": info.get("device"),
           "train_dtype": info.get("dtype"), "train_batch_size": info.get("batch_size"),
           "train_n_critic": info.get("n_critic")}

    # Generation: N images through the exported ONNX sampler, to memory and to PNG.
    onnx, exported = onnx_for(run_dir)
    sampler = load_sampler(onnx, device=cfg.device)
    if sampler.num_classes:
        raise CompareError(f"{run_dir}: class-conditional generators are not compared yet; "
                           "compare an unconditional run")
    with tempfile.TemporaryDirectory(prefix=".png_timing_", dir=out) as tmp:
        gen_u8, mem_s, png_s = time_generation(sampler, cfg.n, cfg.seed, cfg.batch_size, Path(tmp))
    row.update({f"gen_{label}_seconds": mem_s, f"gen_{label}_png_seconds": png_s,
                "gen_images_per_second": cfg.n / mem_s, "gen_provider": sampler.provider,
                "onnx_exported_now": exported, "onnx_sha256": sampler.meta.get("model_sha256")})
    log.info("%s: %d images in %.2f s (memory), %.2f s (PNG), %s", name, cfg.n, mem_s, png_s, sampler.provider)

    # Inception metrics from one feature pass.
    gen_feats = None
    if real["weights"] is not None:
        f = _features(gen_u8, real["weights"], cfg)
        gen_feats = np.asarray(f["pool3"], np.float64)
        is_ = metrics.inception_score(f["logits"], splits=IS_SPLITS, seed=METRIC_SEED)
        fid = metrics.fid(gen_feats, real["feats"])
        kid = metrics.kid(gen_feats, real["feats"], subsets=KID_SUBSETS, subset_size=real["kid_subset"],
                          seed=METRIC_SEED)
        pr = prdc.precision_recall(real["feats"], gen_feats, k=3)
        row.update({f"is_{label}": is_["mean"], f"is_{label}_std": is_["std"], f"fid_{label}": fid["value"],
                    f"fid_{label}_small_n_warning": bool(fid.get("small_n_warning")),
                    f"kid_{label}": kid["mean"], f"kid_{label}_std": kid["std"],
                    prdc.KEY_PRECISION: pr["precision"], prdc.KEY_RECALL: pr["recall"]})
    else:
        for c in (f"is_{label}", f"is_{label}_std", f"fid_{label}", f"kid_{label}", f"kid_{label}_std",
                  prdc.KEY_PRECISION, prdc.KEY_RECALL):
            row[c] = UNAVAILABLE_WEIGHTS

    # MS-SSIM diversity of the generated set (the real set's value is in every row as the target).
    ms = metrics.ms_ssim_diversity(gen_u8, pairs=cfg.pairs, seed=cfg.seed)
    row.update(_msssim_columns(f"{real['ms_prefix']}_{label}", ms))
    row.update(real["ms_cols"])

    # Memorisation against the de-duplicated originals.
    mem = memorization.memorisation(gen_u8, real["images"], gen_feats, real["feats"])
    for space in ("hsv64", "incv3"):
        s = mem[space]
        cols = (f"nn_{space}_flagged_share_{label}", f"nn_{space}_median_{label}", f"nn_{space}_threshold_p5")
        if s is None:
            row.update(dict.fromkeys(cols, UNAVAILABLE_WEIGHTS))
        else:
            row.update(zip(cols, (s["flagged_share"], s["nn_median"], s["threshold"])))
    row["nn_real_originals"] = mem["hsv64"]["n_real"]
    save_png(out / f"samples_{name}.png", grid(gen_u8[:SAMPLE_GRID], nrow=4))
    save_png(out / f"nn_pairs_{name}.png", memorization.closest_pairs_grid(gen_u8, real["images"], mem["hsv64"]))
    row["samples_png"] = f"samples_{name}.png"
    row["nn_pairs_png"] = f"nn_pairs_{name}.png"
    real["cone"] = mem["cone"]
    return row


def fill_command(cfg: CompareConfig, weights_path: str) -> str:
    """The compare command that fills the Inception columns once the weights file is in place."""
    args = ["python", "-m", "evalkit", "compare", *map(str, cfg.runs), "--real", str(cfg.real), "--n", str(cfg.n),
            "--out", str(cfg.out), "--seed", str(cfg.seed), "--pairs", str(cfg.pairs), "--device", cfg.device,
            "--batch-size", str(cfg.batch_size),
            "--inception-weights", weights_path]
    return shlex.join(args)


def _paper_reference(label: str) -> str:
    return "\n".join([
        "## Reference: the paper's reported Table 4 (not reproduced here)",
        "",
        "Numbers as the paper reports them (from our notes, /work/shared/notes/training.md). They were "
        "measured on the authors' data at 256 px, on 4x RTX 3090, with an unstated N and metric "
        "implementation: they are a reference point, not comparable with the table above.",
        "",
        "| model | IS | FID | MS-SSIM | training | time for 10,000 images |",
        "| --- | --- | --- | --- | --- | --- |",
        "| paper (WGAN + HSV-cone loss) | 3.13 | 24.7 | 0.23 | 16,000 iterations, about 15 h on 4x RTX 3090 | about 72 s (72.12 s) |",
        "| DCGAN | 2.49 | 27.1 | 0.27 | not in our notes | not in our notes |",
        "| MLP GAN (\"primitive\") | 2.34 | 39.6 | 0.39 | not in our notes | not in our notes |",
        "",
        "The baselines' training and generation times are not in our notes and are not reproduced here.",
    ])


def run_compare(cfg: CompareConfig, argv: list[str] | None = None,
                extra_provenance: dict | None = None) -> dict[str, Path]:
    """Compare the runs of `cfg` and write `cfg.out/compare.*`; returns the written paths.

    `argv` is the compare command line recorded in the provenance; `extra_provenance` is merged in
    (table4 records its own command and the training configs there)."""
    from evalkit import metrics

    started = report.provenance(["python", "-m", "evalkit", "compare", *(argv if argv is not None else [])])
    if not cfg.runs:
        raise CompareError("RUN_DIR: give at least one run folder")
    if cfg.n < 2:
        raise CompareError(f"--n {cfg.n}: need at least 2 generated images")
    if cfg.real is None:
        raise CompareError("--real: required; pass the folder of real training images")
    infos = [read_run(r) for r in cfg.runs]
    names = [Path(r).name for r in cfg.runs]
    if len(set(names)) != len(names):
        raise CompareError(f"RUN_DIR: run folder names must be unique (they name the rows), got {names}")
    resolutions = {int(i["resolution"]) for i in infos}
    if len(resolutions) != 1:
        raise CompareError(f"RUN_DIR: runs have different resolutions {sorted(resolutions)}; compare runs of one size")
    resolution = resolutions.pop()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    label = n_label(cfg.n)

    # Real set: originals, features once, MS-SSIM diversity once.
    real_u8, real_info = load_real(cfg.real, resolution)
    weights, sha, why = _inception(cfg)
    real = {"images": real_u8, "weights": weights, "feats": None, "kid_subset": min(1000, cfg.n, len(real_u8))}
    feature_info = {}
    if weights is not None:
        f = _features(real_u8, weights, cfg)
        real["feats"] = np.asarray(f["pool3"], np.float64)
        feature_info = {k: f[k] for k in ("device", "tf32", "weights_sha256") if k in f}
    ms_real = metrics.ms_ssim_diversity(real_u8, pairs=cfg.pairs, seed=cfg.seed)
    real["ms_prefix"] = "ms_ssim_up256" if ms_real.get("upsampled") else "ms_ssim"
    real["ms_cols"] = _msssim_columns(f"{real['ms_prefix']}_real", ms_real)

    rows = [compare_run(r, cfg, real, out, label) for r in cfg.runs]
    for row in rows:
        row["n_real"] = len(real_u8)

    weights_doc = ({"path": str(weights), "sha256": sha, "official_prefix_match": sha.startswith("6726825d"),
                    **feature_info}
                   if weights is not None else {"status": UNAVAILABLE_WEIGHTS, "detail": why})
    prov = dict(
        started,  # command, commit, hardware, date and versions as of the start of the run
        finished=report.provenance([])["date"], n_generated=cfg.n, n_real=len(real_u8), real=real_info, device=cfg.device,
        seeds={"latents": cfg.seed, "ms_ssim_pairs": cfg.seed, "is_split_shuffle": METRIC_SEED,
               "kid_subsets": METRIC_SEED},
        protocol={"is_splits": IS_SPLITS, "kid_subset_size": real["kid_subset"], "kid_subsets": KID_SUBSETS,
                  "ms_ssim_pairs": cfg.pairs, "ms_ssim_upsampled_to_256": bool(ms_real.get("upsampled")),
                  "memorisation": f"nearest real original; hsv64 = RMS per-pixel cone distance at 64 px "
                                  f"({real.get('cone')}), originals + flips; flag < p5 of real leave-one-out NN",
                  "precision_recall": "Kynkaanniemi et al. 2019, k=3, Inception pool3 features "
                                      "(not comparable with published VGG-16 values)",
                  "generation": "ONNX sampler, one untimed warm-up batch; PNG = the same latents through "
                                      "export.writer.write_samples (worker processes, PNG never JPEG)"},
        inception_weights=weights_doc,
        runs={n: {"path": str(Path(r).resolve()), "train_commit": i.get("commit"), "train_hardware": i.get("hardware"),
                  "train_date": i.get("date")} for n, r, i in zip(names, cfg.runs, infos)},
        **(extra_provenance or {}))

    notes = [f"N = {cfg.n} generated images per model (seed {cfg.seed}) against {len(real_u8)} real originals. "
             "FID is biased in N and needs more than 2048 images on each side to be stable; compare rows "
             "only within this table. KID is unbiased; its subset size is "
             f"{real['kid_subset']}.",
             f"Columns ending in `_std` are standard deviations (IS over {IS_SPLITS} splits, KID over {KID_SUBSETS} subsets, "
             "MS-SSIM over pairs); `_sem` is the MS-SSIM standard error of the mean. Lower MS-SSIM = more "
             "diverse; the real set's value (`*_real`) is the target.",
             "`precision_incv3_k3` / `recall_incv3_k3` use Inception-v3 features, not the VGG-16 features "
             "of Kynkaanniemi et al. 2019: not comparable with published precision/recall values.",
             "A memorisation flag means a sample is closer to some real image than 95 % of the real images "
             "are to their nearest other original (HSV cone, 64 px, flips included). Verbatim or flipped copies "
             "are flagged; so can be flat, low-contrast samples that sit near the middle of the real set: "
             "look at the closest-pairs grid before calling a flag a copy.",
             "The machine may be shared and loaded: timings are indicative; ratios within this table were "
             "measured side by side in one run."]
    if weights is None:
        import torch
        where = str(Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE)
        notes.insert(0, f"**Inception columns read `{UNAVAILABLE_WEIGHTS}`**: no Inception weights file was "
                        f"found ({why}). No other network was substituted. Put the file in place and run:\n\n"
                        f"```\n{fill_command(cfg, where)}\n```")
    plots = [BarPlot("train_seconds_per_1k_iters", "training time per 1,000 generator iterations", "seconds"),
             BarPlot(f"gen_{label}_seconds", f"time to generate {cfg.n} images (to memory)", "seconds"),
             BarPlot(f"gen_{label}_png_seconds", f"time to generate {cfg.n} images (PNG on disk)", "seconds"),
             BarPlot(f"is_{label}", f"Inception Score, N={cfg.n}, {IS_SPLITS} splits", "IS"),
             BarPlot(f"fid_{label}", f"FID, N={cfg.n} vs {len(real_u8)} real", "FID"),
             BarPlot(f"kid_{label}", f"KID, subset size {real['kid_subset']}", "KID"),
             BarPlot(f"{real['ms_prefix']}_{label}", f"MS-SSIM diversity ({cfg.pairs} pairs; real: "
                     f"{ms_real['mean']:.3f})", "mean MS-SSIM (lower = more diverse)"),
             BarPlot(f"nn_hsv64_flagged_share_{label}", "share of samples closer to a real image than p5 of "
                     "real-real NN (HSV cone, 64 px)", "share"),
             BarPlot(prdc.KEY_PRECISION, "precision (Inception features, k=3)", "precision"),
             BarPlot(prdc.KEY_RECALL, "recall (Inception features, k=3)", "recall")]
    return report.write_result(out / "compare", rows, prov, plots=plots,
                               image_plots={"samples_png": "generated samples (first 16, same seed)",
                                            "nn_pairs_png": "closest (generated, real) pairs, HSV cone 64 px"},
                               notes=notes, reference_md=_paper_reference(label),
                               title=f"Model comparison (Table 4 protocol), N = {cfg.n}")


def build_parser() -> argparse.ArgumentParser:
    d = CompareConfig()
    p = argparse.ArgumentParser(
        prog="python -m evalkit compare", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Compare trained runs as in the paper's Table 4: training time, generation time, IS, FID, "
                    "KID, MS-SSIM diversity, memorisation and precision/recall, with provenance and plots.",
        epilog="example: python -m evalkit compare runs/paper runs/dcgan runs/mlp --real data/patterns "
               "--n 10000 --out results/compare")
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR", help="run folders written by python -m train")
    p.add_argument("--real", type=Path, required=True, help="folder of real (training) images")
    p.add_argument("--n", type=int, default=d.n, help="generated images per model")
    p.add_argument("--out", type=Path, default=d.out, help="output folder")
    p.add_argument("--inception-weights", type=Path, default=d.inception_weights,
                   help="FID Inception-v3 weights file; default: EVALKIT_INCEPTION_WEIGHTS, then the torch hub cache")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=d.device, help="sampler and feature device")
    p.add_argument("--seed", type=int, default=d.seed, help="latent seed and MS-SSIM pair seed")
    p.add_argument("--pairs", type=int, default=d.pairs, help="MS-SSIM diversity pairs")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="sampler and feature batch size")
    return p


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit code (2 on bad input)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    cfg = CompareConfig(**vars(args))
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        paths = run_compare(cfg, argv)
    except (CompareError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(paths["md"])
    return 0

"""`python -m evalkit compare RUN_DIR... --real DIR`: the paper's Table 4 for any set of runs.

For each run: training time (run.json), generation time for N images through the exported ONNX
sampler (to memory and to PNG files, separately), every metric of evalkit.table (IS/FID/KID from
one Inception feature pass, MS-SSIM diversity of the generated and the real set, ...) and a
memorisation check. Everything lands in one csv/json/md plus plots via `evalkit.report.write_result`.

Class-conditional runs (and mixes with unconditional ones) get the same pooled row, from N samples
whose labels follow the real classes' proportions, and one row per class in compare_per_class.*:
that class's samples against that class's real originals (evalkit.compare_sets). Memorisation is
pooled only (a copy of any real image counts, whatever its class).
"""
from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from evalkit import compare_report, compare_sets, memorization, weights
from evalkit.compare_sets import CompareError
from evalkit.report import UNAVAILABLE_WEIGHTS, n_label
from inkwash import provenance
from train.images import grid, save_png

log = logging.getLogger(__name__)

SAMPLE_GRID = 16


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
    quiet: bool = False                # no progress bars (stage lines still go to stderr)


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


def onnx_for(run_dir: Path) -> tuple[Path, bool]:
    """The run's exported generator, exporting it first when there is none."""
    onnx = Path(run_dir) / "export" / "generator.onnx"
    if onnx.is_file():
        return onnx, False
    from export.onnx_export import export_run
    log.info("%s: no ONNX export yet; exporting", run_dir)
    return Path(export_run(run_dir)), True


def time_generation(sampler, n: int, seed: int, batch_size: int, png_dir: Path, labels: np.ndarray | None = None,
                    progress: bool = False) -> tuple[np.ndarray, float, float]:
    """Generate n images (with `labels` for a conditional sampler) to memory, then the same n to PNG
    files in png_dir with the toolkit's writer (`python -m export sample`'s: worker processes encode
    while the next batch is generated); both timed after one untimed warm-up batch.
    Returns (images_u8, seconds_to_memory, seconds_to_png)."""
    from export.writer import write_samples

    warm = None if labels is None else labels[:min(n, batch_size)]
    sampler.sample(min(n, batch_size), seed=seed, batch_size=batch_size, labels=warm)  # session init, allocations
    t0 = time.perf_counter()
    batches = sampler.iter_batches(sampler.latents(n, seed), labels, batch_size)
    parts = []
    with tqdm(total=n, desc="sample (memory)", unit="img", disable=not progress, leave=False) as bar:
        for b in batches:
            parts.append(b)
            bar.update(len(b))
    images = np.concatenate(parts)
    mem_seconds = time.perf_counter() - t0

    t0 = time.perf_counter()
    write_samples(sampler, n, png_dir, seed=seed, fmt="png", batch_size=batch_size, labels=labels,
                  quiet=not progress)
    png_seconds = time.perf_counter() - t0
    written = len(list(png_dir.glob("*.png")))
    if written != n:
        raise RuntimeError(f"{png_dir}: the PNG writer wrote {written} of {n} images")
    return images, mem_seconds, png_seconds


def _inception(cfg: CompareConfig) -> tuple[Path | None, str | None, str | None]:
    """(weights path, sha256, None) or (None, None, why unavailable)."""
    if cfg.inception_weights is not None and not Path(cfg.inception_weights).is_file():
        raise CompareError(f"--inception-weights {cfg.inception_weights}: no such file; "
                           f"pass the path of {weights.DOWNLOAD_NAME}")
    try:
        path, sha = weights.resolve_weights(cfg.inception_weights)
    except weights.WeightsUnavailable as e:
        return None, None, str(e)
    return Path(path), sha, None


def _values(cfg: CompareConfig) -> dict:
    return {"seed": cfg.seed, "pairs": cfg.pairs}


def _generate(sampler, cfg: CompareConfig, real: dict, run_dir: Path, out: Path) -> tuple:
    """N timed samples; a conditional run's labels follow the real classes' proportions.
    Returns (images_u8, labels or None, seconds to memory, seconds to PNG)."""
    labels = None
    if sampler.spec.conditional:
        names = list(sampler.class_names)
        classes = real_classes(real, cfg)
        compare_sets.check_classes(str(run_dir), names, classes, cfg.real)
        labels = compare_sets.class_labels(cfg.n, [len(classes[c]["images"]) for c in names], cfg.seed)
    with tempfile.TemporaryDirectory(prefix=".png_timing_", dir=out) as tmp:
        gen_u8, mem_s, png_s = time_generation(sampler, cfg.n, cfg.seed, cfg.batch_size, Path(tmp), labels,
                                               progress=not cfg.quiet)
    return gen_u8, labels, mem_s, png_s


def real_classes(real: dict, cfg: CompareConfig) -> dict[str, dict]:
    """The real set per class (loaded, with features, on the first conditional run)."""
    if "classes" not in real:
        log.info("compare: real set per class (subfolders of %s)", cfg.real)
        real["classes"] = compare_sets.real_class_sets(cfg.real, real["resolution"], real["weights"], cfg.device,
                                                       cfg.batch_size, _values(cfg), progress=not cfg.quiet)
    return real["classes"]


def compare_run(run_dir: Path, cfg: CompareConfig, real: dict, out: Path, label: str, stage: str = "") -> dict:
    """One row of the table for one run; a conditional run's per-class rows go to real["per_class"]."""
    from export import load_sampler

    info = read_run(run_dir)
    name = Path(run_dir).name
    stage = stage or f"compare {name}"
    seconds_per_iter = info.get("seconds_per_iter") or info["wall_seconds"] / max(1, info["iterations"])
    row = {"model": name, "arch": info["model"], "preset": info.get("preset"), "resolution_px": info["resolution"],
           "train_iterations": info["iterations"], "train_seconds": info["wall_seconds"],
           "train_seconds_per_1k_iters": 1000.0 * seconds_per_iter, "train_device": info.get("device"),
           "train_dtype": info.get("dtype"), "train_batch_size": info.get("batch_size"),
           "train_n_critic": info.get("n_critic")}

    # Generation: N images through the exported ONNX sampler, to memory and to PNG.
    onnx, exported = onnx_for(run_dir)
    sampler = load_sampler(onnx, device=cfg.device)
    log.info("%s: sampling %d images (memory, then PNG)", stage, cfg.n)
    gen_u8, labels, mem_s, png_s = _generate(sampler, cfg, real, run_dir, out)
    row.update({f"gen_{label}_seconds": mem_s, f"gen_{label}_png_seconds": png_s,
                "gen_images_per_second": cfg.n / mem_s, "gen_provider": sampler.provider,
                "onnx_exported_now": exported, "onnx_sha256": sampler.meta.get("model_sha256"),
                "classes": len(sampler.class_names) if labels is not None else 0})
    log.info("%s: %d images in %.2f s (memory), %.2f s (PNG), %s", stage, cfg.n, mem_s, png_s, sampler.provider)

    # The metrics of evalkit.table, from one Inception feature pass: pooled, then per class.
    if real["weights"] is not None:
        log.info("%s: Inception features of %d images", stage, cfg.n)
    gen = compare_sets.feature_set(gen_u8, real["weights"], cfg.device, cfg.batch_size, progress=not cfg.quiet,
                                   desc=f"features {name}")
    log.info("%s: metrics", stage)
    row.update(compare_sets.measure(real, gen, _values(cfg), label, has_weights=real["weights"] is not None,
                                    results=real["results"], progress=not cfg.quiet, desc=f"metrics {name}"))
    if labels is not None:
        real["per_class"] += compare_sets.per_class_rows(name, gen, labels, list(sampler.class_names),
                                                         real["classes"], _values(cfg), real["weights"] is not None,
                                                         real["results"], progress=not cfg.quiet)

    # Memorisation against the de-duplicated originals (pooled: a copy of any class counts).
    log.info("%s: memorisation check", stage)
    mem = memorization.memorisation(gen_u8, real["images"], gen.get("pool3"), real.get("pool3"))
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


def compare_argv(cfg: CompareConfig, inception_weights: Path | str | None = None) -> list[str]:
    """The command line of `cfg` (with other Inception weights, to fill the Inception columns later)."""
    w = inception_weights if inception_weights is not None else cfg.inception_weights
    return ["python", "-m", "evalkit", "compare", *map(str, cfg.runs), "--real", str(cfg.real), "--n", str(cfg.n),
            "--out", str(cfg.out), "--seed", str(cfg.seed), "--pairs", str(cfg.pairs), "--device", cfg.device,
            "--batch-size", str(cfg.batch_size), *(["--inception-weights", str(w)] if w is not None else [])]


def _check(cfg: CompareConfig) -> tuple[list[dict], list[str], int]:
    """The runs' run.json records, their names and their one resolution; CompareError on bad input."""
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
    return infos, names, resolutions.pop()


def run_compare(cfg: CompareConfig, extra_provenance: dict | None = None) -> dict[str, Path]:
    """Compare the runs of `cfg` and write `cfg.out/compare.*`; returns the written paths.

    `extra_provenance` is merged into the provenance (table4 records its command and training configs)."""
    started = provenance.provenance(compare_argv(cfg))
    infos, names, resolution = _check(cfg)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    label = n_label(cfg.n)

    # Real set: originals, features once, the real-set reference of the metrics that have one.
    log.info("compare: real set %s", cfg.real)
    real_u8, real_info = compare_sets.load_real(cfg.real, resolution)
    path, sha, why = _inception(cfg)
    real = {**compare_sets.feature_set(real_u8, path, cfg.device, cfg.batch_size, progress=not cfg.quiet,
                                       desc="features real"),
            "weights": path, "resolution": resolution, "results": {}, "per_class": []}
    real["reference"] = compare_sets.references(real, path is not None, _values(cfg))

    rows = [compare_run(r, cfg, real, out, label, stage=f"compare [{k}/{len(cfg.runs)}] {Path(r).name}")
            for k, r in enumerate(cfg.runs, 1)]
    for row in rows:
        row["n_real"] = len(real_u8)

    weights_doc = ({"path": str(path), "sha256": sha, "official_prefix_match": weights.weights_verified(sha),
                    **{k: real[k] for k in ("device", "tf32") if k in real}}
                   if path is not None else {"status": UNAVAILABLE_WEIGHTS, "detail": why})
    prov = dict(
        started,  # command, commit, hardware, load, date and versions as of the start of the run
        finished=provenance.utc_now(), n_generated=cfg.n, n_real=len(real_u8), real=real_info, device=cfg.device,
        seeds={"latents": cfg.seed, "class_labels": cfg.seed},
        protocol={"memorisation": f"nearest real original; hsv64 = RMS per-pixel cone distance at 64 px "
                                  f"({real.get('cone')}), originals + flips; flag < p5 of real leave-one-out NN",
                  "generation": "ONNX sampler, one untimed warm-up batch; PNG = the same latents through "
                                "export.writer.write_samples (worker processes, PNG never JPEG)",
                  "class_conditional": "labels in the real originals' class proportions (largest remainder, "
                                       "seeded shuffle); per-class rows in compare_per_class.*"},
        inception_weights=weights_doc,
        runs={n: {"path": str(Path(r).resolve()), "train_commit": i.get("commit"), "train_hardware": i.get("hardware"),
                  "train_date": i.get("date")} for n, r, i in zip(names, cfg.runs, infos)},
        **(extra_provenance or {}))
    rerun = compare_argv(cfg, weights.hub_checkpoint_dir() / weights.DOWNLOAD_NAME)
    return compare_report.write_compare(out, rows, prov, real, cfg, label, why, rerun)

def configure(p: argparse.ArgumentParser) -> None:
    """The arguments of `python -m evalkit compare`."""
    from train.device import DEVICES
    d = CompareConfig()
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR", help="run folders written by python -m train")
    p.add_argument("--real", type=Path, required=True,
                   help="folder of real (training) images; for class-conditional runs the training folder with one "
                        "subfolder per class (pooled metrics use every image, per-class ones each subfolder)")
    p.add_argument("--n", type=int, default=d.n, help="generated images per model")
    p.add_argument("--out", type=Path, default=d.out, help="output folder")
    p.add_argument("--inception-weights", type=Path, default=d.inception_weights,
                   help="FID Inception-v3 weights file; default: EVALKIT_INCEPTION_WEIGHTS, then the torch hub cache")
    p.add_argument("--device", choices=DEVICES, default=d.device, help="sampler and feature device")
    p.add_argument("--seed", type=int, default=d.seed, help="latent seed and MS-SSIM pair seed")
    p.add_argument("--pairs", type=int, default=d.pairs, help="MS-SSIM diversity pairs")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="sampler and feature batch size")
    p.add_argument("--quiet", action="store_true", help="no progress bars (stage lines still go to stderr)")


def run(args: argparse.Namespace) -> int:
    """`python -m evalkit compare`: writes the comparison, prints the path of compare.md."""
    print(run_compare(CompareConfig(**vars(args)))["md"])
    return 0

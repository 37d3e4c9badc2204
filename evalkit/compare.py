"""`python -m evalkit compare RUN_DIR... --real DIR`: the paper's Table 4 for any set of runs.

For each run: training time (run.json), generation time for N images through the exported ONNX
sampler (to memory and to PNG files, separately), every metric of evalkit.table (IS/FID/KID from
one Inception feature pass, MS-SSIM diversity of the generated and the real set, ...) and a
memorisation check. Everything lands in one csv/json/md plus plots via `evalkit.report.write_result`.
"""
from __future__ import annotations

import argparse
import json
import logging
import shlex
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from evalkit import memorization, report, weights
from evalkit.report import UNAVAILABLE_WEIGHTS, BarPlot, n_label
from evalkit.table import METRICS
from inkwash import provenance
from inkwash.cli import UserError
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


class CompareError(UserError):
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
    if cfg.inception_weights is not None and not Path(cfg.inception_weights).is_file():
        raise CompareError(f"--inception-weights {cfg.inception_weights}: no such file; "
                           f"pass the path of {weights.DOWNLOAD_NAME}")
    try:
        path, sha = weights.resolve_weights(cfg.inception_weights)
    except weights.WeightsUnavailable as e:
        return None, None, str(e)
    return Path(path), sha, None


def _sets(images_u8: np.ndarray, weights_path: Path | None, cfg: CompareConfig) -> dict:
    """A set as every metric reads it: images, and Inception pool3/logits when the weights are there."""
    from evalkit.features import extract_features
    out = {"images": images_u8}
    if weights_path is not None:
        out.update(extract_features(images_u8, weights_path, device=cfg.device, batch_size=cfg.batch_size))
    return out


def _measure(real: dict, gen: dict, cfg: CompareConfig, label: str) -> dict:
    """Every metric of evalkit.table on one generated set: its columns; results kept in real["results"]."""
    row: dict = {}
    values = {"seed": cfg.seed, "pairs": cfg.pairs}
    for name, m in METRICS.items():
        if m.needs_inception and real["weights"] is None:
            row.update(dict.fromkeys(m.column_names(label).values(), UNAVAILABLE_WEIGHTS))
            continue
        sets = (real[m.reads], gen[m.reads]) if m.against_real else (gen[m.reads],)
        r = m(*sets, values=values)
        real["results"].setdefault(name, r)
        row.update({col: r[k] for k, col in m.column_names(label, r).items()})
        if m.real_reference:
            ref = real["reference"][name]
            row.update({col: ref[k] for k, col in m.column_names("real", ref).items()})
    return row


def compare_run(run_dir: Path, cfg: CompareConfig, real: dict, out: Path, label: str) -> dict:
    """One row of the table for one run."""
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
    if sampler.spec.conditional:
        raise CompareError(f"{run_dir}: class-conditional generators are not compared yet; "
                           "compare an unconditional run")
    with tempfile.TemporaryDirectory(prefix=".png_timing_", dir=out) as tmp:
        gen_u8, mem_s, png_s = time_generation(sampler, cfg.n, cfg.seed, cfg.batch_size, Path(tmp))
    row.update({f"gen_{label}_seconds": mem_s, f"gen_{label}_png_seconds": png_s,
                "gen_images_per_second": cfg.n / mem_s, "gen_provider": sampler.provider,
                "onnx_exported_now": exported, "onnx_sha256": sampler.meta.get("model_sha256")})
    log.info("%s: %d images in %.2f s (memory), %.2f s (PNG), %s", name, cfg.n, mem_s, png_s, sampler.provider)

    # The metrics of evalkit.table, from one Inception feature pass.
    gen = _sets(gen_u8, real["weights"], cfg)
    row.update(_measure(real, gen, cfg, label))
    gen_feats = gen.get("pool3")

    # Memorisation against the de-duplicated originals.
    mem = memorization.memorisation(gen_u8, real["images"], gen_feats, real.get("pool3"))
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


def _paper_reference() -> str:
    return "\n".join([
        "## Reference: the paper's reported Table 4 (not reproduced here)",
        "",
        "Numbers as the ink-wash apparel-pattern paper reports them in its Table 4. They were measured on "
        "the authors' data at 256 px, on 4x RTX 3090, with an unstated N and metric implementation: they "
        "are a reference point, not comparable with the table above.",
        "",
        "| model | IS | FID | MS-SSIM | training | time for 10,000 images |",
        "| --- | --- | --- | --- | --- | --- |",
        "| paper (WGAN + HSV-cone loss) | 3.13 | 24.7 | 0.23 | 16,000 iterations, about 15 h on 4x RTX 3090 | "
        "about 72 s (72.12 s) |",
        "| DCGAN | 2.49 | 27.1 | 0.27 | not reported | not reported |",
        "| MLP GAN (\"primitive\") | 2.34 | 39.6 | 0.39 | not reported | not reported |",
        "",
        "The paper reports no training or generation times for its baselines.",
    ])


def _plots_and_notes(real: dict, cfg: CompareConfig, label: str) -> tuple[list[BarPlot], list[str], dict]:
    """Each metric's plots, notes and provenance, from its first result (they share N and options)."""
    plots, notes, prov = [], [], {}
    values = {"seed": cfg.seed, "pairs": cfg.pairs}
    for name, m in METRICS.items():
        r = real["results"].get(name)
        prov[name] = m.provenance(values, r)
        if r is None:
            prov[name]["status"] = UNAVAILABLE_WEIGHTS
            continue
        fields = {**r, "n_gen": cfg.n, "n_real": len(real["images"]), "real": real["reference"].get(name, {})}
        cols = m.column_names(label, r)
        plots += [BarPlot(cols[p.key], p.title.format(**fields), p.ylabel) for p in m.plots]
        if m.note:
            notes.append(m.note.format(**fields))
    return plots, notes, prov


def run_compare(cfg: CompareConfig, extra_provenance: dict | None = None) -> dict[str, Path]:
    """Compare the runs of `cfg` and write `cfg.out/compare.*`; returns the written paths.

    `extra_provenance` is merged into the provenance (table4 records its command and training configs)."""
    started = provenance.provenance(compare_argv(cfg))
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
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    label = n_label(cfg.n)

    # Real set: originals, features once, the real-set reference of the metrics that have one.
    real_u8, real_info = load_real(cfg.real, resolutions.pop())
    path, sha, why = _inception(cfg)
    real = {**_sets(real_u8, path, cfg), "weights": path, "results": {}}
    real["reference"] = {name: m(real[m.reads], values={"seed": cfg.seed, "pairs": cfg.pairs})
                         for name, m in METRICS.items() if m.real_reference and (path or not m.needs_inception)}

    rows = [compare_run(r, cfg, real, out, label) for r in cfg.runs]
    for row in rows:
        row["n_real"] = len(real_u8)

    plots, metric_notes, metric_prov = _plots_and_notes(real, cfg, label)
    weights_doc = ({"path": str(path), "sha256": sha, "official_prefix_match": weights.weights_verified(sha),
                    **{k: real[k] for k in ("device", "tf32") if k in real}}
                   if path is not None else {"status": UNAVAILABLE_WEIGHTS, "detail": why})
    prov = dict(
        started,  # command, commit, hardware, load, date and versions as of the start of the run
        finished=provenance.utc_now(), n_generated=cfg.n, n_real=len(real_u8), real=real_info, device=cfg.device,
        seeds={"latents": cfg.seed}, metrics=metric_prov,
        protocol={"memorisation": f"nearest real original; hsv64 = RMS per-pixel cone distance at 64 px "
                                  f"({real.get('cone')}), originals + flips; flag < p5 of real leave-one-out NN",
                  "generation": "ONNX sampler, one untimed warm-up batch; PNG = the same latents through "
                                "export.writer.write_samples (worker processes, PNG never JPEG)"},
        inception_weights=weights_doc,
        runs={n: {"path": str(Path(r).resolve()), "train_commit": i.get("commit"), "train_hardware": i.get("hardware"),
                  "train_date": i.get("date")} for n, r, i in zip(names, cfg.runs, infos)},
        **(extra_provenance or {}))

    notes = [f"N = {cfg.n} generated images per model (seed {cfg.seed}) against {len(real_u8)} real originals. "
             "Columns ending in `_std` are standard deviations, `_sem` standard errors of the mean.",
             *metric_notes,
             "A memorisation flag means a sample is closer to some real image than 95 % of the real images "
             "are to their nearest other original (HSV cone, 64 px, flips included). Verbatim or flipped copies "
             "are flagged; so can be flat, low-contrast samples that sit near the middle of the real set: "
             "look at the closest-pairs grid before calling a flag a copy.",
             "The machine may be shared and loaded: timings are indicative; ratios within this table were "
             "measured side by side in one run."]
    if path is None:
        where = weights.hub_checkpoint_dir() / weights.DOWNLOAD_NAME
        notes.insert(0, f"**Inception columns read `{UNAVAILABLE_WEIGHTS}`**: no Inception weights file was "
                        f"found ({why}). No other network was substituted. Put the file in place and run:\n\n"
                        f"```\n{shlex.join(compare_argv(cfg, where))}\n```")
    plots = [BarPlot("train_seconds_per_1k_iters", "training time per 1,000 generator iterations", "seconds"),
             BarPlot(f"gen_{label}_seconds", f"time to generate {cfg.n} images (to memory)", "seconds"),
             BarPlot(f"gen_{label}_png_seconds", f"time to generate {cfg.n} images (PNG on disk)", "seconds"),
             *plots,
             BarPlot(f"nn_hsv64_flagged_share_{label}", "share of samples closer to a real image than p5 of "
                     "real-real NN (HSV cone, 64 px)", "share")]
    return report.write_result(out / "compare", rows, prov, plots=plots,
                               image_plots={"samples_png": "generated samples (first 16, same seed)",
                                            "nn_pairs_png": "closest (generated, real) pairs, HSV cone 64 px"},
                               notes=notes, reference_md=_paper_reference(),
                               title=f"Model comparison (Table 4 protocol), N = {cfg.n}")


def configure(p: argparse.ArgumentParser) -> None:
    """The arguments of `python -m evalkit compare`."""
    from train.device import DEVICES
    d = CompareConfig()
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR", help="run folders written by python -m train")
    p.add_argument("--real", type=Path, required=True, help="folder of real (training) images")
    p.add_argument("--n", type=int, default=d.n, help="generated images per model")
    p.add_argument("--out", type=Path, default=d.out, help="output folder")
    p.add_argument("--inception-weights", type=Path, default=d.inception_weights,
                   help="FID Inception-v3 weights file; default: EVALKIT_INCEPTION_WEIGHTS, then the torch hub cache")
    p.add_argument("--device", choices=DEVICES, default=d.device, help="sampler and feature device")
    p.add_argument("--seed", type=int, default=d.seed, help="latent seed and MS-SSIM pair seed")
    p.add_argument("--pairs", type=int, default=d.pairs, help="MS-SSIM diversity pairs")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="sampler and feature batch size")


def run(args: argparse.Namespace) -> int:
    """`python -m evalkit compare`: writes the comparison, prints the path of compare.md."""
    print(run_compare(CompareConfig(**vars(args)))["md"])
    return 0

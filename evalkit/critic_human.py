"""`python -m evalkit critic-vs-human RUN_DIR STUDY_EXPORT_DIR`: does the critic rank images as people do?

Scores every study image with the run's critic and reports Spearman's rank correlation between the
critic score (higher = judged more real by the critic) and the image's human fool rate, with a
percentile bootstrap interval over images. The study's fool rate means "share of respondents who
were wrong": for a generated image, the share who called it real; for a real image, the share who
called it generated. So a critic that agrees with people correlates positively with the fool rate
on generated images and negatively on real images; over all images we correlate the score with the
share who called the image real (fool rate for generated, 1 - fool rate for real).
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy import stats

from evalkit import report
from inkwash import atomic, provenance
from inkwash.cli import UserError
from train import checkpoint as ckpt
from train.images import from_uint8

log = logging.getLogger(__name__)

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
REQUIRED = ("image_id", "is_generated", "fool_rate")


@dataclass
class CriticHumanConfig:
    run: Path | None = None            # run folder (checkpoints/latest.pt)
    study: Path | None = None          # study export folder (images.csv + image files)
    out: Path | None = None            # output folder; default: STUDY_EXPORT_DIR/critic_vs_human
    bootstrap: int = 10_000            # bootstrap resamples of images
    seed: int = 0                      # bootstrap seed
    checkpoint: Path | None = None     # checkpoint to use; default RUN_DIR/checkpoints/latest.pt


class StudyError(UserError):
    """Bad input: one line naming the file or field and the fix."""


def _bool(v: str) -> bool:
    s = str(v).strip().lower()
    if s in ("1", "true", "yes", "t"):
        return True
    if s in ("0", "false", "no", "f"):
        return False
    raise ValueError(v)


def _find_image(study: Path, row: dict) -> Path:
    for key in ("path", "file", "filename", "image_path"):
        if row.get(key):
            p = Path(row[key])
            for cand in (p, study / p, study / "images" / p.name):
                if cand.is_file():
                    return cand
    image_id = str(row["image_id"])
    for folder in (study / "images", study):
        for ext in IMAGE_EXTS:
            if (folder / f"{image_id}{ext}").is_file():
                return folder / f"{image_id}{ext}"
    hits = [p for p in study.rglob(f"{image_id}.*") if p.suffix.lower() in IMAGE_EXTS]
    if len(hits) == 1:
        return hits[0]
    raise StudyError(f"{study / 'images.csv'}: no image file for image_id {image_id!r}; put it in "
                     f"{study / 'images'}/ or give a path column")


def read_study(study: Path) -> list[dict]:
    """Rows of images.csv with their image file, is_generated as bool and fool_rate as float: the
    main images only when the export says which are which (practice images are not scored and an
    attention-check image carries an instruction, not a pattern). `python -m study_app export`
    writes the files as images/<image_id>.png and their paths in a path column."""
    path = Path(study) / "images.csv"
    if not path.is_file():
        raise StudyError(f"{path}: not found; pass the folder written by `python -m study_app export`")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise StudyError(f"{path}: no images listed")
    missing = [c for c in REQUIRED if c not in rows[0]]
    if missing:
        raise StudyError(f"{path}: missing column(s) {', '.join(missing)}; re-export the study")
    out = []
    for i, r in enumerate(rows, start=2):
        if r.get("kind", "main") != "main":
            continue
        try:
            gen = _bool(r["is_generated"])
            fool = float(r["fool_rate"]) if r["fool_rate"] not in ("", None) else float("nan")
        except ValueError as e:
            raise StudyError(f"{path}: line {i}: bad is_generated/fool_rate value ({e})") from e
        if not np.isnan(fool) and not 0.0 <= fool <= 1.0:
            raise StudyError(f"{path}: line {i}: fool_rate {fool} is not a share in [0, 1]")
        out.append({**r, "is_generated": gen, "fool_rate": fool, "file": _find_image(Path(study), r)})
    return out


def load_critic(run: Path, checkpoint: Path | None = None) -> tuple[torch.nn.Module, dict]:
    """The run's critic in eval mode (BatchNorm uses its running statistics) and train.checkpoint's info
    ({"spec": ModelSpec, "checkpoint", "checkpoint_sha256", "iteration"})."""
    path = Path(checkpoint) if checkpoint else Path(run) / "checkpoints" / "latest.pt"
    try:
        return ckpt.load_critic(path)
    except ValueError as e:  # not a readable checkpoint, or one without critic weights
        raise StudyError(str(e)) from e


def score_images(critic: torch.nn.Module, files: list[Path], resolution: int, num_classes: int = 0,
                 batch_size: int = 32) -> np.ndarray:
    """Critic scores (N,) of image files resized to the run's resolution (bicubic, like the data loader
    would for a same-aspect image). Conditional critics: mean score over all classes."""
    scores = []
    for i in range(0, len(files), batch_size):
        ims = []
        for f in files[i:i + batch_size]:
            with Image.open(f) as im:
                im = im.convert("RGB")
                if im.size != (resolution, resolution):
                    im = im.resize((resolution, resolution), Image.BICUBIC)
                ims.append(np.asarray(im))
        x = from_uint8(np.stack(ims))  # (B, 3, R, R) in [-1, 1]
        with torch.no_grad():
            if num_classes:
                s = torch.stack([critic(x, torch.full((len(x),), c, dtype=torch.long))
                                 for c in range(num_classes)]).mean(0)
            else:
                s = critic(x)
        scores.append(s.double().numpy())
    return np.concatenate(scores)


def spearman_ci(x: np.ndarray, y: np.ndarray, n_boot: int = 10_000, seed: int = 0) -> dict:
    """Spearman's rho with a 95 % percentile bootstrap interval (resampling pairs) and its p-value."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    n = len(x)
    if n < 3:
        return {"rho": None, "ci_low": None, "ci_high": None, "p_value": None, "n": n}
    rho, p = stats.spearmanr(x, y)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    rx = stats.rankdata(x[idx], axis=1)
    ry = stats.rankdata(y[idx], axis=1)
    rx -= rx.mean(1, keepdims=True)
    ry -= ry.mean(1, keepdims=True)
    den = np.sqrt((rx * rx).sum(1) * (ry * ry).sum(1))
    boots = np.divide((rx * ry).sum(1), den, out=np.full(n_boot, np.nan), where=den > 0)
    boots = boots[np.isfinite(boots)]
    lo, hi = (np.percentile(boots, [2.5, 97.5]) if len(boots) else (np.nan, np.nan))
    return {"rho": float(rho), "ci_low": float(lo), "ci_high": float(hi), "p_value": float(p), "n": n,
            "bootstrap": n_boot, "bootstrap_valid": int(len(boots))}


def _scatter(path: Path, scores: np.ndarray, judged_real: np.ndarray, generated: np.ndarray, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.2), dpi=100)
    for mask, label, colour in ((generated, "generated", "#c44e52"), (~generated, "real", "#4c72b0")):
        ax.scatter(scores[mask], judged_real[mask], s=22, alpha=0.8, label=label, color=colour)
    ax.set_xlabel("critic score (higher = more real to the critic)")
    ax.set_ylabel("share of respondents who called it real")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def critic_argv(cfg: CriticHumanConfig) -> list[str]:
    """The command line of `cfg` (recorded in the provenance)."""
    argv = ["python", "-m", "evalkit", "critic-vs-human", str(cfg.run), str(cfg.study)]
    for flag, value in (("--out", cfg.out), ("--checkpoint", cfg.checkpoint)):
        if value is not None:
            argv += [flag, str(value)]
    return argv + ["--bootstrap", str(cfg.bootstrap), "--seed", str(cfg.seed)]


def critic_vs_human(cfg: CriticHumanConfig) -> dict[str, Path]:
    """Score the study images and write critic_vs_human.{csv,json,md,png}."""
    study = read_study(cfg.study)
    critic, info = load_critic(cfg.run, cfg.checkpoint)
    spec = info["spec"]
    scores = score_images(critic, [r["file"] for r in study], spec.resolution, spec.num_classes)
    gen = np.array([r["is_generated"] for r in study])
    fool = np.array([r["fool_rate"] for r in study])
    judged_real = np.where(gen, fool, 1.0 - fool)
    results = {"generated: score vs fool rate": spearman_ci(scores[gen], fool[gen], cfg.bootstrap, cfg.seed),
               "real: score vs fool rate": spearman_ci(scores[~gen], fool[~gen], cfg.bootstrap, cfg.seed),
               "all: score vs share judged real": spearman_ci(scores, judged_real, cfg.bootstrap, cfg.seed)}
    rows = [{"subset": k, "spearman_rho": v["rho"], "rho_ci95_low": v["ci_low"], "rho_ci95_high": v["ci_high"],
             "p_value": v["p_value"], "n_images": v["n"]} for k, v in results.items()]
    out = Path(cfg.out) if cfg.out else Path(cfg.study) / "critic_vs_human"
    out.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_file(out / "scores.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["image_id", "is_generated", "model", "fool_rate", "critic_score"])
        for r, s in zip(study, scores):
            w.writerow([r["image_id"], r["is_generated"], r.get("model", ""), r["fool_rate"], f"{s:.6g}"])
    _scatter(out / "critic_vs_human_scatter.png", scores, judged_real, gen,
             f"critic vs people; generated: rho = {results['generated: score vs fool rate']['rho']}")
    critic_doc = {**spec.to_dict(), **{k: info[k] for k in ("checkpoint", "checkpoint_sha256", "iteration")}}
    prov = provenance.provenance(critic_argv(cfg), critic=critic_doc, study=str(Path(cfg.study).resolve()),
                                 seeds={"bootstrap": cfg.seed}, bootstrap=cfg.bootstrap)
    notes = ["Spearman rank correlation with a 95 % percentile bootstrap interval over images. Fool rate = share "
             "of respondents who were wrong (generated called real; real called generated). Agreement between "
             "critic and people shows as rho > 0 on generated images and rho < 0 on real images.",
             "Per-image scores: `scores.csv`. Scatter: `critic_vs_human_scatter.png`."]
    paths = report.write_result(out / "critic_vs_human", rows, prov, notes=notes,
                                title="Critic score versus human fool rate")
    paths["scatter"] = out / "critic_vs_human_scatter.png"
    paths["scores"] = out / "scores.csv"
    log.info("%s", json.dumps(results, indent=1))
    return paths


def configure(p: argparse.ArgumentParser) -> None:
    """The arguments of `python -m evalkit critic-vs-human`."""
    d = CriticHumanConfig()
    p.add_argument("run", type=Path, metavar="RUN_DIR", help="run folder with checkpoints/latest.pt")
    p.add_argument("study", type=Path, metavar="STUDY_EXPORT_DIR", help="folder from python -m study_app export")
    p.add_argument("--out", type=Path, default=d.out, help="output folder (default STUDY_EXPORT_DIR/critic_vs_human)")
    p.add_argument("--checkpoint", type=Path, default=d.checkpoint, help="checkpoint instead of latest.pt")
    p.add_argument("--bootstrap", type=int, default=d.bootstrap, help="bootstrap resamples")
    p.add_argument("--seed", type=int, default=d.seed, help="bootstrap seed")


def run(args: argparse.Namespace) -> int:
    """`python -m evalkit critic-vs-human`: writes the results, prints the path of the Markdown."""
    print(critic_vs_human(CriticHumanConfig(**vars(args)))["md"])
    return 0

"""What `evalkit compare` writes: compare.{csv,json,md} and plots (one row per run, pooled), and for
class-conditional runs compare_per_class.* (one row per run and class), through
evalkit.report.write_result; the notes under each table and the paper's reported Table 4."""
from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from evalkit import report, weights
from evalkit.compare_sets import CLASS_LABEL
from evalkit.report import UNAVAILABLE_WEIGHTS, BarPlot
from evalkit.table import METRICS

if TYPE_CHECKING:
    from evalkit.compare import CompareConfig

PAPER_REFERENCE = "\n".join([
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

PER_CLASS_NOTE = (
    "Per-class rows: a class-conditional run's samples of one class (labels drawn in the real classes' "
    "proportions, so `n_gen` follows `n_real`) against that class's real originals (its subfolder of the real "
    "folder), for every metric of the pooled table. Per-class sets are small: FID and IS are biased at small N "
    "(compare a class across models, not classes with each other), IS with fewer images than splits and MS-SSIM "
    "or KID with fewer than 2 read `not computed: ...`. Memorisation is pooled only.")


def metric_plots_and_notes(results: dict, references: dict, values: dict, n_gen: int, n_real: int,
                           label: str) -> tuple[list[BarPlot], list[str], dict]:
    """Each metric's plots, notes and provenance, from its first result (they share N and options)."""
    plots, notes, prov = [], [], {}
    for name, m in METRICS.items():
        r = results.get(name)
        prov[name] = m.provenance(values, r)
        if r is None:  # no weights, or (an image-pair metric) too few images: its columns say why
            prov[name]["status"] = UNAVAILABLE_WEIGHTS if m.needs_inception else "not computed: see its columns"
            continue
        fields = {**r, "n_gen": n_gen, "n_real": n_real, "real": references.get(name, {})}
        cols = m.column_names(label, r)
        plots += [BarPlot(cols[p.key], p.title.format(**fields), p.ylabel) for p in m.plots]
        if m.note:
            notes.append(m.note.format(**fields))
    return plots, notes, prov


def _notes(cfg: CompareConfig, n_real: int, metric_notes: list[str], why: str | None, rerun: list[str]) -> list[str]:
    notes = [f"N = {cfg.n} generated images per model (seed {cfg.seed}) against {n_real} real originals. "
             "Columns ending in `_std` are standard deviations, `_sem` standard errors of the mean.",
             *metric_notes,
             "A memorisation flag means a sample is closer to some real image than 95 % of the real images "
             "are to their nearest other original (HSV cone, 64 px, flips included). Verbatim or flipped copies "
             "are flagged; so can be flat, low-contrast samples that sit near the middle of the real set: "
             "look at the closest-pairs grid before calling a flag a copy.",
             "The machine may be shared and loaded: timings are indicative; ratios within this table were "
             "measured side by side in one run."]
    if why is not None:
        notes.insert(0, f"**Inception columns read `{UNAVAILABLE_WEIGHTS}`**: no Inception weights file was "
                        f"found ({why}). No other network was substituted. Put the file in place and run:\n\n"
                        f"```\n{shlex.join(rerun)}\n```")
    return notes


def write_compare(out: Path, rows: list[dict], prov: dict, real: dict, cfg: CompareConfig, label: str,
                  why: str | None, rerun: list[str]) -> dict[str, Path]:
    """compare.* (and compare_per_class.* when a run was class-conditional); returns the written paths.

    `why`: why the Inception columns are unavailable (None: they are not); `rerun`: the command
    that fills them once the weights file is in place."""
    values = {"seed": cfg.seed, "pairs": cfg.pairs}
    metric_plots, metric_notes, prov["metrics"] = metric_plots_and_notes(
        real["results"], real["reference"], values, cfg.n, len(real["images"]), label)
    per_class = real.get("per_class") or []
    notes = _notes(cfg, len(real["images"]), metric_notes, why, rerun)
    if per_class:
        notes.append(f"Class-conditional runs: `classes` > 0. Their pooled columns use N samples with labels in "
                     f"the real classes' proportions; per-class rows are in `compare_per_class.md`. "
                     f"{PER_CLASS_NOTE}")
    plots = [BarPlot("train_seconds_per_1k_iters", "training time per 1,000 generator iterations", "seconds"),
             BarPlot(f"gen_{label}_seconds", f"time to generate {cfg.n} images (to memory)", "seconds"),
             BarPlot(f"gen_{label}_png_seconds", f"time to generate {cfg.n} images (PNG on disk)", "seconds"),
             *metric_plots,
             BarPlot(f"nn_hsv64_flagged_share_{label}", "share of samples closer to a real image than p5 of "
                     "real-real NN (HSV cone, 64 px)", "share")]
    paths = report.write_result(out / "compare", rows, prov, plots=plots,
                                image_plots={"samples_png": "generated samples (first 16, same seed)",
                                             "nn_pairs_png": "closest (generated, real) pairs, HSV cone 64 px"},
                                notes=notes, reference_md=PAPER_REFERENCE,
                                title=f"Model comparison (Table 4 protocol), N = {cfg.n}")
    if per_class:
        paths.update({f"per_class_{k}": p for k, p in _write_per_class(out, per_class, prov, real["results"]).items()})
    return paths


def _write_per_class(out: Path, rows: list[dict], prov: dict, pooled_results: dict) -> dict[str, Path]:
    """compare_per_class.*: one row per (run, class), the metrics' columns labelled `cls`."""
    plots = []
    for name, m in METRICS.items():
        if name not in pooled_results:  # an Inception metric without weights: no plot
            continue
        cols = m.column_names(CLASS_LABEL, pooled_results[name])
        plots += [BarPlot(cols[p.key], f"{name}: {cols[p.key]}, each class's samples vs its real originals",
                          p.ylabel) for p in m.plots]
    pc_prov = {**prov, "per_class": {"label": CLASS_LABEL, "real": "first-level subfolders of --real, "
                                     "train.data.load_folder(labels=True, amplify_to=None), originals"}}
    return report.write_result(out / "compare_per_class", rows, pc_prov, plots=plots, notes=[PER_CLASS_NOTE],
                               title="Model comparison per class (class-conditional runs)")

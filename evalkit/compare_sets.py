"""The image sets `evalkit compare` measures, and every metric of evalkit.table on them.

The real set is the folder's unamplified originals: pooled (every image under the folder), and per
class (first-level subfolders, train.data.load_folder(labels=True)) when a run is class-conditional.
A conditional run's N samples get labels in the real originals' class proportions (largest
remainder, then a seeded shuffle), the frequencies it was trained with (train.loop draws fake
labels with the data's class frequencies). So its pooled set is comparable with an unconditional
run's N samples against the same pooled real set, and the samples of class c are its per-class set.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm

from evalkit.report import UNAVAILABLE_WEIGHTS
from evalkit.table import METRICS
from inkwash.cli import UserError

log = logging.getLogger(__name__)

CLASS_LABEL = "cls"      # the N label of per-class columns (fid_cls, ...): n_gen / n_real sit in their own columns


class CompareError(UserError):
    """Bad input for compare: one line naming the file or field and the fix."""


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


def load_real_classes(path: Path, resolution: int) -> dict[str, np.ndarray]:
    """Class name (first-level subfolder) -> its unamplified originals, uint8 (n_c, R, R, 3)."""
    from train.data import load_folder
    try:
        ds = load_folder(path, resolution, labels=True, amplify_to=None, progress=False)
    except ValueError as e:  # no image in any class subfolder
        raise CompareError(f"--real {path}: {e}; a class-conditional run needs one subfolder per class") from e
    original = np.asarray(ds.is_original, bool)
    labels = np.asarray(ds.label_ids)[original]
    return {name: ds.images_u8[original][labels == k] for k, name in enumerate(ds.class_names)}


def check_classes(run: str, class_names: list[str], real_classes: dict[str, np.ndarray], real: Path) -> None:
    """CompareError unless --real has exactly the run's classes as subfolders."""
    if sorted(class_names) != sorted(real_classes):
        raise CompareError(f"--real {real}: its class subfolders {sorted(real_classes)} differ from the classes "
                           f"{class_names} that {run} was trained on; pass that run's data folder")


def class_labels(n: int, counts: list[int], seed: int) -> np.ndarray:
    """n labels in proportion to `counts` (largest remainder; ties to the lower class id), shuffled
    with `seed`: int64 (n,). Every class with a real image gets a share of n * count / total."""
    counts_arr = np.asarray(counts, np.float64)
    quota = n * counts_arr / counts_arr.sum()
    alloc = np.floor(quota).astype(np.int64)
    order = np.argsort(-(quota - alloc), kind="stable")
    alloc[order[:n - int(alloc.sum())]] += 1
    labels = np.repeat(np.arange(len(counts), dtype=np.int64), alloc)
    return np.random.default_rng(seed).permutation(labels)


def feature_set(images_u8: np.ndarray, weights_path: Path | None, device: str, batch_size: int, *,
                progress: bool = False, desc: str = "features") -> dict:
    """A set as every metric reads it: images, and Inception pool3/logits when the weights are there."""
    from evalkit.features import extract_features
    out = {"images": images_u8}
    if weights_path is not None:
        out.update(extract_features(images_u8, weights_path, device=device, batch_size=batch_size,
                                    progress=progress, desc=desc))
    return out


def subset(s: dict, mask: np.ndarray) -> dict:
    """The rows of a feature set where `mask` holds (images, pool3, logits)."""
    return {k: s[k][mask] for k in ("images", "pool3", "logits") if k in s}


def references(real: dict, has_weights: bool, values: dict) -> dict:
    """The real set's own result of each metric that has one (MS-SSIM diversity of the real images)."""
    return {name: m(real[m.reads], values=values)
            for name, m in METRICS.items() if m.real_reference and (has_weights or not m.needs_inception)}


def measure(real: dict, gen: dict, values: dict, label: str, *, has_weights: bool, results: dict | None = None,
            progress: bool = False, desc: str = "metrics", tolerate: dict | None = None) -> dict:
    """Every metric of evalkit.table on one (real, generated) pair of sets: the row's columns.

    `real["reference"]` holds the real set's references. `results` (if given) keeps each metric's first
    result (for plots and provenance). With `tolerate` (results that name the columns, such as the
    pooled ones), a metric that cannot run on these sets (fewer images than IS splits, ...) fills its
    columns with the reason instead of stopping the run. The image-pair metrics (C2ST, Laplacian SWD,
    spectral score; fixed columns) always do: a real set too small for the C2ST's null must not cost
    the comparison its other metrics."""
    row: dict = {}
    bar = tqdm(METRICS.items(), desc=desc, unit="metric", disable=not progress, leave=False)
    for name, m in bar:
        bar.set_postfix_str(name)
        if m.needs_inception and not has_weights:
            row.update(dict.fromkeys(m.column_names(label).values(), UNAVAILABLE_WEIGHTS))
            continue
        sets = (real[m.reads], gen[m.reads]) if m.against_real else (gen[m.reads],)
        try:
            r = m(*sets, values=values)
            row.update({col: r[k] for k, col in m.column_names(label, r).items()})
            if results is not None:
                results.setdefault(name, r)
        except (UserError, ValueError) as e:
            if tolerate is None and not m.paired:
                raise
            r = (tolerate or {}).get(name)  # names the columns
            row.update(dict.fromkeys(m.column_names(label, r).values(), f"not computed: {e}"))
        if m.real_reference:
            ref = real["reference"].get(name)
            if ref is None:  # per class only: too few real images for the reference
                row.update(dict.fromkeys(m.column_names("real", r).values(), "not computed: too few real images"))
            else:
                row.update({col: ref[k] for k, col in m.column_names("real", ref).items()})
    return row


def per_class_rows(model: str, gen: dict, labels: np.ndarray, class_names: list[str], real_classes: dict,
                   values: dict, has_weights: bool, pooled_results: dict, progress: bool = False) -> list[dict]:
    """One row per class of a conditional run: its samples against that class's real originals
    (`pooled_results` name the columns of a metric that cannot run on a class)."""
    rows = []
    for k, name in enumerate(class_names):
        mask = labels == k
        rc = real_classes[name]
        row = {"model_class": f"{model}/{name}", "model": model, "class": name, "n_gen": int(mask.sum()),
               "n_real": len(rc["images"])}
        if row["n_gen"] < 2:  # a rare class at a small N: no set to measure
            why = f"not computed: {row['n_gen']} samples of this class (raise --n)"
            for m_name, m in METRICS.items():
                row.update(dict.fromkeys(m.column_names(CLASS_LABEL, pooled_results.get(m_name)).values(), why))
        else:
            row.update(measure(rc, subset(gen, mask), values, CLASS_LABEL, has_weights=has_weights,
                               progress=progress, desc=f"metrics {model}/{name}", tolerate=pooled_results))
        rows.append(row)
    return rows


def real_class_sets(path: Path, resolution: int, weights_path: Path | None, device: str, batch_size: int,
                    values: dict, progress: bool = False) -> dict[str, dict]:
    """Class name -> the class's real set (images, features, references), for per-class rows."""
    out = {}
    for name, images in load_real_classes(path, resolution).items():
        s = feature_set(images, weights_path, device, batch_size, progress=progress, desc=f"features real/{name}")
        try:
            s["reference"] = references(s, weights_path is not None, values)
        except (UserError, ValueError) as e:  # e.g. one real image in a class: no MS-SSIM pair
            log.warning("--real %s/%s: no real-set reference (%s)", path, name, e)
            s["reference"] = {}
        out[name] = s
    return out

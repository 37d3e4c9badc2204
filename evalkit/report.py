"""The one writer of results: `write_result(stem, rows, provenance)` -> csv, json, md and png plots.

Rows are plain dicts, one per model; the column names carry units and protocol (`fid_10k`,
`gen_10k_seconds`). A column `X_std` next to `X` is drawn as X's error bar. Plots are drawn from the
rows only: they never compute a number. Image plots read PNG files named in the rows
(`samples_png`, `nn_pairs_png`).
"""
from __future__ import annotations

import csv
import io
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inkwash import atomic

log = logging.getLogger(__name__)

UNAVAILABLE_WEIGHTS = "unavailable: no Inception weights"


@dataclass
class BarPlot:
    """One bar chart: `column` per row (`column`_std as error bar when present)."""
    column: str
    title: str
    ylabel: str


def n_label(n: int) -> str:
    """Column suffix for a sample count: 10000 -> '10k', 1000 -> '1k', 500 -> '500'."""
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else str(v)
    return v


def columns_of(rows: list[dict]) -> list[str]:
    """Union of the rows' keys in first-seen order."""
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    return cols


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if not math.isfinite(v):
            return str(v)
        if v == 0:
            return "0"
        a = abs(v)
        if a < 1e-3 or a >= 1e5:
            return f"{v:.4g}"
        return f"{v:.4f}" if a < 10 else f"{v:.2f}"
    return str(v)


def _flat(d: dict) -> str:
    return ", ".join(f"{a}: {b}" for a, b in d.items())


def markdown_table(rows: list[dict], columns: list[str]) -> str:
    """A Markdown table, transposed: one column per row (headed by its first value), one line per key."""
    key = columns[0]
    head = f"| {key} | " + " | ".join(_fmt(r.get(key)) for r in rows) + " |"
    sep = "| --- |" + " --- |" * len(rows)
    lines = [head, sep]
    for c in columns[1:]:
        lines.append(f"| `{c}` | " + " | ".join(_fmt(r.get(c)).replace("|", "/") for r in rows) + " |")
    return "\n".join(lines)


def _numeric(v) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float, np.integer, np.floating)) and math.isfinite(float(v)):
        return float(v)
    return None


def _plot_bar(path: Path, rows: list[dict], spec: BarPlot, key: str) -> bool:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names, values, errs = [], [], []
    for r in rows:
        v = _numeric(r.get(spec.column))
        if v is None:
            continue
        names.append(str(r.get(key, "?")))
        values.append(v)
        errs.append(_numeric(r.get(spec.column + "_std")) or 0.0)
    if not values:
        return False
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(values), 3.2), dpi=100)
    has_err = any(e > 0 for e in errs)
    ax.bar(names, values, yerr=errs if has_err else None, capsize=4, color="#4c72b0")
    ax.set_title(spec.title, fontsize=10)
    ax.set_ylabel(spec.ylabel, fontsize=9)
    if has_err:
        ax.text(0.99, 0.98, "error bars: std", transform=ax.transAxes, ha="right", va="top", fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def _plot_images(path: Path, rows: list[dict], column: str, title: str, key: str) -> bool:
    """Side-by-side panels of the PNG files named in `column` (relative to the output folder)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    panels = [(str(r.get(key, "?")), path.parent / r[column]) for r in rows
              if isinstance(r.get(column), (str, Path)) and (path.parent / r[column]).is_file()]
    if not panels:
        return False
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4.4), dpi=100, squeeze=False)
    for ax, (name, p) in zip(axes[0], panels):
        with Image.open(p) as im:
            ax.imshow(np.asarray(im.convert("RGB")), interpolation="nearest")
        ax.set_title(name, fontsize=10)
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def write_result(out_stem: Path, rows: list[dict], provenance: dict, plots: list[BarPlot] | None = None,
                 image_plots: dict[str, str] | None = None, notes: list[str] | None = None,
                 reference_md: str | None = None, title: str | None = None) -> dict[str, Path]:
    """Write `<stem>.csv`, `<stem>.json`, `<stem>.md` and `<stem>_<name>.png` plots; return the paths.

    Args:
        out_stem: e.g. results/table4_demo/compare.
        rows: one dict per model, its first key naming it; values are numbers, strings
            (e.g. 'unavailable: ...') or None.
        provenance: command, commit, hardware, date, versions, seeds, N, ... (`inkwash.provenance.provenance`).
        plots: bar charts, one PNG each (`<stem>_<column>.png`).
        image_plots: {column: title} for columns holding PNG paths, shown side by side.
        notes: Markdown paragraphs printed after the table.
        reference_md: a clearly labelled reference block (e.g. the paper's reported numbers).
    """
    if not rows:
        raise ValueError("rows: nothing to write; give at least one row")
    out_stem = Path(out_stem)
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    cols = columns_of(rows)
    paths: dict[str, Path] = {}

    # CSV: one row per model.
    s = io.StringIO()
    w = csv.DictWriter(s, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({c: ("" if r.get(c) is None else _jsonable(r.get(c))) for c in cols})
    paths["csv"] = out_stem.with_suffix(".csv")
    atomic.write_text(paths["csv"], s.getvalue())

    # Plots, from the rows only.
    plot_files: list[Path] = []
    for spec in plots or []:
        p = out_stem.with_name(f"{out_stem.name}_{spec.column}.png")
        if _plot_bar(p, rows, spec, cols[0]):
            plot_files.append(p)
    for column, ptitle in (image_plots or {}).items():
        p = out_stem.with_name(f"{out_stem.name}_{column.removesuffix('_png')}.png")
        if _plot_images(p, rows, column, ptitle, cols[0]):
            plot_files.append(p)
    for p in plot_files:
        paths[p.stem] = p

    # JSON: rows plus provenance.
    paths["json"] = out_stem.with_suffix(".json")
    doc = {"provenance": provenance, "columns": cols, "rows": rows,
           "plots": [p.name for p in plot_files], "notes": notes or []}
    atomic.write_text(paths["json"], json.dumps(_jsonable(doc), indent=2) + "\n")

    # Markdown: provenance, the table, notes, plots, reference block.
    md = [f"# {title or out_stem.name}", "", "## Provenance", ""]
    for k, v in provenance.items():
        if isinstance(v, dict) and v and all(isinstance(x, dict) for x in v.values()):  # e.g. one entry per metric
            md.append(f"- **{k}**:")
            md += [f"  - **{a}**: {_flat(b)}" for a, b in v.items()]
        elif isinstance(v, dict):
            md.append(f"- **{k}**: {_flat(v)}")
        else:
            md.append(f"- **{k}**: `{v}`" if k == "command" else f"- **{k}**: {v}")
    md += ["", "## Results (this run)", "", markdown_table(rows, cols), ""]
    if notes:
        md += ["## Notes", ""] + [n + "\n" for n in notes]
    if plot_files:
        md += ["## Plots", ""] + [f"![{p.stem}]({p.name})" for p in plot_files] + [""]
    if reference_md:
        md += [reference_md, ""]
    paths["md"] = out_stem.with_suffix(".md")
    atomic.write_text(paths["md"], "\n".join(md))
    log.info("wrote %s", ", ".join(str(p) for p in paths.values()))
    return paths

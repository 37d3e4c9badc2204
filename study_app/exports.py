"""`python -m study_app export`: the analyst's files, written from the database.

trials.csv, respondents.csv, images.csv, models.csv, table5.csv, table7.csv, table6.png,
stats.json, codebook.md and images/<image_id>.png (every study image as served). The codebook
(CODEBOOK below) documents every column and is also what `read_export` uses to give each reloaded
column its type, so the files round-trip. Text cells that a spreadsheet would run as a formula
are neutralised (`neutralise`, OWASP's rule for CSV injection).
"""
from __future__ import annotations

import argparse
import io
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from inkwash import atomic, cli
from inkwash.provenance import provenance

from study_app import inference as I
from study_app import tables as T
from study_app.analysis import Analysis, analyse
from study_app.config import AGE_BANDS, GENDERS, StudyOptions, default_db_url
from study_app.store import Store, StoreError

log = logging.getLogger(__name__)

_B = "true / false"
_G = ", ".join(GENDERS) + " (empty: not given yet)"
_AGE = ", ".join(AGE_BANDS) + " (empty: not given yet)"
_BANDS = ", ".join(b for b, _ in T.BANDS)

# file -> [(column, type, meaning, allowed values)]; types: str, int, Int64 (int or empty),
# float, bool, boolean (bool or empty), datetime (ISO 8601 UTC).
CODEBOOK: dict[str, list[tuple[str, str, str, str]]] = {
    "trials.csv": [
        ("respondent_id", "int", "respondent (joins respondents.csv)", ">= 1"),
        ("trial_index", "int", "position in the respondent's sequence, practice first", ">= 0"),
        ("image_id", "str", "opaque image id (joins images.csv)", "hex token"),
        ("is_generated", "bool", "the image was made by a generator (catch: the instructed answer is 'generated')", _B),
        ("model", "str", "generator that made the image (empty for real and catch images)", "model names"),
        ("kind", "str", "trial type; only main trials are scored", "main, practice, catch"),
        ("answer", "str", "the respondent's answer", "real, generated"),
        ("correct", "bool", "answer matches the image's class", _B),
        ("shown_at", "datetime", "server time the image was sent", "ISO 8601 UTC"),
        ("answered_at", "datetime", "server time the answer was stored", "ISO 8601 UTC"),
        ("response_ms", "Int64", "ms from the image being on screen (decoded and painted in the "
         "browser) to the click, measured by the browser and capped at server_ms; answers under "
         "the study's minimum viewing time are refused, not stored", ">= 0"),
        ("server_ms", "Int64", "ms from the server sending the trial to receiving the answer "
         "(includes the network and the image's loading; empty for answers stored before it was "
         "recorded)", ">= 0"),
        ("simulated", "bool", "the respondent was simulated (`simulate` verb), not a person", _B),
        ("included", "bool", "the respondent finished and passed every exclusion rule", _B)],
    "respondents.csv": [
        ("respondent_id", "int", "respondent", ">= 1"),
        ("gender", "str", "self-described gender", _G),
        ("age_band", "str", "age band (paper Table 5)", _AGE),
        ("clothing_work", "boolean", "works in a clothing-related job", _B + " (empty: not given)"),
        ("background", "str", "education / professional background, free text", "<= 200 characters"),
        ("consent_version", "str", "version (SHA-256 prefix) of the consent text agreed to", "12 hex digits"),
        ("consented_at", "datetime", "time of consent", "ISO 8601 UTC"),
        ("started_at", "datetime", "time the session started", "ISO 8601 UTC"),
        ("finished_at", "datetime", "time the last trial was answered (empty: unfinished)", "ISO 8601 UTC"),
        ("completion_code", "str", "code shown on the thank-you page", "10 characters"),
        ("seed", "int", "seed of this respondent's image subset and order", ">= 0"),
        ("simulated", "bool", "simulated respondent (`simulate` verb), not a person", _B),
        ("finished", "bool", "answered every trial", _B),
        ("excluded", "bool", "finished but failed an exclusion rule (see stats.json exclusions)", _B),
        ("exclusion_reason", "str", "rules failed, '; '-separated (empty if none)",
         "failed catch trial, identical answers, too fast"),
        ("included", "bool", "finished and not excluded: counted in every table and test", _B),
        ("n_main", "int", "main trials answered", "0-50 in the paper's design"),
        ("n_correct", "int", "main trials answered correctly", "0..n_main"),
        ("accuracy", "float", "n_correct / n_main", "0-1"),
        ("accuracy_band", "str", "Table 7 band of 100 * accuracy (empty: no main trial)", _BANDS),
        ("n_generated", "int", "generated images among the main trials", ">= 0"),
        ("n_real", "int", "real images among the main trials", ">= 0"),
        ("hits", "int", "generated images called generated", ">= 0"),
        ("false_alarms", "int", "real images called generated", ">= 0"),
        ("fakes_called_real", "int", "generated images called real (fooled)", ">= 0"),
        ("reals_called_fake", "int", "real images called generated", ">= 0"),
        ("median_response_ms", "float", "median main-trial response time, ms", ">= 0"),
        ("identical_answers", "bool", "the same answer on every main trial", _B),
        ("n_catch", "int", "catch trials answered", ">= 0"),
        ("n_catch_failed", "int", "catch trials not answered as instructed", ">= 0"),
        ("p_value", "float", "exact one-sided binomial p of accuracy > 0.5 (included only)", "0-1"),
        ("p_holm", "float", "p_value Holm-adjusted over included respondents", "0-1"),
        ("acc_ci_low", "float", "95 % Wilson interval of accuracy, lower end", "0-1"),
        ("acc_ci_high", "float", "95 % Wilson interval of accuracy, upper end", "0-1"),
        ("hit_rate", "float", "(hits + 0.5) / (n_generated + 1), log-linear corrected", "0-1"),
        ("false_alarm_rate", "float", "(false_alarms + 0.5) / (n_real + 1)", "0-1"),
        ("d_prime", "float", "sensitivity z(hit_rate) - z(false_alarm_rate)", "real number"),
        ("criterion_c", "float", "bias -(z(hit) + z(fa)) / 2; > 0 leans to 'real'", "real number")],
    "images.csv": [
        ("image_id", "str", "opaque image id", "hex token"),
        ("class", "str", "image class", "real, generated"),
        ("is_generated", "bool", "made by a generator", _B),
        ("model", "str", "generator (empty for real and catch images)", "model names"),
        ("kind", "str", "how the image is used", "main, practice, catch"),
        ("n_answers", "int", "main-trial answers from included respondents", ">= 0"),
        ("n_fooled", "int", "answers that got its class wrong (generated called real or real called generated)", ">= 0"),
        ("fool_rate", "float", "n_fooled / n_answers (empty: never shown)", "0-1"),
        ("fool_ci_low", "float", "95 % Wilson interval of fool_rate, lower end", "0-1"),
        ("fool_ci_high", "float", "95 % Wilson interval of fool_rate, upper end", "0-1"),
        ("path", "str", "the image file in this export folder, as respondents saw it", "images/<image_id>.png")],
    "models.csv": [
        ("class", "str", "image class", "real, generated"),
        ("model", "str", "generator ('real' for real images)", "model names, real"),
        ("n_images", "int", "main images of this class/model", ">= 0"),
        ("n_answers", "int", "answers to them from included respondents", ">= 0"),
        ("n_fooled", "int", "answers that got the class wrong", ">= 0"),
        ("fool_rate", "float", "n_fooled / n_answers", "0-1"),
        ("fool_ci_low", "float", "95 % interval, lower end: percentile bootstrap resampling "
         "respondents with all their answers (a respondent's answers are not independent)", "0-1"),
        ("fool_ci_high", "float", "95 % interval, upper end (respondent bootstrap)", "0-1")],
    "table5.csv": [
        ("group", "str", "respondents counted", "all, clothing work, other work"),
        ("gender", "str", "gender, or the margin", ", ".join(GENDERS) + ", total"),
        ("age_band", "str", "age band, or the margin", ", ".join(AGE_BANDS) + ", total"),
        ("n", "int", "included respondents in the cell", ">= 0"),
        ("proportion", "float", "n / the group's total", "0-1"),
        ("n_simulated", "int", "how many of n are simulated", "0..n")],
    "table7.csv": [
        ("band", "str", "accuracy band in percent; " + T.BAND_RULE, _BANDS + ", total"),
        ("lower_pct", "int", "band's lower edge, %", "0, 20, 40, 60, 80"),
        ("upper_pct", "int", "band's upper edge, %", "20, 40, 60, 80, 100"),
        ("n", "int", "included respondents in the band", ">= 0"),
        ("proportion", "float", "n / included respondents", "0-1"),
        ("n_simulated", "int", "how many of n are simulated", "0..n")],
}


@dataclass
class StudyExportConfig:
    """Options of `python -m study_app export` (the analyst's files; not export's ONNX ExportConfig)."""
    out: Path = Path("study-export")    # folder for the files (created)
    study: str = ""                    # study name ("" = the newest study)
    db: str = ""                       # database URL ("" = $STUDY_DB_URL or sqlite:///study.db)
    n_bootstrap: int = I.N_BOOTSTRAP   # bootstrap resamples of respondents
    seed: int = 0                      # bootstrap and Table 6 seed
    table6_per_class: int = 6          # images per class (and per model) in table6.png


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")   # what a spreadsheet may run as a formula (OWASP)
IMAGES = "images"                                   # the export's folder of study images


def to_csv(df: pd.DataFrame) -> str:
    """One table as CSV text, the one way every export and download writes it: CRLF line ends
    (RFC 4180), so a field holding a carriage return is quoted too (with pandas' default "\n" it
    was written bare and split the row on reading)."""
    return df.to_csv(index=False, lineterminator="\r\n")


def neutralise(text: str) -> str:
    """A text cell a spreadsheet cannot run: one that starts with = + - @ tab or CR gets a
    leading apostrophe (OWASP's CSV-injection rule); any other text is unchanged."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def analyse_study(store: Store, study: str, n_boot: int = I.N_BOOTSTRAP, seed: int = 0) -> Analysis:
    """The study's frames from the Store, analysed with its own exclusion rules."""
    rules = store.get_study(study).options.exclusion
    return analyse(store.respondents_frame(study), store.trials_frame(study),
                   store.images_frame(study), rules, n_boot=n_boot, seed=seed)


def frames(res: Analysis) -> dict[str, pd.DataFrame]:
    """The CSV tables, with the codebook's columns in order."""
    resp = res.respondents.copy()
    resp["accuracy_band"] = [T.accuracy_band(k, n) if n > 0 else None
                             for k, n in zip(resp["n_correct"], resp["n_main"])]
    resp["accuracy"] = resp["accuracy"].astype(float)
    images = res.images.assign(path=[f"{IMAGES}/{i}.png" for i in res.images["image_id"]])
    src = {"trials.csv": res.trials, "respondents.csv": resp, "images.csv": images,
           "models.csv": res.models, "table5.csv": res.table5, "table7.csv": res.table7}
    out = {}
    for name, cols in CODEBOOK.items():
        df = src[name][[c for c, *_ in cols]].reset_index(drop=True)
        for c, t, *_ in cols:
            if t == "str":      # one text representation: Python str, None (empty cell) for missing
                text = df[c].astype(object).where(df[c].notna() & (df[c] != ""), None)
                df[c] = pd.Series([None if v is None else neutralise(str(v)) for v in text],
                                  index=df.index, dtype=object)
        out[name] = df
    return out


def jsonable(x):
    """x with numpy scalars as Python numbers and NaN/inf as None (valid JSON)."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return None if not math.isfinite(float(x)) else float(x)
    if isinstance(x, (np.bool_,)):
        return bool(x)
    return x


def table6_figure(store: Store, study: str, per_class: int = 6, seed: int = 0):
    """Table 6 as a figure: one row of real study images and one row per generator, labelled."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image
    img = store.images_frame(study)
    img = img[img["kind"] == "main"]
    rng = np.random.default_rng(seed)
    rows = [("Real", img[~img["is_generated"]])]
    for m in sorted(img.loc[img["is_generated"], "model"].fillna("(unnamed)").unique()):
        rows.append((f"Generated ({m})",
                     img[img["is_generated"] & (img["model"].fillna("(unnamed)") == m)]))
    n_cols = max(1, min(per_class, max(len(r) for _, r in rows)))
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(1.9 * n_cols, 2.2 * len(rows)),
                             squeeze=False)
    for r, (label, sub) in enumerate(rows):
        ids = sorted(sub["image_id"])
        pick = [ids[i] for i in sorted(rng.choice(len(ids), min(n_cols, len(ids)), replace=False))]
        for c in range(n_cols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= len(pick):
                ax.axis("off")
                continue
            ax.imshow(np.asarray(Image.open(io.BytesIO(store.image_png(pick[c]))).convert("RGB")))
            ax.set_title(pick[c][:8], fontsize=7)
            if c == 0:
                ax.set_ylabel(label, fontsize=10)
    fig.suptitle(f"Table 6: real and generated patterns in study '{study}'", fontsize=11)
    fig.tight_layout()
    return fig


def figure_png(fig, dpi: int) -> bytes:
    """A matplotlib figure as PNG bytes; the figure is closed."""
    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()


def codebook_markdown(study: str, options: StudyOptions) -> str:
    """codebook.md: the study's answer-time floor, then every file's columns with type, meaning
    and allowed values."""
    lines = [f"# Codebook: export of study '{study}'", "",
             "CSV files are UTF-8 with a header row and CRLF line ends; booleans are `True`/`False`; times are "
             "ISO 8601 in UTC; an empty cell means missing. Only main trials of included "
             "respondents (finished, no exclusion rule failed) enter the tables and statistics. "
             "Rows with simulated = True come from `python -m study_app simulate`, not people.", "",
             "Text cells that begin with `=`, `+`, `-`, `@`, a tab or a carriage return are written "
             "with a leading apostrophe (`'`), so that no spreadsheet runs them as a formula (OWASP, "
             "CSV injection); the apostrophe is not part of the answer.", "",
             f"Minimum viewing time: {options.min_view_ms} ms. The answer buttons unlocked this long "
             "after each image appeared on the respondent's screen, and the server refused any "
             "answer faster by the browser's clock or its own; refused answers are not stored.", "",
             "Table 7 rule: " + T.BAND_RULE, ""]
    for name, cols in CODEBOOK.items():
        lines += [f"## {name}", "", "| column | type | meaning | allowed values |",
                  "| --- | --- | --- | --- |"]
        lines += [f"| `{c}` | {t} | {m} | {v} |" for c, t, m, v in cols]
        lines.append("")
    lines += [f"## {IMAGES}/", "", "Every study image as respondents were served it (PNG, padded "
              "to one byte length), named by its image_id; images.csv's path column points to it.", "",
              "## table6.png", "", "A grid of the study's main images: one row of real patterns, "
              "one row per generator, each labelled with its class and the first 8 characters "
              "of its image id.", "", "## stats.json", "",
              "Each statistic with its numbers and a `reading` (one plain-language line): "
              + ", ".join(f"`{k}`" for k in (I.KEY_BINOMIAL, I.KEY_ACCURACY, I.KEY_SDT, I.KEY_WELCH,
                                             I.KEY_GEE, I.KEY_ORDER, "exclusions"))
              + "; `provenance` says what produced it.", ""]
    return "\n".join(lines)


def write_export(store: Store, cfg: StudyExportConfig) -> dict[str, Path]:
    """Write every export file into cfg.out, each atomically; returns file name -> path."""
    study = cfg.study or (store.study_names() or [None])[0]
    if study is None:
        raise StoreError("--db: the database holds no study; create one with `python -m study_app create`")
    res = analyse_study(store, study, cfg.n_bootstrap, cfg.seed)
    prov = provenance(study=study, db=store.shown_url, n_bootstrap=cfg.n_bootstrap, seed=cfg.seed,
                      band_rule=T.BAND_RULE, exclusion_rules=res.rules.describe(),
                      simulated_respondents=res.progress["simulated"])
    out = Path(cfg.out)
    files: dict[str, bytes | str] = {name: to_csv(df) for name, df in frames(res).items()}
    files["table6.png"] = figure_png(table6_figure(store, study, cfg.table6_per_class, cfg.seed), dpi=110)
    files["stats.json"] = json.dumps(jsonable({**res.stats, "provenance": prov}), indent=2)
    files["codebook.md"] = codebook_markdown(study, store.get_study(study).options)
    for image_id in res.images["image_id"]:
        files[f"{IMAGES}/{image_id}.png"] = store.image_png(image_id)
    for name, data in files.items():
        if isinstance(data, bytes):
            atomic.write_bytes(out / name, data)
        else:
            atomic.write_text(out / name, data)
    return {name: out / name for name in files}


def read_csv(path: Path) -> pd.DataFrame:
    """Reload one exported CSV with the codebook's column types."""
    path = Path(path)
    types = {c: t for c, t, *_ in CODEBOOK[path.name]}
    df = pd.read_csv(path, dtype={c: "object" for c in types}, keep_default_na=False,
                     na_values=[""])
    for c, t in types.items():
        s = df[c]
        if t == "int":
            df[c] = s.astype("int64")
        elif t == "Int64":
            df[c] = pd.to_numeric(s).astype("Int64")
        elif t == "float":
            df[c] = pd.to_numeric(s).astype(float)
        elif t in ("bool", "boolean"):
            b = s.map({"True": True, "False": False}, na_action="ignore")
            df[c] = b.astype(bool) if t == "bool" else b.astype("boolean")
        elif t == "datetime":
            df[c] = pd.to_datetime(s, utc=True, format="ISO8601")
        else:
            df[c] = s.astype(object).where(s.notna(), None)
    return df


def read_export(folder: Path) -> dict[str, pd.DataFrame]:
    """Every CSV of an export folder, typed as the codebook says."""
    return {name: read_csv(Path(folder) / name) for name in CODEBOOK}


def configure(p: argparse.ArgumentParser) -> None:
    """The export verb's arguments (defaults from StudyExportConfig)."""
    d = StudyExportConfig
    p.add_argument("--db", default=d.db, help="database URL (default: $STUDY_DB_URL or sqlite:///study.db)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--study", default=d.study, help="study name (default: the newest)")
    p.add_argument("--n-bootstrap", type=int, default=d.n_bootstrap, help="bootstrap resamples")
    p.add_argument("--seed", type=int, default=d.seed, help="bootstrap and Table 6 seed")
    p.add_argument("--table6-per-class", type=int, default=d.table6_per_class,
                   help="images per row in table6.png")


def run(args: argparse.Namespace) -> int:
    """Check the options, write the files, name each one on stderr."""
    cfg = StudyExportConfig(**vars(args))
    if cfg.n_bootstrap < 100:
        raise cli.UserError(f"--n-bootstrap {cfg.n_bootstrap}: give at least 100 resamples (10000 recommended)")
    if cfg.table6_per_class < 1:
        raise cli.UserError(f"--table6-per-class {cfg.table6_per_class}: give at least 1")
    store = Store(cfg.db or default_db_url())
    try:
        written = write_export(store, cfg)
    finally:
        store.close()
    images = [p for name, p in written.items() if name.startswith(f"{IMAGES}/")]
    for name, path in written.items():
        if not name.startswith(f"{IMAGES}/"):
            log.info("wrote %s", path)
    log.info("wrote %d study images in %s", len(images), Path(cfg.out) / IMAGES)
    return 0

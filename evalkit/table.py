"""The metric table: every metric that `python -m evalkit` has a verb for and `evalkit compare` writes
columns for, as stylegan2-ada's metric_main.py registers its metrics, but as a plain dict.

An entry says what a metric reads (Inception pool3 features, Inception logits or uint8 images; of the
generated set alone, or of a real set and a generated set), its options (command-line flags whose
defaults are the function's own keyword defaults), the compare columns its result fills, the plots
drawn from them and the note printed under the table. The protocol shows in the names: the function's
(`kid_incv3_poly3`: Inception-v3 features, cubic kernel) or the columns' (`precision_incv3_k{k}`). The
maths is a pure function in evalkit.metrics, registered as it is when it takes (real, gen) or (gen)
and returns a dict, else through a small function here that unpacks and names its result. Adding a
metric is one entry (plus its maths):

    "spectral": Metric(spectral.spectral_score, IMAGES, against_real=True, help="spectral artefact score ...",
                       columns={"spectral_db": "spectral_db"}, summary="{spectral_db:.3f} dB"),

It then has a verb (`python -m evalkit spectral REAL GEN --json`), a compare column and a provenance
entry (the function, its definition and the options it ran with). A metric of two image sets
(`paired`) has its verb decode and resize both through one checked path; one whose columns depend on
its result (one per pyramid level) names them with `level_columns`; `human` prints its verb's table.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from evalkit import c2st, lapswd, metrics, quality, spectral
from inkwash.cli import positive_int

POOL3 = "pool3"     # Inception-v3 pool3 features, float32 (N, 2048)
LOGITS = "logits"   # Inception-v3 logits_unbiased, float32 (N, 1008)
IMAGES = "images"   # the images themselves, uint8 (N, H, W, 3)
COMMON = ("seed", "batch_size")  # settings every metric may take by keyword: the sampling seed, a batch size


@dataclass(frozen=True)
class Option:
    """A metric's own command-line flag; its default is the function's keyword default."""
    flag: str                                     # e.g. "--splits"
    dest: str                                     # the function's keyword, e.g. "splits"
    help: str
    type: Callable[[str], object] = positive_int


@dataclass(frozen=True)
class Plot:
    """A bar chart of one result key's column. The title is formatted with the result's keys, `n_gen`,
    `n_real` and `real` (the real set's result, for metrics with `real_reference`)."""
    key: str
    title: str
    ylabel: str


@dataclass(frozen=True)
class Metric:
    """One metric: fn(real, gen, **options) when `against_real`, else fn(gen, **options) -> result dict."""
    fn: Callable[..., dict]
    reads: str                        # POOL3 | LOGITS | IMAGES: what each set is passed as
    against_real: bool                # True: a generated set against a real one (CLI: A = real, B = generated)
    help: str                         # one line for the verb list
    columns: dict[str, str]           # result key -> compare column; {N} = the N label ("10k"), or a result key
    summary: str                      # the human result line (after the value, if any), formatted with the result
    options: tuple[Option, ...] = ()
    plots: tuple[Plot, ...] = ()
    note: str = ""                    # a Markdown note under the compare table, formatted like plot titles
    real_reference: bool = False      # compare also measures the real set (its columns use N = "real")
    level_columns: Callable[[dict], dict[str, str]] | None = None  # result -> more columns (one per pyramid level)
    detail_keys: tuple[str, ...] = ()  # result keys for the verb's --json only (curves), not compare's provenance
    human: Callable[[dict], str] | None = None  # the verb's text for people (a small table); else value + summary

    def __post_init__(self):
        params = inspect.signature(self.fn).parameters
        for o in self.options:  # a misspelt option must fail here, not pass silently
            if o.dest not in params or params[o.dest].default is inspect.Parameter.empty:
                raise TypeError(f"{self.fn.__name__}: option {o.flag} needs a keyword {o.dest!r} with a default")

    @property
    def needs_inception(self) -> bool:
        return self.reads in (POOL3, LOGITS)

    @property
    def paired(self) -> bool:
        """Two image sets compared pixel by pixel: a verb decodes and resizes both through one checked path
        (evalkit.imagesets.load_pair), since any processing difference is a cue."""
        return self.reads == IMAGES and self.against_real

    @property
    def definition(self) -> str:
        """The first paragraph of the function's docstring, on one line."""
        return " ".join((inspect.getdoc(self.fn) or "").split("\n\n")[0].split())

    def defaults(self) -> dict:
        """Option dest -> default, read from the function's signature (written once)."""
        params = inspect.signature(self.fn).parameters
        return {o.dest: params[o.dest].default for o in self.options}

    def settings(self, values: dict) -> dict:
        """The keyword arguments this metric runs with: its defaults, overridden by `values`."""
        params = inspect.signature(self.fn).parameters
        keys = [o.dest for o in self.options] + [k for k in COMMON if k in params]
        return {**self.defaults(), **{k: values[k] for k in keys if values.get(k) is not None}}

    def __call__(self, *sets, values: dict) -> dict:
        """Measure `sets` (real, gen or gen alone; each as `reads`) with the options found in `values`."""
        return self.fn(*sets, **self.settings(values))

    def column_names(self, n_label: str, result: dict | None = None) -> dict[str, str]:
        """Result key -> column name for a result (None: the columns of a metric that could not run, named
        with its default options)."""
        return {k: c.format(N=n_label, **{**self.defaults(), **(result or {})})
                for k, c in self._templates(result).items()}

    def _templates(self, result: dict | None) -> dict[str, str]:
        """Result key -> column template: the fixed columns and those that depend on the result."""
        return {**self.columns, **(self.level_columns(result) if self.level_columns and result else {})}

    def provenance(self, values: dict, result: dict | None = None) -> dict:
        """What a result file records about this metric: function, definition, options and result facts."""
        skip = {*self._templates(result), *self.detail_keys}
        facts = {k: v for k, v in (result or {}).items() if k not in skip and not isinstance(v, np.ndarray)}
        return {"function": f"{self.fn.__module__}.{self.fn.__name__}", "definition": self.definition,
                "reads": self.reads, "options": self.settings(values), "result": facts}


def fid_incv3(real_pool3: np.ndarray, gen_pool3: np.ndarray) -> dict:
    """FID (Heusel et al. 2017) on Inception-v3 pool3 features, torch-fidelity 0.4.0's definition."""
    r = metrics.fid(real_pool3, gen_pool3)
    return {"value": r["value"], "n": [r["n_a"], r["n_b"]], "small_n_warning": r["small_n_warning"]}


def is_incv3_logits(gen_logits: np.ndarray, splits: int = 10, rng_seed: int = 2020) -> dict:
    """Inception Score (Salimans et al. 2016) of Inception-v3 logits_unbiased over seeded splits."""
    r = metrics.inception_score(gen_logits, splits=splits, seed=rng_seed)
    return {"value": r["mean"], "std": r["std"], "n": r["n"], "splits": r["splits"]}


def kid_incv3_poly3(real_pool3: np.ndarray, gen_pool3: np.ndarray, subsets: int = 100, subset_size: int = 1000,
                    rng_seed: int = 2020) -> dict:
    """KID (Binkowski et al. 2018): unbiased MMD^2, cubic polynomial kernel on Inception-v3 pool3, over
    seeded subsets of min(subset_size, N) images."""
    r = metrics.kid(real_pool3, gen_pool3, subsets=subsets, subset_size=subset_size, seed=rng_seed)
    return {"value": r["mean"], "std": r["std"], "n": [r["n_a"], r["n_b"]], "subset_size": r["subset_size"],
            "subsets": r["subsets"]}


def ms_ssim_pairs(gen_u8: np.ndarray, pairs: int = 1000, seed: int = 0, batch_size: int = 32) -> dict:
    """MS-SSIM diversity (Odena et al. 2017): mean MS-SSIM of seeded random pairs of distinct images,
    images under 161 px upsampled bicubic to 256 (then labelled ms_ssim_up256)."""
    r = metrics.ms_ssim_diversity(gen_u8, pairs=pairs, seed=seed, batch_size=batch_size)
    return {"value": r["mean"], "std": r["std"], "sem": r["sem"], "pairs": r["pairs"], "n": r["n"],
            "label": r["label"], "upsampled": r["upsampled"], "device": "cpu", "dtype": "float64"}


METRICS: dict[str, Metric] = {
    "fid": Metric(
        fid_incv3, POOL3, against_real=True, help="Frechet Inception Distance of A (real) vs B (generated)",
        columns={"value": "fid_{N}", "small_n_warning": "fid_{N}_small_n_warning"},
        summary="N={n}, biased below 2048 images: {small_n_warning}",
        plots=(Plot("value", "FID, N={n_gen} vs {n_real} real", "FID"),),
        note="FID is biased in N and needs more than 2048 images on each side to be stable; compare rows only "
             "within this table."),
    "is": Metric(
        is_incv3_logits, LOGITS, against_real=False, help="Inception Score of A",
        columns={"value": "is_{N}", "std": "is_{N}_std"}, summary="N={n}, {splits} splits",
        options=(Option("--rng-seed", "rng_seed", "IS shuffle seed", int), Option("--splits", "splits", "IS splits")),
        plots=(Plot("value", "Inception Score, N={n_gen}, {splits} splits", "IS"),),
        note="`is_*_std` is the standard deviation over {splits} splits."),
    "kid": Metric(
        kid_incv3_poly3, POOL3, against_real=True, help="Kernel Inception Distance of A (real) vs B (generated)",
        columns={"value": "kid_{N}", "std": "kid_{N}_std"}, summary="N={n}, subset size {subset_size} x {subsets}",
        options=(Option("--rng-seed", "rng_seed", "KID subsets seed", int),
                 Option("--subsets", "subsets", "KID subsets"),
                 Option("--subset-size", "subset_size", "KID subset size; min(this, N) is used and recorded")),
        plots=(Plot("value", "KID, subset size {subset_size}", "KID"),),
        note="KID is unbiased; its subset size is {subset_size}, `kid_*_std` the standard deviation over "
             "{subsets} subsets."),
    "pr": Metric(
        metrics.precision_recall, POOL3, against_real=True, help="improved precision and recall of B (generated) "
        "against A (real)", columns={"precision": "precision_incv3_k{k}", "recall": "recall_incv3_k{k}"},
        summary="precision {precision:.4g}, recall {recall:.4g} (k={k}, {n_real} real, {n_gen} generated)",
        options=(Option("--k", "k", "k-th nearest neighbour sets each ball's radius"),),
        plots=(Plot("precision", "precision (Inception features, k={k})", "precision"),
               Plot("recall", "recall (Inception features, k={k})", "recall")),
        note="`precision_incv3_k{k}` / `recall_incv3_k{k}` use Inception-v3 features, not the VGG-16 features of "
             "Kynkaanniemi et al. 2019: not comparable with published precision/recall values."),
    "msssim": Metric(
        ms_ssim_pairs, IMAGES, against_real=False, help="MS-SSIM diversity of A (lower = more diverse)",
        columns={"value": "{label}_{N}", "std": "{label}_{N}_std", "sem": "{label}_{N}_sem"},
        summary="{label}, {pairs} pairs, SEM {sem:.3g}",
        options=(Option("--pairs", "pairs", "random pairs of distinct images"),),
        plots=(Plot("value", "MS-SSIM diversity ({pairs} pairs; real: {real[value]:.3f})",
                    "mean MS-SSIM (lower = more diverse)"),),
        note="MS-SSIM diversity over {pairs} pairs (`_std` over pairs, `_sem` the standard error of the mean); "
             "lower = more diverse; the real set's value (`*_real`) is the target.",
        real_reference=True),
    "c2st": Metric(
        quality.c2st_real_vs_generated, IMAGES, against_real=True,
        help="classifier two-sample test of A (real) vs B (generated): held-out ROC AUC, real-vs-real null",
        columns={c2st.KEY_AUC: "c2st_auc", c2st.KEY_AUC_LOW: "c2st_auc_ci_low", c2st.KEY_AUC_HIGH: "c2st_auc_ci_high",
                 "log_loss": "c2st_log_loss", "n_per_side": "c2st_n_per_side", c2st.KEY_NULL_AUC: "c2st_null_auc",
                 quality.KEY_NULL_LOW: "c2st_null_auc_ci_low", quality.KEY_NULL_HIGH: "c2st_null_auc_ci_high",
                 "null_n_per_side": "c2st_null_n_per_side"},
        summary="AUC {c2st_auc:.3f} [{c2st_auc_ci_low:.3f}, {c2st_auc_ci_high:.3f}], null {c2st_null_auc:.3f}",
        human=quality.human_c2st,
        options=(Option("--folds", "folds", "cross-fitting folds"),
                 Option("--epochs", "epochs", "training epochs per fold"),
                 Option("--threads", "threads", "torch threads (the AUC is reproducible at a given count)"),
                 Option("--max-per-side", "max_per_side", "at most this many images per side (seeded subset)")),
        plots=(Plot(c2st.KEY_AUC, "C2ST AUC, {n_per_side} per side (0.5 = chance; null {c2st_null_auc:.2f})",
                    "ROC AUC (lower is better)"),),
        note="`c2st_auc`: held-out ROC AUC of a small CNN told to separate generated from real images "
             "(Lopez-Paz & Oquab 2017; {folds} folds, {epochs} epochs, seed {seed}, 95 % DeLong CI in `_ci_low` / "
             "`_ci_high`). 0.5 = indistinguishable, 1.0 = trivially separable: lower is better, down to "
             "`c2st_null_auc`, the same test on two halves of the real set (the floor for this data and size). "
             "N used: {n_per_side} images per side (each side a seeded subset of at most {max_per_side}), "
             "the null {null_n_per_side} per side. Both sides are uint8 RGB at the runs' resolution: the real "
             "originals decoded and resized as training loads them, the samples straight from the ONNX "
             "sampler, never resized."),
    "lapswd": Metric(
        quality.lapswd_real_vs_generated, IMAGES, against_real=True,
        help="Laplacian-pyramid sliced Wasserstein distance x 1e3 of A (real) vs B (generated)",
        columns={lapswd.KEY_SWD_MEAN: "lapswd_x1e3", "n": "lapswd_n_per_side"},
        level_columns=quality.lapswd_level_columns, human=quality.human_lapswd,
        summary="mean {lapswd_x1e3:.3f} over levels {levels_px} px, {n} images per side",
        options=(Option("--max-per-side", "max_per_side", "at most this many images per side (seeded subset)"),),
        plots=(Plot(lapswd.KEY_SWD_MEAN, "Laplacian SWD x 1e3 (mean of {levels_px} px), N = {n}",
                    "SWD x 1e3 (lower is better)"),),
        note="`lapswd_x1e3`: Laplacian-pyramid sliced Wasserstein distance x 10^3 (Karras et al. 2018), the mean "
             "of the levels `lapswd_x1e3_<px>` ({levels_px} px; fine levels: texture and artefacts, coarse: layout "
             "and large shapes). 0 for identical sets; lower is better. It grows as N shrinks: {n} images per side "
             "(a seeded subset of at most {max_per_side}); compare values only at equal N."),
    "spectral": Metric(
        spectral.spectral_score, IMAGES, against_real=True,
        help="spectral artefact score of B (generated) against A (real): radial power spectrum distance, dB",
        columns={spectral.KEY_SPECTRAL: "spectral_db", spectral.KEY_SPECTRAL_BIAS: "spectral_bias_db"},
        detail_keys=("rings_cpi", "curve_a_db", "curve_b_db"), human=quality.human_spectral,
        summary="{spectral_db:.3f} dB over rings >= {band_start_cpi} cycles per image, bias {spectral_bias_db:+.3f}",
        plots=(Plot(spectral.KEY_SPECTRAL, "spectral score, rings >= {band_start_cpi} cycles per image",
                    "dB (lower is better)"),),
        note="`spectral_db`: mean |difference| in dB of the radially averaged power spectra over the upper band "
             "(rings >= {band_start_cpi} cycles per image; after Durall et al. 2020). 0 for identical sets; lower "
             "is better. `spectral_bias_db` > 0: too much high-frequency power (the checkerboard of stride-2 "
             "transposed convolutions, noise); < 0: too smooth (blur). All {n_b} samples against all {n_a} real "
             "originals."),
}

"""python -m export design MODEL.onnx --out DIR: seamless repeats, variations and garment mock-ups.

For each of N designs (seeds S, S+1, ..., S+N-1) this samples the pattern from the exported
generator, makes it a seamless tile (export.tiling), walks the latent space around it
(variations and a spherical interpolation to the next seed; conditional models also sweep the
classes), prints the tile on garment mock-ups (export.garments) and writes one design sheet per
pattern (export.sheets): DIR/<design id>.png, .pdf and .json, the tile itself in DIR/tiles/,
and DIR/designs.csv with the seam scores of every tile.

A sheet depends only on its own seed and the options, never on N or on the other designs: the
latents of design k are ``sampler.latents(1, k)`` and everything on its sheet is generated in one
fixed batch, so ``--n 1 --seed k`` reproduces that sheet byte for byte.
"""
from __future__ import annotations

import argparse
import csv
import io
import logging
import sys
import shlex
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from export import garments as garments_mod
from export import sheets, tiling
from inkwash import provenance
from inkwash.atomic import write_bytes, write_text
from inkwash.cli import UserError
from inkwash.hashing import sha256_file
from train.device import DEVICES

log = logging.getLogger(__name__)

# Where the promise of identical bytes holds (also written into every sheet's sidecar).
BYTE_IDENTICAL = (
    "The PNG and PDF repeat byte for byte for the same model file, options and seed on the same machine, "
    "with the same execution provider and the same versions of onnxruntime, numpy, Pillow and matplotlib "
    "(on CUDA also the same GPU model, driver, CUDA and cuDNN). design runs onnxruntime with deterministic "
    "compute and, on CUDA, a fixed cuDNN convolution algorithm (no timing search, which can pick another "
    "kernel in another session) and no TF32. Another machine, provider or library version can move a "
    "pixel by a grey level, and so change the bytes.")
REPRO_PACKAGES = ("numpy", "onnxruntime", "onnxruntime-gpu", "pillow", "matplotlib")


@dataclass
class DesignConfig:
    model: Path                                # generator.onnx written by `python -m export onnx`
    out: Path = Path("designs")                # output folder for sheets, tiles and designs.csv
    n: int = 12                                # number of designs: seeds seed .. seed + n - 1
    seed: int = 0                              # first design's latent seed (sampler.latents(1, seed))
    garments: str = ",".join(garments_mod.GARMENTS)  # comma-separated mock-ups to draw
    repeat_scale: float = 0.25                 # width of one printed repeat / garment width, (0, 4]
    rotation: float = 0.0                      # print rotation on the garments, degrees
    method: str = "poisson"                    # seam removal: poisson | poisson-offset | feather (export.tiling)
    band: float = tiling.DEFAULT_BAND          # seam band per side, fraction of the tile size, (0, 0.5]
    steps: int = 8                             # images per strip (variations, interpolation, classes)
    sigma: float = 0.3                         # largest variation strength (latent mix, see sheets.variation_latents)
    label: str | None = None                   # conditional models: class index or name; None = seed % classes
    recipe: list[str] | None = None            # studio recipes (export.studio.recipes), one sheet each, instead of seeds
    device: str = "auto"                       # auto | cpu | cuda (onnxruntime execution provider)
    pdf: bool = True                           # also write the PDF sheet
    dry_run: bool = False                      # print the resolved config and exit
    quiet: bool = False                        # no progress bar


def configure(p: argparse.ArgumentParser) -> None:
    """The arguments of `python -m export design`."""
    d = DesignConfig
    p.add_argument("model", type=Path, help="generator.onnx (with its generator.json sidecar)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--n", type=int, default=d.n, help="number of designs (seeds SEED .. SEED+N-1)")
    p.add_argument("--seed", type=int, default=d.seed, help="latent seed of the first design")
    p.add_argument("--garments", default=d.garments, help=f"comma-separated, from {', '.join(garments_mod.GARMENTS)}")
    p.add_argument("--repeat-scale", type=float, default=d.repeat_scale,
                   help="width of one printed repeat as a fraction of the garment width (0.25 = 4 across)")
    p.add_argument("--rotation", type=float, default=d.rotation, help="print rotation on the garments, degrees")
    p.add_argument("--method", choices=tiling.METHODS, default=d.method, help="seam removal method")
    p.add_argument("--band", type=float, default=d.band, help="seam band on each side, fraction of the tile size")
    p.add_argument("--steps", type=int, default=d.steps, help="images per variation / interpolation / class strip")
    p.add_argument("--sigma", type=float, default=d.sigma, help="largest latent variation strength")
    p.add_argument("--label", default=d.label,
                   help="conditional models: class of every design, as an index or a name from the model's "
                        "class_names; none = seed %% number of classes")
    p.add_argument("--recipe", action="append", default=d.recipe, metavar="RECIPE",
                   help="a design studio recipe (e.g. 1a2b3c4d:around(seed(3),seed(7);spread=0.5,draw=2)): one "
                        "sheet for it instead of seeds; repeat for several; with it, leave --n and --seed out")
    p.add_argument("--device", choices=DEVICES, default=d.device, help="onnxruntime device")
    p.add_argument("--pdf", action=argparse.BooleanOptionalAction, default=d.pdf,
                   help="also write the PDF sheet (--no-pdf: PNG and JSON only)")
    p.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def check_config(cfg: DesignConfig) -> list[str]:
    """Validate the options (not the model); returns the garment names. Raises UserError naming the flag."""
    names = [g.strip() for g in cfg.garments.split(",") if g.strip()]
    bad = [g for g in names if g not in garments_mod.GARMENTS]
    if not names or bad:
        raise UserError(f"--garments: unknown {', '.join(bad) or '(empty)'}; "
                         f"choose from {', '.join(garments_mod.GARMENTS)}")
    if len(set(names)) != len(names):
        raise UserError(f"--garments: {cfg.garments!r} names a garment twice; list each once")
    if cfg.n < 1:
        raise UserError(f"--n: must be >= 1, got {cfg.n}")
    if cfg.seed < 0:
        raise UserError(f"--seed: must be >= 0, got {cfg.seed}")
    if not 0.0 < cfg.repeat_scale <= 4.0:
        raise UserError(f"--repeat-scale: must be in (0, 4], got {cfg.repeat_scale}")
    if not 0.0 < cfg.band <= 0.5:
        raise UserError(f"--band: must be in (0, 0.5], got {cfg.band}")
    if not 2 <= cfg.steps <= 12:
        raise UserError(f"--steps: must be in 2..12 (they share one row of the sheet), got {cfg.steps}")
    if not 0.0 < cfg.sigma <= 2.0:
        raise UserError(f"--sigma: must be in (0, 2], got {cfg.sigma}")
    if cfg.recipe and (cfg.n, cfg.seed) != (DesignConfig.n, DesignConfig.seed):
        raise UserError("--recipe: each recipe is one sheet and fixes its own latents; leave --n and --seed out")
    if cfg.recipe:
        from export.studio.recipes import parse
        for text in cfg.recipe:
            parse(text)   # a recipe that cannot be read fails before the model is loaded
    return names


def _sweep_classes(num_classes: int, steps: int) -> np.ndarray:
    """Class indices for the across-class strip: all classes, or `steps` spread evenly over them."""
    if num_classes <= steps:
        return np.arange(num_classes)
    return np.unique(np.linspace(0, num_classes - 1, steps).round().astype(np.int64))


@dataclass(frozen=True)
class Origin:
    """Where one sheet's latents come from: a seed (`seed_origin`) or a design studio recipe
    (`export.studio.recipes.sheet_origin`)."""

    z: np.ndarray            # (latent_dim,) the design's latent
    z_next: np.ndarray       # (latent_dim,) where the interpolation strip walks to
    variation_seed: int      # the variation strip's directions: SeedSequence([variation_seed, VARIATION_STREAM])
    label: int | None        # class of a conditional design; None: --label, else variation_seed % classes
    tag: str                 # design id after the model prefix: S0007 (seed), R<sha8 of the recipe> (recipe)
    line: str                # header text naming the latent: "seed 7"
    walk: str                # interpolation strip title after "slerp ": "seed 7 to 8"
    args: str                # command-line words that choose it: "--n 1 --seed 7"
    record: dict             # sidecar fields naming the latents
    to: dict                 # sidecar "interpolation" fields naming the walk's end
    brief: bool = False      # the reproduce command leaves options at their defaults out (long recipes)


def seed_origin(sampler, seed: int) -> Origin:
    """Design `seed`: latents(1, seed), walking to seed + 1 (what `--seed` and `--n` give)."""
    return Origin(sampler.latents(1, seed)[0], sampler.latents(1, seed + 1)[0], seed, None, f"S{seed:04d}",
                  f"seed {seed}", f"seed {seed} to {seed + 1}", f"--n 1 --seed {seed}",
                  {"seed": seed, "latents": "sampler.latents(1, seed)[0]"}, {"to_seed": seed + 1})


def _command(cfg: DesignConfig, origin: Origin, names: list[str], label: int | None) -> str:
    """The command that reproduces one sheet (model by file name; its SHA-256 is on the sheet)."""
    d = DesignConfig
    opts = [("--garments", ",".join(names), d.garments),
            ("--repeat-scale", f"{cfg.repeat_scale:g}", f"{d.repeat_scale:g}"),
            ("--rotation", f"{cfg.rotation:g}", f"{d.rotation:g}"), ("--method", cfg.method, d.method),
            ("--band", f"{cfg.band:g}", f"{d.band:g}"), ("--steps", str(cfg.steps), str(d.steps)),
            ("--sigma", f"{cfg.sigma:g}", f"{d.sigma:g}")]
    if cfg.label is not None:
        opts.append(("--label", str(label), None))  # the index: no quoting of class names needed
    words = [f"{flag} {value}" for flag, value, default in opts if not (origin.brief and value == default)]
    return " ".join([f"python -m export design {cfg.model.name} --out DIR {origin.args}", *words])


def make_design(sampler, cfg: DesignConfig, seed: int, names: list[str], model_sha256: str,
                origin: Origin | None = None) -> tuple:
    """One design: sample, tile, walk, dress. Returns (SheetContent, sidecar dict, TileResult).

    `origin`: the latents from elsewhere (a studio recipe); None: `seed_origin(sampler, seed)`."""
    o = origin or seed_origin(sampler, seed)
    k = cfg.steps
    z = o.z
    var_z, strengths = sheets.variation_latents(z, o.variation_seed, k, cfg.sigma)
    t = np.linspace(0.0, 1.0, k)
    walk_z = sheets.slerp(z, o.z_next, t)
    batch = [z[None], var_z, walk_z]
    conditional = sampler.num_classes > 0
    c = None if cfg.label is None else sampler.class_index(cfg.label)  # unconditional models refuse --label
    if conditional:
        c = next(x for x in (o.label, c, o.variation_seed % sampler.num_classes) if x is not None)
        sweep = _sweep_classes(sampler.num_classes, k)
        batch.append(np.repeat(z[None], len(sweep), axis=0))
        labels = np.concatenate([np.full(1 + 2 * k, c, np.int64), sweep])
    else:
        sweep, labels = np.zeros(0, np.int64), None
    latents = np.concatenate(batch).astype(np.float32)
    images = sampler.generate(latents, labels, batch_size=len(latents))  # one fixed batch per design
    pattern = images[0]
    var_u8, walk_u8, sweep_u8 = images[1:1 + k], images[1 + k:1 + 2 * k], images[1 + 2 * k:]

    tile = tiling.make_seamless(pattern, cfg.method, cfg.band)
    class_names = sampler.class_names or [str(i) for i in range(sampler.num_classes)]
    cname = class_names[c] if conditional else None
    design_id = f"IW-{model_sha256[:8]}-{o.tag}" + (f"-C{c}" if conditional else "")
    walk_title = f"slerp {o.walk}" + (f", within class {cname}" if conditional else "")
    strips = [(f"variations, strength up to {cfg.sigma:g}", var_u8, [f"s {s:.2f}" for s in strengths]),
              (walk_title, walk_u8, [f"t {v:.2f}" for v in t])]
    if conditional:
        strips.append(("same latent across classes", sweep_u8, [class_names[i][:14] for i in sweep]))
    meta, spec = sampler.meta, sampler.spec
    header = [
        f"model {spec.name} · {cfg.model.name} · sha256 {model_sha256[:12]}"
        + (f" · iteration {meta['iteration']}" if meta.get("iteration") is not None else ""),
        f"{sampler.resolution} px · latent {sampler.latent_dim} · "
        + (f"class {cname} ({c} of {sampler.num_classes})" if conditional else "unconditional"),
        f"{o.line} · repeat {cfg.repeat_scale:g} of garment width · rotation {cfg.rotation:g}°",
        f"seam {tile.seam_before:.2f} → {tile.seam_after:.2f} ({cfg.method}, band {tile.band_px} px)",
    ]
    content = sheets.SheetContent(
        design_id=design_id, pattern_u8=pattern, tile_u8=tile.tile_u8,
        garments_u8=sheets.garment_row(tile.tile_u8, names, cfg.repeat_scale, cfg.rotation),
        strips=strips, header_lines=header, command=_command(cfg, o, names, c),
        seam_before=tile.seam_before, seam_after=tile.seam_after)
    sidecar = {
        "design_id": design_id, **o.record,
        "class": c, "class_name": cname,
        "model": {"path": str(cfg.model), "sha256": model_sha256, "iteration": meta.get("iteration"),
                  **spec.to_dict()},
        "provider": sampler.provider,
        "tiling": {"method": cfg.method, "band": cfg.band, "band_px": tile.band_px,
                   "seam_score_before": tile.seam_before, "seam_score_after": tile.seam_after,
                   "seam_score": "mean |jump| across the wrapped border / mean |step| between neighbours inside"},
        "variations": {"strengths": strengths.tolist(), "rule": "(z + s*e)/sqrt(1+s^2), e from "
                       f"SeedSequence([{o.variation_seed}, {sheets.VARIATION_STREAM}])"},
        "interpolation": {**o.to, "t": t.tolist(), "method": "slerp"},
        "class_sweep": sweep.tolist(),
        "garments": {"names": names, "repeat_scale": cfg.repeat_scale, "rotation_deg": cfg.rotation},
        "command": content.command,
    }
    return content, sidecar, tile


def make_sheets(cfg: DesignConfig) -> list[dict]:
    """Make every design of `cfg`; returns one row per design (also written to DIR/designs.csv)."""
    from export import load_sampler
    from export.onnx_export import versions

    names = check_config(cfg)
    sampler = load_sampler(cfg.model, cfg.device, deterministic=True)
    repro = reproducibility(sampler)
    model_sha256 = sampler.meta.get("model_sha256") or sha256_file(cfg.model)
    jobs = [(seed, cfg.label, None) for seed in range(cfg.seed, cfg.seed + cfg.n)]  # (seed, label, origin)
    if cfg.recipe:
        from export.studio.recipes import design_jobs
        jobs = design_jobs(cfg.recipe, sampler, model_sha256, cfg.label)
    log.info("design: %d sheets from %s on %s -> %s", len(jobs), cfg.model, sampler.provider, cfg.out)
    date = provenance.utc_now()
    rows = []
    for (seed, label, origin), text in tqdm(zip(jobs, cfg.recipe or [None] * len(jobs)), total=len(jobs),
                                            desc="design", unit="sheet", disable=cfg.quiet):
        content, sidecar, tile = make_design(sampler, replace(cfg, label=label), seed, names, model_sha256, origin)
        sheet = sheets.compose_sheet(content)
        tile_path = cfg.out / "tiles" / f"{content.design_id}_tile.png"
        write_bytes(tile_path, sheets.png_bytes(tile.tile_u8))
        sidecar.update(date=date, tile=str(tile_path.relative_to(cfg.out)), versions=versions(), reproducibility=repro,
                       full_command=" ".join(["python -m export design", *map(str, _argv_of(cfg))]))
        files = sheets.write_sheet(cfg.out / content.design_id, sheet, content.design_id, sidecar, cfg.pdf)
        rows.append({"design_id": content.design_id, "seed": seed, "class": sidecar["class"],
                     "method": cfg.method, "band_px": tile.band_px,
                     "seam_before": round(tile.seam_before, 4), "seam_after": round(tile.seam_after, 4),
                     "png": files["png"].name, "pdf": files["pdf"].name if "pdf" in files else "",
                     **({"recipe": text} if cfg.recipe else {})})
    _write_csv(cfg.out / "designs.csv", rows)
    return rows


def reproducibility(sampler) -> dict:
    """Where this sheet's bytes repeat: the statement, the provider and its options, the libraries."""
    from export.providers import CUDA, build_info
    out = {"byte_identical": BYTE_IDENTICAL, "provider": sampler.provider,
           "provider_options": sampler.provider_options, "deterministic_compute": True,
           "versions": provenance.versions(REPRO_PACKAGES)}
    if sampler.provider == CUDA:
        import torch
        info = build_info()
        out.update(gpu=provenance.gpu_names() if torch.cuda.is_available() else "unknown (this torch has no CUDA)",
                   onnxruntime_cuda=info["cuda_version"], onnxruntime_cudnn_major=info["cudnn_major"])
    return out


def _argv_of(cfg: DesignConfig) -> list[str]:
    picks = [w for r in cfg.recipe for w in ("--recipe", shlex.quote(r))] if cfg.recipe else \
        ["--n", str(cfg.n), "--seed", str(cfg.seed)]
    return [str(cfg.model), "--out", str(cfg.out), *picks,
            "--garments", cfg.garments, "--repeat-scale", f"{cfg.repeat_scale:g}", "--rotation", f"{cfg.rotation:g}",
            "--method", cfg.method, "--band", f"{cfg.band:g}", "--steps", str(cfg.steps), "--sigma", f"{cfg.sigma:g}"] \
        + (["--label", str(cfg.label)] if cfg.label is not None else [])


def _write_csv(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    write_text(path, buf.getvalue())


def format_table(rows: list[dict]) -> str:
    """The per-tile seam scores as a Markdown table."""
    lines = ["| design | seed | class | seam before | seam after |", "| --- | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['design_id']} | {r['seed']} | {'' if r['class'] is None else r['class']} | "
              f"{r['seam_before']:.2f} | {r['seam_after']:.2f} |" for r in rows]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """`python -m export design`: the sheets, their seam table on stderr, the output folder on stdout."""
    cfg = DesignConfig(**vars(args))
    check_config(cfg)
    if cfg.dry_run:
        for k, v in asdict(cfg).items():
            print(f"{k}: {v}")
        return 0
    if not cfg.model.is_file():
        raise UserError(f"{cfg.model}: no such model file; export one with python -m export onnx RUN_DIR")
    rows = make_sheets(cfg)
    print(format_table(rows), file=sys.stderr)
    print(cfg.out)
    return 0

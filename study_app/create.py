"""`python -m study_app create`: set a study up from image folders or an ONNX generator."""
from __future__ import annotations

import argparse
import logging
import math
import random
import re
import secrets
import shlex
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from sqlalchemy.engine import URL, make_url

from inkwash import atomic
from inkwash.cli import UserError
from inkwash.hashing import sha256_bytes

from study_app import images as img
from study_app.config import (DEFAULT_CONSENT_TEXT, ExclusionRules, StudyConfig, StudyOptions,
                              consent_version, default_db_url)
from study_app.store import Store, StoreError

log = logging.getLogger(__name__)
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
MIN_SIDE = 16           # px: a smaller file is an icon or a stray, not a pattern (as in training)
SIDES = ("real", "fake")


class CreateError(UserError):
    """Bad input to `create`; the message names the option and the fix."""


@dataclass
class Source:
    """One image before re-encoding: a file, or pixels sampled from a generator."""
    is_generated: bool
    model: str | None
    path: Path | None = None
    pixels: np.ndarray | None = None   # uint8 HWC, for sampled fakes
    label: str = ""                    # where it came from, for the images table (analysts only)

    def open(self) -> Image.Image:
        return img.load_rgb(self.path) if self.path is not None else Image.fromarray(self.pixels, "RGB")


def configure(p: argparse.ArgumentParser) -> None:
    """The create verb's arguments (defaults from StudyConfig and ExclusionRules)."""
    d, rules = StudyConfig, ExclusionRules
    p.add_argument("--name", required=True, help="study name (letters, digits, . _ -)")
    p.add_argument("--real", type=Path, required=True, help="folder of real patterns")
    p.add_argument("--fake", action="append", default=[], metavar="[NAME=]DIR",
                   help="folder of generated patterns; repeat with NAME=DIR for several models")
    p.add_argument("--model", type=Path, default=None, metavar="[NAME=]MODEL.onnx",
                   help="ONNX generator to sample the fakes from instead of --fake")
    p.add_argument("--n", type=int, default=d.n, help="number of fakes sampled from --model")
    p.add_argument("--per-class", type=int, default=d.per_class, help="real and generated images per respondent")
    p.add_argument("--db", default=d.db, help="database URL; empty: $STUDY_DB_URL, else sqlite:///study.db")
    p.add_argument("--image-dir", type=Path, default=None,
                   help="where the study's PNGs go; None: next to a SQLite file, else ./study-images")
    p.add_argument("--disclose-ratio", action="store_true", help="tell respondents half the images are generated")
    p.add_argument("--practice", type=int, default=d.practice, help="practice trials with feedback (even)")
    p.add_argument("--catch", type=int, default=d.catch, help="attention-check trials")
    p.add_argument("--min-view-ms", type=int, default=d.min_view_ms,
                   help="ms an image is on screen before it can be answered (0 = no minimum)")
    p.add_argument("--allow-mixed-sizes", action="append", default=[], choices=SIDES, metavar="SIDE",
                   help="accept images of different sizes in --real or --fake (repeatable: real, fake); "
                        "without it a side of mixed sizes is an error")
    p.add_argument("--consent-file", type=Path, default=None, help="Markdown consent text; None: the built-in text")
    p.add_argument("--min-median-ms", type=int, default=rules.min_median_response_ms,
                   help="exclusion rule: median response time floor in ms (0 = off)")
    p.add_argument("--exclude-failed-catch", action=argparse.BooleanOptionalAction,
                   default=rules.exclude_failed_catch, help="exclusion rule: any catch trial answered wrongly")
    p.add_argument("--exclude-identical-answers", action=argparse.BooleanOptionalAction,
                   default=rules.exclude_identical_answers,
                   help="exclusion rule: the same answer on every main trial")
    p.add_argument("--seed", type=int, default=d.seed, help="seed for subsets and generator sampling")
    p.add_argument("--device", default=d.device, choices=["auto", "cpu", "cuda"], help="ONNX device for --model")


def _split_named(spec: str) -> tuple[str | None, str]:
    if "=" in spec:
        name, _, path = spec.partition("=")
        return name.strip(), path
    return None, spec


def _default_model_name(path: Path) -> str:
    """runs/NAME/export/generator.onnx -> NAME; otherwise the file's stem."""
    if path.parent.name == "export" and path.parent.parent.name:
        return path.parent.parent.name
    return path.stem


def _image_sources(folder: Path, option: str, is_generated: bool, model: str | None) -> list[Source]:
    if not folder.is_dir():
        raise CreateError(f"{option} {folder}: not a folder; give a folder of images")
    files = img.list_images(folder)
    if not files:
        raise CreateError(f"{option} {folder}: no image files ({', '.join(img.IMAGE_SUFFIXES)}) found")
    return [Source(is_generated, model, path=f, label=str(f.resolve())) for f in files]


def _size(source: Source, option: str) -> tuple[int, int]:
    """(width, height) of a source file as displayed (EXIF orientations 5-8 swap them)."""
    try:
        with Image.open(source.path) as im:
            w, h = im.size
            turned = im.getexif().get(0x0112, 1) in (5, 6, 7, 8)
    except OSError as e:
        raise CreateError(f"{option} {source.path}: unreadable image ({e}); remove it") from e
    if min(w, h) < MIN_SIDE:
        raise CreateError(f"{option} {source.path}: {w}x{h} px is too small for a pattern "
                          f"(minimum {MIN_SIDE} px); remove it")
    return (h, w) if turned else (w, h)


def check_sizes(sources: list[Source], option: str, side: str, allowed: tuple[str, ...]) -> list[int]:
    """The shorter side of every file, after refusing a side whose files differ in size (a stray
    file would silently set the generator resolution) unless `side` is in `allowed`."""
    sizes = [_size(s, option) for s in sources]
    counts: dict[tuple[int, int], list[Source]] = {}
    for s, size in zip(sources, sizes):
        counts.setdefault(size, []).append(s)
    if len(counts) > 1 and side not in allowed:
        groups = sorted(counts.items(), key=lambda kv: -len(kv[1]))
        listed = ", ".join(f"{w}x{h}: {len(files)}" for (w, h), files in groups[:4])
        raise CreateError(f"{option}: images of {len(counts)} sizes ({listed}; e.g. "
                          f"{groups[-1][1][0].path}); give one size, or --allow-mixed-sizes {side}")
    return [min(size) for size in sizes]


def _refuse_shared_files(reals: list[Source], fakes: dict[str, list[Source]]) -> None:
    """The same file may not be both real and generated, nor come from two generators."""
    seen = {s.path.resolve(): "--real" for s in reals}
    for name, pool in fakes.items():
        for s in pool:
            if s.path is None:
                continue
            where = seen.setdefault(s.path.resolve(), f"--fake {name}")
            if where != f"--fake {name}":
                raise CreateError(f"--fake {name}: {s.path} is also in {where}; real and generated "
                                  "images must come from different files")


def gather(cfg: StudyConfig) -> tuple[list[Source], dict[str, list[Source]], int]:
    """The real pool, the generated pools by model, and the generator resolution (px)."""
    reals = _image_sources(Path(cfg.real), "--real", False, None)
    check_sizes(reals, "--real", "real", cfg.allow_mixed_sizes)
    fakes: dict[str, list[Source]] = {}
    sizes: list[int] = []
    if cfg.fake and cfg.model:
        raise CreateError("--fake and --model: give one of them, not both")
    for spec in cfg.fake:
        name, path = _split_named(spec)
        name = name or Path(path).name
        if not name or name in fakes:
            raise CreateError(f"--fake {spec}: model name {name!r} empty or repeated; use NAME=DIR")
        fakes[name] = _image_sources(Path(path), "--fake", True, name)
        sizes += check_sizes(fakes[name], f"--fake {spec}", "fake", cfg.allow_mixed_sizes)
    _refuse_shared_files(reals, fakes)
    if cfg.model:
        name, path = _split_named(str(cfg.model))
        path = Path(path)
        if not path.is_file():
            raise CreateError(f"--model {path}: no such file; give an exported generator.onnx")
        if cfg.n < 1:
            raise CreateError("--n: give the number of fakes to sample from --model (>= 1)")
        from export import load_sampler   # the one place study_app uses export
        try:
            sampler = load_sampler(path, device=cfg.device)
        except (ValueError, RuntimeError) as e:   # export's ModelFileError / DeviceError
            raise CreateError(f"--model {path}: {e}") from e
        name = name or _default_model_name(path)
        log.info("sampling %d fakes from %s on %s", cfg.n, path, sampler.provider)
        labels = None
        if sampler.num_classes:
            labels = np.arange(cfg.n, dtype=np.int64) % sampler.num_classes
        pixels = sampler.sample(cfg.n, seed=cfg.seed, labels=labels)
        fakes[name] = [Source(True, name, pixels=pixels[i], label=f"{path.resolve()}#seed={cfg.seed}&i={i}")
                       for i in range(len(pixels))]
        sizes.append(int(sampler.resolution))
    if not fakes:
        raise CreateError("--fake DIR or --model MODEL.onnx --n N: give the generated images")
    return reals, fakes, min(sizes)


def _check(cfg: StudyConfig) -> None:
    if not NAME_RE.match(cfg.name or ""):
        raise CreateError(f"--name {cfg.name!r}: use 1-100 letters, digits, '.', '_' or '-'")
    if cfg.per_class < 1:
        raise CreateError("--per-class: must be at least 1")
    if cfg.practice < 0 or cfg.practice % 2:
        raise CreateError("--practice: must be an even number >= 0 (half real, half generated)")
    if cfg.catch < 0:
        raise CreateError("--catch: must be >= 0")
    if cfg.exclusion.min_median_response_ms < 0:
        raise CreateError("--min-median-ms: must be >= 0")
    if not 0 <= cfg.min_view_ms <= 10_000:
        raise CreateError(f"--min-view-ms {cfg.min_view_ms}: give 0 to 10000 ms")
    if cfg.consent_file is not None and not Path(cfg.consent_file).is_file():
        raise CreateError(f"--consent-file {cfg.consent_file}: no such file")


def _default_image_dir(db_url: str, name: str) -> Path:
    u = make_url(db_url)
    if u.get_backend_name() == "sqlite" and u.database not in (None, "", ":memory:"):
        db = Path(u.database).expanduser().resolve()
        return db.parent / f"{db.stem}-images" / name
    return Path("study-images").resolve() / name


def split_pools(reals: list[Source], fakes: dict[str, list[Source]], cfg: StudyConfig,
                rng: random.Random) -> list[tuple[Source, str, str | None]]:
    """Set practice and catch images aside; returns (source, kind, catch answer or None) rows."""
    n_models = len(fakes)
    prac_real, prac_fake = cfg.practice // 2, cfg.practice - cfg.practice // 2
    need_real = cfg.per_class + prac_real + cfg.catch
    if len(reals) < need_real:
        raise CreateError(f"--real {cfg.real}: {len(reals)} images; need {cfg.per_class} (per class) + "
                          f"{prac_real} (practice) + {cfg.catch} (catch) = {need_real}")
    per_model = math.ceil(cfg.per_class / n_models)
    prac_by_model = {m: 0 for m in fakes}
    for i in range(prac_fake):
        prac_by_model[sorted(fakes)[i % n_models]] += 1
    for m, pool in fakes.items():
        if len(pool) < per_model + prac_by_model[m]:
            raise CreateError(f"generated pool {m!r}: {len(pool)} images; need {per_model} per respondent "
                              f"+ {prac_by_model[m]} practice; add images (or --n)")
    reals = reals[:]
    rng.shuffle(reals)
    rows = [(s, "practice", None) for s in reals[:prac_real]]
    rows += [(s, "catch", rng.choice(["real", "generated"])) for s in reals[prac_real:prac_real + cfg.catch]]
    rows += [(s, "main", None) for s in reals[prac_real + cfg.catch:]]
    for m in sorted(fakes):
        pool = fakes[m][:]
        rng.shuffle(pool)
        k = prac_by_model[m]
        rows += [(s, "practice", None) for s in pool[:k]] + [(s, "main", None) for s in pool[k:]]
    return rows


def _name_taken(db_url: str, name: str) -> bool:
    """Whether an existing study database at `db_url` already has a study `name` (opening none)."""
    try:
        store = Store(db_url)
    except StoreError:
        return False          # no study database there yet (create makes it), or one line later
    try:
        return store.find_study(name) is not None
    finally:
        store.close()


def serve_command(db_url: str, study: str) -> tuple[str, str | None]:
    """The command that serves the new study, and a note when its URL's password was left out:
    the command then leaves it to $PGPASSWORD (libpq reads it), so it still works when pasted."""
    u = make_url(db_url)
    note = None
    if u.password:      # (URL.set(password=None) would keep it: None there means "unchanged")
        u = URL.create(u.drivername, username=u.username, host=u.host, port=u.port,
                       database=u.database, query=u.query)
        note = ("the serve command leaves the database password out: set PGPASSWORD to it first "
                "(PostgreSQL's client library reads it), e.g. `read -rs PGPASSWORD; export PGPASSWORD`")
    url = u.render_as_string(hide_password=False)
    return f"python -m study_app --db {shlex.quote(url)} --study {shlex.quote(study)}", note


def create_study(cfg: StudyConfig) -> dict:
    """Build the study: re-encode every image, write the PNGs, record study + images. Returns a
    summary dict (name, db, image_dir, counts, png_bytes)."""
    _check(cfg)
    db_url = cfg.db or default_db_url()
    if _name_taken(db_url, cfg.name):
        raise CreateError(f"--name {cfg.name}: a study with this name exists in the database; choose another")
    text = Path(cfg.consent_file).read_text(encoding="utf-8") if cfg.consent_file else DEFAULT_CONSENT_TEXT
    reals, fakes, gen_res = gather(cfg)
    display = StudyOptions.display_size
    rng = random.Random(cfg.seed)
    rows = split_pools(reals, fakes, cfg, rng)
    if gen_res < display:
        log.info("generator resolution %d px < display %d px: reals reduced to %d px, then both "
                 "classes upscaled alike", gen_res, display, gen_res)
    rng.shuffle(rows)   # processing and file order carry no class pattern

    pngs, kept = [], []
    for source, kind, catch_answer in rows:
        try:
            pixels = img.to_display(source.open(), gen_res, display)
        except OSError as e:
            raise CreateError(f"{source.label}: unreadable image ({e}); remove it") from e
        if catch_answer is not None:
            pixels = img.render_catch(pixels, catch_answer)
        pngs.append(img.encode_png(pixels))
        kept.append((source, kind, catch_answer))
    pngs = img.pad_all(pngs)

    image_dir = Path(cfg.image_dir).resolve() if cfg.image_dir else _default_image_dir(db_url, cfg.name)
    try:
        image_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CreateError(f"--image-dir {image_dir}: cannot create it ({e.strerror}); give a writable "
                          "folder") from e
    # The database is made only now, after every check passed (an empty image folder is all a
    # database that cannot be made leaves behind); study and images go in one transaction, so a
    # failure leaves no half-made study behind.
    store = Store(db_url, create=True)
    options = StudyOptions(per_class=cfg.per_class, disclose_ratio=cfg.disclose_ratio,
                           practice=cfg.practice, catch=cfg.catch, generator_resolution=gen_res,
                           min_view_ms=cfg.min_view_ms, models=tuple(sorted(fakes)), seed=cfg.seed,
                           exclusion=cfg.exclusion)
    records = []
    for png, (source, kind, catch_answer) in zip(pngs, kept):
        image_id = secrets.token_hex(12)
        path = image_dir / f"{image_id}.png"
        atomic.write_bytes(path, png)
        is_generated = (catch_answer == "generated") if kind == "catch" else source.is_generated
        records.append({"id": image_id, "is_generated": is_generated,
                        "model": source.model if kind != "catch" else None, "kind": kind,
                        "path": str(path), "source": source.label,
                        "sha256": sha256_bytes(png), "png": png})
    try:
        store.create_study(cfg.name, options, text, consent_version(text), str(image_dir), records)
    finally:
        store.close()
    counts = {k: sum(1 for r in records if r["kind"] == k) for k in ("main", "practice", "catch")}
    return {"name": cfg.name, "db": db_url, "image_dir": str(image_dir), "models": sorted(fakes),
            "real": sum(1 for r in records if r["kind"] == "main" and not r["is_generated"]),
            "generated": sum(1 for r in records if r["kind"] == "main" and r["is_generated"]),
            **counts, "generator_resolution": gen_res, "png_bytes": len(pngs[0])}


def run(args: argparse.Namespace) -> int:
    """Create the study, log what it holds, print the command that serves it."""
    rules = ExclusionRules(exclude_failed_catch=args.exclude_failed_catch,
                           exclude_identical_answers=args.exclude_identical_answers,
                           min_median_response_ms=args.min_median_ms)
    cfg = StudyConfig(name=args.name, real=args.real, fake=args.fake, model=args.model, n=args.n,
                      per_class=args.per_class, db=args.db, image_dir=args.image_dir,
                      disclose_ratio=args.disclose_ratio, practice=args.practice, catch=args.catch,
                      consent_file=args.consent_file, exclusion=rules, seed=args.seed, device=args.device,
                      min_view_ms=args.min_view_ms, allow_mixed_sizes=tuple(args.allow_mixed_sizes))
    s = create_study(cfg)
    command, note = serve_command(s["db"], s["name"])
    log.info("study %s: %d real + %d generated main images (models: %s), %d practice, %d catch; "
             "generator resolution %d px; every PNG %d bytes; images in %s",
             s["name"], s["real"], s["generated"], ", ".join(s["models"]), s["practice"], s["catch"],
             s["generator_resolution"], s["png_bytes"], s["image_dir"])
    if note:
        log.info("%s", note)
    print(command)
    return 0

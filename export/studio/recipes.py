"""Recipes: a tile written as text (model, class, latent), so the text alone reproduces the tile.

A recipe reads ``<model>[:c<class>]:<latent>``, for example ``1a2b3c4d:c2:seed(7)``:

- ``<model>``: the first 8 hex digits of the model file's SHA-256 (also the prefix of its design ids);
- ``c<class>``: the class index, for class-conditional models only;
- ``<latent>``, one of
  - ``seed(K)``: ``make_latents(1, D, K)[0]``, the latent of ``python -m export design --seed K``;
  - ``around(L1,...,Ln;spread=S,draw=K)`` (interactive evolution, "more like these"): the mean of the
    latents L1..Ln, rescaled to their mean length so it stays on the prior's shell, mixed with one
    seeded direction e as ``(m + S e) / sqrt(1 + S^2)``, e ~ N(0, I) from
    ``SeedSequence([K, AROUND_STREAM])``. S near 0 stays on the mean; S = 1 goes half way to random;
  - ``slerp(A,B;t=T)``: the point at T on the spherical interpolation from A to B (``sheets.slerp``);
  - ``vary(L;s=S,seed=K)``: L mixed with one seeded direction at strength S, the rule of the design
    sheet's variation strip (``sheets.variation_latents(L, K, 1, S)``).

Whitespace is ignored when parsing (a pasted recipe may be wrapped); `Recipe.text` is the canonical
form (floats written by `repr`, which reads back to the same float). Nothing here runs a model.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

import numpy as np

from export.onnx_export import make_latents
from export.sheets import slerp, variation_latents
from inkwash.cli import UserError
from inkwash.hashing import sha256_text

AROUND_STREAM = 0xA0D1   # SeedSequence stream tag of the "around" directions (sheets uses 0x5EED)
MAX_PARTS = 64           # latents one "around" may average
MAX_DEPTH = 32           # nesting of recipes inside recipes
MAX_SPREAD = 4.0
MAX_STRENGTH = 2.0
MODES = ("browse", "around", "between", "vary")
INT_PARAMS = ("draw", "seed")


class RecipeError(UserError):
    """A recipe text that cannot be read, or that belongs to another model; the message says where."""


@dataclass(frozen=True)
class Seed:
    seed: int


@dataclass(frozen=True)
class Around:
    parts: tuple             # latents (Seed | Around | Slerp | Vary) whose mean the tiles gather around
    spread: float
    draw: int


@dataclass(frozen=True)
class Slerp:
    a: object
    b: object
    t: float


@dataclass(frozen=True)
class Vary:
    base: object
    strength: float
    seed: int


Latent = Seed | Around | Slerp | Vary


def _num(x: float) -> str:
    return repr(float(x))


def latent_text(z: Latent) -> str:
    """The canonical text of a latent recipe."""
    if isinstance(z, Seed):
        return f"seed({z.seed})"
    if isinstance(z, Around):
        return f"around({','.join(map(latent_text, z.parts))};spread={_num(z.spread)},draw={z.draw})"
    if isinstance(z, Slerp):
        return f"slerp({latent_text(z.a)},{latent_text(z.b)};t={_num(z.t)})"
    return f"vary({latent_text(z.base)};s={_num(z.strength)},seed={z.seed})"


@dataclass(frozen=True)
class Recipe:
    """One tile: model SHA-256 prefix, class (None: unconditional model) and latent recipe."""

    model: str
    label: int | None
    latent: Latent

    @property
    def text(self) -> str:
        cls = "" if self.label is None else f"c{self.label}:"
        return f"{self.model}:{cls}{latent_text(self.latent)}"

    @property
    def design_id(self) -> str:
        """The id `python -m export design` gives this recipe's sheet."""
        z = self.latent
        tag = f"S{z.seed:04d}" if isinstance(z, Seed) else f"R{sha256_text(latent_text(z))[:8]}"
        return f"IW-{self.model}-{tag}" + ("" if self.label is None else f"-C{self.label}")


class _Parser:
    """Recursive descent over a whitespace-free recipe text."""

    def __init__(self, text: str):
        self.s, self.i = text, 0

    def fail(self, what: str):
        raise RecipeError(f"recipe: {what} at character {self.i + 1} of {self.s!r}")

    def eat(self, ch: str) -> None:
        if not self.s.startswith(ch, self.i):
            self.fail(f"expected {ch!r}")
        self.i += 1

    def match(self, pattern: str, what: str) -> str:
        m = re.compile(pattern).match(self.s, self.i)
        if not m:
            self.fail(f"expected {what}")
        self.i = m.end()
        return m.group(0)

    def params(self, names: tuple[str, ...]) -> dict[str, float | int]:
        """key=value pairs in this order; the names in INT_PARAMS take whole numbers."""
        out: dict[str, float | int] = {}
        for k, name in enumerate(names):
            if k:
                self.eat(",")
            self.match(re.escape(name) + "=", f"{name}=")
            if name in INT_PARAMS:
                out[name] = int(self.match(r"\d+", f"a whole number after {name}="))
            else:
                out[name] = float(self.match(r"\d+(\.\d+)?([eE][-+]?\d+)?", f"a number after {name}="))
        return out

    def latent(self, depth: int = 0) -> Latent:
        if depth > MAX_DEPTH:
            self.fail(f"recipes nested more than {MAX_DEPTH} deep")
        name = self.match("[a-z]+", "a recipe name (seed, around, slerp or vary)")
        self.eat("(")
        if name == "seed":
            z = Seed(int(self.match(r"\d+", "a whole number")))
            self.eat(")")
            return z
        if name not in ("around", "slerp", "vary"):
            self.fail(f"unknown recipe {name!r} (seed, around, slerp or vary)")
        parts = [self.latent(depth + 1)]
        while self.s.startswith(",", self.i):
            self.i += 1
            parts.append(self.latent(depth + 1))
        self.eat(";")
        start = self.i
        if name == "around":
            p = self.params(("spread", "draw"))
            z = Around(tuple(parts), p["spread"], p["draw"])
        elif name == "slerp":
            z = Slerp(*(parts + [None, None])[:2], self.params(("t",))["t"])
        else:
            p = self.params(("s", "seed"))
            z = Vary(parts[0], p["s"], p["seed"])
        self.eat(")")
        problem = _problem(z, len(parts))
        if problem:
            self.i = start
            self.fail(problem)
        return z


def _problem(z: Latent, n_parts: int) -> str | None:
    """What is wrong with a parsed around/slerp/vary, or None."""
    if isinstance(z, Around):
        if n_parts > MAX_PARTS:
            return f"around takes at most {MAX_PARTS} latents"
        if not 0 < z.spread <= MAX_SPREAD:
            return f"spread must be in (0, {MAX_SPREAD:g}]"
    elif isinstance(z, Slerp):
        if n_parts != 2:
            return "slerp takes exactly two latents"
        if not 0 <= z.t <= 1:
            return "t must be in [0, 1]"
    elif n_parts != 1:
        return "vary takes exactly one latent"
    elif not 0 < z.strength <= MAX_STRENGTH:
        return f"s must be in (0, {MAX_STRENGTH:g}]"
    return None


def parse_latent(text: str) -> Latent:
    """The latent recipe of `text` (e.g. "around(seed(3),seed(7);spread=0.5,draw=2)")."""
    p = _Parser("".join(text.split()))
    z = p.latent()
    if p.i != len(p.s):
        p.fail("unexpected text after the recipe")
    return z


_FULL = re.compile(r"([0-9a-f]{8}):(?:c(\d+):)?(.*)")


def parse(text: str) -> Recipe:
    """A full recipe "<model sha8>[:c<class>]:<latent>"; RecipeError names what is wrong."""
    flat = "".join(text.split())
    m = _FULL.fullmatch(flat)
    if not m:
        raise RecipeError(f"recipe: {text!r} does not start with a model's 8 hex digits and ':' "
                          f"(as in 1a2b3c4d:c2:seed(7))")
    return Recipe(m.group(1), None if m.group(2) is None else int(m.group(2)), parse_latent(m.group(3)))


def latent_vector(z: Latent, dim: int, _memo: dict | None = None) -> np.ndarray:
    """The float32 (dim,) latent a recipe stands for (nested recipes computed once per call)."""
    memo = {} if _memo is None else _memo
    key = latent_text(z)
    if key in memo:
        return memo[key]
    if isinstance(z, Seed):
        v = make_latents(1, dim, z.seed)[0]
    elif isinstance(z, Around):
        zs = np.stack([latent_vector(p, dim, memo) for p in z.parts]).astype(np.float64)
        mean, radius = zs.mean(axis=0), np.linalg.norm(zs, axis=1).mean()
        norm = np.linalg.norm(mean)
        # Rescaled to the favourites' mean length: a plain mean of n latents is ~1/sqrt(n) too short,
        # off the shell where the prior (and so the generator's training) puts its latents.
        centre = zs[0] if norm < 1e-8 * radius else mean * (radius / norm)
        e = np.random.default_rng(np.random.SeedSequence([z.draw, AROUND_STREAM])).standard_normal(dim)
        v = ((centre + z.spread * e) / np.sqrt(1.0 + z.spread ** 2)).astype(np.float32)
    elif isinstance(z, Slerp):
        v = slerp(latent_vector(z.a, dim, memo), latent_vector(z.b, dim, memo), np.array([z.t]))[0]
    else:
        v = variation_latents(latent_vector(z.base, dim, memo), z.seed, 1, z.strength)[0][0]
    memo[key] = v
    return v


def successor(z: Latent) -> Latent:
    """The next tile of this one's grid: the next seed, draw or direction; a slerp point walks to its end."""
    if isinstance(z, Seed):
        return Seed(z.seed + 1)
    if isinstance(z, Around):
        return Around(z.parts, z.spread, z.draw + 1)
    if isinstance(z, Vary):
        return Vary(z.base, z.strength, z.seed + 1)
    return z.b


_WORDS = {Seed: lambda z: f"seed {z.seed}",
          Around: lambda z: f"around {len(z.parts)} · spread {z.spread:g} · draw {z.draw}",
          Slerp: lambda z: f"between · t {z.t:g}",
          Vary: lambda z: f"variation · s {z.strength:g} · seed {z.seed}"}


def describe(z: Latent) -> str:
    """A few words for a tile's caption; the last part is what changes from tile to tile of a grid."""
    return _WORDS[type(z)](z)


def grid(mode: str, n: int, start: int = 0, parts: tuple[Latent, ...] = (), spread: float = 0.5,
         strength: float = 0.3) -> list[Latent]:
    """The latents of one grid of n tiles.

    browse: seeds start..start+n-1; around: draws start.. around `parts`; between: the slerp walk
    from parts[0] to parts[1] in n steps (t = i/(n-1), 4 decimals); vary: n directions start.. of
    parts[0] at `strength`.
    """
    if mode == "browse":
        return [Seed(start + i) for i in range(n)]
    if mode == "around":
        return [Around(tuple(parts), round(float(spread), 4), start + i) for i in range(n)]
    if mode == "between":
        return [Slerp(parts[0], parts[1], round(i / max(1, n - 1), 4)) for i in range(n)]
    if mode == "vary":
        return [Vary(parts[0], round(float(strength), 4), start + i) for i in range(n)]
    raise ValueError(f"mode: unknown {mode!r}; choose one of {', '.join(MODES)}")


def check(recipe: Recipe, model_sha256: str, num_classes: int, where: str = "recipe") -> None:
    """RecipeError unless `recipe` fits this model: its SHA-256 prefix, and a class in range exactly
    when the model is conditional."""
    if not model_sha256.startswith(recipe.model):
        raise RecipeError(f"{where}: {recipe.text!r} was made with model {recipe.model}, not this one "
                          f"({model_sha256[:8]}); open that model's file")
    if num_classes and recipe.label is None:
        raise RecipeError(f"{where}: {recipe.text!r} names no class, but the model is conditional; "
                          f"write {recipe.model}:c<class>:... with a class in 0..{num_classes - 1}")
    if num_classes and not 0 <= recipe.label < num_classes:
        raise RecipeError(f"{where}: class {recipe.label} of {recipe.text!r} is not in 0..{num_classes - 1}")
    if not num_classes and recipe.label is not None:
        raise RecipeError(f"{where}: {recipe.text!r} names class {recipe.label}, but the model is "
                          f"unconditional; drop ':c{recipe.label}'")


def _elide(text: str, limit: int) -> str:
    """`text`, or its head and tail around "…" when longer than `limit` characters."""
    if len(text) <= limit:
        return text
    head = (limit - 1) * 2 // 3
    return text[:head] + "…" + text[len(text) - (limit - 1 - head):]


FOOTER_RECIPE_CHARS = 110  # what fits on a sheet's reproduce line beside the command (16 px mono, A4 at 200 dpi)


def sheet_origin(recipe: Recipe, latent_dim: int):
    """The design sheet's latents for a recipe that is not a plain seed (`python -m export design
    --recipe`): the recipe's latent; the interpolation walks to its successor (the next tile of its
    grid); the variation directions come from the first 32 bits of the SHA-256 of its latent text."""
    from export.design import Origin
    memo: dict = {}
    text, nxt = latent_text(recipe.latent), successor(recipe.latent)
    h = sha256_text(text)[:8]
    shown = _elide(recipe.text, FOOTER_RECIPE_CHARS)
    return Origin(
        z=latent_vector(recipe.latent, latent_dim, memo), z_next=latent_vector(nxt, latent_dim, memo),
        variation_seed=int(h, 16), label=recipe.label, tag=f"R{h}", line=f"recipe {_elide(text, 64)}",
        walk=f"to {describe(nxt)}",
        args="--recipe " + shlex.quote(shown),  # a shortened one shows "…"; the sidecar has it whole
        record={"seed": None, "recipe": recipe.text, "latents": "export.studio.recipes.latent_vector"},
        to={"to_recipe": latent_text(nxt)}, brief=True)


def design_jobs(texts: list[str], sampler, model_sha256: str, label: str | None) -> list[tuple]:
    """`python -m export design --recipe ...`: (seed, label, origin) per recipe. A plain-seed recipe goes
    the way of --seed K --label C (the same sheet, byte for byte); the others through `sheet_origin`.
    `label` is --label (an index or a name), which must agree with a recipe's own class."""
    index = None if label is None else sampler.class_index(label)
    jobs = []
    for text in texts:
        r = parse(text)
        if index is not None and r.label is not None and index != r.label:
            raise RecipeError(f"--label: {label} contradicts the class {r.label} of recipe {r.text!r}; drop --label")
        if r.label is None and index is not None:
            r = Recipe(r.model, index, r.latent)
        check(r, model_sha256, sampler.num_classes, "--recipe")
        if isinstance(r.latent, Seed):
            jobs.append((r.latent.seed, None if r.label is None else str(r.label), None))
        else:
            jobs.append((None, None, sheet_origin(r, sampler.latent_dim)))
    return jobs

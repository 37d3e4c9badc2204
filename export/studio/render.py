"""Patterns and everything made from them, computed once per recipe and shared by every session.

The model runs only for recipes it has not drawn yet, all of them in one batch (`Renderer.patterns`),
so paging back, reloading, or another designer asking for the same tiles costs no inference. Tiles,
repeats, mock-ups and sheets are kept in the same byte-bounded cache, keyed by the model's SHA-256,
the recipe text and the options that change them.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future

import numpy as np

from export import sheets, tiling
from export.design import DesignConfig
from export.studio.recipes import Recipe, latent_vector

CACHE_BYTES = 512 * 2 ** 20      # default budget of the shared cache
METHOD = DesignConfig.method     # seam removal of every tile: the design sheet's default
BAND = DesignConfig.band


def _size(value) -> int:
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    if isinstance(value, tiling.TileResult):
        return value.tile_u8.nbytes
    if isinstance(value, (tuple, list)):
        return sum(map(_size, value))
    return 1024


class Cache:
    """A least-recently-used map bounded in bytes. `get(key, make)` computes a missing value once even
    when several threads ask for it at the same time (the others wait for the first)."""

    def __init__(self, max_bytes: int = CACHE_BYTES):
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict = OrderedDict()
        self._pending: dict[Hashable, Future] = {}
        self._lock = threading.Lock()

    def __contains__(self, key) -> bool:
        with self._lock:
            return key in self._items

    def put(self, key, value) -> None:
        with self._lock:
            self._store(key, value)

    def _store(self, key, value) -> None:
        if key in self._items:
            self.bytes -= _size(self._items.pop(key))
        self._items[key] = value
        self.bytes += _size(value)
        while self.bytes > self.max_bytes and len(self._items) > 1:
            _, old = self._items.popitem(last=False)
            self.bytes -= _size(old)

    def get(self, key, make: Callable[[], object]):
        """The cached value of `key`, made by `make()` when missing."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            future = self._pending.get(key)
            mine = future is None
            if mine:
                future = self._pending[key] = Future()
        if not mine:
            return future.result()
        try:
            value = make()
        except BaseException as e:
            with self._lock:
                self._pending.pop(key, None)
            future.set_exception(e)
            raise
        with self._lock:
            self._store(key, value)
            self._pending.pop(key, None)
        future.set_result(value)
        return value


class Renderer:
    """Generated patterns and seamless tiles by (model SHA-256, recipe text), for every session."""

    def __init__(self, max_bytes: int = CACHE_BYTES):
        self.cache = Cache(max_bytes)
        self.model_calls = 0     # sampler.generate calls so far (tests and the benchmark read them)
        self.generated = 0       # patterns generated so far
        self._count = threading.Lock()

    def _generate(self, model, recipes: list[Recipe]) -> np.ndarray:
        sampler = model.sampler
        memo: dict = {}
        z = np.stack([latent_vector(r.latent, sampler.latent_dim, memo) for r in recipes])
        labels = None if sampler.num_classes == 0 else np.array([r.label for r in recipes], np.int64)
        images = sampler.generate(z, labels, batch_size=len(recipes))   # one batch for the whole grid
        with self._count:
            self.model_calls += 1
            self.generated += len(recipes)
        return images

    def patterns(self, model, recipes: list[Recipe]) -> list[np.ndarray]:
        """uint8 (R, R, 3) patterns of `recipes`; only the ones never drawn before reach the model."""
        sha = model.sha256
        keys = [("pattern", sha, r.text) for r in recipes]
        missing = list({k: r for k, r in zip(keys, recipes) if k not in self.cache}.items())
        if missing:
            for (key, _), image in zip(missing, self._generate(model, [r for _, r in missing])):
                self.cache.put(key, image)
        # A tile evicted in between (a grid larger than the cache) is drawn again on its own.
        return [self.cache.get(k, lambda r=r: self._generate(model, [r])[0]) for k, r in zip(keys, recipes)]

    def pattern_png(self, model, recipe: Recipe) -> bytes:
        """The raw pattern as PNG bytes (what the grid shows)."""
        key = ("pattern.png", model.sha256, recipe.text)
        return self.cache.get(key, lambda: sheets.png_bytes(self.patterns(model, [recipe])[0]))

    def grid_pngs(self, model, recipes: list[Recipe]) -> list[bytes]:
        """PNG bytes of a whole grid: patterns generated in one batch first, then encoded once each."""
        self.patterns(model, recipes)
        return [self.pattern_png(model, r) for r in recipes]

    def tile(self, model, recipe: Recipe) -> tiling.TileResult:
        """The seamless tile of a recipe's pattern (the design sheet's method and band)."""
        key = ("tile", model.sha256, recipe.text)
        return self.cache.get(key, lambda: tiling.make_seamless(self.patterns(model, [recipe])[0], METHOD, BAND))

    def made(self, kind: str, model, recipe: Recipe, options: tuple, make: Callable[[], object]):
        """Anything else made from a recipe (`kind` and `options` complete the key)."""
        return self.cache.get((kind, model.sha256, recipe.text, options), make)

    def has(self, kind: str, model, recipe: Recipe, options: tuple) -> bool:
        return (kind, model.sha256, recipe.text, options) in self.cache

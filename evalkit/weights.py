"""The FID Inception weights file: where it is found, how it is checked, hashed and loaded.

It is a state dict in the key layout of `weights-inception-2015-12-05-6726825d.pth` (torch-fidelity)
and `pt_inception-2015-12-05-6726825d.pth` (pytorch-fid): the two files hold the same keys.
Weights are found in this order: an explicit path, `$EVALKIT_INCEPTION_WEIGHTS`, the torch hub
cache (`$TORCH_HOME/hub/checkpoints/` under either official name), then a download from the
official URL (evalkit.download: timeouts, resume, SHA-256 prefix check). Every result records the
file's SHA-256.
"""
from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path

import torch

from evalkit import download
from evalkit.inception import N_TENSORS, N_VALUES, FIDInception, expected_layout
from inkwash import atomic
from inkwash.cli import UserError
from inkwash.hashing import sha256_file
from inkwash.paths import cache_dir

log = logging.getLogger(__name__)

FILE_NAMES = (
    "weights-inception-2015-12-05-6726825d.pth",
    "pt_inception-2015-12-05-6726825d.pth",
)
URLS = {
    FILE_NAMES[0]: "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/" + FILE_NAMES[0],
    FILE_NAMES[1]: "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + FILE_NAMES[1],
}
DOWNLOAD_NAME = FILE_NAMES[0]
OFFICIAL_HASH_PREFIX = "6726825d"
ENV_WEIGHTS = "EVALKIT_INCEPTION_WEIGHTS"


class WeightsUnavailable(UserError):
    """No Inception weights file could be found or downloaded."""


class WeightsInvalid(UserError):
    """A weights file that is not the FID Inception state dict."""


def check_state_dict(state: object, path: Path) -> None:
    """Raise WeightsInvalid (naming the file and the fix) unless `state` has the official layout."""
    fix = f"delete it and fetch {DOWNLOAD_NAME} from {URLS[DOWNLOAD_NAME]}"
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsInvalid(f"{path}: not a state dict of tensors; {fix}")
    n_values = sum(v.numel() for v in state.values())
    if len(state) != N_TENSORS or n_values != N_VALUES:
        raise WeightsInvalid(f"{path}: {len(state)} tensors / {n_values:,} values, expected {N_TENSORS} / "
                             f"{N_VALUES:,} (the FID Inception-v3); {fix}")
    layout = expected_layout()
    missing = sorted(set(layout) - set(state))
    if missing:
        raise WeightsInvalid(f"{path}: key layout differs from the FID Inception (missing {missing[0]!r} "
                             f"and {len(missing) - 1} more); {fix}")
    for k, shape in layout.items():
        if tuple(state[k].shape) != shape:
            raise WeightsInvalid(f"{path}: {k} has shape {tuple(state[k].shape)}, expected {shape}; {fix}")

def sha256_cached(path: Path) -> str:
    """Full SHA-256 of a file, computed once and remembered by (path, size, mtime) in the cache folder."""
    path = Path(path).resolve()
    st = path.stat()
    key = f"{path}|{st.st_size}|{st.st_mtime_ns}"
    index_path = cache_dir("evalkit", "sha256.json")
    try:
        index = json.loads(index_path.read_text())
    except (OSError, ValueError):
        index = {}
    if key in index:
        return index[key]
    index[key] = sha256_file(path)
    try:
        atomic.write_json(index_path, index, indent=0)
    except OSError as e:  # a read-only cache only costs a re-hash next time
        log.warning("could not cache the SHA-256 of %s (%s)", path, e)
    return index[key]


def hub_checkpoint_dir() -> Path:
    """`$TORCH_HOME/hub/checkpoints` (torch hub's cache; TORCH_HOME defaults to ~/.cache/torch)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def _download(url: str, dst: Path) -> None:
    # Timeouts, retries with resume, a progress bar on stderr, the SHA-256 prefix checked before
    # the file is put in place (OFFICIAL_HASH_PREFIX read now, so tests can point it elsewhere).
    download.fetch(url, dst, sha256_prefix=OFFICIAL_HASH_PREFIX)


def _unavailable_message(tried: list[str]) -> str:
    where = hub_checkpoint_dir() / DOWNLOAD_NAME
    return (f"Inception weights not found and not downloadable ({'; '.join(tried)}). Download "
            f"{URLS[DOWNLOAD_NAME]} and put {DOWNLOAD_NAME} at {where}, or pass --inception-weights PATH "
            f"or set {ENV_WEIGHTS}=PATH")


def locate_weights(path: Path | str | None = None, download: bool = True) -> Path:
    """The weights file, in the resolution order of the module docstring."""
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise WeightsUnavailable(f"{p}: no such Inception weights file (--inception-weights); "
                                     f"get {DOWNLOAD_NAME} from {URLS[DOWNLOAD_NAME]}")
        return p
    env = os.environ.get(ENV_WEIGHTS)
    if env:
        p = Path(env)
        if not p.is_file():
            raise WeightsUnavailable(f"{p}: no such file (from ${ENV_WEIGHTS}); "
                                     f"get {DOWNLOAD_NAME} from {URLS[DOWNLOAD_NAME]}")
        return p
    for name in FILE_NAMES:
        p = hub_checkpoint_dir() / name
        if p.is_file():
            return p
    if not download:
        raise WeightsUnavailable(_unavailable_message(["downloads disabled"]))
    dst = hub_checkpoint_dir() / DOWNLOAD_NAME
    dst.parent.mkdir(parents=True, exist_ok=True)
    log.info("downloading %s -> %s", URLS[DOWNLOAD_NAME], dst)
    try:
        _download(URLS[DOWNLOAD_NAME], dst)
    except Exception as e:  # offline, proxy, HTTP error: all end in the same instruction
        raise WeightsUnavailable(_unavailable_message([f"download failed: {type(e).__name__}: {e}"])) from e
    return dst


def resolve_weights(path: Path | str | None = None, download: bool = True) -> tuple[Path, str]:
    """Find, structure-check and hash the weights. Returns (path, sha256 hex).

    Raises WeightsUnavailable (no file, offline) or WeightsInvalid (wrong structure).
    A hash not starting with 6726825d is used with a warning (unverified)."""
    p = locate_weights(path, download=download)
    load_state(p)  # the structure check
    digest = sha256_cached(p)
    if not digest.startswith(OFFICIAL_HASH_PREFIX):
        warnings.warn(f"{p}: SHA-256 {digest[:16]}... does not start with {OFFICIAL_HASH_PREFIX} (the official "
                      f"file's); results are marked unverified", stacklevel=2)
    return p, digest


def weights_verified(sha256: str) -> bool:
    """True when the hash starts with the official files' 6726825d."""
    return sha256.startswith(OFFICIAL_HASH_PREFIX)

_STATE_CACHE: dict[tuple, dict] = {}


def load_state(path: Path) -> dict:
    """Load and structure-check a weights file (memoised per path/size/mtime)."""
    path = Path(path)
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _STATE_CACHE:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:
            raise WeightsInvalid(f"{path}: not a readable torch file ({type(e).__name__}: {e}); delete it and "
                                 f"fetch {DOWNLOAD_NAME} from {URLS[DOWNLOAD_NAME]}") from e
        check_state_dict(state, path)
        _STATE_CACHE.clear()
        _STATE_CACHE[key] = state
    return _STATE_CACHE[key]


def load_inception(path: Path, device: str | torch.device = "cpu") -> FIDInception:
    """FIDInception with the weights of `path`, fp32, eval mode, no grad, on `device`."""
    net = FIDInception()
    net.load_state_dict(load_state(path))
    net.requires_grad_(False)
    return net.eval().to(device=device, dtype=torch.float32)


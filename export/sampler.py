"""Sampling an exported generator with onnxruntime (and, for comparison, a checkpoint in PyTorch).

    from export import load_sampler
    s = load_sampler("runs/demo/export/generator.onnx", device="auto")
    s.provider                  # the execution provider the session really runs on
    images_u8 = s.sample(16, seed=0)   # uint8 (16, H, W, 3)

Latents come from `make_latents` (NumPy PCG64, the same on every machine); images are quantised
by `train.images.to_uint8`, the quantisation of every PNG the toolkit writes (on a GPU by
`to_uint8_on_device`, byte for byte the same, so only uint8 is copied to the host). Which
provider a session runs on is decided in `export.providers`.
"""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from export.onnx_export import INPUT_LABELS, INPUT_Z, META_PREFIX, OUTPUT, default_labels, make_latents
from export.providers import CUDA, ModelFileError, open_session
from inkwash.cli import UserError
from inkwash.hashing import sha256_file
from train import checkpoint as ckpt
from train.device import DeviceError, resolve_device  # noqa: F401 (DeviceError: raised for device="cuda")
from train.images import to_uint8
from train.models import ModelSpec

log = logging.getLogger(__name__)


def to_uint8_on_device(x: torch.Tensor) -> torch.Tensor:
    """Float NCHW in [-1, 1] -> uint8 NHWC on x's own device: round(clip((x + 1) / 2 * 255)), the same
    float32 operations as `train.images.to_uint8` (both round half to even), so the bytes are equal."""
    u = ((x.float() + 1.0) * 127.5).clamp_(0.0, 255.0).round_().to(torch.uint8)
    return u.permute(0, 2, 3, 1).contiguous()


def bind(bind_fn, name: str, t: torch.Tensor) -> None:
    """Bind a torch tensor to an onnxruntime I/O binding on the device it really lives on."""
    dtype = {torch.float32: np.float32, torch.int64: np.int64}[t.dtype]
    bind_fn(name, t.device.type, t.device.index or 0, dtype, list(t.shape), t.data_ptr())


def binding_device(sess) -> torch.device | None:
    """The torch device for I/O binding: the CUDA device of the session's CUDA provider when this torch
    has CUDA; None (NumPy in, NumPy out, onnxruntime copies) on the CPU provider or a CPU build of torch."""
    if sess.get_providers()[0] != CUDA or not torch.cuda.is_available():
        return None
    return torch.device("cuda", int(sess.get_provider_options()[CUDA]["device_id"]))


def _metadata(path: Path, sess) -> dict:
    """Sidecar <stem>.json (its checksum is checked by load_sampler); without one, the graph's metadata_props."""
    sidecar = path.with_suffix(".json")
    if sidecar.is_file():
        try:
            meta = json.loads(sidecar.read_text())
        except (ValueError, UnicodeDecodeError) as e:
            raise ModelFileError(f"{sidecar}: not valid JSON ({e}); re-export with python -m export onnx") from None
        if "model_sha256" not in meta:
            raise ModelFileError(f"{sidecar}: no model_sha256 field; re-export with python -m export onnx")
        return meta
    log.warning("%s: no sidecar %s; reading metadata from the graph (no checksum, no parity record)",
                path, sidecar.name)
    props = sess.get_modelmeta().custom_metadata_map
    meta = {k[len(META_PREFIX):]: json.loads(v) for k, v in props.items() if k.startswith(META_PREFIX)}
    inputs = {i.name: i for i in sess.get_inputs()}
    out = sess.get_outputs()[0]
    if INPUT_Z not in inputs or out.name != OUTPUT or not isinstance(out.shape[-1], int):
        raise ModelFileError(f"{path}: not a generator exported by this toolkit (inputs "
                             f"{sorted(inputs)}, output {out.name} {out.shape}); re-export with python -m export onnx")
    meta.setdefault("latent_dim", int(inputs[INPUT_Z].shape[1]))
    meta.setdefault("resolution", int(out.shape[-1]))
    if INPUT_LABELS in inputs and not meta.get("num_classes"):
        raise ModelFileError(f"{path}: conditional graph without class count metadata and no sidecar; "
                             f"re-export with python -m export onnx")
    return meta


def spec_of(meta: dict) -> ModelSpec:
    """The ModelSpec a sidecar (or the graph's metadata) serialises. Files of sidecar format 1 kept the
    spec under "model_config" and the model's name under "model"."""
    d = meta.get("model_config") or meta
    if "name" not in d and isinstance(meta.get("model"), str):
        d = {**d, "name": meta["model"]}
    return ModelSpec.from_dict(d)


class Sampler:
    """An onnxruntime session on a generator file, with its metadata and ModelSpec. Use `load_sampler`."""

    def __init__(self, path: Path, sess, meta: dict):
        self.path = Path(path)
        self.session = sess
        self.meta = meta
        self.spec: ModelSpec = spec_of(meta)
        self.provider: str = sess.get_providers()[0]
        self.provider_options: dict = sess.get_provider_options().get(self.provider, {})
        self.bind_device: torch.device | None = binding_device(sess)

    @property
    def resolution(self) -> int:
        return self.spec.resolution

    @property
    def latent_dim(self) -> int:
        return self.spec.latent_dim

    @property
    def num_classes(self) -> int:
        return self.spec.num_classes

    @property
    def class_names(self) -> list[str]:
        return list(self.spec.class_names)

    def latents(self, n: int, seed: int = 0) -> np.ndarray:
        """float32 (n, latent_dim) from numpy default_rng(seed).standard_normal: the same everywhere."""
        return make_latents(n, self.latent_dim, seed)

    def resolve_labels(self, n: int, labels=None) -> np.ndarray | None:
        """Labels for n images: None for unconditional models; one class, (n,) classes, or None (cycle)."""
        if self.num_classes == 0:
            if labels is not None:
                raise UserError(f"labels: {self.path} is unconditional; pass labels=None")
            return None
        if labels is None:
            return default_labels(n, self.num_classes)
        labels = np.asarray(labels, dtype=np.int64)
        if labels.shape not in ((), (n,)):
            raise UserError(f"labels: expected one class index or shape ({n},), got shape {labels.shape}")
        labels = np.broadcast_to(labels, (n,))
        if labels.min() < 0 or labels.max() >= self.num_classes:
            raise UserError(f"labels: must be in 0..{self.num_classes - 1} for {self.path}")
        return np.ascontiguousarray(labels)

    def class_index(self, label: int | str, flag: str = "--label") -> int:
        """A class given by index ("2") or by name (from the sidecar's class_names) -> its index.
        Unknown classes are a UserError naming `flag` and listing the classes."""
        names = self.class_names or [str(i) for i in range(self.num_classes)]
        listed = ", ".join(f"{i} {n}" for i, n in enumerate(names))
        if self.num_classes == 0:
            raise UserError(f"{flag}: {self.path} is an unconditional model; drop {flag}")
        text = str(label).strip()
        by_name = names.index(text) if text in names else None
        by_index = int(text) if re.fullmatch(r"[0-9]+", text) else None
        if by_name is not None and by_index is not None and by_name != by_index:
            raise UserError(f"{flag} {text}: ambiguous, class {by_name} is named {text!r}; "
                            f"the classes of {self.path.name} are: {listed}")
        index = by_name if by_name is not None else by_index
        if index is None or not 0 <= index < self.num_classes:
            raise UserError(f"{flag} {text}: no such class in {self.path.name}; give an index or a name "
                            f"from: {listed}")
        return index

    def _run(self, z: np.ndarray, y: np.ndarray | None) -> np.ndarray:
        """One batch -> uint8 (b, H, W, 3)."""
        if self.bind_device is None:
            feed = {INPUT_Z: z} if y is None else {INPUT_Z: z, INPUT_LABELS: y}
            return to_uint8(self.session.run([OUTPUT], feed)[0])
        # I/O binding: inputs and output stay on the provider's device, and the images are
        # quantised there, so only uint8 crosses to the host (a quarter of the fp32 bytes).
        io = self.session.io_binding()
        zt = torch.from_numpy(z).to(self.bind_device)
        bind(io.bind_input, INPUT_Z, zt)
        if y is not None:
            yt = torch.from_numpy(y).to(self.bind_device)
            bind(io.bind_input, INPUT_LABELS, yt)
        out = torch.empty((len(z), 3, self.resolution, self.resolution), device=zt.device, dtype=torch.float32)
        bind(io.bind_output, OUTPUT, out)
        io.synchronize_inputs()
        self.session.run_with_iobinding(io)
        io.synchronize_outputs()
        return to_uint8_on_device(out).cpu().numpy()

    def iter_batches(self, latents: np.ndarray, labels=None, batch_size: int = 64) -> Iterator[np.ndarray]:
        """Yield uint8 (b, H, W, 3) batches for `latents` (float32 (n, latent_dim)), in order."""
        latents = np.ascontiguousarray(latents, dtype=np.float32)
        if latents.ndim != 2 or latents.shape[1] != self.latent_dim:
            raise ValueError(f"latents: expected shape (n, {self.latent_dim}), got {latents.shape}")
        if batch_size < 1:
            raise UserError(f"batch_size: must be >= 1, got {batch_size}")
        y = self.resolve_labels(len(latents), labels)
        for i in range(0, len(latents), batch_size):
            yield self._run(latents[i:i + batch_size], None if y is None else y[i:i + batch_size])

    def generate(self, latents: np.ndarray, labels=None, batch_size: int = 64) -> np.ndarray:
        """Latents float32 (n, latent_dim) [+ labels int (n,)] -> uint8 (n, H, W, 3)."""
        parts = list(self.iter_batches(latents, labels, batch_size))
        if not parts:
            return np.zeros((0, self.resolution, self.resolution, 3), np.uint8)
        return np.concatenate(parts)

    def sample(self, n: int, seed: int = 0, batch_size: int = 64, labels=None) -> np.ndarray:
        """n images from `latents(n, seed)`: uint8 (n, H, W, 3). Conditional models without labels
        cycle through the classes (0, 1, ..., K-1, 0, ...)."""
        return self.generate(self.latents(n, seed), labels, batch_size)


def load_sampler(path: Path | str, device: str = "auto", threads: int | None = None,
                 deterministic: bool = False) -> Sampler:
    """Open an exported generator on `device` ("auto" | "cpu" | "cuda").

    `threads`: onnxruntime intra-op threads on the CPU (None: one per physical core).
    `deterministic`: onnxruntime's deterministic compute and, on CUDA, a fixed cuDNN convolution
    algorithm instead of the timing search (export.providers.cuda_provider_options).

    The file is checked against its sidecar's SHA-256 (mismatch: ModelFileError); a missing sidecar
    is a warning and the metadata comes from the graph. "cuda" without a working CUDA provider
    raises; "auto" falls back to the CPU provider and logs that once.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file; export one with python -m export onnx RUN_DIR")
    sidecar = path.with_suffix(".json")
    if sidecar.is_file():
        # Checksum first: a mismatching file is refused before onnxruntime parses it.
        try:
            expected = json.loads(sidecar.read_text()).get("model_sha256")
        except (ValueError, UnicodeDecodeError, AttributeError):
            expected = None  # reported by _metadata
        if expected is not None and sha256_file(path) != expected:
            raise ModelFileError(f"{path}: SHA-256 does not match its sidecar {sidecar.name}; the file changed "
                                 f"after export; re-export it with python -m export onnx RUN_DIR")
    sess = open_session(path, device, threads, deterministic)
    return Sampler(path, sess, _metadata(path, sess))


class TorchSampler(Sampler):
    """The same interface on a checkpoint in PyTorch eager (for comparison with the ONNX path)."""

    def __init__(self, checkpoint: Path, device: str = "auto", ema: bool = True):
        self.device = resolve_device(device)
        gen, info = ckpt.load_generator(checkpoint, ema=ema, map_location=self.device)
        self.generator = gen.to(self.device)
        self.path = Path(checkpoint)
        self.session = None
        self.spec = info["spec"]
        self.meta = {**self.spec.to_dict(), "source_checkpoint": info["checkpoint"],
                     "source_checkpoint_sha256": info["checkpoint_sha256"], "ema": info["ema"],
                     "iteration": info["iteration"]}
        self.provider = f"torch-{self.device.type}"
        self.provider_options, self.bind_device = {}, None

    def _run(self, z: np.ndarray, y: np.ndarray | None) -> np.ndarray:
        with torch.inference_mode():
            zt = torch.from_numpy(z).to(self.device)
            yt = None if y is None else torch.from_numpy(y).to(self.device)
            return to_uint8_on_device(self.generator(zt, yt)).cpu().numpy()

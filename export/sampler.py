"""Sampling an exported generator with onnxruntime (and, for comparison, a checkpoint in PyTorch).

    from export import load_sampler
    s = load_sampler("runs/demo/export/generator.onnx", device="auto")
    s.provider                  # the execution provider the session really runs on
    images_u8 = s.sample(16, seed=0)   # uint8 (16, H, W, 3)

Latents come from `make_latents` (NumPy PCG64, the same on every machine); images are quantised
by `train.images.to_uint8`, the quantisation of every PNG the toolkit writes.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from export.onnx_export import INPUT_LABELS, INPUT_Z, META_PREFIX, OUTPUT, default_labels, make_latents
from inkwash.cli import UserError
from inkwash.hashing import sha256_file
from train import checkpoint as ckpt
from train.device import DEVICES, DeviceError, resolve_device
from train.images import to_uint8
from train.models import ModelSpec

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
_said_cpu_fallback = False  # "auto" tells about falling back to the CPU once per process


class ModelFileError(UserError):
    """A model file that cannot be used (missing, not ONNX, checksum mismatch); the message names it."""


def _cuda_reason() -> str | None:
    """None when the CUDA provider can work here, else why not (decided before asking onnxruntime,
    whose GPU wheel lists CUDA as available even on machines with no GPU, then logs errors)."""
    import onnxruntime as ort
    if CUDA not in ort.get_available_providers():
        return f"this onnxruntime build ({ort.__version__}) has no CUDAExecutionProvider; install onnxruntime-gpu"
    if not torch.cuda.is_available():
        return "no CUDA GPU is visible (torch.cuda.is_available() is False)"
    return None


def _session(path: Path, providers: list[str], threads: int | None = None):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.log_severity_level = 3  # errors only: no provider warnings on CPU machines
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = threads or 0  # 0: onnxruntime's default (one per physical core)
    so.inter_op_num_threads = 1  # the graph is a chain: no parallel branches to run
    # Idle worker threads sleep instead of spinning. On a busy CPU spinning steals the cores the
    # other threads need: benchmarks/sample_bench.py's "session settings" table measured sleeping
    # fastest at load 13-16. On an idle 2-core machine spinning is about 12 % faster at 64 px
    # (results/sample_bench.md); we keep the setting that does not collapse under load.
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), so, providers=providers)
    except Exception as e:  # truncated, not ONNX, or an unsupported graph
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelFileError(f"{path}: not a usable ONNX model ({first[:200]}); re-export it with "
                             f"python -m export onnx RUN_DIR") from None


def _open_session(path: Path, device: str, threads: int | None = None):
    """Create the session on `device` and check which provider it really uses."""
    global _said_cpu_fallback
    if device not in DEVICES:
        raise UserError(f"device: unknown {device!r}; choose one of {', '.join(DEVICES)}")
    reason = None if device == "cpu" else _cuda_reason()
    if device == "cuda" and reason:
        raise DeviceError(f"device=cuda: no working CUDA execution provider ({reason}); use device='cpu' or 'auto'")
    providers = [CPU] if device == "cpu" or reason else [CUDA, CPU]
    sess = _session(path, providers, threads)
    used = sess.get_providers()[0]
    if device == "cuda" and used != CUDA:
        raise DeviceError(f"device=cuda: onnxruntime could not start the CUDA provider for {path} "
                           f"(it runs on {used}); check the CUDA 13 / cuDNN 9 libraries or use device='cpu'")
    if device == "auto" and used != CUDA and not _said_cpu_fallback:
        _said_cpu_fallback = True
        log.info("device=auto: running on %s (%s)", used, reason or "the CUDA provider did not start")
    return sess


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

    def _run(self, z: np.ndarray, y: np.ndarray | None) -> np.ndarray:
        """One batch -> uint8 (b, H, W, 3)."""
        if self.provider != CUDA:
            feed = {INPUT_Z: z} if y is None else {INPUT_Z: z, INPUT_LABELS: y}
            return to_uint8(self.session.run([OUTPUT], feed)[0])
        # CUDA: I/O binding, output written into a torch CUDA tensor and kept there until to_uint8.
        io = self.session.io_binding()
        zt = torch.from_numpy(z).cuda()
        io.bind_input(INPUT_Z, "cuda", 0, np.float32, list(zt.shape), zt.data_ptr())
        if y is not None:
            yt = torch.from_numpy(y).cuda()
            io.bind_input(INPUT_LABELS, "cuda", 0, np.int64, list(yt.shape), yt.data_ptr())
        out = torch.empty((len(z), 3, self.resolution, self.resolution), device="cuda", dtype=torch.float32)
        io.bind_output(OUTPUT, "cuda", 0, np.float32, list(out.shape), out.data_ptr())
        self.session.run_with_iobinding(io)
        return to_uint8(out)

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


def load_sampler(path: Path | str, device: str = "auto", threads: int | None = None) -> Sampler:
    """Open an exported generator on `device` ("auto" | "cpu" | "cuda").

    `threads`: onnxruntime intra-op threads on the CPU (None: one per physical core).

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
    sess = _open_session(path, device, threads)
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

    def _run(self, z: np.ndarray, y: np.ndarray | None) -> np.ndarray:
        with torch.inference_mode():
            zt = torch.from_numpy(z).to(self.device)
            yt = None if y is None else torch.from_numpy(y).to(self.device)
            return to_uint8(self.generator(zt, yt))

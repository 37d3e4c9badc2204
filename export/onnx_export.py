"""Checkpoint -> generator.onnx (+ generator_fp16.onnx), each with a parity-checked JSON sidecar.

The generator is rebuilt by `train.checkpoint.load_generator` (eval mode: BatchNorm running
statistics), exported with `torch.onnx.export(..., dynamo=True)` with a dynamic batch dimension
(`dynamic_shapes` + `torch.export.Dim`) and static H, W, checked with `onnx.checker`, and run in
onnxruntime against PyTorch on the same latents before it is moved into place: a file whose
parity fails is never left behind.
"""
from __future__ import annotations

import contextlib
import json
import logging
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch

from export import providers
from inkwash import atomic, provenance
from inkwash.cli import UserError
from inkwash.hashing import sha256_bytes
from train import checkpoint as ckpt

log = logging.getLogger(__name__)

INPUT_Z = "z"                  # float32 (batch, latent_dim)
INPUT_LABELS = "labels"        # int64 (batch,), conditional generators only
OUTPUT = "images"              # float32 (batch, 3, R, R) in [-1, 1], NCHW
EXPORT_BATCH = 2               # batch size of the example the graph is traced with
PARITY_BATCHES = (1, 5)        # both differ from EXPORT_BATCH, so the dynamic batch dimension is exercised
PARITY_SEED = 0
PARITY_BOUND_FP32 = 1e-4       # max |ORT - torch| allowed for the fp32 file (measured ~1e-7)
PARITY_BOUND_FP16 = 2e-2       # fp16 weights and activations: ~2.5 grey levels at 8 bits
META_PREFIX = "inkwash."       # metadata_props keys in the graph, read when a sidecar is missing
SIDECAR_FORMAT = 2             # 2: the ModelSpec's fields at the top level (1: under "model_config")
VERSION_PACKAGES = ("torch", "numpy", "onnx", "onnxruntime", "onnxruntime-gpu", "onnxscript")
LATENTS_DOC = "numpy.random.default_rng(seed).standard_normal((n, latent_dim), dtype=numpy.float32)"


class ExportError(UserError):
    """An export that cannot be written or fails its checks; the message names the file."""


def make_latents(n: int, latent_dim: int, seed: int = 0) -> np.ndarray:
    """The toolkit's seeded latents: `default_rng(seed).standard_normal((n, latent_dim), float32)`.

    NumPy's PCG64 + standard normal (ziggurat) is platform independent, so a seed gives the same
    latents on every machine. Returns float32 (n, latent_dim)."""
    return np.random.default_rng(seed).standard_normal((n, latent_dim), dtype=np.float32)


def default_labels(n: int, num_classes: int) -> np.ndarray | None:
    """Labels used when a conditional model is sampled without labels: 0, 1, ..., K-1, 0, 1, ..."""
    return (np.arange(n, dtype=np.int64) % num_classes) if num_classes > 0 else None


def versions() -> dict:
    """Versions of the libraries that produce and run the files (installed distributions only)."""
    return provenance.versions(VERSION_PACKAGES)


@contextlib.contextmanager
def _quiet_exporter():
    """Hide the exporter's harmless noise (torchvision op registration, a torch-internal FutureWarning)."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx._internal.exporter._registration", "onnxscript", "onnx_ir")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*LeafSpec.*", category=FutureWarning)
            # z and labels share one Dim("batch"); the exporter notes it keeps a single name.
            warnings.filterwarnings("ignore", message=r"# The axis name: .* will not be used", category=UserWarning)
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def to_onnx(gen: torch.nn.Module, opset: int | None = None) -> onnx.ModelProto:
    """Export an eval-mode generator: inputs z [+ labels] with a dynamic batch, output static (3, R, R)."""
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    z = torch.from_numpy(make_latents(EXPORT_BATCH, gen.latent_dim, PARITY_SEED))
    if gen.num_classes > 0:
        args = (z, torch.from_numpy(default_labels(EXPORT_BATCH, gen.num_classes)))
        names, shapes = [INPUT_Z, INPUT_LABELS], {"z": {0: batch}, "labels": {0: batch}}
    else:
        args, names, shapes = (z,), [INPUT_Z], {"z": {0: batch}}
    with _quiet_exporter(), torch.inference_mode(False):
        prog = torch.onnx.export(gen, args, input_names=names, output_names=[OUTPUT], dynamic_shapes=shapes,
                                 opset_version=opset, dynamo=True, verbose=False, external_data=False)
    model = prog.model_proto
    out_dims = model.graph.output[0].type.tensor_type.shape.dim
    static = [d.dim_value if d.HasField("dim_value") else None for d in out_dims]
    r = gen.resolution
    if static[1:] != [3, r, r] or static[0] is not None:
        raise ExportError(f"exported graph has output shape {static}, expected [batch, 3, {r}, {r}]")
    return model


def _repair_fp16(graph: onnx.GraphProto) -> None:
    """Undo two slips of the fp16 converter on graphs with Resize (FastGAN's nearest up-sampling):

    - it casts the `scales` initializer that the four Resize nodes share back to fp32 once per
      consumer, every copy under one output name, which breaks single static assignment: identical
      nodes (same bytes) are kept once, as they compute the same value;
    - it leaves value_info entries whose element types no longer match their producers, which
      onnx.checker's strict shape inference rejects: intermediate value_info is optional (types are
      inferred from the nodes), so it is dropped. Inputs and outputs keep their declared types.
    """
    seen, kept = set(), []
    for n in graph.node:
        key = n.SerializeToString()
        if key not in seen:
            seen.add(key)
            kept.append(n)
    nodes = [onnx.NodeProto.FromString(n.SerializeToString()) for n in kept]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.value_info[:]


def _toposort(graph: onnx.GraphProto) -> None:
    """Order nodes so each comes after the producers of its inputs (the fp16 converter appends its
    input Casts at the end, which onnx.checker rejects)."""
    known = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {""}
    todo, done = list(graph.node), []
    while todo:
        ready = [n for n in todo if all(i in known for i in n.input)]
        if not ready:
            raise ExportError("graph has a cycle or an input no node produces")
        for n in ready:
            known.update(n.output)
        ids = {id(n) for n in ready}
        done += ready
        todo = [n for n in todo if id(n) not in ids]
    nodes = [onnx.NodeProto.FromString(n.SerializeToString()) for n in done]
    del graph.node[:]
    graph.node.extend(nodes)


def _set_metadata(model: onnx.ModelProto, meta: dict) -> None:
    """Store the sampler's metadata in the graph (metadata_props), for files without a sidecar."""
    del model.metadata_props[:]
    for k, v in meta.items():
        model.metadata_props.add(key=META_PREFIX + k, value=json.dumps(v))


def ort_session(model: Path | bytes):
    """A quiet CPU onnxruntime session on a file or on serialised model bytes, as used for parity checks."""
    return providers.open_session(model, "cpu", name="model" if isinstance(model, bytes) else None)


def _max_abs_diff(sess, refs: dict[int, tuple]) -> dict[str, float]:
    """max |ORT - torch| per batch size, on the session's provider."""
    per_batch = {}
    for b, (z, labels, ref) in refs.items():
        feed = {INPUT_Z: z} if labels is None else {INPUT_Z: z, INPUT_LABELS: labels}
        got = sess.run([OUTPUT], feed)[0]
        if got.shape != ref.shape or got.dtype != np.float32:
            raise ExportError(f"onnxruntime returned {got.dtype} {got.shape}, expected float32 {ref.shape}")
        per_batch[str(b)] = float(np.abs(got.astype(np.float64) - ref).max())
    return per_batch


def measure_parity(model: Path | bytes, gen: torch.nn.Module, batch_sizes=PARITY_BATCHES,
                   seed: int = PARITY_SEED) -> dict:
    """Run onnxruntime and PyTorch (CPU, fp32) on the same seeded latents; max |difference| per batch size.

    Measured on every provider that can run the file here: the CPU always, CUDA when its provider
    starts (with the sampler's session settings). `by_provider` keeps each provider's figures; the
    top-level `max_abs_diff` and `provider` are those of the provider `load_sampler(device="auto")`
    will use on this machine (CUDA when it starts, else the CPU).
    """
    refs = {}
    for b in batch_sizes:
        z = make_latents(b, gen.latent_dim, seed)
        labels = default_labels(b, gen.num_classes)
        with torch.inference_mode():
            ref = gen(torch.from_numpy(z), None if labels is None else torch.from_numpy(labels)).numpy()
        refs[b] = (z, labels, ref)
    sessions = [ort_session(model), providers.cuda_session(model)]
    by_provider = {}
    for sess in filter(None, sessions):
        name = sess.get_providers()[0]
        per_batch = _max_abs_diff(sess, refs)
        by_provider[name] = {"max_abs_diff": max(per_batch.values()), "max_abs_diff_per_batch": per_batch,
                             "options": sess.get_provider_options().get(name, {})}
    head = providers.CUDA if providers.CUDA in by_provider else providers.CPU
    return {"max_abs_diff": by_provider[head]["max_abs_diff"], "provider": head,
            "max_abs_diff_per_batch": by_provider[head]["max_abs_diff_per_batch"], "by_provider": by_provider,
            "batch_sizes": list(batch_sizes), "export_batch": EXPORT_BATCH, "seed": seed,
            "reference": "PyTorch eager fp32, eval mode, CPU"}


def _finish(model: onnx.ModelProto, path: Path, gen, bound: float, sidecar: dict) -> dict:
    """Check the serialised model and measure its parity in memory; only then write it and its sidecar."""
    data = model.SerializeToString()  # the file's bytes (no external data)
    onnx.checker.check_model(model, full_check=True)
    parity = measure_parity(data, gen)
    for name, figures in parity["by_provider"].items():
        if not figures["max_abs_diff"] <= bound:
            raise ExportError(f"{path}: onnxruntime ({name}) differs from PyTorch by {figures['max_abs_diff']:.3g} "
                              f"(bound {bound:g}); the export is not written")
    atomic.write_bytes(path, data)
    meta = {**sidecar, "file": path.name, "model_sha256": sha256_bytes(data), "model_bytes": len(data),
            "parity": {**parity, "bound": bound}}
    atomic.write_json(path.with_suffix(".json"), meta)
    log.info("wrote %s (%.1f MB), max |ORT - torch| = %s at batches %s", path, meta["model_bytes"] / 1e6,
             ", ".join(f"{v['max_abs_diff']:.2g} ({k})" for k, v in parity["by_provider"].items()),
             ", ".join(map(str, parity["batch_sizes"])))
    return meta


def export_run(run_dir: Path, checkpoint: Path | None = None, ema: bool = True, fp16: bool = False,
               opset: int | None = None, out: Path | None = None) -> Path:
    """Export a run's generator to OUT/generator.onnx (+ generator_fp16.onnx); returns the fp32 path.

    Defaults: checkpoint RUN_DIR/checkpoints/latest.pt, OUT = RUN_DIR/export. Each file gets a
    sidecar `<stem>.json` with shapes, classes, checksums, versions and the measured parity.
    """
    run_dir = Path(run_dir)
    checkpoint = Path(checkpoint) if checkpoint is not None else run_dir / "checkpoints" / "latest.pt"
    if not checkpoint.is_file():
        raise FileNotFoundError(f"{checkpoint}: no checkpoint; train first (python -m train) or pass --checkpoint")
    out = Path(out) if out is not None else run_dir / "export"
    out.mkdir(parents=True, exist_ok=True)
    gen, info = ckpt.load_generator(checkpoint, ema=ema)
    spec = info["spec"]
    log.info("exporting %s generator (%d px, %s weights, iteration %d) from %s", spec.name,
             spec.resolution, "EMA" if info["ema"] else "raw", info["iteration"], checkpoint)
    graph_meta = spec.to_dict()  # the ModelSpec, in the sidecar and in the graph's metadata_props
    model = to_onnx(gen, opset)
    opset_used = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    inputs = [{"name": INPUT_Z, "dtype": "float32", "shape": ["batch", spec.latent_dim]}]
    if spec.conditional:
        inputs.append({"name": INPUT_LABELS, "dtype": "int64", "shape": ["batch"]})
    sidecar = {
        "format": SIDECAR_FORMAT, **graph_meta,
        "inputs": inputs,
        "output": {"name": OUTPUT, "dtype": "float32", "shape": ["batch", 3, spec.resolution, spec.resolution],
                   "layout": "NCHW", "range": list(spec.output_range)},
        "quantisation": "uint8 = round(clip((x + 1) / 2 * 255)) (train.images.to_uint8)",
        "latents": LATENTS_DOC,
        "conditional_default_labels": "numpy.arange(n) % num_classes" if spec.conditional else None,
        "opset": opset_used, "ir_version": model.ir_version,
        "exporter": "torch.onnx.export(dynamo=True, dynamic_shapes={batch: Dim})",
        "source_checkpoint": info["checkpoint"], "source_checkpoint_sha256": info["checkpoint_sha256"],
        "ema": info["ema"], "iteration": info["iteration"],
        "versions": versions(), "date": provenance.utc_now(),
    }
    _set_metadata(model, {**graph_meta, "precision": "fp32"})
    path = out / "generator.onnx"
    _finish(model, path, gen, PARITY_BOUND_FP32, {**sidecar, "precision": "fp32"})
    if fp16:
        from onnxruntime.transformers.float16 import convert_float_to_float16
        model16 = convert_float_to_float16(model, keep_io_types=True)
        _repair_fp16(model16.graph)
        _toposort(model16.graph)
        _set_metadata(model16, {**graph_meta, "precision": "fp16"})
        _finish(model16, out / "generator_fp16.onnx", gen, PARITY_BOUND_FP16,
                {**sidecar, "precision": "fp16", "fp16_converter": "onnxruntime.transformers.float16."
                 "convert_float_to_float16(keep_io_types=True): fp16 weights and activations, fp32 input/output"})
    return path

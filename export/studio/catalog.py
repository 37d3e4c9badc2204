"""The models a studio serves: every exported `.onnx` under the given folders (or given as files), with
the facts its sidecar records, and opening one with every check that can fail named in one line.

Listing reads only the small JSON sidecars; a model is opened (SHA-256 checked, onnxruntime session
made, graph compared with its sidecar) when the designer picks it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from export.onnx_export import INPUT_LABELS, INPUT_Z

EXPORT_HINT = "export one with python -m export onnx RUN_DIR"


@dataclass(frozen=True)
class ModelEntry:
    """One model file and what its sidecar says (nothing is loaded)."""

    path: Path
    sidecar: dict | None     # the parsed <stem>.json; None when missing or unreadable
    problem: str | None      # why the sidecar could not be read, else None

    @property
    def sha256(self) -> str | None:
        return (self.sidecar or {}).get("model_sha256")

    def facts(self) -> dict:
        """Model name, resolution, iteration, classes and precision, as the sidecar gives them."""
        s = self.sidecar or {}
        return {"model": s.get("name") or s.get("model"), "resolution": s.get("resolution"),
                "iteration": s.get("iteration"), "classes": s.get("num_classes", 0),
                "class_names": list(s.get("class_names") or []), "precision": s.get("precision"),
                "sha256": (self.sha256 or "")[:12]}

    def label(self) -> str:
        """One line for the model picker: the facts, then the file's last three path parts."""
        f = self.facts()
        where = "/".join(self.path.parts[-3:])
        if self.sidecar is None:
            return f"{where} ({'sidecar unreadable' if self.problem else 'no sidecar'})"
        parts = [f["model"] or "?", f"{f['resolution']} px"]
        if f["iteration"] is not None:
            parts.append(f"iteration {f['iteration']}")
        parts.append(f"{f['classes']} classes" if f["classes"] else "unconditional")
        if f["precision"] and f["precision"] != "fp32":
            parts.append(f["precision"])
        return " · ".join(parts) + f" · {where}"


def find_models(paths: list[Path]) -> list[Path]:
    """The .onnx files given, and those anywhere under the given folders, sorted, each once.
    Missing paths are skipped here (the command line refuses them before serving)."""
    found: set[Path] = set()
    for p in map(Path, paths):
        if p.is_file() and p.suffix == ".onnx":
            found.add(p.resolve())
        elif p.is_dir():
            found.update(q.resolve() for q in p.rglob("*.onnx") if q.is_file())
    return sorted(found)


def read_entry(path: Path) -> ModelEntry:
    """A model file and its sidecar (a missing sidecar is allowed: load_sampler reads the graph then)."""
    side = path.with_suffix(".json")
    if not side.is_file():
        return ModelEntry(path, None, None)
    try:
        data = json.loads(side.read_text())
    except (OSError, ValueError, UnicodeDecodeError) as e:
        return ModelEntry(path, None, f"{side}: not valid JSON ({e}); re-export with python -m export onnx")
    if not isinstance(data, dict):
        return ModelEntry(path, None, f"{side}: not a sidecar (a JSON object is expected); re-export")
    return ModelEntry(path, data, None)


def scan(paths: list[Path]) -> list[ModelEntry]:
    """Every model under `paths` with its sidecar facts."""
    return [read_entry(p) for p in find_models(paths)]


def check_graph(sampler) -> None:
    """ModelFileError unless the graph takes and gives what the sidecar's spec says (a sidecar copied
    from another export, or edited, would otherwise fail later inside onnxruntime)."""
    from export.sampler import ModelFileError
    inputs = {i.name: i for i in sampler.session.get_inputs()}
    out = sampler.session.get_outputs()[0]
    spec = sampler.spec
    dim = inputs[INPUT_Z].shape[1] if INPUT_Z in inputs else None
    res = out.shape[-1]
    graph = (dim, res if isinstance(res, int) else spec.resolution, INPUT_LABELS in inputs)
    if graph != (spec.latent_dim, spec.resolution, spec.num_classes > 0):
        said = (f"latent {spec.latent_dim}, {spec.resolution} px, "
                + (f"{spec.num_classes} classes" if spec.num_classes else "unconditional"))
        has = f"latent {dim}, {graph[1]} px, " + ("class labels" if graph[2] else "no class input")
        raise ModelFileError(f"{sampler.path}: its sidecar {sampler.path.with_suffix('.json').name} says {said}, "
                             f"but the graph has {has}; the two come from different exports: re-export with "
                             f"python -m export onnx RUN_DIR")


@dataclass(frozen=True)
class Model:
    """An opened model: its sampler and the SHA-256 its recipes and design ids are named by."""

    sampler: object          # export.sampler.Sampler
    sha256: str              # the sidecar's model_sha256 (else the file's), as `python -m export design` takes it

    @property
    def prefix(self) -> str:
        return self.sha256[:8]

    @property
    def num_classes(self) -> int:
        return self.sampler.num_classes


def open_model(path: Path, device: str = "auto") -> Model:
    """The model at `path`, checked (SHA-256 against the sidecar, graph against the sidecar's spec), in
    onnxruntime's deterministic mode like `python -m export design`'s, so the studio's sheets are its bytes.
    Raises ModelFileError (a UserError) with one line naming the file and the fix."""
    from export.sampler import load_sampler
    from inkwash.hashing import sha256_file
    sampler = load_sampler(path, device, deterministic=True)   # as `python -m export design` opens it
    check_graph(sampler)
    return Model(sampler, sampler.meta.get("model_sha256") or sha256_file(sampler.path))


def class_names(sampler) -> list[str]:
    """The class names of a conditional model (its indices where the run had none)."""
    return sampler.class_names or [str(i) for i in range(sampler.num_classes)]

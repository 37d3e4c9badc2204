"""export: ONNX export of trained generators and onnxruntime sampling.

`from export import load_sampler` loads the sampler module (onnxruntime, torch) on first use only, so
`python -m export --help` stays fast.
"""
from __future__ import annotations

__all__ = ["Sampler", "load_sampler"]


def __getattr__(name: str):
    if name in __all__:
        from export import sampler
        return getattr(sampler, name)
    raise AttributeError(f"module 'export' has no attribute {name!r}")

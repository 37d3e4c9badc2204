"""export: ONNX export of trained generators and onnxruntime sampling."""
from export.sampler import Sampler, load_sampler

__all__ = ["Sampler", "load_sampler"]

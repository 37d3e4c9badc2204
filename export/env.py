"""python -m export env: which onnxruntime build this machine got, whether its CUDA provider really
starts, and the torch it shares the process with.

`onnxruntime.get_available_providers()` lists what a build was compiled with (the GPU wheel lists
CUDA on machines without CUDA libraries), so the CUDA provider is tried on a one-node model and
run once (cuDNN and cuBLAS load on the first run), exactly as `load_sampler(device="auto")` would.
"""
from __future__ import annotations

import numpy as np
import torch

from export import providers


def probe_model() -> bytes:
    """A one-node ONNX model (Identity on float32 (1,)) to try a provider on."""
    import onnx
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "probe", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9  # readable by every onnxruntime >= 1.15
    onnx.checker.check_model(model)
    return model.SerializeToString()


def cuda_status() -> dict:
    """Whether the onnxruntime CUDA provider starts and runs here: {"starts", "reason", "options"}."""
    sess, reason = providers.try_cuda(probe_model(), name="probe model")
    if reason is None:
        try:
            with providers.native_stderr():
                sess.run(["y"], {"x": np.zeros(1, np.float32)})
        except Exception as e:  # noqa: BLE001 - any failure of the first run is the answer
            reason = f"the session starts but its first run fails: {str(e).strip().splitlines()[0][:300]}"
    if reason is not None:
        return {"starts": False, "reason": reason, "options": {}}
    return {"starts": True, "reason": None, "options": sess.get_provider_options()[providers.CUDA]}


def torch_status() -> dict:
    """torch's version and CUDA: build, cuDNN, visible devices."""
    cuda = torch.cuda.is_available()
    return {"version": torch.__version__, "cuda_build": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version() if cuda else None, "cuda_available": cuda,
            "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else []}


def report() -> dict:
    """Everything `python -m export env` prints."""
    ort = providers.build_info()
    cuda = cuda_status()
    tch = torch_status()
    mismatch = providers.cuda_mismatch(tch["cuda_build"], tch["cudnn"], ort["cuda_version"], ort["cudnn_major"]) \
        if cuda["starts"] and tch["cuda_available"] else None
    return {"onnxruntime": ort, "cuda_provider": cuda, "torch": tch, "cuda_mismatch": mismatch,
            "auto_runs_on": providers.CUDA if cuda["starts"] else providers.CPU}


def format_report(r: dict) -> str:
    """The report as aligned lines for people."""
    ort, cuda, tch = r["onnxruntime"], r["cuda_provider"], r["torch"]
    build = (f" (CUDA {ort['cuda_version']} build, needs cuDNN {ort['cudnn_major']})" if ort["cuda_version"]
             else " (no CUDA)")
    if cuda["starts"]:
        started = f"starts on device {cuda['options'].get('device_id', '0')}"
    else:
        started = f"does not start: {cuda['reason']}"
    torch_cuda = (f"CUDA {tch['cuda_build']}, cuDNN {tch['cudnn']}, devices: {', '.join(tch['devices'])}"
                  if tch["cuda_available"] else f"no CUDA device visible (build: {tch['cuda_build'] or 'CPU only'})")
    rows = [("onnxruntime", f"{ort['distribution']} {ort['version']}{build}"),
            ("compiled in", ", ".join(ort["compiled_providers"])),
            ("CUDA provider", started),
            ("--device auto", f"runs on {r['auto_runs_on']}"),
            ("torch", f"{tch['version']}: {torch_cuda}")]
    if r["cuda_mismatch"]:
        rows.append(("warning", f"{r['cuda_mismatch']}; install builds for the same CUDA major"))
    return "\n".join(f"{k:<14} {v}" for k, v in rows)

"""train.precision: the choice of --dtype per device (mocked CUDA facts), and the precision of each
piece of a step as GANLoss runs it (bf16 autocast exercised on the CPU, the policy being device-free)."""
from __future__ import annotations

import pytest
import torch

from train import config, precision
from train.gan_loss import GANLoss
from train.models import ModelSpec
from train.precision import Precision, choose


@pytest.mark.parametrize("dtype, capability, supported, name, reason", [
    ("auto", (9, 0), True, "bf16-autocast", "auto: compute capability 9.0 has native bf16"),
    ("auto", (8, 0), True, "bf16-autocast", "compute capability 8.0 has native bf16"),
    ("bf16", (8, 6), True, "bf16-autocast", "--dtype bf16: compute capability 8.6"),
    ("auto", (7, 0), True, "fp32", "compute capability 7.0 has no native bf16"),       # V100: emulated
    ("auto", (7, 5), False, "fp32", "is_bf16_supported() is False"),                     # T4
    ("auto", (8, 0), False, "fp32", "no native bf16"),
    ("fp32", (9, 0), True, "fp32", "--dtype fp32"),
    ("fast", (9, 0), True, "bf16-autocast", "--dtype fast: compute capability 9.0 has native bf16"),
    ("fast", (7, 0), True, "fp32", "--dtype fast: compute capability 7.0 has no native bf16"),  # never refused
], ids=["h100", "a100", "rtx30-bf16", "v100", "t4", "unsupported", "fp32-asked", "fast-h100", "fast-v100"])
def test_cuda_dtype_follows_capability_and_bf16_support(dtype, capability, supported, name, reason):
    p = choose("cuda", dtype, capability, supported)
    assert (p.name, p.bf16, p.device_type) == (name, name == "bf16-autocast", "cuda")
    assert reason in p.reason


@pytest.mark.parametrize("capability, supported", [((7, 0), True), ((7, 5), False)])
def test_bf16_asked_for_on_a_gpu_without_native_bf16_is_a_user_error(capability, supported):
    with pytest.raises(ValueError, match=r"^dtype: this GPU \(compute capability 7\.\d.*--dtype auto or fp32"):
        choose("cuda", "bf16", capability, supported)


def test_the_cpu_trains_in_fp32_by_default_and_bf16_only_where_native():
    assert choose("cpu", "auto", None, True) == Precision(
        "fp32", "auto on the CPU: fp32 (bf16 autocast is opt-in there: --dtype bf16)", "cpu")
    assert choose("cpu", "fp32", None, True).name == "fp32"
    p = choose("cpu", "bf16", None, True)
    assert (p.name, p.bf16, p.device_type) == ("bf16-autocast", True, "cpu")
    with pytest.raises(ValueError, match="^dtype: this CPU has no native bf16 instructions .*--dtype fp32"):
        choose("cpu", "bf16", None, False)


@pytest.mark.parametrize("flags, native", [
    ("fpu sse avx512f avx512_bf16 avx512_fp16", True),   # AMD Zen 4, Intel Cooper Lake
    ("fpu avx512f amx_bf16 amx_tile", True),             # Intel Sapphire Rapids
    ("fpu sse avx2 avx512f avx512bw", False),            # Skylake-X: avx512 without bf16
])
def test_cpu_native_bf16_reads_the_cpuinfo_flags(tmp_path, flags, native):
    info = tmp_path / "cpuinfo"
    info.write_text(f"processor\t: 0\nmodel name\t: x\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: {flags}\n")
    assert precision.cpu_native_bf16(str(info)) is native
    assert precision.cpu_native_bf16(str(tmp_path / "missing")) is False  # macOS: no /proc/cpuinfo


def test_fast_is_bf16_wherever_native_and_fp32_elsewhere_never_refused(monkeypatch):
    p = choose("cpu", "fast", None, True)
    assert (p.name, p.bf16, p.reason) == ("bf16-autocast", True, "--dtype fast: the CPU has native bf16 instructions")
    p = choose("cpu", "fast", None, False)
    assert (p.name, p.bf16, p.reason) == ("fp32", False, "--dtype fast: this CPU has no native bf16 instructions; fp32")
    for native in (False, True):  # the config accepts it on any machine
        monkeypatch.setattr(precision, "cpu_native_bf16", lambda native=native: native)
        assert config.resolve(dict(dtype="fast", device="cpu")).dtype == "fast"


def test_bf16_on_a_cpu_without_native_bf16_is_refused_by_the_config(monkeypatch):
    monkeypatch.setattr(precision, "cpu_native_bf16", lambda: False)
    with pytest.raises(ValueError, match="^dtype: bf16 autocast needs a CUDA GPU or a CPU with native bf16"):
        config.resolve(dict(dtype="bf16", device="cpu"))
    monkeypatch.setattr(precision, "cpu_native_bf16", lambda: True)
    assert config.resolve(dict(dtype="bf16", device="cpu")).dtype == "bf16"


def test_detect_reads_the_devices_capability_and_native_bf16_support(monkeypatch):
    asked = {}

    def capability(device=None):
        asked["device"] = device
        return (7, 5)  # a T4

    def bf16_supported(including_emulation=True):
        asked["emulation"] = including_emulation
        return including_emulation  # emulated only

    monkeypatch.setattr(torch.cuda, "get_device_capability", capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", bf16_supported)
    p = precision.detect(torch.device("cuda", 1), "auto")
    assert p.name == "fp32" and "compute capability 7.5" in p.reason
    assert asked == {"device": torch.device("cuda", 1), "emulation": False}  # emulated bf16 does not count
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d=None: (9, 0))
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    assert precision.detect(torch.device("cuda", 0), "auto").bf16
    assert precision.detect(torch.device("cpu"), "auto").name == "fp32"


class _Recording(torch.nn.Module):
    """Calls a critic and records, per call, the input dtype and whether autocast was on."""

    def __init__(self, critic: torch.nn.Module):
        super().__init__()
        self.critic, self.calls = critic, []

    def forward(self, x, labels=None):
        self.calls.append((x.dtype, torch.is_autocast_enabled("cpu")))
        return self.critic(x, labels)


@pytest.mark.parametrize("loss", ["wgan-gp", "bce"])
def test_under_bf16_autocast_only_forward_passes_are_bf16(loss):
    """Fakes reach the critic as fp32 in both steps, the penalty runs with autocast off, scores and
    losses are fp32: the policy in train.precision, run with CPU autocast."""
    cfg = config.resolve({"preset": "paper-demo", "loss": loss, "critic_norm": "layer", "device": "cpu", "n_critic": 1})
    gen, critic = ModelSpec("paper", 64, 16, critic_norm="layer").build()
    rec = _Recording(critic)
    bf16 = Precision("bf16-autocast", "test", "cpu", bf16=True)
    gan = GANLoss(cfg, gen, rec, critic, lambda x: x, bf16)
    real = torch.rand(2, 3, 64, 64) * 2 - 1
    terms = gan.critic_step(real, None, torch.randn(2, 16), None)
    expected = [(torch.float32, True), (torch.float32, True)] + ([(torch.float32, False)] if loss == "wgan-gp" else [])
    assert rec.calls == expected
    rec.calls.clear()
    g_terms = gan.generator_step(torch.randn(2, 16), None, real)
    assert rec.calls == [(torch.float32, True)]
    assert all(v.dtype == torch.float32 for v in [*terms.values(), *g_terms.values()])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert critic(real).dtype == torch.float32          # the head and the scores in fp32
        assert gen(torch.randn(2, 16)).dtype == torch.bfloat16  # the forward pass itself in bf16

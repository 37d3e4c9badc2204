"""evalkit against the reference libraries: torch-fidelity 0.4.0 (IS/FID/KID, features, resize) and
pytorch-msssim 1.0.0 (MS-SSIM), with the same calibrated random weights and images.

torch-fidelity is a test extra installed without its dependencies
(`pip install --no-deps torch-fidelity==0.4.0`); it imports torchvision at import time, so these tests
put an import-only stand-in for torchvision into sys.modules (every callable raises) and remove it after.
Its folder loader needs torchvision, so it is fed a Dataset that decodes exactly as that loader does
(PIL convert('RGB') -> uint8 (3, H, W)).
"""
from __future__ import annotations

import importlib.util
import sys
import types
from importlib.machinery import ModuleSpec
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from evalkit import features, inception, metrics

STANDIN = ("torchvision", "torchvision.datasets", "torchvision.transforms", "torchvision.transforms.functional",
           "torchvision.models", "torchvision.utils")


class _Standin(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)

        def refuse(*a, **k):
            raise RuntimeError(f"torchvision stand-in: {self.__name__}.{name} is not available")
        return type(name, (), {"__init__": refuse, "__call__": refuse})


@pytest.fixture(scope="module")
def tfid():
    """torch_fidelity imported beside a torchvision stand-in; sys.modules restored afterwards."""
    if importlib.util.find_spec("torch_fidelity") is None:
        pytest.skip("torch-fidelity not installed (test extra: pip install --no-deps torch-fidelity==0.4.0)")
    before = set(sys.modules)
    if importlib.util.find_spec("torchvision") is None:
        for name in STANDIN:
            mod = _Standin(name)
            mod.__path__, mod.__spec__ = [], ModuleSpec(name, None)
            sys.modules[name] = mod
            if "." in name:
                parent, child = name.rsplit(".", 1)
                setattr(sys.modules[parent], child, mod)
    import torch_fidelity
    assert torch_fidelity.__version__ == "0.4.0"
    yield torch_fidelity
    for name in set(sys.modules) - before:
        if name.startswith(("torchvision", "torch_fidelity")):
            del sys.modules[name]


class PNGDataset(torch.utils.data.Dataset):
    """torch-fidelity's ImagesPathDataset without torchvision: PIL convert('RGB') -> uint8 (3, H, W)."""

    def __init__(self, folder: Path):
        self.files = sorted(Path(folder).glob("*.png"))

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        with Image.open(self.files[i]) as im:
            return torch.from_numpy(np.asarray(im.convert("RGB")).copy()).permute(2, 0, 1)


@pytest.mark.parametrize("hw", [(32, 32), (64, 64), (17, 23), (300, 310)])
def test_tf1_resize_is_bit_exact_with_torch_fidelity(tfid, hw):
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x as ref
    x = torch.rand(2, 3, *hw, generator=torch.Generator().manual_seed(0)) * 255
    want = ref(x, size=(299, 299), align_corners=False)
    assert torch.equal(inception.tf1_resize_bilinear(x, (299, 299)), want)


def test_features_match_torch_fidelity(tfid, inception_weights, synthetic_images):
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    imgs = synthetic_images(8, size=32, seed=11)
    theirs = FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"],
                                         feature_extractor_weights_path=str(inception_weights))
    with torch.no_grad():
        pool3, logits = theirs(torch.from_numpy(imgs).permute(0, 3, 1, 2).contiguous())
    ours = features.extract_features(imgs, inception_weights, device="cpu", batch_size=8)
    assert float(pool3.abs().max()) > 0.5                  # O(1) features: the comparison can fail
    np.testing.assert_allclose(ours["pool3"], pool3.numpy(), rtol=0, atol=1e-5)
    np.testing.assert_allclose(ours["logits"], logits.numpy(), rtol=0, atol=1e-5 * float(logits.abs().max()))


def test_metric_functions_match_torch_fidelity_on_the_same_features(tfid):
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
    from torch_fidelity.metric_isc import isc_features_to_metric
    from torch_fidelity.metric_kid import kid_features_to_metric
    rng = np.random.default_rng(0)
    a = rng.standard_normal((120, 256)) * 0.3 + 0.5       # the formulas do not depend on D = 2048
    b = rng.standard_normal((150, 256)) * 0.35 + 0.45
    logits = rng.standard_normal((120, 1008)) * 3
    want_is = isc_features_to_metric(torch.from_numpy(logits))
    got_is = metrics.inception_score(logits)
    assert got_is["mean"] == pytest.approx(want_is["inception_score_mean"], rel=1e-12)
    assert got_is["std"] == pytest.approx(want_is["inception_score_std"], rel=1e-9)
    want_fid = fid_statistics_to_metric(fid_features_to_statistics(torch.from_numpy(a)),
                                        fid_features_to_statistics(torch.from_numpy(b)), False)
    with pytest.warns(UserWarning):
        got_fid = metrics.fid(a, b)["value"]
    assert got_fid == pytest.approx(want_fid["frechet_inception_distance"], rel=1e-7)
    # float64 features: torch-fidelity's kernel then runs in float64 too, so the definitions must agree.
    want_kid = kid_features_to_metric(torch.from_numpy(a), torch.from_numpy(b), kid_subsets=7, kid_subset_size=100,
                                      kid_kernel="poly", kid_kernel_poly_degree=3, kid_kernel_poly_gamma=None,
                                      kid_kernel_poly_coef0=1, rng_seed=2020, verbose=False)
    got_kid = metrics.kid(a, b, subsets=7, subset_size=100)
    assert got_kid["mean"] == pytest.approx(want_kid["kernel_inception_distance_mean"], rel=1e-9)
    assert got_kid["std"] == pytest.approx(want_kid["kernel_inception_distance_std"], rel=1e-6)


@pytest.mark.slow
def test_is_fid_kid_match_torch_fidelity_end_to_end(tfid, tmp_path, inception_weights, synthetic_images, write_images):
    n = 64          # 2 x 64 PNGs per library: 10 IS splits, KID subsets of 50; each 299-px forward ~6 GFLOP
    a = tmp_path / "a"
    write_images(a, synthetic_images(n, size=32, seed=21))
    b = tmp_path / "b"
    write_images(b, synthetic_images(n, size=32, seed=22, style=1.0))
    want = tfid.calculate_metrics(input1=PNGDataset(a), input2=PNGDataset(b), cuda=False, isc=True, fid=True,
                                  kid=True, kid_subset_size=50, kid_subsets=20,
                                  feature_extractor_weights_path=str(inception_weights), cache=False,
                                  save_cpu_ram=True, verbose=False)
    fa = features.features_for(a, inception_weights, device="cpu", cache=False)
    fb = features.features_for(b, inception_weights, device="cpu", cache=False)
    got_is = metrics.inception_score(fa["logits"])
    with pytest.warns(UserWarning):
        got_fid = metrics.fid(fa["pool3"], fb["pool3"])["value"]
    got_kid = metrics.kid(fa["pool3"], fb["pool3"], subsets=20, subset_size=50)
    assert got_is["mean"] == pytest.approx(want["inception_score_mean"], rel=1e-6)
    assert got_is["std"] == pytest.approx(want["inception_score_std"], rel=1e-4, abs=1e-6)
    assert got_fid == pytest.approx(want["frechet_inception_distance"], rel=1e-5)
    # torch-fidelity computes the KID kernel in float32 (ours float64): compare to 1e-6 absolute.
    assert got_kid["mean"] == pytest.approx(want["kernel_inception_distance_mean"], abs=1e-6)
    # Not degenerate: the values are far from what vanishing features would give (IS 1, FID 0, KID 0).
    assert want["inception_score_mean"] > 1.05 and want["frechet_inception_distance"] > 1.0
    assert want["kernel_inception_distance_mean"] > 1e-3


@pytest.mark.parametrize("hw", [(176, 176), (177, 190)])     # even and odd sizes (padding in the pyramid)
def test_ms_ssim_matches_pytorch_msssim(synthetic_images, hw):
    pytorch_msssim = pytest.importorskip("pytorch_msssim")
    a = synthetic_images(2, size=max(hw), seed=31)[:, :hw[0], :hw[1]]
    b = synthetic_images(2, size=max(hw), seed=32, style=1.0)[:, :hw[0], :hw[1]]
    b[0] = np.clip(a[0].astype(int) + 9, 0, 255)                           # one similar pair
    t = lambda u: torch.from_numpy(np.ascontiguousarray(u)).permute(0, 3, 1, 2).double()
    want = pytorch_msssim.ms_ssim(t(a), t(b), data_range=255, size_average=False).numpy()
    np.testing.assert_allclose(metrics.ms_ssim(a, b), want, rtol=0, atol=1e-6)
    assert want[0] > 0.5 > want[1] > 0

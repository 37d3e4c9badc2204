"""Preprocessing (TF1 resize, scaling), feature extraction invariances, inputs and the feature cache."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from evalkit import features, inception


def test_tf1_resize_matches_hand_computed_2x2_to_3x3():
    x = torch.tensor([[0.0, 10.0], [20.0, 30.0]]).view(1, 1, 2, 2)
    # TF1: source = i * 2/3 = 0, 0.667, 1.333 -> lo (0, 0, 1), hi clamped (1, 1, 1), frac (0, 2/3, 1/3).
    expected = torch.tensor([[0.0, 20 / 3, 10.0],
                             [40 / 3, 20.0, 70 / 3],
                             [20.0, 80 / 3, 30.0]])
    got = features.tf1_resize_bilinear(x, (3, 3))[0, 0]
    assert torch.allclose(got, expected, atol=1e-5)
    # PyTorch's half-pixel bilinear gives other values: the convention the test pins down.
    pt = F.interpolate(x, size=(3, 3), mode="bilinear", align_corners=False)[0, 0]
    assert not torch.allclose(pt, expected, atol=1e-2)


def test_tf1_resize_downsample_samples_without_half_pixel_offset():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    got = features.tf1_resize_bilinear(x, (2, 2))[0, 0]
    assert torch.equal(got, torch.tensor([[0.0, 2.0], [8.0, 10.0]]))    # rows/cols 0 and 2, no averaging


def test_preprocess_scales_by_x_minus_128_over_128():
    u8 = torch.tensor([0, 128, 255], dtype=torch.uint8).view(1, 1, 3, 1).expand(1, 1, 3, 3).contiguous()
    u8 = u8.view(1, 1, 3, 3).permute(0, 2, 3, 1).expand(1, 3, 3, 3).contiguous()   # NHWC, 3 channels
    x = features.preprocess(u8)
    assert x.shape == (1, 3, 299, 299) and x.dtype == torch.float32
    assert x.is_contiguous(memory_format=torch.channels_last)
    assert x[0, :, 0, 0].tolist() == [-1.0, -1.0, -1.0]
    assert float(x.max()) == 127 / 128


def test_features_are_order_one_and_batch_size_invariant(inception_weights, make_images):
    imgs = make_images(6, size=32, seed=1)
    a = features.extract_features(imgs, inception_weights, device="cpu", batch_size=6)
    b = features.extract_features(imgs, inception_weights, device="cpu", batch_size=4)
    assert a["pool3"].shape == (6, 2048) and a["logits"].shape == (6, 1008)
    assert a["tf32"] is False and a["device"] == "cpu" and len(a["weights_sha256"]) == 64
    assert a["pool3"].std(axis=0).mean() > 1e-2          # calibrated BN: features do not vanish
    np.testing.assert_allclose(b["pool3"], a["pool3"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(b["logits"], a["logits"], rtol=0, atol=1e-5 * np.abs(a["logits"]).max())


def test_fused_network_matches_the_plain_one(inception_weights, make_images):
    x = features.preprocess(torch.from_numpy(make_images(2, size=32, seed=2)))
    plain = inception.load_inception(inception_weights)
    fused = inception.fuse_for_inference(inception.load_inception(inception_weights))
    with torch.inference_mode():
        p0, l0 = plain(x.contiguous())
        p1, l1 = fused(x)
    assert float((p1 - p0).abs().max()) <= 1e-5 * float(p0.abs().max())
    assert float((l1 - l0).abs().max()) <= 1e-5 * float(l0.abs().max())


def test_tf32_is_off_inside_and_restored_after():
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True
    try:
        with features.tf32_off():
            assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
        assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def test_folder_and_npz_load_the_same_images(tmp_path, make_images, png_folder):
    imgs = make_images(5, size=16, seed=3)
    folder = png_folder(tmp_path / "set", imgs)
    np.savez(tmp_path / "set.npz", images_u8=imgs)
    np.testing.assert_array_equal(features.load_images(folder), imgs)
    np.testing.assert_array_equal(features.load_images(tmp_path / "set.npz"), imgs)
    sub = features.load_images(folder, n=3, seed=7)
    assert len(sub) == 3 and np.array_equal(sub, features.load_images(tmp_path / "set.npz", n=3, seed=7))


def test_mixed_sizes_error_names_the_odd_file(tmp_path, make_images, png_folder):
    folder = png_folder(tmp_path / "mixed", make_images(3, size=16, seed=4))
    png_folder(tmp_path / "mixed" / "sub", make_images(1, size=20, seed=5))
    with pytest.raises(features.InputError, match=r"sub/0000\.png.*share one size"):
        features.load_images(folder)


def test_bad_inputs_raise_one_line_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "x.txt").write_text("x")
    np.savez(tmp_path / "f.npz", images=np.zeros((2, 8, 8, 3), np.float32))
    for src, pattern in [(tmp_path / "missing", "no such"), (tmp_path / "empty", "no image files"),
                         (tmp_path / "x.txt", "unsupported"), (tmp_path / "f.npz", "expected uint8")]:
        with pytest.raises(features.InputError, match=pattern):
            features.load_images(src)


def test_real_set_features_are_cached_by_content(tmp_path, inception_weights, make_images, png_folder,
                                                 monkeypatch):
    folder = png_folder(tmp_path / "real", make_images(3, size=16, seed=6))
    first = features.features_for(folder, inception_weights, device="cpu")
    assert not first["cache_hit"]

    def no_extraction(*a, **k):
        raise AssertionError("the second call must come from the cache")
    with monkeypatch.context() as m:
        m.setattr(features, "extract_features", no_extraction)
        second = features.features_for(folder, inception_weights, device="cpu")
        moved = features.features_for(folder.rename(tmp_path / "renamed_folder"), inception_weights, device="cpu")
    assert second["cache_hit"] and moved["cache_hit"]
    np.testing.assert_array_equal(second["pool3"], first["pool3"])
    # Changed contents -> a new key -> extraction again.
    png_folder(tmp_path / "renamed_folder", make_images(3, size=16, seed=7))
    assert not features.features_for(tmp_path / "renamed_folder", inception_weights, device="cpu")["cache_hit"]


def test_onnx_input_is_sampled_through_export_load_sampler(tmp_path, monkeypatch):
    # Our side of the contract: export.load_sampler(path, device).sample(n, seed, batch_size) -> uint8.
    import export
    calls = []

    class FakeSampler:
        def sample(self, n, seed=0, batch_size=64, labels=None):
            calls.append((n, seed, batch_size))
            return np.random.default_rng(seed).integers(0, 256, (n, 8, 8, 3), dtype=np.uint8)

    def fake_load_sampler(path, device="auto"):
        calls.append((str(path), device))
        return FakeSampler()
    monkeypatch.setattr(export, "load_sampler", fake_load_sampler, raising=False)
    onnx = tmp_path / "generator.onnx"
    onnx.write_bytes(b"onnx")
    imgs = features.load_images(onnx, n=5, seed=3)
    assert imgs.shape == (5, 8, 8, 3) and calls[0][0] == str(onnx) and calls[1][:2] == (5, 3)
    with pytest.raises(features.InputError, match="sample count"):
        features.load_images(onnx)


@pytest.mark.gpu
def test_cuda_features_match_cpu_with_tf32_off(inception_weights, make_images):
    imgs = make_images(4, size=32, seed=8)
    cpu = features.extract_features(imgs, inception_weights, device="cpu")
    torch.backends.cudnn.allow_tf32 = True                  # the process default; extraction turns it off
    gpu = features.extract_features(imgs, inception_weights, device="cuda")
    assert gpu["device"].startswith("cuda") and gpu["tf32"] is False
    assert torch.backends.cudnn.allow_tf32                  # restored afterwards
    np.testing.assert_allclose(gpu["pool3"], cpu["pool3"], rtol=0, atol=1e-5)

"""Feature extraction invariances, metric inputs (folders, .npz, ONNX) and the feature cache."""
from __future__ import annotations

import numpy as np
import pytest

from evalkit import features


def test_features_are_order_one_and_batch_size_invariant(inception_weights, synthetic_images):
    imgs = synthetic_images(6, size=32, seed=1)
    a = features.extract_features(imgs, inception_weights, device="cpu", batch_size=6)
    b = features.extract_features(imgs, inception_weights, device="cpu", batch_size=4)
    assert a["pool3"].shape == (6, 2048) and a["logits"].shape == (6, 1008)
    assert a["tf32"] is False and a["device"] == "cpu" and len(a["weights_sha256"]) == 64
    assert a["pool3"].std(axis=0).mean() > 1e-2          # calibrated BN: features do not vanish
    np.testing.assert_allclose(b["pool3"], a["pool3"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(b["logits"], a["logits"], rtol=0, atol=1e-5 * np.abs(a["logits"]).max())


def test_folder_and_npz_load_the_same_images(tmp_path, synthetic_images, write_images):
    imgs = synthetic_images(5, size=16, seed=3)
    folder = tmp_path / "set"
    write_images(folder, imgs)
    np.savez(tmp_path / "set.npz", images_u8=imgs)
    np.testing.assert_array_equal(features.load_images(folder), imgs)
    np.testing.assert_array_equal(features.load_images(tmp_path / "set.npz"), imgs)
    sub = features.load_images(folder, n=3, seed=7)
    assert len(sub) == 3 and np.array_equal(sub, features.load_images(tmp_path / "set.npz", n=3, seed=7))


def test_mixed_sizes_error_names_the_odd_file(tmp_path, synthetic_images, write_images):
    folder = tmp_path / "mixed"
    write_images(folder, synthetic_images(3, size=16, seed=4))
    write_images(tmp_path / "mixed" / "sub", synthetic_images(1, size=20, seed=5))
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


def test_real_set_features_are_cached_by_content(tmp_path, inception_weights, synthetic_images, write_images,
                                                 monkeypatch):
    folder = tmp_path / "real"
    write_images(folder, synthetic_images(3, size=16, seed=6))
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
    write_images(tmp_path / "renamed_folder", synthetic_images(3, size=16, seed=7))
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


def test_the_network_runs_with_tf32_off_and_the_setting_is_restored(inception_weights, synthetic_images,
                                                                  monkeypatch):
    from train.device import tf32, tf32_enabled
    seen, network = [], features._network

    def spy(path, dev):
        net = network(path, dev)
        return lambda x: (seen.append(tf32_enabled()), net(x))[1]
    monkeypatch.setattr(features, "_network", spy)
    with tf32(True):
        features.extract_features(synthetic_images(2, size=32), inception_weights, device="cpu")
        assert tf32_enabled()                                # restored afterwards
    assert seen == [False]


@pytest.mark.gpu
def test_cuda_features_match_cpu_with_tf32_off(inception_weights, synthetic_images):
    from train.device import tf32, tf32_enabled
    imgs = synthetic_images(4, size=32, seed=8)
    cpu = features.extract_features(imgs, inception_weights, device="cpu")
    with tf32(True):                                         # a caller's setting; extraction turns it off
        gpu = features.extract_features(imgs, inception_weights, device="cuda")
        assert tf32_enabled()                                # restored afterwards
    assert gpu["device"].startswith("cuda") and gpu["tf32"] is False
    np.testing.assert_allclose(gpu["pool3"], cpu["pool3"], rtol=0, atol=1e-5)


def test_a_callers_autocast_does_not_reach_the_network(inception_weights, synthetic_images):
    import torch
    imgs = synthetic_images(2, size=32, seed=9)
    want = features.extract_features(imgs, inception_weights, device="cpu")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = features.extract_features(imgs, inception_weights, device="cpu")
    np.testing.assert_array_equal(got["pool3"], want["pool3"])
    assert got["dtype"] == "float32"


def test_device_parity_of_cpu_against_cpu_is_exact_and_within_tolerance(inception_weights, synthetic_images):
    r = features.device_parity(synthetic_images(3, size=32, seed=10), inception_weights, devices=("cpu", "cpu"),
                               batch_size=2)
    assert r["n_images"] == 3 and r["within_tolerance"] and r["rtol"] == features.PARITY_RTOL
    assert list(r["devices"]) == ["cpu", "cpu#1"]
    for d in r["devices"].values():
        assert d["device"] == "cpu" and d["tf32"] is False and d["dtype"] == "float32"
        assert d["max_abs_diff"] == {"pool3": 0.0, "logits": 0.0} and d["images_per_second"] > 0


def test_device_parity_fails_when_a_device_drifts(inception_weights, synthetic_images, monkeypatch):
    extract, calls = features.extract_features, []

    def drifting(images, weights_path, device="auto", batch_size=64):
        out = extract(images, weights_path, device="cpu", batch_size=batch_size)
        calls.append(device)
        if device == "drift":                              # a device whose features are 1e-3 off
            out["pool3"] = out["pool3"] * (1 + 1e-3)
        return out
    monkeypatch.setattr(features, "extract_features", drifting)
    r = features.device_parity(synthetic_images(2, size=32, seed=10), inception_weights, devices=("cpu", "drift"))
    assert calls == ["cpu", "cpu", "drift", "drift"]        # a warm-up pass, then the measured one
    assert not r["within_tolerance"]
    assert r["devices"]["drift"]["max_rel_diff"]["pool3"] == pytest.approx(1e-3, rel=1e-3)
    assert r["devices"]["drift"]["max_rel_diff"]["logits"] == 0.0


@pytest.mark.gpu
def test_device_parity_of_cuda_against_cpu(inception_weights, synthetic_images):
    r = features.device_parity(synthetic_images(8, size=64, seed=12), inception_weights, devices=("cpu", "cuda"))
    assert r["devices"]["cuda"]["device"].startswith("cuda") and r["devices"]["cuda"]["tf32"] is False
    assert r["within_tolerance"], r

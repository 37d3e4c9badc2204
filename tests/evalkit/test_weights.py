"""The FID Inception weights file: structure check, resolution order, offline error, hashing."""
from __future__ import annotations

import urllib.error
from pathlib import Path

import pytest
import torch

from evalkit import inception, weights


def test_random_weights_pass_the_check_and_are_marked_unverified(inception_weights):
    with pytest.warns(UserWarning, match="unverified"):
        path, sha = weights.resolve_weights(inception_weights)
    assert path == inception_weights and len(sha) == 64
    assert not weights.weights_verified(sha)
    assert weights.weights_verified("6726825d" + "0" * 56)


@pytest.mark.parametrize("damage", ["drop_key", "wrong_shape", "extra_key", "not_torch"])
def test_structure_check_names_the_file(tmp_path, damage):
    state = inception.FIDInception().state_dict()
    bad = tmp_path / "bad.pth"
    if damage == "drop_key":
        state.pop("Mixed_6b.branch7x7_2.conv.weight")
    elif damage == "wrong_shape":
        state["fc.weight"] = torch.zeros(1000, 2048)
        state["fc.bias"] = torch.zeros(1008 + 8 * 2048)    # same totals, wrong layout
    elif damage == "extra_key":
        state.pop("fc.bias")
        state["fc.extra"] = torch.zeros(1008)
    if damage == "not_torch":
        bad.write_bytes(b"truncated download")
    else:
        torch.save(state, bad)
    with pytest.raises(weights.WeightsInvalid, match="bad.pth"):
        weights.resolve_weights(bad)


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_weights_resolution_order(tmp_path, monkeypatch):
    hub = Path(torch.hub.get_dir()) / "checkpoints"
    explicit = _touch(tmp_path / "explicit.pth")
    env = _touch(tmp_path / "env.pth")
    hub_pt = _touch(hub / "pt_inception-2015-12-05-6726825d.pth")
    monkeypatch.setattr(weights, "_download", lambda url, dst: pytest.fail("must not download"))
    monkeypatch.setenv("EVALKIT_INCEPTION_WEIGHTS", str(env))
    assert weights.locate_weights(explicit) == explicit            # 1. --inception-weights
    assert weights.locate_weights(None) == env                     # 2. environment
    monkeypatch.delenv("EVALKIT_INCEPTION_WEIGHTS")
    assert weights.locate_weights(None) == hub_pt                  # 3. hub cache, pytorch-fid name
    hub_tf = _touch(hub / "weights-inception-2015-12-05-6726825d.pth")
    assert weights.locate_weights(None) == hub_tf                  #    torch-fidelity's name first
    with pytest.raises(weights.WeightsUnavailable, match="nope.pth"):
        weights.locate_weights(tmp_path / "nope.pth")


def test_download_when_nothing_is_cached(monkeypatch):
    calls = []
    monkeypatch.setattr(weights, "_download", lambda url, dst: (calls.append(url), _touch(Path(dst))))
    got = weights.locate_weights(None)
    assert calls == [weights.URLS[weights.DOWNLOAD_NAME]]
    assert got == Path(torch.hub.get_dir()) / "checkpoints" / weights.DOWNLOAD_NAME


def test_offline_error_names_url_file_and_place(monkeypatch):
    def offline(url, dst):
        raise urllib.error.URLError("Name or service not known")
    monkeypatch.setattr(weights, "_download", offline)
    with pytest.raises(weights.WeightsUnavailable) as e:
        weights.resolve_weights(None)
    msg = str(e.value)
    assert weights.URLS[weights.DOWNLOAD_NAME] in msg
    assert str(Path(torch.hub.get_dir()) / "checkpoints" / weights.DOWNLOAD_NAME) in msg
    assert "--inception-weights" in msg and "\n" not in msg


def test_sha256_is_computed_once_and_redone_when_the_file_changes(tmp_path, monkeypatch):
    f = tmp_path / "w.bin"
    f.write_bytes(b"abc")
    first = weights.sha256_cached(f)
    assert first == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    reads = []
    real_open = open
    with monkeypatch.context() as m:
        m.setattr("builtins.open", lambda p, *a, **k: (reads.append(str(p)), real_open(p, *a, **k))[1])
        assert weights.sha256_cached(f) == first
    assert str(f.resolve()) not in reads                              # served from the index
    f.write_bytes(b"abcd")
    assert weights.sha256_cached(f) != first

"""The fast inference form of the FID Inception: folded BatchNorm, merged 1x1 heads, conv+ReLU kernels."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from evalkit import fused, inception, weights
from evalkit.inception import BasicConv2d, Block


def _outputs(net, x):
    with torch.inference_mode():
        return net(x)


@pytest.mark.parametrize("cpu_conv_relu", [True, False])
def test_fused_network_matches_the_plain_one(inception_weights, synthetic_images, monkeypatch, cpu_conv_relu):
    monkeypatch.setattr(fused, "CPU_CONV_RELU", cpu_conv_relu and fused.CPU_CONV_RELU)
    x = inception.preprocess(torch.from_numpy(synthetic_images(2, size=32, seed=2)))
    p0, l0 = _outputs(weights.load_inception(inception_weights), x.contiguous())
    p1, l1 = _outputs(fused.fuse_for_inference(weights.load_inception(inception_weights)), x)
    assert float(p0.abs().max()) > 0.5                  # O(1) features: the comparison can fail
    assert float((p1 - p0).abs().max()) <= 1e-5 * float(p0.abs().max())
    assert float((l1 - l0).abs().max()) <= 1e-5 * float(l0.abs().max())


def test_each_block_reads_its_input_with_one_1x1_conv(inception_weights):
    net = fused.fuse_for_inference(weights.load_inception(inception_weights))
    blocks = [m for m in net.modules() if isinstance(m, Block) and m.HEADS]
    assert len(blocks) == 3 + 4 + 1 + 2                  # Mixed_5b-d, 6b-e, 7a, 7b-c
    for b in blocks:
        assert isinstance(b.merged, fused.MergedHeads) and not any(hasattr(b, h) for h in b.HEADS)
    assert not any(isinstance(m, (BasicConv2d, nn.BatchNorm2d)) for m in net.modules())
    convs = sum(isinstance(m, nn.Conv2d) for m in net.modules())
    plain = sum(isinstance(m, nn.Conv2d) for m in inception.FIDInception().modules())
    assert (plain, convs) == (94, 94 - sum(len(b.HEADS) - 1 for b in blocks))
    e = net.Mixed_7c.merged
    assert e.sizes == [320, 384, 448] and e.conv.weight.shape == (1152, 2048, 1, 1)


def test_merged_heads_split_into_the_branch_outputs():
    torch.manual_seed(0)
    heads = [BasicConv2d(8, c, kernel_size=1).eval() for c in (3, 5)]
    for h in heads:
        h.bn.running_mean.normal_()
        h.bn.running_var.uniform_(0.5, 2)
        h.bn.weight.data.uniform_(0.5, 1.5)
    x = torch.randn(2, 8, 6, 6)
    with torch.inference_mode():
        want = [h(x) for h in heads]
        got = fused.MergedHeads(heads)(x)
    assert [g.shape[1] for g in got] == [3, 5]
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-6)


def test_only_1x1_convolutions_merge():
    with pytest.raises(ValueError, match="1x1"):
        fused.MergedHeads([BasicConv2d(4, 4, kernel_size=3, padding=1)])

"""The FID Inception in its fast inference form: the same function, fewer and larger ops.

Two rewrites, both exact in real arithmetic (float rounding aside):
- every eval-mode BatchNorm is folded into the conv before it (w' = w * g / sqrt(v + eps),
  b' = beta - m * g / sqrt(v + eps); computed in float64, stored in float32);
- the parallel 1x1 branches of a block that read the block's input (`Block.HEADS`) become one conv
  whose output channels are split again: one pass over the input and one larger matrix product
  instead of two or three small ones (the step the benchmark notes named after BN folding).
The result runs channels-last on CPU and GPU alike.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from evalkit.inception import BasicConv2d, FIDInception, Block


def _folded(block: BasicConv2d) -> tuple[torch.Tensor, torch.Tensor]:
    """The (weight, bias) of a conv whose output equals block.bn(block.conv(x)) in eval mode, float32."""
    c, bn = block.conv, block.bn
    scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)   # float64 fold
    weight = (c.weight.double() * scale.view(-1, 1, 1, 1)).float()
    bias = (bn.bias.double() - bn.running_mean.double() * scale).float()
    return weight, bias


def _conv_like(c: nn.Conv2d, weight: torch.Tensor, bias: torch.Tensor) -> nn.Conv2d:
    conv = nn.Conv2d(c.in_channels, len(weight), c.kernel_size, c.stride, c.padding, bias=True,
                     device=weight.device)
    with torch.no_grad():
        conv.weight.copy_(weight)
        conv.bias.copy_(bias)
    return conv


def _has_pointwise() -> bool:
    try:
        return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise")
    except (AttributeError, RuntimeError):
        return False


CPU_CONV_RELU = _has_pointwise()   # oneDNN's conv with the ReLU applied in the same kernel (as Inductor uses)


def conv_relu(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """relu(conv(x)): on CPU one oneDNN kernel (no second pass over the output), else conv then ReLU."""
    if CPU_CONV_RELU and x.device.type == "cpu" and x.dtype == torch.float32:
        return torch.ops.mkldnn._convolution_pointwise(x, conv.weight, conv.bias, list(conv.padding),
                                                       list(conv.stride), list(conv.dilation), conv.groups,
                                                       "relu", [], "")
    return F.relu(conv(x), inplace=True)


class FoldedConv2d(nn.Module):
    """BasicConv2d with its BatchNorm folded into the conv: conv (with bias) -> ReLU."""

    def __init__(self, block: BasicConv2d):
        super().__init__()
        self.conv = _conv_like(block.conv, *_folded(block))

    def forward(self, x):
        return conv_relu(self.conv, x)


class MergedHeads(nn.Module):
    """Several folded 1x1 BasicConv2d that read one input, as one conv; returns each one's output."""

    def __init__(self, blocks: list[BasicConv2d]):
        super().__init__()
        for b in blocks:
            if b.conv.kernel_size != (1, 1) or b.conv.stride != (1, 1) or b.conv.padding != (0, 0):
                raise ValueError(f"only 1x1 stride-1 convolutions merge, got {b.conv}")
        parts = [_folded(b) for b in blocks]
        self.sizes = [len(w) for w, _ in parts]
        self.conv = _conv_like(blocks[0].conv, torch.cat([w for w, _ in parts]), torch.cat([b for _, b in parts]))

    def forward(self, x) -> list[torch.Tensor]:
        return list(torch.split(conv_relu(self.conv, x), self.sizes, dim=1))


def fuse_for_inference(net: FIDInception) -> FIDInception:
    """Merge each block's 1x1 heads, fold every other BatchNorm and switch to channels-last, in place.

    Same function up to float rounding (pool3 within ~1e-6 relative of the plain network)."""
    def rewrite(module: nn.Module):
        if isinstance(module, Block) and module.HEADS:
            module.merged = MergedHeads([getattr(module, name) for name in module.HEADS])
            for name in module.HEADS:
                delattr(module, name)
        for name, child in list(module.named_children()):
            if isinstance(child, BasicConv2d):
                setattr(module, name, FoldedConv2d(child))
            elif name != "merged":
                rewrite(child)
    rewrite(net)
    net.requires_grad_(False)
    return net.eval().to(memory_format=torch.channels_last)

"""The FID Inception-v3 (TensorFlow "inception-2015-12-05" graph) and the preprocessing it expects.

The network is our own implementation of the graph as pytorch-fid and torch-fidelity rebuild it
(BN eps 1e-3, average pooling in the A/C/E blocks without counting padded zeros, max pooling in
the last block, a 1008-way fc). Its weights file is found, checked and loaded by evalkit.weights.

Preprocessing (torch-fidelity 0.4.0 = the TF FID graph): uint8 RGB -> float32 -> TF1-compatible
bilinear resize to 299 (no half-pixel offset, edge clamp) -> (x - 128) / 128 -> FIDInception in fp32,
TF32 off (train.device.tf32). Outputs per image: pool3 (2048) and logits_unbiased (1008).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

INPUT_SIZE = 299
PREPROCESS_VERSION = "tf1-bilinear-299/(x-128)/128/fp32/v1"
N_TENSORS = 566
N_VALUES = 23_885_486


def _tf1_grid(n_in: int, n_out: int, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    # TF1 legacy sampling (align_corners=False, no half-pixel centres): source = i * in/out in
    # float32, floor, upper neighbour clamped at the edge.
    src = torch.arange(n_out, dtype=torch.float32, device=device) * torch.tensor(n_in / n_out, dtype=torch.float32,
                                                                                 device=device)
    lo = src.long()
    hi = (lo + 1).clamp_max(n_in - 1)
    return lo, hi, src - lo.float()


def tf1_resize_bilinear(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """TF 1.x `resize_bilinear(align_corners=False)` of float (N, C, H, W) to `size` = (h, w).

    Same arithmetic per output element as torch-fidelity's `interpolate_bilinear_2d_like_tensorflow1x`
    ("slow", bit-exact on CPU): lerp along x on the two source rows, then along y. Done separably,
    so the x-lerp runs once per source row instead of twice per output row."""
    if x.dim() != 4 or not torch.is_floating_point(x):
        raise ValueError("tf1_resize_bilinear expects a float (N, C, H, W) tensor")
    h_out, w_out = size
    ylo, yhi, dy = _tf1_grid(x.shape[2], h_out, x.device)
    xlo, xhi, dx = _tf1_grid(x.shape[3], w_out, x.device)
    left = x.index_select(3, xlo)
    rows = left + (x.index_select(3, xhi) - left) * dx.view(1, 1, 1, w_out)   # (N, C, H_in, w)
    top = rows.index_select(2, ylo)
    return top + (rows.index_select(2, yhi) - top) * dy.view(1, 1, h_out, 1)   # (N, C, h, w)


def preprocess(batch_u8: torch.Tensor) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float32 (N, 3, 299, 299) channels-last, scaled as the FID graph."""
    x = batch_u8.permute(0, 3, 1, 2).float()                  # (N, 3, H, W), NHWC memory
    x = tf1_resize_bilinear(x, (INPUT_SIZE, INPUT_SIZE))
    x = (x - 128) / 128
    return x.contiguous(memory_format=torch.channels_last)


class BasicConv2d(nn.Module):
    """Conv (no bias) -> BatchNorm (eps 1e-3, as in the TF graph) -> ReLU."""

    def __init__(self, c_in: int, c_out: int, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(c_out, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)), inplace=True)


def _avg_pool_tf(x):
    # TF's 3x3 average pool ignores the padded zeros.
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class Block(nn.Module):
    """An Inception block. HEADS names its parallel 1x1 branches that read the block's input;
    evalkit.fused merges them into one conv (a child named "merged"), which `heads` then runs."""
    HEADS: tuple[str, ...] = ()

    def heads(self, x) -> list[torch.Tensor]:
        merged = self._modules.get("merged")
        if merged is not None:
            return merged(x)
        return [getattr(self, name)(x) for name in self.HEADS]


class InceptionA(Block):
    HEADS = ("branch1x1", "branch5x5_1", "branch3x3dbl_1")

    def __init__(self, c_in: int, pool_features: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(c_in, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(c_in, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(c_in, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(c_in, pool_features, kernel_size=1)

    def forward(self, x):
        b1, b5, b3 = self.heads(x)
        b5 = self.branch5x5_2(b5)
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(b3))
        bp = self.branch_pool(_avg_pool_tf(x))
        return torch.cat([b1, b5, b3, bp], 1)


class InceptionB(nn.Module):
    def __init__(self, c_in: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(c_in, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(c_in, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3(x)
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, bd, bp], 1)


class InceptionC(Block):
    HEADS = ("branch1x1", "branch7x7_1", "branch7x7dbl_1")
    def __init__(self, c_in: int, channels_7x7: int):
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(c_in, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(c_in, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(c_in, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(c_in, 192, kernel_size=1)

    def forward(self, x):
        b1, b7, bd = self.heads(x)
        b7 = self.branch7x7_3(self.branch7x7_2(b7))
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            bd = layer(bd)
        bp = self.branch_pool(_avg_pool_tf(x))
        return torch.cat([b1, b7, bd, bp], 1)


class InceptionD(Block):
    HEADS = ("branch3x3_1", "branch7x7x3_1")
    def __init__(self, c_in: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(c_in, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(c_in, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x):
        b3, b7 = self.heads(x)
        b3 = self.branch3x3_2(b3)
        for layer in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b7 = layer(b7)
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, b7, bp], 1)


class InceptionE(Block):
    """Mixed_7b (average pool, as TF) or Mixed_7c (max pool: the TF graph's quirk)."""
    HEADS = ("branch1x1", "branch3x3_1", "branch3x3dbl_1")

    def __init__(self, c_in: int, max_pool: bool):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(c_in, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(c_in, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(c_in, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(c_in, 192, kernel_size=1)

    def forward(self, x):
        b1, b3, bd = self.heads(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(bd)
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        if self.max_pool:
            bp = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        else:
            bp = _avg_pool_tf(x)
        bp = self.branch_pool(bp)
        return torch.cat([b1, b3, bd, bp], 1)


class FIDInception(nn.Module):
    """Inception-v3 of the FID graph. Input: float (N, 3, 299, 299) already scaled to (x-128)/128.

    forward(x) -> (pool3 (N, 2048), logits_unbiased (N, 1008) = pool3 @ fc.weight.T, no bias).
    """

    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.MaxPool_1 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.MaxPool_2 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, max_pool=False)
        self.Mixed_7c = InceptionE(2048, max_pool=True)
        self.AvgPool = nn.AdaptiveAvgPool2d(output_size=(1, 1))
        self.fc = nn.Linear(2048, 1008)

    def forward(self, x):
        x = self.Conv2d_1a_3x3(x)   # (N, 32, 149, 149)
        x = self.Conv2d_2a_3x3(x)   # (N, 32, 147, 147)
        x = self.Conv2d_2b_3x3(x)   # (N, 64, 147, 147)
        x = self.MaxPool_1(x)       # (N, 64, 73, 73)
        x = self.Conv2d_3b_1x1(x)   # (N, 80, 73, 73)
        x = self.Conv2d_4a_3x3(x)   # (N, 192, 71, 71)
        x = self.MaxPool_2(x)       # (N, 192, 35, 35)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b,
                      self.Mixed_6c, self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b,
                      self.Mixed_7c):
            x = block(x)            # ... (N, 2048, 8, 8)
        pool3 = torch.flatten(self.AvgPool(x), 1)   # (N, 2048)
        logits = pool3.mm(self.fc.weight.T)         # (N, 1008), logits_unbiased
        return pool3, logits

def expected_layout() -> dict[str, tuple[int, ...]]:
    """Key -> shape of the official state dict (566 tensors incl. BN num_batches_tracked)."""
    return {k: tuple(v.shape) for k, v in FIDInception().state_dict().items()}

def random_state_dict(calibration_u8, seed: int = 0, logit_std: float = 3.0) -> dict[str, torch.Tensor]:
    """A random-weight state dict in the official layout, for tests and speed benchmarks only.

    Plain random initialisation makes pool3 vanish (~1e-8), so every metric would be trivially 1 or 0.
    The BatchNorm running statistics are therefore calibrated on `calibration_u8` (uint8 (N, H, W, 3),
    N >= 2): one pass in train mode with a cumulative average, so each layer sees normalised inputs and
    the features are O(1). BN scales U(0.5, 1) and shifts N(1, 0.3) keep most units active: with zero-mean
    shifts a random ReLU net sits near the edge of chaos and amplifies fp32 rounding ~100x (pool3 moves by
    ~3e-5 between two equivalent fp32 evaluation orders), far more than trained weights do (~1e-6).
    The fc weight is scaled so the logits have std `logit_std` on that batch."""
    torch.manual_seed(seed)
    net = FIDInception()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None  # cumulative average: after one pass, the batch's statistics
            nn.init.uniform_(m.weight, 0.5, 1.0)
            nn.init.normal_(m.bias, 1.0, 0.3)
    x = preprocess(torch.as_tensor(calibration_u8)).contiguous()
    net.train()
    with torch.no_grad():
        pool3, _ = net(x)
        nn.init.normal_(net.fc.weight)
        nn.init.normal_(net.fc.bias)
        logits = pool3.mm(net.fc.weight.T)
        net.fc.weight.mul_(logit_std / logits.std())
    net.eval()
    return {k: v.detach().clone() for k, v in net.state_dict().items()}

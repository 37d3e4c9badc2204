"""The FastGAN-style generator and self-supervised critic: interfaces, no transposed convolutions,
the auxiliary reconstructions, the hinge terms and an ONNX round trip."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from train import models
from train.fastgan import (FastGANCritic, FastGANGenerator, hinge_critic_loss, hinge_generator_loss, quadrant_of,
                           reconstruction_loss)


def _realistic(gen: FastGANGenerator) -> FastGANGenerator:
    """Wider weights and BatchNorm statistics from a few training-mode passes, so outputs span
    [-1, 1] as a trained generator's do (the N(0, 0.02) init gives outputs near 0)."""
    torch.manual_seed(0)
    for m in gen.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight)
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None            # cumulative average over the passes below
    with torch.no_grad():
        for _ in range(4):
            gen.train()(torch.randn(8, gen.latent_dim),
                        torch.randint(0, gen.num_classes, (8,)) if gen.num_classes else None)
    return gen.eval()


def test_fastgan_is_a_registered_architecture():
    gen, critic = models.ModelSpec("fastgan", 64, 100, 0).build()
    assert isinstance(gen, models.Generator) and isinstance(critic, models.Critic)
    assert models.MODELS["fastgan"].table4   # the fourth row of `python -m evalkit table4`


def test_fastgan_imports_before_train_models_in_a_fresh_interpreter():
    code = "import train.fastgan, train.models; assert 'fastgan' in train.models.MODELS"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


def test_generator_upsamples_without_transposed_convolutions():
    gen = FastGANGenerator(100, 64)
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in gen.modules())
    assert sum(isinstance(m, nn.Upsample) for m in gen.modules()) == 4     # 4 -> 64 px


def test_skip_layer_excitation_gates_the_two_finest_maps():
    assert FastGANGenerator(100, 64).sle_pairs == [(4, 32), (8, 64)]
    assert FastGANGenerator(100, 256).sle_pairs == [(16, 128), (32, 256)]


def test_eval_generator_is_deterministic():
    gen = FastGANGenerator(100, 64).eval()
    z = torch.randn(3, 100)
    with torch.no_grad():
        assert torch.equal(gen(z), gen(z))


@pytest.mark.parametrize("resolution", [64, 128])
def test_critic_returns_scores_and_separately_its_reconstructions(resolution):
    critic = FastGANCritic(resolution, 0).eval()   # eval: spectral norm does no power iteration per call
    x = torch.rand(2, 3, resolution, resolution) * 2 - 1
    scores, whole, part = critic.forward_aux(x, None, quadrant=3)
    assert scores.shape == (2,) and torch.allclose(scores, critic(x), atol=1e-6)
    half = resolution // 2
    assert whole.shape == part.shape == (2, 3, half, half)
    assert whole.abs().max() <= 1 and part.abs().max() <= 1


def test_quadrants_tile_the_image_row_major():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    assert quadrant_of(x, 0).flatten().tolist() == [0, 1, 4, 5]
    assert quadrant_of(x, 3).flatten().tolist() == [10, 11, 14, 15]


def test_reconstruction_loss_trains_the_decoders_and_the_trunk():
    torch.manual_seed(0)
    critic = FastGANCritic(64, 0)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    scores, loss = reconstruction_loss(critic, x, generator=torch.Generator().manual_seed(0))
    loss.backward()
    assert scores.shape == (2,) and loss.item() > 0
    assert critic.decode_whole[1].parametrizations.weight.original.grad is not None
    assert critic.body[0][0].parametrizations.weight.original.grad is not None
    assert critic.fc.parametrizations.weight.original.grad is None   # the score is not part of this term


def test_conditional_models_use_labels():
    torch.manual_seed(0)
    gen, critic = _realistic(FastGANGenerator(100, 64, 3)), FastGANCritic(64, 3)
    z = torch.randn(2, 100)
    with torch.no_grad():
        a, b = gen(z, torch.tensor([0, 0])), gen(z, torch.tensor([1, 1]))
    assert (a - b).abs().max() > 1e-3
    assert critic(a, torch.tensor([0, 1])).shape == (2,)
    with pytest.raises(ValueError, match="labels"):
        critic.forward_aux(a)


def test_hinge_terms_match_their_definition():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-3.0, 0.0])
    # relu(1 - real) = [0, 0.5] -> 0.25; relu(1 + fake) = [0, 1] -> 0.5
    assert hinge_critic_loss(real, fake).item() == pytest.approx(0.75)
    assert hinge_generator_loss(fake).item() == pytest.approx(1.5)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*LeafSpec:FutureWarning", "ignore:# The axis name:UserWarning")
@pytest.mark.parametrize("num_classes", [0, 3])
def test_generator_exports_to_onnx_and_onnxruntime_matches(num_classes):
    import onnxruntime as ort
    gen = _realistic(FastGANGenerator(100, 64, num_classes))
    z = torch.randn(4, 100)
    y = torch.tensor([0, 1, 2, 0])
    args = (z, y) if num_classes else (z,)
    batch = torch.export.Dim("batch", min=1, max=1024)
    shapes = {"z": {0: batch}, "labels": {0: batch}} if num_classes else {"z": {0: batch}}
    prog = torch.onnx.export(gen, args, input_names=["z", "labels"][:len(args)], output_names=["images"],
                             dynamic_shapes=shapes, dynamo=True, verbose=False, external_data=False)
    ops = {n.op_type for n in prog.model_proto.graph.node}
    assert ops <= {"Conv", "Gemm", "MatMul", "Add", "Mul", "Sigmoid", "Split", "Resize", "AveragePool", "LeakyRelu",
                   "Reshape", "BatchNormalization", "Tanh", "Gather", "Slice"}
    sess = ort.InferenceSession(prog.model_proto.SerializeToString(), providers=["CPUExecutionProvider"])
    for n in (1, 5):
        z = torch.randn(n, 100)
        y = torch.randint(0, max(num_classes, 1), (n,))
        feed = {"z": z.numpy(), **({"labels": y.numpy()} if num_classes else {})}
        with torch.no_grad():
            ref = gen(z, y if num_classes else None).numpy()
        assert ref.std() > 0.1
        assert np.abs(sess.run(None, feed)[0] - ref).max() < 1e-4

"""GANLoss: the hinge loss with the FastGAN critic's reconstruction term, the fixed and relative HSV
scales, the terms' shares of the generator loss and the objective's checkpointed state."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from train import config
from train.fastgan import hinge_critic_loss, hinge_generator_loss, reconstruction_loss
from train.gan_loss import RUNNING_DECAY, GANLoss
from train.models import ModelSpec
from train.precision import Precision

FP32 = Precision("fp32", "test", "cpu", bf16=False)


class ToyGenerator(nn.Module):
    """z (N, 8) -> (N, 3, 8, 8) images in [-1, 1]: one linear layer, small enough to train in a test."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 3 * 8 * 8)

    def forward(self, z, labels=None):
        return torch.tanh(self.fc(z)).view(-1, 3, 8, 8)


class ToyCritic(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3 * 8 * 8, 1)

    def forward(self, x, labels=None):
        return self.fc(x.flatten(1)).squeeze(1)


def _cfg(**kw) -> config.TrainConfig:
    """The demo recipe, with as many HSV pixels per side as a toy batch of 16 8x8 images holds."""
    return config.resolve({"preset": "demo", "device": "cpu", "hsv_pixels": 1024, **kw})


def _toy_steps(cfg: config.TrainConfig, steps: int, train: bool) -> list[dict[str, float]]:
    """`steps` critic and generator steps of GANLoss on the toy networks, real batches drawn from a
    fixed pool of dark "ink"; `train`: Adam updates both networks, else they stay as initialised
    (the critic's bias at 1, so the adversarial term sits near -1), which keeps both terms' magnitudes
    stationary: only the batches, latents and projections vary."""
    torch.manual_seed(0)
    gen, critic = ToyGenerator(), ToyCritic()
    nn.init.constant_(critic.fc.bias, 1.0)
    opt_g, opt_d = (torch.optim.Adam(m.parameters(), lr=1e-2, betas=(0.5, 0.999)) for m in (gen, critic))
    gan = GANLoss(cfg, gen, critic, critic, lambda x: x, FP32)
    pool = torch.rand(256, 3, 8, 8) * 0.6 - 0.8
    rows = []
    for _ in range(steps):
        real = pool[torch.randint(0, len(pool), (16,))]
        opt_d.zero_grad()
        gan.critic_step(real, None, torch.randn(16, 8), None)
        if train:
            opt_d.step()
        opt_g.zero_grad()
        terms = gan.generator_step(torch.randn(16, 8), None, real)
        if train:
            opt_g.step()
        rows.append({k: float(v) for k, v in terms.items()})
    return rows


def _mean(rows: list[dict[str, float]], key: str) -> float:
    return sum(r[key] for r in rows) / len(rows)


@pytest.mark.parametrize("w_adv,w_hsv", [(0.5, 0.5), (0.25, 0.75)])
def test_relative_scale_gives_the_hsv_term_its_weights_share_of_the_generator_loss(w_adv, w_hsv):
    relative = _toy_steps(_cfg(w_adv=w_adv, w_hsv=w_hsv, hsv_scale="relative"), 250, train=False)
    late = relative[125:]   # after the running magnitudes' warm-up (a memory of about 100 steps)
    assert _mean(late, "share_hsv") == pytest.approx(w_hsv / (w_adv + w_hsv), abs=0.03)
    assert all(r["share_adv"] + r["share_hsv"] == pytest.approx(1.0, abs=1e-6) for r in relative)
    fixed = _toy_steps(_cfg(w_adv=w_adv, w_hsv=w_hsv, hsv_scale="fixed"), 250, train=False)
    assert _mean(fixed[125:], "share_hsv") < 0.25    # the same terms with the paper's weights: HSV the small one


def test_fixed_scale_keeps_the_papers_weighted_sum():
    for r in _toy_steps(_cfg(w_adv=0.5, w_hsv=0.5, hsv_scale="fixed"), 30, train=True):
        assert r["loss_g"] == pytest.approx(0.5 * r["loss_g_adv"] + 0.5 * r["loss_hsv"], rel=1e-6)
        weighted = (abs(0.5 * r["loss_g_adv"]), abs(0.5 * r["loss_hsv"]))
        assert r["share_hsv"] == pytest.approx(weighted[1] / sum(weighted), rel=1e-5)


def test_relative_share_lags_while_the_hsv_term_falls_fast():
    """The documented limit: trained hard (Adam 1e-2), the HSV term falls faster than the running
    average's memory and gets less than its share until the average catches up."""
    rows = _toy_steps(_cfg(w_adv=0.5, w_hsv=0.5, hsv_scale="relative"), 200, train=True)
    assert rows[-1]["loss_hsv"] < 0.25 * rows[0]["loss_hsv"]
    assert 0.0 < _mean(rows[100:], "share_hsv") < 0.5


def test_relative_weight_follows_its_formula_from_the_running_magnitudes():
    cfg = _cfg(w_hsv=0.5, hsv_scale="relative")
    gan = GANLoss(cfg, ToyGenerator(), ToyCritic(), ToyCritic(), lambda x: x, FP32)
    scale = gan.hsv_scale
    assert scale.weight(torch.tensor(-2.0), torch.tensor(0.1)) == pytest.approx(0.5 * 2.0 / 0.1)  # first step
    a = RUNNING_DECAY * 2.0 + (1 - RUNNING_DECAY) * 4.0
    h = RUNNING_DECAY * 0.1 + (1 - RUNNING_DECAY) * 0.3
    assert float(scale.weight(torch.tensor(4.0), torch.tensor(0.3))) == pytest.approx(0.5 * a / h, rel=1e-6)
    saved = gan.state_dict()
    other = GANLoss(cfg, ToyGenerator(), ToyCritic(), ToyCritic(), lambda x: x, FP32)
    other.load_state_dict(saved, torch.device("cpu"))
    args = (torch.tensor(1.0), torch.tensor(0.2))
    assert float(other.hsv_scale.weight(*args)) == float(scale.weight(*args))


def test_hinge_critic_step_adds_the_reconstruction_term_of_the_fastgan_critic():
    torch.manual_seed(0)
    gen, critic = ModelSpec("fastgan", 64, 16).build()
    twin = copy.deepcopy(critic)      # the same weights and spectral-norm vectors, for the expected value
    gan = GANLoss(_cfg(latent_dim=16, w_rec=0.7), gen, critic, critic, lambda x: x, FP32)
    real, z = torch.rand(2, 3, 64, 64) * 2 - 1, torch.randn(2, 16)
    torch.manual_seed(1)              # the quadrant the decoders reconstruct is drawn from this stream
    terms = gan.critic_step(real, None, z, None)
    torch.manual_seed(1)
    with torch.no_grad():
        fake = gen(z)
        d_real, rec = reconstruction_loss(twin, real)
        expected = hinge_critic_loss(d_real, twin(fake)) + 0.7 * rec
    assert float(rec) > 0 and float(terms["loss_rec"]) == pytest.approx(float(rec), rel=1e-5)
    assert float(terms["loss_d"]) == pytest.approx(float(expected), rel=1e-5)
    assert critic.decode_whole[1].parametrizations.weight.original.grad is not None   # the decoders learn
    assert set(gan.generator_step(z, None, real)) == {"loss_g", "loss_g_adv", "loss_hsv", "share_adv", "share_hsv"}


def test_without_decoders_the_hinge_critic_loss_is_the_hinge_alone():
    torch.manual_seed(0)
    gen, critic = ToyGenerator(), ToyCritic()
    gan = GANLoss(_cfg(), gen, critic, critic, lambda x: x, FP32)
    real, z = torch.rand(4, 3, 8, 8) * 2 - 1, torch.randn(4, 8)
    terms = gan.critic_step(real, None, z, None)
    with torch.no_grad():
        expected = hinge_critic_loss(critic(real), critic(gen(z)))
    assert float(terms["loss_d"]) == pytest.approx(float(expected)) and float(terms["loss_rec"]) == 0
    g = gan.generator_step(z, None, real)
    with torch.no_grad():
        assert float(g["loss_g_adv"]) == pytest.approx(float(hinge_generator_loss(critic(gen(z)))))
    assert float(g["loss_hsv"]) > 0

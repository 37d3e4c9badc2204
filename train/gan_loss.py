"""The objective of a run, outside the loop (as stylegan2-ada's loss.py): one critic step and one
generator step, each a forward and backward pass whose gradients the loop then applies.

Critic: Wasserstein (`wgan-clip`, `wgan-gp`) or BCE, plus lambda x gradient penalty (`wgan-gp`);
weight clipping (`wgan-clip`) after the optimiser step. Generator: w_adv x adversarial term +
w_hsv x HSV-cone term (paper eq. 3). The terms are the pure functions of train.losses. Every value
returned is a detached device tensor: reading them (a host sync) is left to the tick.

Precision (train.precision): only the networks' forward passes run under autocast; the generator's
output is cast to fp32 before the critic sees it (in both steps alike), and the losses, the
gradient penalty with its double backward, and the HSV-cone term are computed in fp32.
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from train import losses
from train.config import TrainConfig
from train.precision import Precision

Tensor = torch.Tensor


class GANLoss:
    """Critic and generator steps of `cfg`'s loss for networks `gen` and `critic`.

    `gen_run` / `critic_run` are what is called (the networks or their torch.compile wrappers);
    `critic` is the plain module, whose parameters are frozen during the generator step and
    clipped after a critic step. `augment` is applied alike to everything the critic sees.
    """

    def __init__(self, cfg: TrainConfig, gen_run: Callable, critic_run: Callable, critic: torch.nn.Module,
                 augment: Callable[[Tensor], Tensor], precision: Precision):
        self.cfg = cfg
        self.gen_run, self.critic_run, self.critic = gen_run, critic_run, critic
        self.augment = augment
        self.amp = precision.autocast
        is_wgan = cfg.loss in ("wgan-clip", "wgan-gp")
        self.d_loss = losses.wgan_critic_loss if is_wgan else losses.bce_critic_loss
        self.g_loss = losses.wgan_generator_loss if is_wgan else losses.bce_generator_loss

    def critic_step(self, real: Tensor, y_real: Tensor | None, z: Tensor, y_fake: Tensor | None) -> dict[str, Tensor]:
        """Critic loss (+ gradient penalty) on a real batch and fakes of `z`, back-propagated into
        the critic's .grad. Returns loss_d, w_estimate (D(real) - D(fake)), gradient_penalty, d_real."""
        self.critic.requires_grad_(True)
        with torch.no_grad(), self.amp():
            fake = self.gen_run(z, y_fake)
        real_a, fake_a = self.augment(real), self.augment(fake.float())
        with self.amp():
            d_real = self.critic_run(real_a, y_real)
            d_fake = self.critic_run(fake_a, y_fake)
        loss_d = self.d_loss(d_real, d_fake)
        gp = torch.zeros((), device=real.device)
        if self.cfg.loss == "wgan-gp":  # Gulrajani et al. 2017, on interpolates of the augmented batches
            # fp32, outside autocast: the double backward of a bf16 critic would round the penalty's gradient.
            gp = losses.gradient_penalty(self.critic_run, real_a, fake_a, y_real)
            loss_d = loss_d + self.cfg.gp_lambda * gp
        loss_d.backward()
        d_real_mean = d_real.float().mean()
        return {"loss_d": loss_d.detach(), "w_estimate": (d_real_mean - d_fake.float().mean()).detach(),
                "gradient_penalty": gp.detach(), "d_real": d_real_mean.detach()}

    @torch.no_grad()
    def after_critic_step(self) -> None:
        """wgan-clip: clamp every critic parameter to [-clip, clip] (Arjovsky et al. 2017)."""
        if self.cfg.loss == "wgan-clip":
            for p in self.critic.parameters():
                p.clamp_(-self.cfg.clip, self.cfg.clip)

    def generator_step(self, z: Tensor, y_fake: Tensor | None, real: Tensor) -> dict[str, Tensor]:
        """Generator loss on fakes of `z` (the critic frozen), back-propagated into the generator's
        .grad; the HSV-cone term compares the fakes' colours with the unaugmented `real` batch.
        Returns loss_g, loss_g_adv and loss_hsv."""
        cfg = self.cfg
        self.critic.requires_grad_(False)
        with self.amp():
            fake = self.gen_run(z, y_fake).float()  # fp32, as the critic step's fakes
            d_fake = self.critic_run(self.augment(fake), y_fake)
        adv = self.g_loss(d_fake)
        hsv = losses.hsv_term(cfg.hsv_loss, fake, real, n_proj=cfg.hsv_proj, n_pixels=cfg.hsv_pixels,
                              r=cfg.hsv_r, h=cfg.hsv_h)
        loss_g = cfg.w_adv * adv + cfg.w_hsv * hsv
        loss_g.backward()
        return {"loss_g": loss_g.detach(), "loss_g_adv": adv.detach(), "loss_hsv": hsv.detach()}

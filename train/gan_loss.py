"""The objective of a run, outside the loop (as stylegan2-ada's loss.py): one critic step and one
generator step, each a forward and backward pass whose gradients the loop then applies.

Critic: Wasserstein (`wgan-clip`, `wgan-gp`), BCE or hinge, plus lambda x gradient penalty
(`wgan-gp`), plus w_rec x the self-supervised reconstruction term of a critic with decoders
(train.fastgan: L1 of its reconstructions of the augmented real batch); weight clipping
(`wgan-clip`) after the optimiser step. Generator: w_adv x adversarial term + the HSV-cone term,
weighted as `hsv_scale` says (HSVScale; `fixed` is paper eq. 3). The terms are the pure functions
of train.losses and train.fastgan. Every value returned is a detached device tensor: reading them
(a host sync) is left to the tick.

Precision (train.precision): only the networks' forward passes run under autocast; the generator's
output is cast to fp32 before the critic sees it (in both steps alike), and the losses, the
gradient penalty with its double backward, and the HSV-cone term are computed in fp32.
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from train import fastgan, losses
from train.config import TrainConfig
from train.precision import Precision

Tensor = torch.Tensor

RUNNING_DECAY = 0.99   # hsv_scale relative: EMA decay of the running magnitudes (a memory of about 100 steps)
HSV_FLOOR = 1e-8       # hsv_scale relative: lower bound of the running HSV magnitude (a perfect colour match)
CRITIC_LOSSES = {"wgan-clip": losses.wgan_critic_loss, "wgan-gp": losses.wgan_critic_loss,
                 "bce": losses.bce_critic_loss, "hinge": fastgan.hinge_critic_loss}
GENERATOR_LOSSES = {"wgan-clip": losses.wgan_generator_loss, "wgan-gp": losses.wgan_generator_loss,
                    "bce": losses.bce_generator_loss, "hinge": fastgan.hinge_generator_loss}


class HSVScale:
    """The HSV-cone term's weight in the generator loss.

    fixed (paper eq. 3):  loss_g = w_adv * adv + w_hsv * hsv.
    relative:             loss_g = w_adv * adv + w_hsv * (A / H) * hsv,
    with A and H exponential moving averages (decay RUNNING_DECAY, started at the first step's values)
    of |adv| and of hsv, detached: the factor rescales the HSV term's gradient, it is not trained
    through. The HSV term then is about w_hsv * |adv|, w_hsv / w_adv times the adversarial term
    whatever the two terms' natural magnitudes; at w_adv = w_hsv = 0.5 the two are equally large and
    each is about half of the generator loss (share_hsv ~ 0.5). Under `fixed` the HSV term of the
    paper-demo recipe was a median 0.06 % of the generator loss (issue 14). The averages lag: while a
    term moves faster than their memory of about 100 steps (early training), the share lags too; an
    HSV term falling fast gets less than its share until the averages catch up (tests/train/test_gan_loss.py).
    losses.csv logs share_adv and share_hsv per tick, so a run shows what the term actually got.

    The running magnitudes are part of a checkpoint (`state_dict`), so a resumed run continues with
    the same factor.
    """

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        self.running: dict[str, Tensor] | None = None   # {"adv": A, "hsv": H} after the first relative step

    def weight(self, adv: Tensor, hsv: Tensor) -> Tensor | float:
        """The HSV term's weight for this step (updates the running magnitudes under `relative`)."""
        if self.cfg.hsv_scale == "fixed":
            return self.cfg.w_hsv
        a, h = adv.detach().abs().float(), hsv.detach().float()
        if self.running is None:
            self.running = {"adv": a.clone(), "hsv": h.clone()}
        else:
            self.running["adv"].lerp_(a, 1.0 - RUNNING_DECAY)
            self.running["hsv"].lerp_(h, 1.0 - RUNNING_DECAY)
        return self.cfg.w_hsv * self.running["adv"] / self.running["hsv"].clamp_min(HSV_FLOOR)

    def state_dict(self) -> dict | None:
        """The running magnitudes as CPU tensors (None before the first relative step)."""
        return None if self.running is None else {k: v.detach().cpu().clone() for k, v in self.running.items()}

    def load_state_dict(self, state: dict | None, device: torch.device) -> None:
        self.running = None if state is None else {k: v.to(device=device, dtype=torch.float32).clone()
                                                   for k, v in state.items()}


def shares(adv_term: Tensor, hsv_term: Tensor) -> tuple[Tensor, Tensor]:
    """Each term's share of the generator loss: |term| / (|w_adv adv| + |w_hsv' hsv|), both 0 when both are."""
    a, h = adv_term.detach().abs(), hsv_term.detach().abs()
    total = (a + h).clamp_min(torch.finfo(torch.float32).tiny)
    return a / total, h / total


class GANLoss:
    """Critic and generator steps of `cfg`'s loss for networks `gen` and `critic`.

    `gen_run` / `critic_run` are what is called (the networks or their torch.compile wrappers);
    `critic` is the plain module, whose parameters are frozen during the generator step and
    clipped after a critic step, and whose `forward_aux` gives the reconstructions (w_rec > 0).
    `augment` is applied alike to everything the critic sees.
    """

    def __init__(self, cfg: TrainConfig, gen_run: Callable, critic_run: Callable, critic: torch.nn.Module,
                 augment: Callable[[Tensor], Tensor], precision: Precision):
        self.cfg = cfg
        self.gen_run, self.critic_run, self.critic = gen_run, critic_run, critic
        self.augment = augment
        self.amp = precision.autocast
        self.d_loss, self.g_loss = CRITIC_LOSSES[cfg.loss], GENERATOR_LOSSES[cfg.loss]
        self.reconstruct = cfg.w_rec > 0 and hasattr(critic, "forward_aux")
        self.hsv_scale = HSVScale(cfg)

    def critic_step(self, real: Tensor, y_real: Tensor | None, z: Tensor, y_fake: Tensor | None) -> dict[str, Tensor]:
        """Critic loss (+ gradient penalty, + reconstruction term) on a real batch and fakes of `z`,
        back-propagated into the critic's .grad. Returns loss_d, w_estimate (D(real) - D(fake)),
        gradient_penalty, loss_rec and d_real."""
        self.critic.requires_grad_(True)
        with torch.no_grad(), self.amp():
            fake = self.gen_run(z, y_fake)
        real_a, fake_a = self.augment(real), self.augment(fake.float())
        rec = torch.zeros((), device=real.device)
        with self.amp():
            if self.reconstruct:  # FastGAN: the decoders reconstruct the (augmented) real images only
                d_real, rec = fastgan.reconstruction_loss(self.critic, real_a, y_real)
            else:
                d_real = self.critic_run(real_a, y_real)
            d_fake = self.critic_run(fake_a, y_fake)
        loss_d = self.d_loss(d_real, d_fake)
        if self.reconstruct:
            loss_d = loss_d + self.cfg.w_rec * rec
        gp = torch.zeros((), device=real.device)
        if self.cfg.loss == "wgan-gp":  # Gulrajani et al. 2017, on interpolates of the augmented batches
            # fp32, outside autocast: the double backward of a bf16 critic would round the penalty's gradient.
            gp = losses.gradient_penalty(self.critic_run, real_a, fake_a, y_real)
            loss_d = loss_d + self.cfg.gp_lambda * gp
        loss_d.backward()
        d_real_mean = d_real.float().mean()
        return {"loss_d": loss_d.detach(), "w_estimate": (d_real_mean - d_fake.float().mean()).detach(),
                "gradient_penalty": gp.detach(), "loss_rec": rec.detach().float(), "d_real": d_real_mean.detach()}

    @torch.no_grad()
    def after_critic_step(self) -> None:
        """wgan-clip: clamp every critic parameter to [-clip, clip] (Arjovsky et al. 2017)."""
        if self.cfg.loss == "wgan-clip":
            for p in self.critic.parameters():
                p.clamp_(-self.cfg.clip, self.cfg.clip)

    def generator_step(self, z: Tensor, y_fake: Tensor | None, real: Tensor) -> dict[str, Tensor]:
        """Generator loss on fakes of `z` (the critic frozen), back-propagated into the generator's
        .grad; the HSV-cone term compares the fakes' colours with the unaugmented `real` batch.
        Returns loss_g, loss_g_adv, loss_hsv (unweighted) and share_adv / share_hsv (each weighted
        term's share of the generator loss)."""
        cfg = self.cfg
        self.critic.requires_grad_(False)
        with self.amp():
            fake = self.gen_run(z, y_fake).float()  # fp32, as the critic step's fakes
            d_fake = self.critic_run(self.augment(fake), y_fake)
        adv = self.g_loss(d_fake)
        hsv = losses.hsv_term(cfg.hsv_loss, fake, real, n_proj=cfg.hsv_proj, n_pixels=cfg.hsv_pixels,
                              r=cfg.hsv_r, h=cfg.hsv_h)
        adv_term, hsv_term = cfg.w_adv * adv, self.hsv_scale.weight(adv, hsv) * hsv
        loss_g = adv_term + hsv_term
        loss_g.backward()
        share_adv, share_hsv = shares(adv_term, hsv_term)
        return {"loss_g": loss_g.detach(), "loss_g_adv": adv.detach(), "loss_hsv": hsv.detach(),
                "share_adv": share_adv, "share_hsv": share_hsv}

    def state_dict(self) -> dict:
        """What a checkpoint keeps of the objective: the HSV scale's running magnitudes."""
        return {"hsv_running": self.hsv_scale.state_dict()}

    def load_state_dict(self, state: dict | None, device: torch.device) -> None:
        self.hsv_scale.load_state_dict((state or {}).get("hsv_running"), device)

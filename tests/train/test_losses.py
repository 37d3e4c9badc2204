import math

import pytest
import torch

from train import losses


def _hue_degrees(point: torch.Tensor) -> float:
    return math.degrees(math.atan2(float(point[1]), float(point[0]))) % 360


@pytest.mark.parametrize("rgb,hue", [((1, 0, 0), 0.0), ((0, 1, 0), 120.0), ((0, 0, 1), 240.0),
                                     ((1, 1, 0), 60.0), ((0, 1, 1), 180.0), ((1, 0, 1), 300.0)])
def test_primaries_and_secondaries_sit_at_their_hue_angles(rgb, hue):
    p = losses.hsv_cone(torch.tensor([rgb], dtype=torch.float32))[0]
    assert _hue_degrees(p) == pytest.approx(hue, abs=1e-3)
    assert math.hypot(float(p[0]), float(p[1])) == pytest.approx(1.0, abs=1e-3)  # chroma 1, r = 1
    assert float(p[2]) == pytest.approx(0.0)  # V = 1


def test_greys_lie_on_the_axis_and_black_at_the_apex():
    greys = torch.tensor([[0.0, 0.0, 0.0], [0.25, 0.25, 0.25], [0.5, 0.5, 0.5], [1.0, 1.0, 1.0]])
    p = losses.hsv_cone(greys, r=2.0, h=3.0)
    assert torch.all(p[:, :2] == 0)
    assert torch.allclose(p[:, 2], 3.0 * (1 - greys[:, 0]))
    assert p[0].tolist() == [0.0, 0.0, 3.0]


def test_radius_scales_chroma_and_height_scales_value():
    x = torch.tensor([[0.8, 0.2, 0.4]])
    a = losses.hsv_cone(x)
    b = losses.hsv_cone(x, r=2.0, h=0.5)
    assert torch.allclose(b[:, :2], 2 * a[:, :2]) and torch.allclose(b[:, 2], 0.5 * a[:, 2])
    assert math.hypot(*a[0, :2].tolist()) == pytest.approx(0.6, abs=1e-4)  # C = max - min


def test_cone_gradients_are_finite_at_greys_and_black():
    x = torch.tensor([[0.0, 0.0, 0.0], [0.5, 0.5, 0.5], [1.0, 1.0, 1.0], [0.5, 0.5, 0.5 + 1e-7]],
                     requires_grad=True)
    losses.hsv_cone(x).square().sum().backward()
    assert torch.isfinite(x.grad).all()
    imgs = torch.zeros(2, 3, 8, 8, requires_grad=True)  # mid grey in [-1, 1]
    losses.hsv_swd(imgs, torch.rand(2, 3, 8, 8) * 2 - 1, generator=torch.Generator().manual_seed(0)).backward()
    assert torch.isfinite(imgs.grad).all()


def test_hsv_cone_keeps_nchw_layout():
    x = torch.rand(2, 3, 5, 7)
    p = losses.hsv_cone(x)
    assert p.shape == (2, 3, 5, 7)
    assert torch.allclose(p[1, :, 4, 6], losses.hsv_cone(x[1:2, :, 4, 6])[0])


def test_swd_is_zero_for_identical_sets_and_positive_otherwise():
    g = torch.Generator().manual_seed(0)
    a = torch.rand(4, 3, 16, 16, generator=g) * 2 - 1
    perm = a.flatten(2)[:, :, torch.randperm(256, generator=g)].view_as(a)  # same pixels, other layout
    assert float(losses.hsv_swd(a, perm, generator=torch.Generator().manual_seed(1), n_pixels=4096)) < 1e-10
    b = a * 0.5
    assert float(losses.hsv_swd(a, b, generator=torch.Generator().manual_seed(1))) > 1e-3
    assert float(losses.hsv_moments(a, a)) == pytest.approx(0.0, abs=1e-10)
    assert float(losses.hsv_moments(a, b)) > 1e-4


def test_swd_ignores_layout_but_sees_ink_proportion():
    paper = torch.ones(2, 3, 16, 16)
    ink_a, ink_b = paper.clone(), paper.clone()
    ink_a[:, :, :4] = -1  # 25 % black in the top rows
    ink_b[:, :, :, -4:] = -1  # 25 % black in the right columns
    heavy = paper.clone()
    heavy[:, :, :12] = -1  # 75 % black
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    assert float(losses.hsv_swd(ink_a, ink_b, generator=g())) < 1e-10
    assert float(losses.hsv_swd(ink_a, heavy, generator=g())) > 0.05


def test_swd_optimisation_moves_a_colour_distribution_toward_the_target():
    g = torch.Generator().manual_seed(0)
    target = torch.cat([torch.full((1, 3, 8, 8), -0.9), torch.tensor([0.8, 0.1, -0.6]).view(1, 3, 1, 1).expand(1, 3, 8, 8)])
    x = torch.zeros(2, 3, 8, 8).requires_grad_(True)  # starts mid grey
    opt = torch.optim.Adam([x], lr=0.05)
    start = float(losses.hsv_swd(x, target, generator=torch.Generator().manual_seed(9)).detach())
    for _ in range(150):
        opt.zero_grad()
        losses.hsv_swd(x, target, n_proj=32, generator=g).backward()
        opt.step()
    end = float(losses.hsv_swd(x, target, generator=torch.Generator().manual_seed(9)).detach())
    assert end < 0.1 * start


def test_moments_optimisation_matches_the_mean_colour():
    target = torch.tensor([0.6, -0.2, -0.8]).view(1, 3, 1, 1).expand(2, 3, 8, 8)
    x = torch.zeros(2, 3, 8, 8).requires_grad_(True)
    opt = torch.optim.Adam([x], lr=0.05)
    start = float(losses.hsv_moments(x, target).detach())
    for _ in range(100):
        opt.zero_grad()
        losses.hsv_moments(x, target).backward()
        opt.step()
    assert float(losses.hsv_moments(x, target).detach()) < 0.05 * start


def test_hsv_off_is_zero_and_unknown_kind_names_the_field():
    a = torch.zeros(1, 3, 4, 4)
    assert float(losses.hsv_term("off", a, a)) == 0.0
    with pytest.raises(ValueError, match="hsv_loss"):
        losses.hsv_term("paired", a, a)


def test_wasserstein_and_bce_terms():
    real, fake = torch.tensor([2.0, 4.0]), torch.tensor([1.0, -1.0])
    assert float(losses.wgan_critic_loss(real, fake)) == pytest.approx(0.0 - 3.0)
    assert float(losses.wgan_generator_loss(fake)) == pytest.approx(0.0)
    z = torch.zeros(3)
    assert float(losses.bce_critic_loss(z, z)) == pytest.approx(2 * math.log(2))
    assert float(losses.bce_generator_loss(z)) == pytest.approx(math.log(2))
    # Non-saturating: the generator gradient stays large when the discriminator rejects fakes.
    s = torch.tensor([-10.0], requires_grad=True)
    losses.bce_generator_loss(s).backward()
    assert float(s.grad) == pytest.approx(-1.0, abs=1e-3)


def test_gradient_penalty_of_a_linear_critic_has_the_closed_form():
    w = torch.randn(3 * 4 * 4, generator=torch.Generator().manual_seed(0))

    def critic(x, labels=None):
        return x.flatten(1) @ w

    real, fake = torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4)
    gp = losses.gradient_penalty(critic, real, fake)
    assert float(gp) == pytest.approx((float(w.norm()) - 1) ** 2, rel=1e-5)

    def unit(x, labels=None):
        return x.flatten(1) @ (w / w.norm())

    assert float(losses.gradient_penalty(unit, real, fake)) == pytest.approx(0.0, abs=1e-10)

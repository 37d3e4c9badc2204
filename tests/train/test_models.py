import pytest
import torch

from train import models
from train.__main__ import main as train_main


def test_paper_generator_has_17548163_params():
    gen, _ = models.build("paper", 256)
    assert models.count_params_keras(gen) == 17_548_163


def test_paper_critic_has_4441217_params():
    _, critic = models.build("paper", 256)
    assert models.count_params_keras(critic) == 4_441_217


def test_keras_count_includes_bn_running_stats_only():
    bn = torch.nn.BatchNorm2d(8)
    assert models.count_params_keras(bn) == 32  # gamma, beta, mean, var; not num_batches_tracked


CASES = [(n, r, c) for n in models.MODELS for r in models.RESOLUTIONS for c in (0, 3)
         if not (n == "mlp" and r == 256)]  # the 256 px MLP's last layer alone has ~201 M weights


@pytest.mark.parametrize("name,resolution,num_classes", CASES)
def test_forward_shapes(name, resolution, num_classes):
    gen, critic = models.build(name, resolution, num_classes=num_classes)
    z = torch.randn(2, 100)
    y = torch.tensor([0, num_classes - 1]) if num_classes else None
    x = gen(z, y)
    assert x.shape == (2, 3, resolution, resolution)
    assert x.min() >= -1 and x.max() <= 1
    assert critic(x, y).shape == (2,)


@pytest.mark.parametrize("name", ["paper", "dcgan"])
def test_conditional_generator_depends_on_label(name):
    torch.manual_seed(0)
    gen, critic = models.build(name, 64, num_classes=3)
    gen.eval()
    z = torch.randn(1, 100).repeat(2, 1)
    x = gen(z, torch.tensor([0, 1]))
    assert not torch.allclose(x[0], x[1])
    with pytest.raises(ValueError, match="labels"):
        gen(z)


@pytest.mark.parametrize("norm", models.CRITIC_NORMS)
def test_critic_norm_switch(norm):
    _, critic = models.build("paper", 64, critic_norm=norm)
    has_bn = any(isinstance(m, torch.nn.BatchNorm2d) for m in critic.modules())
    assert has_bn == (norm == "batch")
    # Without batch statistics a sample's score does not depend on the rest of the batch.
    if norm != "batch":
        x = torch.randn(4, 3, 64, 64)
        assert torch.allclose(critic(x)[:1], critic(x[:1]), atol=1e-5)


@pytest.mark.parametrize("field,kwargs", [("model", {"name": "vae"}), ("resolution", {"name": "paper", "resolution": 100}),
                                          ("critic_norm", {"name": "paper", "critic_norm": "spectral"})])
def test_build_rejects_bad_config_naming_field(field, kwargs):
    with pytest.raises(ValueError, match=field):
        models.build(**kwargs)


def test_models_verb_prints_paper_tables(capsys):
    assert train_main(["models", "--model", "paper", "--resolution", "256"]) == 0
    out = capsys.readouterr().out
    assert "Total params: 17,548,163" in out
    assert "Total params: 4,441,217" in out
    assert "(None, 3, 256, 256)" in out


def test_models_verb_help(capsys):
    with pytest.raises(SystemExit) as e:
        train_main(["models", "--help"])
    assert e.value.code == 0
    assert "example:" in capsys.readouterr().out


def test_models_verb_lists_fastgan_with_spectral_norm_layers_and_its_decoders(capsys):
    assert train_main(["models", "--model", "fastgan", "--resolution", "64"]) == 0
    out = capsys.readouterr().out
    gen, critic = models.build("fastgan", 64)
    assert f"Total params: {models.count_params_keras(gen):,}" in out
    assert f"Total params: {models.count_params_keras(critic):,}" in out
    assert "body.0.0 (ParametrizedConv2d)         (None, 32, 32, 32)                 1,536" in out  # 3*32*4*4
    assert "_SpectralNorm" not in out
    decoders = sum(p.numel() for m in (critic.decode_whole, critic.decode_part) for p in m.parameters())
    decoders += sum(m.running_mean.numel() * 2 for d in (critic.decode_whole, critic.decode_part)
                    for m in d.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert f"Params outside the forward pass (auxiliary heads): {decoders:,}" in out


def test_models_verb_lists_every_model_by_default(capsys):
    assert train_main(["models", "--resolution", "64"]) == 0
    out = capsys.readouterr().out
    assert [f"Model: {m} generator (64 px)" in out for m in models.MODELS] == [True] * 4

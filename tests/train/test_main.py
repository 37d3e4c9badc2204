import json

import numpy as np
import pytest
from PIL import Image

from train import cli, config
from train.__main__ import main as train_main


def dry(capsys, *argv) -> dict:
    assert cli.main([*argv, "--dry-run"]) == 0
    return json.loads(capsys.readouterr().out)


def test_paper_preset_is_the_papers_recipe(capsys):
    c = dry(capsys, "--preset", "paper")
    assert (c["model"], c["resolution"], c["loss"], c["optimizer"]) == ("paper", 256, "wgan-clip", "rmsprop")
    assert (c["lr_g"], c["lr_d"], c["clip"], c["n_critic"], c["batch_size"], c["iters"]) == \
        (5e-5, 5e-5, 0.01, 5, 64, 16_000)
    assert (c["hsv_loss"], c["w_adv"], c["w_hsv"]) == ("swd", 0.5, 0.5)
    assert not (c["ema"] or c["diffaug"] or c["deterministic"] or c["conditional"])


def test_baseline_presets_train_as_their_papers(capsys):
    d = dry(capsys, "--preset", "dcgan")
    assert (d["model"], d["loss"], d["optimizer"], d["lr_g"], d["beta1"], d["n_critic"]) == \
        ("dcgan", "bce", "adam", 2e-4, 0.5, 1)
    m = dry(capsys, "--preset", "mlp")
    assert (m["model"], m["loss"], m["lr_d"], m["beta1"]) == ("mlp", "bce", 2e-4, 0.5)


def test_no_arguments_is_the_demo_preset_on_the_demo_set(capsys):
    c = dry(capsys)
    assert c["preset"] == "demo" and c["data"] is None
    assert (c["model"], c["resolution"]) == ("paper", 64)


def test_wgan_gp_brings_its_own_recipe_and_flags_override_it(capsys):
    c = dry(capsys, "--preset", "paper", "--loss", "wgan-gp")
    assert (c["optimizer"], c["lr_g"], c["beta1"], c["beta2"], c["gp_lambda"], c["critic_norm"]) == \
        ("adam", 1e-4, 0.0, 0.9, 10.0, "layer")
    c = dry(capsys, "--preset", "paper", "--loss", "wgan-gp", "--lr-g", "3e-4", "--critic-norm", "none",
            "--ema", "--hsv-loss", "moments", "--w-hsv", "1.5")
    assert (c["lr_g"], c["lr_d"], c["critic_norm"], c["ema"], c["hsv_loss"], c["w_hsv"]) == \
        (3e-4, 1e-4, "none", True, "moments", 1.5)
    assert c["resolution"] == 256 and "lr_g" in c["extra"]["flags"]


def test_help_ends_with_an_example(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "generator steps" in out and out.strip().splitlines()[-1].startswith("example: python -m train")


@pytest.mark.parametrize("argv,field", [
    (["--resolution", "100"], "resolution"),
    (["--model", "vae"], "model"),
    (["--loss", "hinge"], "loss"),
    (["--preset", "paper", "--loss", "wgan-gp", "--critic-norm", "batch"], "critic_norm"),
    (["--iters", "0"], "iters"),
    (["--hsv-loss", "paired"], "hsv_loss"),
    (["--diffaug", "--diffaug-policy", "flip"], "diffaug_policy"),
    (["--data", "/no/such/folder"], "data"),
])
def test_bad_config_fails_before_any_work_with_one_line_naming_the_field(tmp_path, capsys, argv, field):
    assert train_main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {field}:"), err
    assert not any(tmp_path.iterdir())


def test_empty_data_folder_fails_with_exit_2_and_no_run_folder(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    out = tmp_path / "runs"
    assert train_main(["--data", str(empty), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert str(empty) in err and "no usable image" in err
    assert not out.exists()


def test_cli_trains_on_a_folder_through_load_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("INKWASH_CACHE", str(tmp_path / "cache"))
    data = tmp_path / "patterns"
    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        (data / cls).mkdir(parents=True)
        for i in range(4):
            img = np.full((80, 96, 3), 230, np.uint8)
            img[rng.integers(0, 60):][:12] = rng.integers(0, 80)
            Image.fromarray(img).save(data / cls / f"{i}.png")
    out = tmp_path / "runs"
    assert train_main(["--data", str(data), "--out", str(out), "--name", "t", "--iters", "2", "--batch-size", "4",
                       "--tick", "1", "--conditional", "--quiet", "--n-grid", "4", "--eval-n", "8",
                       "--no-ema"]) == 0
    info = json.loads((out / "t" / "run.json").read_text())
    assert info["iterations"] == 2 and info["data"]["images"] == 8 and info["data"]["path"].endswith("patterns")
    assert json.loads((out / "t" / "config.json").read_text())["conditional"] is True


def test_resolve_rejects_unknown_preset():
    with pytest.raises(ValueError, match="^preset:"):
        config.resolve({"preset": "stylegan"})


def test_mlp_model_records_no_critic_norm_and_bf16_needs_cuda():
    cfg = config.resolve({"preset": "paper", "model": "mlp"})
    assert cfg.critic_norm == "none"
    import torch
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="dtype: bf16"):
            config.resolve({"dtype": "bf16"})

"""`python -m train`: presets, --dry-run, --help of every verb, bad input through the CLI skeleton."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from train import checkpoint, config
from train.__main__ import main as train_main

REPO = Path(__file__).resolve().parents[2]


def dry(capsys, *argv) -> dict:
    assert train_main([*argv, "--dry-run"]) == 0
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
    assert (c["model"], c["resolution"], c["batch_size"], c["iters"], c["dtype"]) == ("fastgan", 64, 16, 2000, "fast")
    assert (c["loss"], c["optimizer"], c["lr_g"], c["lr_d"], c["beta1"], c["beta2"], c["n_critic"]) == \
        ("hinge", "adam", 2e-4, 2e-4, 0.5, 0.999, 1)
    assert (c["w_rec"], c["diffaug"], c["diffaug_policy"], c["xflip"], c["ema"], c["ema_decay"]) == \
        (1.0, True, "color,translation", True, True, 0.999)
    assert (c["hsv_loss"], c["w_adv"], c["w_hsv"], c["hsv_scale"]) == ("swd", 0.5, 0.5, "relative")


def test_paper_demo_preset_is_the_demo_recipe_before_fastgan(capsys):
    c = dry(capsys, "--preset", "paper-demo")
    assert (c["model"], c["resolution"], c["loss"], c["optimizer"], c["lr_g"], c["beta1"], c["n_critic"]) == \
        ("paper", 64, "bce", "adam", 2e-4, 0.5, 1)
    assert (c["batch_size"], c["iters"], c["hsv_pixels"], c["tick"], c["n_grid"]) == (16, 2000, 8192, 20, 36)
    assert (c["ema"], c["ema_decay"], c["diffaug"], c["diffaug_policy"]) == (True, 0.99, True, "translation,cutout")
    assert (c["hsv_loss"], c["w_adv"], c["w_hsv"], c["hsv_scale"], c["w_rec"], c["xflip"]) == \
        ("swd", 0.5, 0.5, "fixed", 0.0, False)


def test_fastgan_preset_is_the_demo_recipe_on_the_table4_schedule(capsys):
    f, d = dry(capsys, "--preset", "fastgan"), dry(capsys)
    assert (f["model"], f["resolution"], f["iters"], f["batch_size"], f["tick"]) == ("fastgan", 256, 16_000, 8, 100)
    recipe = ("loss", "optimizer", "lr_g", "lr_d", "beta1", "beta2", "n_critic", "w_rec", "diffaug", "diffaug_policy",
              "xflip", "ema", "ema_decay", "hsv_loss", "w_adv", "w_hsv", "hsv_scale")
    assert {k: f[k] for k in recipe} == {k: d[k] for k in recipe}


def test_hinge_brings_fastgans_optimiser_recipe(capsys):
    c = dry(capsys, "--preset", "paper", "--loss", "hinge")
    assert (c["optimizer"], c["lr_g"], c["lr_d"], c["beta1"], c["beta2"], c["n_critic"], c["critic_norm"]) == \
        ("adam", 2e-4, 2e-4, 0.5, 0.999, 1, "batch")
    assert c["w_rec"] == 0.0 and c["hsv_scale"] == "fixed"     # the paper model's critic has no decoders


def test_a_preset_reconstruction_term_is_dropped_for_a_critic_without_decoders(capsys):
    assert dry(capsys, "--model", "dcgan")["w_rec"] == 0.0
    assert dry(capsys, "--preset", "paper", "--model", "fastgan", "--w-rec", "0.5")["w_rec"] == 0.5


def test_wgan_gp_brings_its_own_recipe_and_flags_override_it(capsys):
    c = dry(capsys, "--preset", "paper", "--loss", "wgan-gp")
    assert (c["optimizer"], c["lr_g"], c["beta1"], c["beta2"], c["gp_lambda"], c["critic_norm"]) == \
        ("adam", 1e-4, 0.0, 0.9, 10.0, "layer")
    c = dry(capsys, "--preset", "paper", "--loss", "wgan-gp", "--lr-g", "3e-4", "--critic-norm", "none",
            "--ema", "--hsv-loss", "moments", "--w-hsv", "1.5")
    assert (c["lr_g"], c["lr_d"], c["critic_norm"], c["ema"], c["hsv_loss"], c["w_hsv"]) == \
        (3e-4, 1e-4, "none", True, "moments", 1.5)
    assert c["resolution"] == 256 and "lr_g" in c["extra"]["flags"]


@pytest.mark.parametrize("verb,flags", [([], ["--preset", "--resume", "--dry-run", "--iters"]),
                                        (["prepare"], ["--data", "--out", "--amplify-to"]),
                                        (["models"], ["--model", "--resolution"])], ids=["train", "prepare", "models"])
def test_help_of_every_verb_lists_its_flags_and_an_example(capsys, verb, flags):
    with pytest.raises(SystemExit) as e:
        train_main([*verb, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert all(f in out for f in flags), out
    assert any(line.startswith(f"example: python -m train {' '.join(verb)}".rstrip()) for line in out.splitlines())
    if not verb:  # the default verb's help names the others
        assert "generator steps" in out and out.strip().splitlines()[-1].startswith("verbs: prepare, models")


def test_prepare_help_does_not_import_torch():
    code = ("import sys\nfrom train.__main__ import main\ntry:\n    main(['prepare', '--help'])\n"
            "except SystemExit as e:\n    assert e.code == 0, e.code\nprint('torch loaded:', 'torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "torch loaded: False"


@pytest.mark.parametrize("argv", [["--iters", "ten"], ["--no-such-flag"], ["models", "--resolution", "100"],
                                  ["models", "--latent-dim", "0"], ["prepare"], ["prepair", "--out", "x"]],
                         ids=["bad-int", "unknown-flag", "bad-choice", "bad-latent", "missing-out", "misspelt-verb"])
def test_bad_arguments_exit_2_with_one_line_and_no_traceback(capsys, argv):
    with pytest.raises(SystemExit) as e:
        train_main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("python -m train") and ": error: " in err[0], err


@pytest.mark.parametrize("argv,field", [
    (["--resolution", "100"], "resolution"),
    (["--model", "vae"], "model"),
    (["--loss", "lsgan"], "loss"),
    (["--hsv-scale", "log"], "hsv_scale"),
    (["--hsv-loss", "off", "--hsv-scale", "relative"], "hsv_scale"),
    (["--preset", "paper", "--w-rec", "1"], "w_rec"),
    (["--w-rec", "-1"], "w_rec"),
    (["--preset", "paper", "--loss", "wgan-gp", "--critic-norm", "batch"], "critic_norm"),
    (["--iters", "0"], "iters"),
    (["--hsv-loss", "paired"], "hsv_loss"),
    (["--diffaug", "--diffaug-policy", "flip"], "diffaug_policy"),
    (["--data", "/no/such/folder"], "data"),
])
def test_bad_config_fails_before_any_work_with_one_line_naming_the_field(tmp_path, capsys, argv, field):
    assert train_main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"python -m train: error: {field}:"), err
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


def test_cli_trains_on_a_folder_through_load_folder(tmp_path, monkeypatch, synthetic_images, write_images):
    monkeypatch.setenv("INKWASH_CACHE", str(tmp_path / "cache"))
    data = tmp_path / "patterns"
    images = synthetic_images(8, size=80, seed=3)
    for k, cls in enumerate(("a", "b")):
        write_images(data / cls, images[k::2])
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


def test_mlp_model_records_no_critic_norm_and_bf16_needs_cuda_or_a_bf16_cpu(monkeypatch):
    cfg = config.resolve({"preset": "paper", "model": "mlp"})
    assert cfg.critic_norm == "none"
    if not torch.cuda.is_available():
        monkeypatch.setattr("train.precision.cpu_native_bf16", lambda: False)
        with pytest.raises(ValueError, match="dtype: bf16"):
            config.resolve({"dtype": "bf16"})


@pytest.fixture(scope="module")
def small_latent_run(run_factory):
    """A finished demo-preset run (BatchNorm critic, Adam) with latent_dim 32: its latest.pt."""
    return run_factory("latent32", latent_dim=32) / "checkpoints" / "latest.pt"


def test_resume_takes_the_architecture_from_the_checkpoint_in_a_new_config(small_latent_run):
    cfg = config.resolve({"preset": "demo", "resume": str(small_latent_run), "iters": 5})
    state = checkpoint.load_checkpoint(small_latent_run)
    new = config.for_resume(cfg, state, small_latent_run)
    assert (new.latent_dim, new.resolution, new.critic_norm) == (32, 64, "batch") and new.iters == 5
    assert new.run_dir == small_latent_run.parent.parent  # continues in the checkpoint's own run folder
    assert cfg.latent_dim == 100 and cfg.run_dir == Path("runs/demo")  # the given config is left as it was


@pytest.mark.parametrize("flags,text", [
    (["--loss", "wgan-gp"], "loss: the checkpoint"),  # a gradient penalty on a BatchNorm critic
    (["--latent-dim", "64"], "latent_dim: the checkpoint"),
    (["--optimizer", "rmsprop"], "optimizer: the checkpoint was trained with adam"),
], ids=["gp-on-batchnorm", "other-latent", "other-optimizer"])
def test_resume_that_contradicts_the_checkpoint_fails_with_one_line(small_latent_run, capsys, flags, text):
    before = small_latent_run.read_bytes()
    assert train_main(["--resume", str(small_latent_run), "--iters", "4", "--quiet", *flags]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"python -m train: error: {text}"), err
    assert small_latent_run.read_bytes() == before  # nothing trained, nothing written


@pytest.mark.slow
@pytest.mark.timeout(120)  # a missed signal fails here, not at the suite's 600 s limit
def test_ctrl_c_saves_a_checkpoint_and_exits_130(tmp_path, synthetic_images, write_images):
    write_images(tmp_path / "data", synthetic_images(8, size=64))
    run = tmp_path / "runs" / "stop"
    env = {**os.environ, "PYTHONPATH": str(REPO), "INKWASH_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "train", "--data", str(tmp_path / "data"), "--out",
                             str(tmp_path / "runs"), "--name", "stop", "--iters", "100000", "--batch-size", "4",
                             "--tick", "1", "--ckpt-every", "1000", "--n-grid", "4", "--eval-n", "8", "--device", "cpu",
                             "--quiet"], env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 90
        while time.time() < deadline and proc.poll() is None:
            csv_path = run / "losses.csv"
            if csv_path.is_file() and len(csv_path.read_text().splitlines()) >= 3:
                proc.send_signal(signal.SIGINT)
                break
            time.sleep(0.1)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted at iteration" in err and "Traceback" not in err
    assert checkpoint.load_checkpoint(run / "checkpoints" / "latest.pt")["iteration"] >= 2

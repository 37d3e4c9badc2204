import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from train import checkpoint, config, loop, precision
from train.data import Dataset

REPO = Path(__file__).resolve().parents[2]


def tiny_dataset(n: int = 24, resolution: int = 64, classes: int = 2) -> Dataset:
    """Dark strokes on light paper, labels alternate: a train.data.Dataset of arrays in memory."""
    rng = np.random.default_rng(0)
    u8 = np.full((n, resolution, resolution, 3), 235, np.uint8)
    for i in range(n):
        y = int(rng.integers(0, resolution - 8))
        u8[i, y:y + 8] = int(rng.integers(0, 60))
    return Dataset.from_arrays(u8, label_ids=np.arange(n) % classes, class_names=[f"c{k}" for k in range(classes)])


def cfg_for(tmp_path: Path, name: str, **kw) -> config.TrainConfig:
    args = dict(preset="paper-demo", out=tmp_path, name=name, batch_size=4, tick=1, quiet=True, diffaug=False,
                n_grid=4, eval_n=8, device="cpu")
    args.update(kw)
    return config.resolve(args)


def _tensors(obj, prefix=""):
    if isinstance(obj, torch.Tensor):
        yield prefix, obj
    elif isinstance(obj, dict):
        for k in sorted(obj, key=str):
            yield from _tensors(obj[k], f"{prefix}/{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _tensors(v, f"{prefix}/{i}")


@pytest.mark.slow
@pytest.mark.parametrize("kw", [dict(loss="wgan-gp", n_critic=1, ema=True),
                                dict(loss="bce", conditional=True, ema=False)], ids=["wgan-gp-ema", "bce-cond"])
def test_resume_is_bitwise_identical_to_a_straight_run(tmp_path, kw):
    ds = tiny_dataset()
    straight = loop.run(cfg_for(tmp_path, "straight", iters=4, deterministic=True, **kw), dataset=ds)
    loop.run(cfg_for(tmp_path, "split", iters=2, deterministic=True, **kw), dataset=ds)
    split = loop.run(cfg_for(tmp_path, "split", iters=4, deterministic=True, resume="latest", **kw), dataset=ds)
    a = checkpoint.load_checkpoint(straight / "checkpoints" / "latest.pt")
    b = checkpoint.load_checkpoint(split / "checkpoints" / "latest.pt")
    assert a["iteration"] == b["iteration"] == 4
    keys = ("generator", "critic", "generator_ema", "opt_g", "opt_d", "rng")
    ta, tb = dict(_tensors({k: a[k] for k in keys})), dict(_tensors({k: b[k] for k in keys}))
    assert ta.keys() == tb.keys() and len(ta) > 20
    for k in ta:
        assert torch.equal(ta[k], tb[k]), k
    rows = list(csv.DictReader(open(split / "losses.csv")))
    assert [int(r["iteration"]) for r in rows] == [1, 2, 3, 4]
    assert json.loads((split / "run.json").read_text())["resumed_from"].endswith("latest.pt")


def test_resumed_fastgan_run_continues_the_hsv_scale_and_matches_a_straight_run(tmp_path):
    """The demo recipe (FastGAN, hinge + reconstruction, relative HSV scale, xflip, DiffAugment, EMA):
    the running magnitudes travel in the checkpoint, so a resumed run is the straight run."""
    ds = tiny_dataset()
    kw = dict(preset="demo", iters=4, deterministic=True, diffaug=True)
    straight = loop.run(cfg_for(tmp_path, "straight", **kw), dataset=ds)
    loop.run(cfg_for(tmp_path, "split", **{**kw, "iters": 2}), dataset=ds)
    half = checkpoint.load_checkpoint(tmp_path / "split" / "checkpoints" / "latest.pt")
    split = loop.run(cfg_for(tmp_path, "split", resume="latest", **kw), dataset=ds)
    a = checkpoint.load_checkpoint(straight / "checkpoints" / "latest.pt")
    b = checkpoint.load_checkpoint(split / "checkpoints" / "latest.pt")
    running = [s["loss_state"][0]["hsv_running"] for s in (half, a, b)]
    assert set(running[1]) == {"adv", "hsv"} and not torch.equal(running[0]["adv"], running[1]["adv"])
    keys = ("generator", "critic", "generator_ema", "opt_g", "opt_d", "loss_state")
    ta, tb = dict(_tensors({k: a[k] for k in keys})), dict(_tensors({k: b[k] for k in keys}))
    assert ta.keys() == tb.keys() and "/loss_state/0/hsv_running/hsv" in ta
    for k in ta:
        assert torch.equal(ta[k], tb[k]), k
    rows = list(csv.DictReader(open(split / "losses.csv")))
    assert [int(r["iteration"]) for r in rows] == [1, 2, 3, 4]
    assert all(float(r["loss_rec"]) > 0 and 0 < float(r["share_hsv"]) < 1 for r in rows)


def test_run_folder_holds_config_checkpoints_grids_losses_and_run_json(tmp_path):
    cfg = cfg_for(tmp_path, "rec", iters=4, tick=1, grid_every=2, ckpt_every=1, keep=2, loss="wgan-clip",
                  n_critic=1, ema=True)
    run_dir = loop.run(cfg, dataset=tiny_dataset())
    assert json.loads((run_dir / "config.json").read_text())["loss"] == "wgan-clip"
    assert sorted(p.name for p in (run_dir / "checkpoints").glob("*.pt")) == \
        ["iter_0000003.pt", "iter_0000004.pt", "latest.pt"]
    assert sorted(p.name for p in (run_dir / "samples").glob("*.png")) == \
        ["grid_0000000.png", "grid_0000002.png", "grid_0000004.png"]
    rows = list(csv.DictReader(open(run_dir / "losses.csv")))
    assert len(rows) == 4 and set(loop.CSV_FIELDS) == set(rows[0])
    assert all(np.isfinite(float(r[k])) for r in rows for k in ("loss_d", "loss_g_adv", "loss_hsv", "hsv_swd_eval"))
    assert (run_dir / "losses.png").stat().st_size > 1000
    info = json.loads((run_dir / "run.json").read_text())
    for key in ("preset", "model", "resolution", "loss", "iterations", "wall_seconds", "seconds_per_iter", "device",
                "dtype", "batch_size", "n_critic", "versions", "commit", "hardware", "date", "data",
                "hsv_swd_step0", "hsv_swd_final"):
        assert key in info, key
    assert info["iterations"] == 4 and info["device"] == "cpu" and info["dtype"] == "fp32"
    state = torch.load(run_dir / "checkpoints" / "latest.pt", weights_only=True)
    assert state["iteration"] == 4 and state["config"]["loss"] == "wgan-clip"
    assert state["generator_ema"] is not None and state["model"]["resolution"] == 64
    # Weight clipping holds on every critic parameter (not on BatchNorm running statistics).
    clipped = [v for k, v in state["critic"].items() if "running" not in k and v.is_floating_point()]
    assert clipped and max(float(v.abs().max()) for v in clipped) <= 0.01
    gen, meta = checkpoint.load_generator(run_dir / "checkpoints" / "latest.pt")
    assert meta["ema"] and gen(torch.zeros(2, 100)).shape == (2, 3, 64, 64)


def test_every_file_a_run_writes_keeps_the_umask_mode(tmp_path, monkeypatch, synthetic_images, write_images):
    """Checkpoints, grids, losses.csv/png, run.json and the data cache: 0644 under umask 022 (mkstemp's
    0600 would hide them from a group or a web server)."""
    monkeypatch.setenv("INKWASH_CACHE", str(tmp_path / "cache"))
    write_images(tmp_path / "data", synthetic_images(4, size=64))
    old = os.umask(0o022)
    try:
        run_dir = loop.run(cfg_for(tmp_path, "modes", iters=2, data=tmp_path / "data", conditional=False))
    finally:
        os.umask(old)
    files = [p for p in [*run_dir.rglob("*"), *(tmp_path / "cache").rglob("*")] if p.is_file()]
    names = {p.name for p in files}
    assert {"latest.pt", "grid_0000002.png", "losses.csv", "losses.png", "run.json", "config.json"} <= names
    assert any(n.endswith(".npy") for n in names)  # the decoded-data cache
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in files} == {p.name: "0o644" for p in files}


def test_run_json_records_the_users_repository_only_on_request(tmp_path, monkeypatch):
    """The toolkit's own commit is always there; --record-repo adds the working folder's repository."""
    project = tmp_path / "project"
    project.mkdir()
    git = lambda *a: subprocess.run(["git", *a], cwd=project, capture_output=True, text=True, check=True).stdout  # noqa: E731
    git("init", "-q")
    (project / "notes.txt").write_text("my patterns")
    git("add", "notes.txt")
    git("-c", "user.name=u", "-c", "user.email=u@example.org", "commit", "-qm", "mine")
    head = git("rev-parse", "HEAD").strip()
    monkeypatch.chdir(project)
    plain = json.loads((loop.run(cfg_for(tmp_path, "plain", iters=1), dataset=tiny_dataset()) / "run.json").read_text())
    (project / "notes.txt").write_text("edited")
    asked = json.loads((loop.run(cfg_for(tmp_path, "asked", iters=1, record_repo=True), dataset=tiny_dataset())
                        / "run.json").read_text())
    assert "user_repository" not in plain and head not in json.dumps(plain)
    assert asked["user_repository"] == {"path": str(project.resolve()), "state": head + "-dirty"}
    assert asked["commit"] == plain["commit"] and not asked["commit"].startswith(head)  # the toolkit's own
    assert asked["config"]["record_repo"] is True


def test_conditional_grid_has_one_class_per_row(tmp_path):
    run_dir = loop.run(cfg_for(tmp_path, "cond", iters=1, conditional=True), dataset=tiny_dataset(classes=3))
    from PIL import Image
    grid = Image.open(run_dir / "samples" / "grid_0000001.png")
    assert grid.size == (8 * 66 + 2, 3 * 66 + 2)  # 8 columns of fixed noise, 3 classes, pad 2
    assert torch.load(run_dir / "checkpoints" / "latest.pt", weights_only=True)["model"]["class_names"] == \
        ["c0", "c1", "c2"]


@pytest.mark.timeout(60)  # a missed signal fails here, not at the suite's 600 s limit
def test_sigint_saves_a_checkpoint_and_raises_interrupted(tmp_path):
    cfg = cfg_for(tmp_path, "stop", iters=10_000, tick=1, ckpt_every=1000)
    csv_path = cfg.run_dir / "losses.csv"

    def interrupt():
        deadline = time.time() + 30
        while time.time() < deadline:
            if csv_path.is_file() and len(csv_path.read_text().splitlines()) >= 3:
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.05)

    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.raises(loop.Interrupted) as e:
        loop.run(cfg, dataset=tiny_dataset())
    state = checkpoint.load_checkpoint(cfg.run_dir / "checkpoints" / "latest.pt")
    assert 2 <= state["iteration"] == e.value.iteration < 10_000
    assert json.loads((cfg.run_dir / "run.json").read_text())["interrupted"] is True


def test_resume_without_a_checkpoint_names_the_field(tmp_path):
    with pytest.raises(ValueError, match="^resume:"):
        loop.run(cfg_for(tmp_path, "none", iters=1, resume="latest"), dataset=tiny_dataset())


_DDP_SCRIPT = """
import json, sys
sys.path.insert(0, {repo!r})
sys.path.insert(0, {here!r})
from test_loop import tiny_dataset, cfg_for
from train import loop
from pathlib import Path
loop.run(cfg_for(Path({out!r}), "ddp", iters=3, batch_size=8, loss="wgan-clip", n_critic=2), dataset=tiny_dataset())
"""


@pytest.mark.slow
def test_torchrun_two_cpu_processes_keep_identical_weights(tmp_path):
    script = tmp_path / "ddp_run.py"
    script.write_text(_DDP_SCRIPT.format(repo=str(REPO), here=str(Path(__file__).parent), out=str(tmp_path)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone",
                           str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads((tmp_path / "ddp" / "run.json").read_text())
    assert info["world_size"] == 2 and info["iterations"] == 3
    digests = info["rank_weight_digests"]
    assert len(digests) == 2 and digests[0] == digests[1]


@pytest.mark.slow
def test_shortened_paper_demo_halves_the_hsv_swd(tmp_path):
    """`python -m train --preset paper-demo` shortened: the recipe on the demo set, fewer steps and a smaller batch.

    Measured on CPU (hsv_swd_eval / hsv_swd_step0 every 5 steps): a plateau near 0.5 from step 35
    to 65 (0.500 at step 40, which is why 40 steps failed by a hair), then 0.40 at 70, 0.19 at 80,
    0.08 at 100. 100 steps keeps the claim with room for another machine's rounding to shift it."""
    from train.__main__ import main as train_main
    out = tmp_path / "runs"
    assert train_main(["--preset", "paper-demo", "--out", str(out), "--iters", "100", "--batch-size", "8", "--tick",
                       "20", "--quiet"]) == 0
    info = json.loads((out / "paper-demo" / "run.json").read_text())
    assert info["preset"] == "paper-demo" and info["data"]["images"] >= 361 and info["iterations"] == 100
    assert info["hsv_swd_final"] <= 0.5 * info["hsv_swd_step0"], (info["hsv_swd_step0"], info["hsv_swd_final"])


def test_cpu_bf16_run_trains_fastgan_and_records_its_dtype(tmp_path, monkeypatch):
    """--dtype bf16 on the CPU (opt-in where the CPU has native bf16; autocast itself runs on any CPU, so
    the flag check is bypassed here): the run trains, records its dtype, and its weights stay fp32."""
    monkeypatch.setattr(precision, "cpu_native_bf16", lambda: True)
    run_dir = loop.run(cfg_for(tmp_path, "cpu-bf16", preset="demo", iters=2, device="cpu", dtype="bf16",
                               batch_size=4, resolution=64), dataset=tiny_dataset())
    info = json.loads((run_dir / "run.json").read_text())
    assert info["dtype"] == "bf16-autocast" and "native bf16" in info["dtype_reason"]
    rows = list(csv.DictReader(open(run_dir / "losses.csv")))
    assert rows and all(np.isfinite(float(r[k])) for r in rows for k in ("loss_d", "loss_g"))
    gen, _ = checkpoint.load_generator(run_dir / "checkpoints" / "latest.pt")
    assert all(p.dtype == torch.float32 for p in gen.parameters())
    assert torch.isfinite(gen(torch.zeros(1, 100))).all()


@pytest.mark.gpu
@pytest.mark.parametrize("loss", ["wgan-clip", "wgan-gp"])
def test_cuda_bf16_run_trains_and_records_its_dtype(tmp_path, loss):
    run_dir = loop.run(cfg_for(tmp_path, f"cuda-{loss}", iters=3, device="cuda", loss=loss, batch_size=8, ema=True),
                       dataset=tiny_dataset())
    info = json.loads((run_dir / "run.json").read_text())
    assert info["device"].startswith("cuda") and info["dtype"] == "bf16-autocast"  # an Ampere or newer GPU
    assert "has native bf16" in info["dtype_reason"] and info["data_placement"] == "device"
    rows = list(csv.DictReader(open(run_dir / "losses.csv")))
    assert all(np.isfinite(float(r[k])) for r in rows for k in ("loss_d", "loss_g", "loss_hsv"))
    gen, _ = checkpoint.load_generator(run_dir / "checkpoints" / "latest.pt")  # loads on CPU
    assert torch.isfinite(gen(torch.zeros(1, 100))).all()

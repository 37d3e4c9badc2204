"""`python -m export studio [MODELS_DIR | MODEL.onnx ...]`: check the paths, then become the studio's
Streamlit server (headless, no file watcher, no usage statistics, on 127.0.0.1 unless told otherwise).

The paths, desk folder and device reach the app through the environment (STUDIO_ENV), the way
`python -m study_app` hands its database to its app.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from inkwash.cli import UserError
from inkwash.paths import cache_dir

log = logging.getLogger(__name__)

APP = Path(__file__).resolve().parent / "app.py"
ENV_MODELS = "INKWASH_STUDIO_MODELS"    # JSON list of model folders / files
ENV_STORE = "INKWASH_STUDIO_STORE"      # folder of the desk files
ENV_DEVICE = "INKWASH_STUDIO_DEVICE"    # auto | cpu | cuda
DEVICES = ("auto", "cpu", "cuda")       # train.device.DEVICES, without importing torch for --help


@dataclass
class StudioConfig:
    paths: list[Path] = field(default_factory=lambda: [Path("runs")])  # folders searched for *.onnx, or model files
    store: Path | None = None      # folder of the desk files (favourites, history); None = $INKWASH_CACHE/studio
    device: str = "auto"           # onnxruntime device: auto | cpu | cuda
    address: str = "127.0.0.1"     # address to listen on (0.0.0.0 shares the studio on the network)
    port: int = 8502               # TCP port (the study app's default is 8501)
    dry_run: bool = False          # print the streamlit command and exit


def default_store() -> Path:
    """Where desks are kept unless --store says otherwise."""
    return cache_dir("studio")


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"expected a port in 1..65535, got {text!r}")
    return int(text)


def configure(p: argparse.ArgumentParser) -> None:
    """The studio verb's arguments."""
    d = StudioConfig
    p.add_argument("paths", type=Path, nargs="*", metavar="PATH",
                   help="folders searched for exported *.onnx (with their sidecars), or model files; none: ./runs")
    p.add_argument("--store", type=Path, default=d.store,
                   help="folder of the desk files (favourites, history); none: $INKWASH_CACHE/studio")
    p.add_argument("--device", choices=DEVICES, default=d.device, help="onnxruntime device")
    p.add_argument("--address", default=d.address, help="address to listen on (0.0.0.0 for the whole network)")
    p.add_argument("--port", type=_port, default=d.port, help="TCP port")
    p.add_argument("--dry-run", action="store_true", help="print the streamlit command and exit")


def streamlit_command(address: str, port: int) -> list[str]:
    """`streamlit run export/studio/app.py` for a local tool: headless, no watcher, no telemetry."""
    return [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
            "--server.fileWatcherType", "none", "--server.runOnSave", "false",
            "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal",
            "--theme.base", "light", "--theme.primaryColor", "#7a3b2e",
            "--server.address", address, "--server.port", str(port)]


def environment(cfg: StudioConfig) -> dict[str, str]:
    """What the app reads: absolute model paths, the desk folder, the device."""
    return {ENV_MODELS: json.dumps([str(p.resolve()) for p in cfg.paths]),
            ENV_STORE: str((cfg.store or default_store()).expanduser().resolve()), ENV_DEVICE: cfg.device}


def check_paths(paths: list[Path]) -> int:
    """UserError for a path that does not exist or a file that is no .onnx; returns how many models
    the paths hold now (none is allowed: the page says so and looks again when asked)."""
    from export.studio.catalog import find_models
    for p in paths:
        if not p.exists():
            raise UserError(f"{p}: no such file or folder; give a folder of exported models or a MODEL.onnx")
        if p.is_file() and p.suffix != ".onnx":
            raise UserError(f"{p}: not an .onnx model file; give the generator.onnx that python -m export onnx wrote")
    return len(find_models(paths))


def run(args: argparse.Namespace) -> int:
    """Check the paths, then replace this process with the Streamlit server."""
    cfg = StudioConfig(**{**vars(args), "paths": args.paths or StudioConfig().paths})
    n = check_paths(cfg.paths)
    if n == 0:
        log.warning("no exported models under %s yet; the studio will say so (export one with "
                    "python -m export onnx RUN_DIR, then press 'Look again')", ", ".join(map(str, cfg.paths)))
    env, cmd = environment(cfg), streamlit_command(cfg.address, cfg.port)
    if cfg.dry_run:
        print(" ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()), shlex.join(cmd))
        return 0
    log.info("studio: %d model(s); desks in %s; http://%s:%d", n, env[ENV_STORE], cfg.address, cfg.port)
    os.environ.update(env)
    root = str(APP.parents[2])   # so `import export` works inside the Streamlit script
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(cmd[0], cmd)   # the server owns this process (same pid; signals reach it)
    return 0  # not reached

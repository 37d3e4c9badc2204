"""`python -m study_app [serve]` and `python -m study_app analyst`: check the database (and the
study), then become the Streamlit server.

Both run `streamlit run study_app/asgi.py` (the app plus its image route, see study_app.asgi) with
production settings: headless, no file watcher, no rerun on save, no usage statistics, no error
details in the browser. `serve` has the respondents' pages only; `analyst` is a second server on
its own port with the analyst page only, so respondents are never sent its name and a proxy can
restrict it as a whole (README: "Running it on the internet").
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from study_app.config import ENV_DB_URL, ENV_ROLE, ENV_STUDY, default_db_url

APP = Path(__file__).resolve().parent / "asgi.py"
ANALYST_PORT = 8502


def port_number(text: str) -> int:
    """argparse type: a TCP port, 1..65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"{port}: give a port in 1..65535")
    return port


def configure(p: argparse.ArgumentParser) -> None:
    """The serve verb's arguments (also the top-level flags: serve is the default verb)."""
    p.add_argument("--db", default=None, help=f"database URL; None: ${ENV_DB_URL}, else sqlite:///study.db")
    p.add_argument("--study", default=None, help="study to serve; None: the newest in the database")
    p.add_argument("--address", default="127.0.0.1", help="address to listen on (0.0.0.0 for all)")
    p.add_argument("--port", type=port_number, default=8501, help="TCP port")
    p.add_argument("--dry-run", action="store_true", help="print the streamlit command and exit")


def configure_analyst(p: argparse.ArgumentParser) -> None:
    """The analyst verb's arguments."""
    p.add_argument("--db", default=None, help=f"database URL; None: ${ENV_DB_URL}, else sqlite:///study.db")
    p.add_argument("--study", default=None, help="study selected first; None: the newest in the database")
    p.add_argument("--address", default="127.0.0.1",
                   help="address to listen on (keep 127.0.0.1 behind a proxy that restricts access)")
    p.add_argument("--port", type=port_number, default=ANALYST_PORT, help="TCP port")
    p.add_argument("--dry-run", action="store_true", help="print the streamlit command and exit")


def streamlit_command(address: str, port: int) -> list[str]:
    """The `streamlit run` command line with production settings. runner.postScriptGC off:
    Streamlit otherwise runs a full garbage collection after every script run, which a profile of
    the load benchmark showed to be two thirds of the server's CPU per answer; Python's own
    generational collector still runs."""
    return [sys.executable, "-m", "streamlit", "run", str(APP),
            "--server.headless", "true",
            "--runner.postScriptGC", "false",
            "--server.fileWatcherType", "none",
            "--server.runOnSave", "false",
            "--browser.gatherUsageStats", "false",
            "--client.toolbarMode", "minimal",
            "--client.showErrorDetails", "none",
            "--theme.base", "light",
            "--theme.primaryColor", "#1f4e79",
            "--server.address", address,
            "--server.port", str(port)]


def served_study(url: str, wanted: str | None) -> str:
    """The study the server will show: `wanted`, else the newest; StoreError if there is none."""
    from study_app.store import Store, StoreError
    store = Store(url)
    try:
        if wanted:
            return store.get_study(wanted).name
        names = store.study_names()
        if not names:
            raise StoreError("--db: the database holds no study; set one up with "
                             "`python -m study_app create --name NAME --real DIR --fake DIR`")
        return names[0]
    finally:
        store.close()


def run(args: argparse.Namespace) -> int:
    """Check the database and study, then replace this process with the respondents' server."""
    url = args.db or default_db_url()
    return _become_server({ENV_DB_URL: url, ENV_STUDY: served_study(url, args.study),
                           ENV_ROLE: "respondent"}, args)


def run_analyst(args: argparse.Namespace) -> int:
    """Check the database, then replace this process with the analyst's server."""
    url = args.db or default_db_url()
    from study_app.store import Store
    store = Store(url)              # an existing study database, or one plain line
    try:
        study = store.get_study(args.study).name if args.study else None
    finally:
        store.close()
    return _become_server({ENV_DB_URL: url, ENV_ROLE: "analyst", **({ENV_STUDY: study} if study else {})},
                          args)


def _become_server(env: dict[str, str], args: argparse.Namespace) -> int:
    cmd = streamlit_command(args.address, args.port)
    if args.dry_run:
        print(" ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()), shlex.join(cmd))
        return 0
    os.environ.update(env)
    root = str(APP.parent.parent)   # so `import study_app` works inside the Streamlit script
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(cmd[0], cmd)   # the server owns this process (same pid; signals reach it)
    return 0  # not reached

"""`python -m study_app [serve] | create | export | simulate`.

With no verb (or `serve`) it runs `streamlit run study_app/app.py` with production settings:
headless, no file watcher, no rerun on save, no usage statistics.
"""
from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
from pathlib import Path

from study_app.config import ENV_DB_URL, ENV_STUDY, default_db_url

APP = Path(__file__).resolve().parent / "app.py"
VERBS = ("serve", "create", "export", "simulate")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m study_app", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Serve the real-vs-generated study to respondents (Streamlit, production "
                    "settings). Other verbs: create (set a study up), export (CSVs for analysts), "
                    "simulate (dry-run respondents); see `python -m study_app VERB --help`.",
        epilog="example: python -m study_app --db sqlite:///study.db --study pilot --port 8501")
    p.add_argument("--db", default=None, help=f"database URL; None: ${ENV_DB_URL}, else sqlite:///study.db")
    p.add_argument("--study", default=None, help="study to serve; None: the newest in the database")
    p.add_argument("--address", default="127.0.0.1", help="address to listen on (0.0.0.0 for all)")
    p.add_argument("--port", type=int, default=8501, help="TCP port")
    p.add_argument("--dry-run", action="store_true", help="print the streamlit command and exit")
    return p


def streamlit_command(address: str, port: int) -> list[str]:
    """The `streamlit run` command line with production settings."""
    return [sys.executable, "-m", "streamlit", "run", str(APP),
            "--server.headless", "true",
            "--server.fileWatcherType", "none",
            "--server.runOnSave", "false",
            "--browser.gatherUsageStats", "false",
            "--client.toolbarMode", "minimal",
            "--theme.base", "light",
            "--theme.primaryColor", "#1f4e79",
            "--server.address", address,
            "--server.port", str(port)]


def serve(argv: list[str]) -> int:
    """Check the database and study, then replace this process with the Streamlit server."""
    args = build_parser().parse_args(argv)
    from study_app.store import Store, StoreError
    url = args.db or default_db_url()
    try:
        store = Store(url)
        names = store.study_names()
        if args.study:
            store.get_study(args.study)
        elif not names:
            raise StoreError("--db: the database holds no study; set one up with "
                             "`python -m study_app create --name NAME --real DIR --fake DIR`")
        store.close()
    except StoreError as e:
        logging.getLogger("study_app").error("%s", e)
        return 2
    if not 0 < args.port < 65536:
        logging.getLogger("study_app").error("--port %d: give a port in 1..65535", args.port)
        return 2
    env = {ENV_DB_URL: url, ENV_STUDY: args.study or names[0]}
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


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    verb = argv[0] if argv and argv[0] in VERBS else "serve"
    rest = argv[1:] if argv and argv[0] in VERBS else argv
    if verb == "create":
        from study_app.create import main as create_main
        return create_main(rest)
    if verb == "export":
        from study_app.exports import main as export_main
        return export_main(rest)
    if verb == "simulate":
        from study_app.simulate import main as simulate_main
        return simulate_main(rest)
    return serve(rest)


if __name__ == "__main__":
    sys.exit(main())

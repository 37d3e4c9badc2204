"""`python -m study_app [serve] | analyst | create | export | simulate`: the study's command line.

Serve is the default verb: with no verb its flags sit on the top level. Each verb's module is
imported only when that verb runs, so one verb's --help loads nothing another one needs.
"""
from __future__ import annotations

import importlib
import sys

from inkwash import cli


def _lazy(module: str, name: str):
    """study_app.<module>.<name>, imported at the first call."""
    def call(arg):
        return getattr(importlib.import_module(f"study_app.{module}"), name)(arg)
    return call


def _verb(name: str, module: str, help: str, description: str, example: str,
          configure: str = "configure", run: str = "run") -> cli.Verb:
    return cli.Verb(name, help, configure=_lazy(module, configure), run=_lazy(module, run),
                    description=description, example=example)


SERVE = _verb(
    "serve", "serve", "serve the study to respondents (the default verb)",
    "Serve the real-vs-generated study to respondents (Streamlit, production settings).",
    "python -m study_app --db sqlite:///study.db --study pilot --port 8501")
COMMAND = cli.Command(
    prog="python -m study_app",
    description="The human real-vs-generated study: set it up, serve it, export and simulate.",
    default=SERVE,
    verbs=[SERVE,
           _verb("analyst", "serve", "serve the analyst page on its own port (a second server)",
                 "Serve the analyst page (live progress, tables, statistics, downloads) as a "
                 "second server with nothing else on it; respondents' servers never name it.",
                 "python -m study_app analyst --db sqlite:///study.db --port 8502",
                 configure="configure_analyst", run="run_analyst"),
           _verb("create", "create", "set a study up from image folders or an ONNX generator",
                 "Copy real and generated patterns into a new study's image store (opaque ids, "
                 "identical PNG encoding, one byte length) and record the study in the database.",
                 "python -m study_app create --name pilot --real data/patterns "
                 "--fake paper=runs/paper/samples_256 --db sqlite:///study.db"),
           _verb("export", "exports", "write a study's CSVs, tables and statistics for analysts",
                 "Write a study's CSVs (trials, respondents, images, models, Tables 5 and 7), "
                 "Table 6 as a PNG, stats.json and codebook.md.",
                 "python -m study_app export --db sqlite:///study.db --out export/ --study pilot"),
           _verb("simulate", "simulate", "fill a study with simulated respondents (dry runs)",
                 "Fill a study with simulated respondents (stored as simulated) for dry runs.",
                 "python -m study_app simulate --db sqlite:///study.db --study pilot "
                 "--respondents 60 --accuracy 0.5 --seed 1")])


def main(argv: list[str] | None = None) -> int:
    """Run the command line (no verb: serve)."""
    return COMMAND.main(argv)


if __name__ == "__main__":
    sys.exit(main())

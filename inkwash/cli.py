"""The command-line skeleton of every `python -m <package>`: verbs as argparse subparsers, logging set
up once (bare messages on stderr), a known user error as one line and exit code 2, tracebacks left to
real bugs.

A package describes its command once and its `__main__` only calls it:

    COMMAND = cli.Command(prog="python -m export", description="...", verbs=[
        cli.Verb("onnx", "export a run to ONNX", configure=onnx_args, run=onnx_run, example="..."),
        ...])

    def main(argv=None) -> int:
        return COMMAND.main(argv)

`configure(parser)` adds a verb's arguments and `run(args)` does the work and returns the exit code
(None = 0). A verb's arguments are only built when that verb runs, so `configure` may import heavy
modules (torch) without slowing another verb's `--help`. A command with a `default` verb runs it when
no verb is given (`python -m train` trains); the default's flags then sit on the top-level parser.
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

EXIT_USAGE = 2          # bad input: one line, no traceback (argparse uses 2 as well)
EXIT_INTERRUPTED = 130  # Ctrl-C


class UserError(ValueError):
    """Bad input: the message names the file or field and the fix. Exit code 2, no traceback."""


def first_line(e: BaseException) -> str:
    """An exception's first line of text, or its type name when it has none."""
    text = str(e).strip()
    if isinstance(e, OSError) and e.filename and e.strerror:
        text = f"{e.filename}: {e.strerror}"
    return text.splitlines()[0] if text else type(e).__name__


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown except None (meaning "decided later", said in the help text); epilog unwrapped."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or action.default is argparse.SUPPRESS or isinstance(action.default, bool):
            return action.help or ""
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit code 2) that point at --help."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {v}")
    return v


@dataclass
class Verb:
    """One verb: `python -m pkg NAME ...`."""
    name: str
    help: str                                                  # one line in the verb list
    configure: Callable[[argparse.ArgumentParser], None]       # adds the verb's arguments
    run: Callable[[argparse.Namespace], int | None]            # does the work; returns the exit code
    description: str = ""                                      # --help text; default: `help`
    example: str = ""                                          # one example command, ends --help


@dataclass
class Command:
    """A package's command line: its verbs, an optional default verb and its user-error types."""
    prog: str
    description: str
    verbs: list[Verb] = field(default_factory=list)
    default: Verb | None = None                                # runs when no verb is given
    user_errors: tuple[type[BaseException], ...] = ()          # more exception types meaning bad input

    def _verb_named(self, name: str | None) -> Verb | None:
        return next((v for v in self.verbs if v.name == name), None)

    def _epilog(self, verb: Verb | None) -> str:
        lines = []
        if verb is not None and verb.example:
            lines.append(f"example: {verb.example}")
        if verb is self.default and self.verbs:
            lines.append(f"verbs: {', '.join(v.name for v in self.verbs)} (see {self.prog} VERB --help)")
        return "\n".join(lines)

    def build_parser(self, argv: list[str]) -> argparse.ArgumentParser:
        """The parser for this command line; only the verb that will run is configured."""
        chosen = self._verb_named(argv[0] if argv else None)
        if chosen is None and self.default is not None:
            p = Parser(prog=self.prog, description=self.default.description or self.description,
                       epilog=self._epilog(self.default))
            self.default.configure(p)
            p.set_defaults(_verb=self.default)
            if argv and not argv[0].startswith("-") and not p._get_positional_actions():
                # The default takes no positional argument, so a leading word is a misspelt verb
                # (without this, `python -m pkg studio --help` would print the default's help).
                p.error(f"unknown verb {argv[0]!r}; choose one of {', '.join(v.name for v in self.verbs)}")
            return p
        p = Parser(prog=self.prog, description=self.description,
                   epilog=self._epilog(None) or None)
        sub = p.add_subparsers(title="verbs", dest="_verb_name", metavar="VERB", required=True)
        for v in self.verbs:
            sp = sub.add_parser(v.name, help=v.help, description=v.description or v.help,
                                epilog=self._epilog(v) or None, formatter_class=HelpFormatter)
            if v is chosen:  # the others are listed, never parsed: their arguments are not built
                v.configure(sp)
                sp.set_defaults(_verb=v)
        return p

    def main(self, argv: list[str] | None = None) -> int:
        """Parse `argv` (default sys.argv[1:]), run the verb, return the exit code."""
        argv = list(sys.argv[1:] if argv is None else argv)
        with setup_logging(), _warnings_to_log():
            args = self.build_parser(argv).parse_args(argv)
            verb: Verb = args._verb
            del args._verb
            vars(args).pop("_verb_name", None)
            try:
                code = verb.run(args)
            except (UserError, FileNotFoundError, *self.user_errors) as e:
                log.error("%s: error: %s", _prog_of(self.prog, verb, self.default), first_line(e))
                return EXIT_USAGE
            except KeyboardInterrupt:
                log.error("%s: interrupted", self.prog)
                return EXIT_INTERRUPTED
        return 0 if code is None else int(code)


def _prog_of(prog: str, verb: Verb, default: Verb | None) -> str:
    return prog if verb is default else f"{prog} {verb.name}"


class _StderrHandler(logging.StreamHandler):
    """Bare messages to whatever sys.stderr is at the time of writing (test capture swaps it)."""

    def __init__(self):
        super().__init__()
        self.setFormatter(logging.Formatter("%(message)s"))

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


@contextlib.contextmanager
def setup_logging(level: int = logging.INFO) -> Iterator[None]:
    """Send INFO and above of every logger to stderr, bare, for the duration of one command."""
    root = logging.getLogger()
    mine = next((h for h in root.handlers if isinstance(h, _StderrHandler)), None)
    added = mine is None
    if added:
        mine = _StderrHandler()
        root.addHandler(mine)
    old_level = root.level
    root.setLevel(level)
    try:
        yield
    finally:
        root.setLevel(old_level)
        if added:
            root.removeHandler(mine)


@contextlib.contextmanager
def _warnings_to_log() -> Iterator[None]:
    """Python warnings become one 'warning: ...' log line each while a command runs; restored after."""
    old = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        logging.getLogger("py.warnings").warning("warning: %s", message)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = old

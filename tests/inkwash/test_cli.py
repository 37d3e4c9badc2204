"""inkwash.cli: one skeleton for every command line (verbs, default verb, errors, logging)."""
from __future__ import annotations

import logging
import warnings

import pytest

from inkwash import cli


def _command(calls: list) -> cli.Command:
    def conf(p):
        p.add_argument("--n", type=cli.positive_int, default=3, help="how many")

    def fail(args):
        raise cli.UserError("n: 7 is too many; pass --n 3 or fewer")

    def bug(args):
        raise KeyError("a real bug")

    def train(args):
        calls.append(("train", args.n))
        logging.getLogger("some.library").info("progress for people")
        warnings.warn("something to know")

    return cli.Command("python -m demo", "a demo command", verbs=[
        cli.Verb("fail", "always bad input", conf, fail, example="python -m demo fail --n 7"),
        cli.Verb("bug", "always a bug", conf, bug)], default=cli.Verb("train", "train", conf, train))


def test_no_verb_runs_the_default_with_its_flags(capsys):
    calls = []
    assert _command(calls).main(["--n", "4"]) == 0
    assert calls == [("train", 4)]
    err = capsys.readouterr().err
    assert "progress for people" in err and "warning: something to know" in err


def test_user_error_is_one_line_and_exit_2(capsys):
    assert _command([]).main(["fail", "--n", "7"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["python -m demo fail: error: n: 7 is too many; pass --n 3 or fewer"]


def test_a_real_bug_keeps_its_traceback():
    with pytest.raises(KeyError):
        _command([]).main(["bug"])


def test_bad_flag_and_unknown_verb_exit_2_with_one_line(capsys):
    with pytest.raises(SystemExit) as e:
        _command([]).main(["fail", "--n", "0"])
    assert e.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1
    for argv in (["nosuchverb"], ["nosuchverb", "--help"]):
        with pytest.raises(SystemExit) as e:
            _command([]).main(argv)
        assert e.value.code == 2
    assert "unknown verb 'nosuchverb'; choose one of fail, bug" in capsys.readouterr().err


def test_help_lists_verbs_and_ends_with_the_example(capsys):
    with pytest.raises(SystemExit) as e:
        _command([]).main(["--help"])
    assert e.value.code == 0
    assert "verbs: fail, bug" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        _command([]).main(["fail", "--help"])
    out = capsys.readouterr().out
    assert out.rstrip().endswith("example: python -m demo fail --n 7") and "(default: 3)" in out


def test_logging_and_warning_hooks_are_restored_after_a_command():
    before_handlers = list(logging.getLogger().handlers)
    before_show = warnings.showwarning
    _command([]).main([])
    assert logging.getLogger().handlers == before_handlers
    assert warnings.showwarning is before_show

"""The command line: the demo runs end to end; every command's help parses, reads as plain words and shows
its defaults; building the parser loads none of the commands' work; old names still run and say where they moved."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys

import pytest

from gumbel_softmax.cli import COMMANDS, Command, build_parser, main


def test_demo_prints_tables_and_saves_a_figure(tmp_path, capsys):
    assert main(["demo", "--samples", "20000", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Gumbel-max trick" in out and "chi-square" in out and "mean y[0]" in out
    assert (tmp_path / "gumbel_max_and_temperatures.png").stat().st_size > 10_000


def _leaves(tree=COMMANDS, prefix=()):
    for name, node in tree.items():
        if isinstance(node, Command):
            yield (*prefix, name)
        else:
            yield (*prefix, name)
            yield from _leaves(node, (*prefix, name))


COMMAND_PATHS = [(), *_leaves()]
REST = re.compile(r":(mod|func|class|data|meth|attr):|``|`[^`]+`_")


def _help(path: tuple[str, ...], capsys) -> str:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([*path, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=lambda p: " ".join(p) or "top")
def test_every_command_has_plain_help(path, capsys):
    text = _help(path, capsys)
    assert text.startswith("usage: gumbel-softmax")
    assert not REST.search(text), f"reST markup in the help of {path}: {REST.search(text)}"
    assert "SECTIONS" not in text and "Later parts" not in text


def _options(parser: argparse.ArgumentParser, path: tuple[str, ...]):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _options(sub, (*path, name))
        elif action.option_strings and action.dest not in ("help", "version"):
            yield path, action


def test_every_option_has_help_and_shows_its_default(capsys):
    options = list(_options(build_parser(), ()))
    assert len(options) > 60
    for path, action in options:
        assert action.help, f"{' '.join(path)} {action.option_strings[0]} has no help"
        if action.nargs != 0 and action.default is not None:
            text = _help(path, capsys)
            assert f"(default: {action.default})" in " ".join(text.split()) or action.default in ("",), (
                path, action.option_strings)


def test_list_options_are_comma_separated_everywhere(tmp_path):
    parser = build_parser()
    assert parser.parse_args(["train", "vae", "--hidden", "64,32"]).hidden == [64, 32]
    assert parser.parse_args(["reproduce", "jang2017", "--seeds", "0,2", "--rows", "ST,RELAX"]).seeds == [0, 2]
    assert parser.parse_args(["study", "estimators", "--estimators", "reinforce,rebar"]).estimators == [
        "reinforce", "rebar"]
    assert parser.parse_args(["study", "relaxation-gap", "--taus", "0.5,1"]).taus == [0.5, 1.0]
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "vae", "--hidden", "64", "32"])  # the space-separated form is refused


def test_explore_help_is_short(capsys):
    assert len(_help(("explore",), capsys).splitlines()) <= 25


def test_building_the_parser_loads_no_command_work(subprocess_env):
    """Only the light option modules are imported for --help: no training, study, server, data or plotting code."""
    heavy = ["gumbel_softmax.experiments.train", "gumbel_softmax.experiments.reproduce",
             "gumbel_softmax.experiments.models", "gumbel_softmax.studies.demo",
             "gumbel_softmax.studies.estimator_variance", "gumbel_softmax.explorer.server",
             "gumbel_softmax.estimators", "sklearn", "matplotlib"]
    code = ("import sys; from gumbel_softmax.cli import build_parser; build_parser(); "
            f"print([m for m in {heavy!r} if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=subprocess_env,
                            check=True)
    assert result.stdout.strip() == "[]"


def test_old_names_say_where_the_command_moved_and_run_it(tmp_path, capsys):
    assert main(["bench", "reproduce", "--report", "--rows", "ST", "--seeds", "0", "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines()[0] == (
        "gumbel-softmax bench reproduce: this command is now 'gumbel-softmax reproduce jang2017'")
    assert "not run" in captured.out and (tmp_path / "table.md").exists()


def test_module_entry_point_prints_the_version(subprocess_env):
    command = [sys.executable, "-m", "gumbel_softmax", "--version"]
    result = subprocess.run(command, capture_output=True, text=True, env=subprocess_env, check=False)
    assert result.returncode == 0 and "gumbel-softmax" in result.stdout

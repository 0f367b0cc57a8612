"""The command line: the demo runs end to end; every command's help parses, reads as plain words and shows
its defaults; building the parser loads none of the commands' work; old names still run and say where they moved."""

from __future__ import annotations

import argparse
import os
import re
import shutil
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


# --- Bad command lines: each is refused with one line on stderr, exit 2, no traceback, and no file changed. ---

HUGE = "99999999999999999999999"
TRAIN = ["--steps", "2", "--hidden", "8", "--variables", "4", "--classes", "3", "--batch-size", "50",
         "--eval-samples", "2", "--eval-every", "0", "--no-progress", "--no-figures"]


def _truncate(run):
    data = (run / "checkpoint.pt").read_bytes()
    (run / "checkpoint.pt").write_bytes(data[: len(data) // 2])


def _write(name, content):
    def damage(run):
        (run / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    return damage


def _other_torch_file(run):
    import torch

    torch.save({"weights": torch.zeros(3)}, run / "checkpoint.pt")


def _other_configuration(run):
    # A checkpoint of another model (wider layers) under this run's config.json.
    other = run.parent / "other"
    assert main(["train", "vae", *TRAIN, "--hidden", "16", "--checkpoint-every", "1", "--out", str(other)]) == 0
    (run / "checkpoint.pt").write_bytes((other / "checkpoint.pt").read_bytes())


def _a_file(run):
    (run.parent / "a-file").write_text("not a folder")


def _read_only(run):
    (run.parent / "locked").mkdir()
    (run.parent / "locked").chmod(0o555)


# (id, argv with {run} for the run folder and {tmp} for its parent, words the one line must contain, damage)
BAD_COMMAND_LINES = [
    # train vae: silently wrong runs, tracebacks and misleading messages of issue 15 (items 8-10)
    ("variables 0", ["train", "vae", "--variables", "0"], ["--variables", "from 1 to"], None),
    ("hidden 0", ["train", "vae", "--hidden", "0"], ["--hidden", "sizes"], None),
    ("hidden blank item", ["train", "vae", "--hidden", "64,,32"], ["--hidden", "comma-separated"], None),
    ("hidden empty", ["train", "vae", "--hidden", ""], ["--hidden", "comma-separated"], None),
    ("hidden huge", ["train", "vae", "--hidden", HUGE], ["--hidden", "sizes"], None),
    ("checkpoint-every -1", ["train", "vae", "--checkpoint-every", "-1"], ["--checkpoint-every", ">= 0"], None),
    ("log-every 0", ["train", "vae", "--log-every", "0"], ["--log-every", ">= 1"], None),
    ("eval-every -1", ["train", "vae", "--eval-every", "-1"], ["--eval-every", ">= 0"], None),
    ("lr inf", ["train", "vae", "--lr", "inf"], ["--lr", "finite number > 0"], None),
    ("lr nan", ["train", "vae", "--lr", "nan"], ["--lr", "finite number > 0"], None),
    ("lr 0", ["train", "vae", "--lr", "0"], ["--lr", "finite number > 0"], None),
    ("lr text", ["train", "vae", "--lr", "fast"], ["--lr", "finite number > 0"], None),
    ("tau -1", ["train", "vae", "--tau", "-1"], ["--tau", "finite number > 0"], None),
    ("tau 1e400", ["train", "vae", "--tau", "1e400"], ["--tau", "finite number > 0"], None),
    ("lr-decay 1.5", ["train", "vae", "--lr-decay", "1.5"], ["--lr-decay", "(0, 1]"], None),
    ("lr-decay-every 0", ["train", "vae", "--lr-decay-every", "0"], ["--lr-decay-every", ">= 1"], None),
    ("eval-samples-during 0", ["train", "vae", "--eval-samples-during", "0"], ["--eval-samples-during"], None),
    ("eval-samples huge", ["train", "vae", "--eval-samples", HUGE], ["--eval-samples", "from 1 to"], None),
    ("steps 0", ["train", "vae", "--steps", "0"], ["--steps", ">= 1"], None),
    ("steps 1.5", ["train", "vae", "--steps", "1.5"], ["--steps", "whole number"], None),
    ("batch-size 0", ["train", "vae", "--batch-size", "0"], ["--batch-size", ">= 1"], None),
    ("classes 1", ["train", "vae", "--classes", "1"], ["--classes", "from 2 to"], None),
    ("variables huge", ["train", "vae", "--variables", HUGE], ["--variables", "from 1 to"], None),
    ("seed -1", ["train", "vae", "--seed", "-1"], ["--seed", "0 to 4294967295"], None),
    ("seed 2**32", ["train", "vae", "--seed", str(2**32)], ["--seed", "0 to 4294967295"], None),
    ("data-seed nan", ["train", "vae", "--data-seed", "nan"], ["--data-seed", "seed"], None),
    ("kl-warmup -1", ["train", "vae", "--kl-warmup", "-1"], ["--kl-warmup", ">= 0"], None),
    ("latent unknown", ["train", "vae", "--latent", "gaussian"], ["--latent", "invalid choice"], None),
    ("estimator unknown", ["train", "vae", "--estimator", "magic", "--out", "{run}", "--resume"],
     ["magic"], None),
    ("anneal unknown", ["train", "vae", "--anneal", "sometimes"], ["--anneal", "sometimes"], None),
    ("data-dir with digits", ["train", "vae", "--data-dir", "{tmp}", "--out", "{tmp}/new"],
     ["--data-dir", "--dataset mnist"], None),
    ("resume and overwrite", ["train", "vae", "--resume", "--overwrite", "--out", "{run}"], ["give one"], None),
    ("out empty", ["train", "vae", "--out", ""], ["--out", "folder name"], None),
    ("out blank", ["train", "vae", "--out", "  "], ["--out", "folder name"], None),
    ("out a file", ["train", "vae", "--out", "{tmp}/a-file"], ["--out", "is a file"], _a_file),
    ("out under a file", ["train", "vae", "--out", "{tmp}/a-file/run"], ["--out", "is a file"], _a_file),
    ("out read-only", ["train", "vae", "--out", "{tmp}/locked/run"], ["--out", "cannot be written"], _read_only),
    ("fresh run over a run", ["train", "vae", "--out", "{run}"], ["already holds a run", "--overwrite"], None),
    # train sbn
    ("sbn layers 0", ["train", "sbn", "--layers", "0"], ["--layers", ">= 1"], None),
    ("sbn layers -2", ["train", "sbn", "--layers", "-2"], ["--layers", ">= 1"], None),
    ("sbn variables 0", ["train", "sbn", "--variables", "0"], ["--variables"], None),
    # --resume on damaged files: the message names the file and what to do
    ("resume truncated", ["train", "vae", "--resume", "--out", "{run}"],
     ["checkpoint.pt cannot be read", "--overwrite"], _truncate),
    ("resume garbage", ["train", "vae", "--resume", "--out", "{run}"],
     ["checkpoint.pt cannot be read", "--overwrite"], _write("checkpoint.pt", b"\x00garbage\xff" * 100)),
    ("resume empty file", ["train", "vae", "--resume", "--out", "{run}"],
     ["checkpoint.pt cannot be read", "--overwrite"], _write("checkpoint.pt", b"")),
    ("resume another torch file", ["train", "vae", "--resume", "--out", "{run}"],
     ["checkpoint.pt cannot be read", "not a checkpoint of this program"], _other_torch_file),
    ("resume another configuration", ["train", "vae", "--resume", "--out", "{run}"],
     ["checkpoint.pt holds a run of another configuration", "--overwrite"], _other_configuration),
    ("resume corrupt metrics", ["train", "vae", "--resume", "--out", "{run}"],
     ["metrics.jsonl line 1", "corrupt"], _write("metrics.jsonl", '{"step": \n{"step": 2}\n')),
    ("resume corrupt config", ["train", "vae", "--resume", "--out", "{run}"],
     ["config.json", "corrupt"], _write("config.json", "{not json")),
    ("resume config not a dict", ["train", "vae", "--resume", "--out", "{run}"],
     ["config.json", "corrupt"], _write("config.json", "[1, 2]")),
    # reproduce jang2017
    ("reproduce seeds blank", ["reproduce", "jang2017", "--seeds", "0,,1"], ["--seeds", "comma-separated"], None),
    ("reproduce seeds -1", ["reproduce", "jang2017", "--seeds", "-1"], ["--seeds", "comma-separated"], None),
    ("reproduce rows trailing comma", ["reproduce", "jang2017", "--rows", "ST,"], ["--rows"], None),
    ("reproduce models unknown", ["reproduce", "jang2017", "--models", "vae-gauss"], ["--models", "unknown"], None),
    ("reproduce steps 0", ["reproduce", "jang2017", "--steps", "0"], ["--steps", ">= 1"], None),
    ("reproduce hidden 0", ["reproduce", "jang2017", "--hidden", "0"], ["--hidden"], None),
    ("reproduce lr inf", ["reproduce", "jang2017", "--lr", "inf"], ["--lr", "finite"], None),
    ("reproduce anneal unknown", ["reproduce", "jang2017", "--rows", "ST", "--anneal", "often", "--out", "{tmp}/t"],
     ["--anneal", "often"], None),
    ("reproduce eval-samples 0", ["reproduce", "jang2017", "--eval-samples", "0"], ["--eval-samples"], None),
    ("reproduce checkpoint-every -1", ["reproduce", "jang2017", "--checkpoint-every", "-1"],
     ["--checkpoint-every"], None),
    ("reproduce out empty", ["reproduce", "jang2017", "--out", ""], ["--out", "folder name"], None),
    ("reproduce export blank", ["reproduce", "jang2017", "--export", " "], ["--export", "folder name"], None),
    # reproduce ssl
    ("reproduce ssl rows unknown", ["reproduce", "ssl", "--rows", "magic", "--out", "{tmp}/t"],
     ["--rows magic", "marginalize"], None),
    ("reproduce ssl rows binary only", ["reproduce", "ssl", "--rows", "arms", "--out", "{tmp}/t"],
     ["--rows arms", "binary"], None),
    ("reproduce ssl rows blank", ["reproduce", "ssl", "--rows", "marginalize,"], ["--rows", "comma-separated"], None),
    ("reproduce ssl seeds -1", ["reproduce", "ssl", "--seeds", "-1"], ["--seeds", "comma-separated"], None),
    ("reproduce ssl steps 0", ["reproduce", "ssl", "--steps", "0"], ["--steps", ">= 1"], None),
    ("reproduce ssl eval-samples 0", ["reproduce", "ssl", "--eval-samples", "0"], ["--eval-samples", "from 1"], None),
    ("reproduce ssl dataset unknown", ["reproduce", "ssl", "--dataset", "cifar"], ["--dataset", "invalid"], None),
    ("reproduce ssl out a file", ["reproduce", "ssl", "--out", "{tmp}/a-file"], ["--out", "is a file"], _a_file),
    ("reproduce ssl resume and overwrite", ["reproduce", "ssl", "--resume", "--overwrite", "--out", "{tmp}/t"],
     ["give one"], None),
    # reproduce molgan
    ("reproduce molgan rows unknown", ["reproduce", "molgan", "--rows", "magic", "--out", "{tmp}/t"], ["magic"],
     None),
    ("reproduce molgan rows nvil", ["reproduce", "molgan", "--rows", "nvil", "--out", "{tmp}/t"],
     ["--rows nvil", "cannot draw"], None),
    ("reproduce molgan seeds blank", ["reproduce", "molgan", "--seeds", "0,,1"], ["--seeds", "comma-separated"],
     None),
    ("reproduce molgan steps 0", ["reproduce", "molgan", "--steps", "0"], ["--steps", ">= 1"], None),
    ("reproduce molgan eval-samples huge", ["reproduce", "molgan", "--eval-samples", HUGE],
     ["--eval-samples", "from 1 to"], None),
    ("reproduce molgan out empty", ["reproduce", "molgan", "--out", ""], ["--out", "folder name"], None),
    # study ...
    ("estimators draws 0", ["study", "estimators", "--draws", "0"], ["--draws", "from 1 to"], None),
    ("estimators toy-draws huge", ["study", "estimators", "--toy-draws", HUGE], ["--toy-draws", "from 1 to"], None),
    ("estimators warmup -1", ["study", "estimators", "--warmup", "-1"], ["--warmup", "from 0 to"], None),
    ("estimators seed nan", ["study", "estimators", "--seed", "nan"], ["--seed"], None),
    ("estimators problems empty", ["study", "estimators", "--problems", ""], ["--problems"], None),
    ("estimators problems unknown", ["study", "estimators", "--problems", "toy"], ["--problems", "unknown"], None),
    ("estimators out empty", ["study", "estimators", "--out", ""], ["--out", "folder name"], None),
    ("active-units seed -1", ["study", "active-units", "--seed", "-1"], ["--seed"], None),
    ("active-units no such run", ["study", "active-units", "--runs", "{tmp}/none", "--rows", "ST"],
     ["has no config.json", "train that row first"], None),
    ("relaxation-gap no such run", ["study", "relaxation-gap", "--runs", "{tmp}/none", "--rows", "ST"],
     ["has no config.json"], None),
    ("estimators out a file", ["study", "estimators", "--out", "{tmp}/a-file"], ["--out", "is a file"], _a_file),
    ("ssl-speed out a file", ["reproduce", "ssl-speed", "--out", "{tmp}/a-file"], ["--out", "is a file"], _a_file),
    ("reproduce export into out", ["reproduce", "jang2017", "--out", "{tmp}/r", "--export", "{tmp}/r"],
     ["--export", "another folder"], None),
    ("explore port 70000", ["explore", "--port", "70000"], ["--port", "65535"], None),
    ("molgan penalty nan", ["train", "molgan", "--penalty", "nan"], ["--penalty", "finite number >= 0"], None),
    ("molgan lr inf", ["train", "molgan", "--lr", "inf"], ["--lr", "finite number > 0"], None),
    ("molgan aggregate 0", ["train", "molgan", "--aggregate", "0"], ["--aggregate", "from 1 to"], None),
    ("molgan wgan-weight 2", ["train", "molgan", "--wgan-weight", "2"], ["--wgan-weight", "from 0 to 1"], None),
    ("molgan out empty", ["train", "molgan", "--out", ""], ["--out", "folder name"], None),
    ("molgan eval-samples huge", ["train", "molgan", "--eval-samples", HUGE], ["--eval-samples", "from 1 to"], None),
    ("molgan limit 3", ["train", "molgan", "--limit", "3"], ["--limit", ">= 10"], None),
    ("active-units rows blank", ["study", "active-units", "--rows", ","], ["--rows"], None),
    ("relaxation-gap taus 0", ["study", "relaxation-gap", "--taus", "0,1"], ["--taus"], None),
    ("relaxation-gap taus nan", ["study", "relaxation-gap", "--taus", "nan"], ["--taus"], None),
    ("relaxation-gap draws 0", ["study", "relaxation-gap", "--draws", "0"], ["--draws"], None),
    ("relaxation-gap samples -1", ["study", "relaxation-gap", "--samples", "-1"], ["--samples"], None),
    # demo
    ("demo samples 0", ["demo", "--samples", "0"], ["--samples", "from 1 to"], None),
    ("demo samples huge", ["demo", "--samples", HUGE], ["--samples", "from 1 to"], None),
    ("demo seed -1", ["demo", "--seed", "-1"], ["--seed"], None),
    ("demo out empty", ["demo", "--out", ""], ["--out", "folder name"], None),
    # explore (options only; the server is not started)
    ("explore port text", ["explore", "--port", "http"], ["--port"], None),
    # the command tree
    ("no command", [], ["required"], None),
    ("unknown command", ["train", "gan"], ["invalid choice"], None),
    ("unknown option", ["train", "vae", "--colour", "blue"], ["unrecognized arguments"], None),
]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A small finished run with a checkpoint (train vae, 2 steps)."""
    run = tmp_path_factory.mktemp("finished") / "R"
    assert main(["train", "vae", *TRAIN, "--checkpoint-every", "1", "--out", str(run)]) == 0
    return run


def _snapshot(folder):
    return {p.relative_to(folder): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _prepare(case, finished_run, tmp_path):
    _, argv, words, damage = case
    run = tmp_path / "R"
    shutil.copytree(finished_run, run)
    if damage is not None:
        if damage is _read_only and os.geteuid() == 0:
            pytest.skip("root writes in read-only folders (see test_out_read_only_is_refused_before_any_work)")
        damage(run)
    argv = [a.replace("{run}", str(run)).replace("{tmp}", str(tmp_path)) for a in argv]
    if argv[:1] == ["train"] and "--out" not in argv:
        argv += ["--out", str(tmp_path / "new")]
    if argv[:1] == ["train"]:
        given = set(argv)
        argv += [a for pair in zip(TRAIN[::2], TRAIN[1::2]) if pair[0] not in given for a in pair]
        argv += [flag for flag in TRAIN if flag.startswith("--no-") and flag not in given]
    return argv, words


@pytest.mark.parametrize("case", BAD_COMMAND_LINES, ids=[case[0] for case in BAD_COMMAND_LINES])
def test_a_bad_command_line_is_one_line_exit_2_and_changes_no_file(case, finished_run, tmp_path, capsys):
    argv, words = _prepare(case, finished_run, tmp_path)
    before = _snapshot(tmp_path)
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert code == 2, (argv, captured.err)
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert _snapshot(tmp_path) == before, "no file changed, none added"
    assert not (tmp_path / "new").exists() and not (tmp_path / "t").exists(), "no work started"


SUBPROCESS_CASES = ["lr inf", "resume truncated", "log-every 0", "sbn layers 0", "out a file"]


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_no_traceback_reaches_the_terminal(name, finished_run, tmp_path, subprocess_env):
    case = next(case for case in BAD_COMMAND_LINES if case[0] == name)
    argv, words = _prepare(case, finished_run, tmp_path)
    before = _snapshot(tmp_path)
    result = subprocess.run([sys.executable, "-m", "gumbel_softmax", *argv], capture_output=True, text=True,
                            env=subprocess_env, timeout=120, check=False)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert all(word in lines[0] for word in words), lines
    assert _snapshot(tmp_path) == before


def test_out_read_only_is_refused_before_any_work(tmp_path, monkeypatch, capsys):
    # Also where the tests run as root (who may write anywhere): the check asks the operating system.
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    assert main(["train", "vae", *TRAIN, "--out", str(tmp_path / "run")]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "cannot be written (read-only)" in line and not (tmp_path / "run").exists()

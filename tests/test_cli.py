"""The command line: the demo runs end to end and writes its figure; help and version work."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gumbel_softmax.cli import build_parser, main


def test_demo_prints_tables_and_saves_a_figure(tmp_path, capsys):
    assert main(["demo", "--samples", "20000", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Gumbel-max trick" in out and "chi-square" in out and "mean y[0]" in out
    assert (tmp_path / "gumbel_max_and_temperatures.png").stat().st_size > 10_000


def test_every_subcommand_has_help():
    parser = build_parser()
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args(["--help"])
    assert exit_.value.code == 0


def test_module_entry_point_prints_the_version(subprocess_env):
    command = [sys.executable, "-m", "gumbel_softmax", "--version"]
    result = subprocess.run(command, capture_output=True, text=True, env=subprocess_env, check=False)
    assert result.returncode == 0 and "gumbel-softmax" in result.stdout

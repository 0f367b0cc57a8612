"""The estimator bias/variance study runs end to end at tiny sizes and measures what it says."""

from __future__ import annotations

import pytest
import torch

from gumbel_softmax.cli import main
from gumbel_softmax.estimators.exact import exact_gradient
from gumbel_softmax.studies import estimator_variance
from gumbel_softmax.studies.options import PROBLEMS


def test_toy_problems_have_the_published_gradient():
    """Tucker et al.'s toy at l = 0: d/dl E[(b - 0.499)^2] = 0.25 * (1 - 2 * 0.499) = 5e-4."""
    toy = estimator_variance.problems(0)[0]
    _, grad = exact_gradient(toy.logits, toy.f, bernoulli=True)
    torch.testing.assert_close(grad, torch.tensor([5e-4]))


def test_measured_variance_of_st_on_the_bernoulli_toy_is_the_closed_form():
    """Plain ST at l = 0 returns sigmoid'(0) f'(b) = 0.25 * 2 (b - 0.499) = 0.5 (b - 0.499).

    Its variance is 0.25 Var(b) = 0.0625 exactly. The estimates take two values 0.5 apart, so with
    k of the n = 20,000 draws at b = 1 the (unbiased) sample variance is 0.25 k (n - k) / (n (n - 1))
    exactly, and its relative error is 4 k (n - k) / (n (n - 1)) - 1. That stays within 2e-3
    unless |k - n/2| > 452, i.e. 6.39 standard deviations of k ~ Binomial(n, 1/2): the exact
    binomial tail is 1.5e-10, below the 1e-6 budget (1e-3 would allow only 4.58 sd: 4.4e-6).
    """
    toy = estimator_variance.problems(0)[0]
    st = estimator_variance.Config("straight_through", {}, 1.0, 1)
    row = estimator_variance.measure(toy, st, 20_000, 0, torch.Generator().manual_seed(0))
    assert row.variance == pytest.approx(0.0625, rel=2e-3)  # see the docstring: P(fail) = 1.5e-10


def test_cli_writes_the_table_and_the_plot(tmp_path, capsys):
    args = ["study", "estimators", "--draws", "50", "--toy-draws", "50", "--warmup", "1", "--estimators",
            "reinforce,rebar", "--problems", "toy-bernoulli,quadratic", "--out", str(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "| toy-bernoulli |" in out and "rebar" in out and "quadratic" in out
    rows = [line for line in out.splitlines() if line.startswith("|") and "rebar" in line]
    # cosine is +-1 for any 1-D gradient, so it is not reported there; it is on the quadratic
    assert all(("n/a" in line) == ("toy-bernoulli" in line) for line in rows) and len(rows) == 8
    assert (tmp_path / "estimators.png").stat().st_size > 0
    assert (tmp_path / "estimators.md").read_text().count("\n") == 2 + 2 * (1 + 4)


def test_bad_sizes_and_names_get_one_line_and_exit_2(tmp_path, capsys):
    base = ["study", "estimators", "--out", str(tmp_path)]
    assert main([*base, "--draws", "1"]) == 2
    assert "--draws and --toy-draws must be at least 2" in capsys.readouterr().err
    assert main([*base, "--estimators", "reinforce,nonesuch"]) == 2
    assert "unknown estimator(s) nonesuch" in capsys.readouterr().err
    assert not any(tmp_path.iterdir()), "nothing measured, nothing written"


def test_the_options_list_the_problems_the_study_has():
    assert list(PROBLEMS) == [problem.name for problem in estimator_variance.problems(0)]


def test_every_registered_estimator_has_a_row_and_binary_only_ones_run_on_binary_problems_only():
    from gumbel_softmax.estimators import names
    from gumbel_softmax.studies.estimator_variance import configs, fits, problems

    listed = {config.name for config in configs(None)}
    assert set(names()) <= listed and {"gst", "gst_p", "disarm"} <= listed
    toy_bernoulli, toy_categorical, quadratic = problems(0)
    assert fits("arms", toy_bernoulli) and not fits("arms", toy_categorical) and not fits("arms", quadratic)
    assert fits("disarm", toy_bernoulli) and fits("disarm", toy_categorical) and fits("disarm", quadratic)
    assert fits("gst", toy_bernoulli) and fits("gst", quadratic)

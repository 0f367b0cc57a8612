"""DisARM (Dong, Mnih, Tucker 2020) is eq. (6) of the paper given the same uniforms; binary only.

Its unbiasedness against the exact gradient, and the power check that rejects it without its
sigma(|alpha|) weight, are in test_unbiasedness.py.
"""

from __future__ import annotations

import math

import pytest
import scipy.stats
import torch

from gumbel_softmax.estimators import get
from gumbel_softmax.noise import gumbel_noise
from tests.stats import ALPHA

B, V = 256, 4


def quadratic_loss(weights: torch.Tensor):
    return lambda b: ((b * weights).sum(-1) - 0.3) ** 2


def reference_gradients(alpha: torch.Tensor, u: torch.Tensor, f) -> torch.Tensor:
    """Eq. (6) of Dong et al. (2020) for each row, from uniforms u: the antithetic pair b = [u < sigma(alpha)],
    b~ = [1 - u < sigma(alpha)], and 1/2 (f(b) - f(b~)) (-1)^b~ [b != b~] sigma(|alpha|), coordinate by coordinate.
    """
    p = torch.sigmoid(alpha)
    b, anti = (u < p).double(), (1 - u < p).double()
    half = (f(b) - f(anti)).unsqueeze(-1) / 2
    return half * (-1.0) ** anti * (b != anti) * torch.sigmoid(alpha.abs())


@pytest.fixture
def problem():
    g = torch.Generator().manual_seed(8)
    return 1.5 * torch.randn(B, V, generator=g, dtype=torch.float64), torch.randn(V, generator=g, dtype=torch.float64)


def test_gradient_is_the_papers_equation_given_the_same_uniforms(problem):
    """The uniforms are u = sigmoid(-L) for the logistic noise L = G_1 - G_0 that the generator gives."""
    alpha, weights = problem
    f = quadratic_loss(weights)
    x = alpha.clone().requires_grad_()
    out = get("disarm")(x, f, bernoulli=True, generator=torch.Generator().manual_seed(2))
    out.surrogate.sum().backward()
    noise = gumbel_noise((B, V, 2), dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    u = torch.sigmoid(noise[..., 0] - noise[..., 1])
    torch.testing.assert_close(x.grad, reference_gradients(alpha, u, f), rtol=1e-12, atol=1e-14)
    assert torch.equal(out.sample, (u < torch.sigmoid(alpha)).double())
    assert (x.grad != 0).any(-1).sum() > B // 4  # the antithetic pair differs in many rows


def test_loss_is_the_mean_over_the_pair_and_the_sample_is_what_reinforce_draws(problem):
    alpha, weights = problem
    f, calls = quadratic_loss(weights), []

    def recording(b):
        calls.append(b.detach().clone())
        return f(b)

    out = get("disarm")(alpha.clone().requires_grad_(), recording, bernoulli=True,
                        generator=torch.Generator().manual_seed(4))  # fmt: skip
    assert len(calls) == 2 and torch.equal(calls[0], out.sample)
    torch.testing.assert_close(out.loss, (f(calls[0]) + f(calls[1])) / 2)
    other = get("reinforce")(alpha.clone().requires_grad_(), f, bernoulli=True,
                             generator=torch.Generator().manual_seed(4))  # fmt: skip
    assert torch.equal(out.sample, other.sample)


def test_antithetic_partner_is_an_exact_bernoulli_sample(generator):
    """b~ = [1 - u < p] is Bernoulli(p) too: a two-sided binomial test per coordinate at ALPHA / 3 each."""
    alpha = torch.tensor([-1.2, 0.0, 2.0], dtype=torch.float64)
    n, calls = 20_000, []

    def recording(b):
        calls.append(b.detach().clone())
        return b.sum(-1)

    get("disarm")(alpha.expand(n, 3).clone().requires_grad_(), recording, bernoulli=True, generator=generator)
    ones = calls[1].sum(0)
    for k, p in zip(ones.tolist(), torch.sigmoid(alpha).tolist()):
        assert scipy.stats.binomtest(int(k), n, p).pvalue > ALPHA / 3, (k, n * p)


def test_coordinates_where_the_pair_agrees_get_zero(problem):
    alpha, weights = problem
    calls = []

    def recording(b):
        calls.append(b.detach().clone())
        return quadratic_loss(weights)(b)

    x = alpha.clone().requires_grad_()
    get("disarm")(x, recording, bernoulli=True, generator=torch.Generator().manual_seed(6)).surrogate.sum().backward()
    agree = calls[0] == calls[1]
    assert bool(agree.any()) and bool((x.grad[agree] == 0).all())


def test_single_variable_expectation_by_hand():
    """One variable, f(b) = (b - t)^2: E[g] = sigmoid'(alpha) (f(1) - f(0)), over the four cells of u."""
    alpha, t = 0.7, 0.45
    p = 1 / (1 + math.exp(-alpha))
    n = 4000  # a grid of u: the mean over it is the integral of the piecewise-constant estimate, up to 1/n
    u = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    g = reference_gradients(torch.full((n, 1), alpha, dtype=torch.float64), u.unsqueeze(-1),
                            lambda b: ((b - t) ** 2).sum(-1))  # fmt: skip
    torch.testing.assert_close(float(g.mean()), p * (1 - p) * ((1 - t) ** 2 - t**2), rtol=0, atol=2 / n)


def test_gradient_free_call_evaluates_f_once(problem):
    alpha, weights = problem
    calls = []

    def recording(b):
        calls.append(1)
        return quadratic_loss(weights)(b)

    with torch.no_grad():
        out = get("disarm")(alpha, recording, bernoulli=True, generator=torch.Generator().manual_seed(1))
    assert len(calls) == 1 and set(out.sample.unique().tolist()) <= {0.0, 1.0}

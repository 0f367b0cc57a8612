"""DisARM is eq. (6) of Dong, Mnih, Tucker 2020 (binary) and the stick-breaking estimator of Dong et al. 2021
(categorical) given the same uniforms.

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
from tests.stats import ALPHA, assert_categorical

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


# The categorical (stick-breaking) form, Dong, Mnih, Tucker 2021.


def stick_breaking_reference(theta: torch.Tensor) -> torch.Tensor:
    """phi_i = theta_i - log sum_{j > i} exp(theta_j), one category at a time (differentiable, finite logits)."""
    k = theta.shape[-1]
    return torch.stack([theta[..., i] - torch.logsumexp(theta[..., i + 1:], -1) for i in range(k - 1)], -1)


def categorical_reference(theta: torch.Tensor, logistic: torch.Tensor, f) -> torch.Tensor:
    """The stick-breaking DisARM gradient for theta [B, V, K] from logistic noise [B, V, K-1], written per variable.

    b_i = [u_i < sigma(phi_i)], b~_i = [1 - u_i < sigma(phi_i)] with u = sigmoid(L); z = first i with b_i = 1.
    Signal for phi_i: DisARM's where i <= min(z, z~), +1/2 (f(z) - f(z~)) (b_i - sigma(phi_i)) where z~ < i <= z,
    and its mirror where z < i <= z~. Then grad_theta = sum_i signal_i d phi_i / d theta by autograd.
    """
    x = theta.clone().requires_grad_()
    phi = stick_breaking_reference(x)
    u = torch.sigmoid(logistic)
    p = torch.sigmoid(phi.detach())
    b, anti = (u < p).double(), (1 - u < p).double()
    bsz, v, k = theta.shape

    def first(bits):
        return [[next((i for i in range(k - 1) if bits[r, w, i] == 1), k - 1) for w in range(v)] for r in range(bsz)]

    z, zt = first(b), first(anti)
    hot = torch.nn.functional.one_hot(torch.tensor(z), k).double()
    hot_t = torch.nn.functional.one_hot(torch.tensor(zt), k).double()
    delta = (f(hot) - f(hot_t)) / 2
    signal = torch.zeros_like(phi)
    for r in range(bsz):
        for w in range(v):
            for i in range(k - 1):
                if i <= min(z[r][w], zt[r][w]):
                    if b[r, w, i] != anti[r, w, i]:
                        signal[r, w, i] = delta[r] * (-1) ** anti[r, w, i] * torch.sigmoid(phi[r, w, i].detach().abs())
                elif zt[r][w] < i <= z[r][w]:
                    signal[r, w, i] = delta[r] * (b[r, w, i] - p[r, w, i])
                elif z[r][w] < i <= zt[r][w]:
                    signal[r, w, i] = -delta[r] * (anti[r, w, i] - p[r, w, i])
    (grad,) = torch.autograd.grad((signal * phi).sum(), x)
    return grad, hot


def categorical_problem(k: int = 5):
    g = torch.Generator().manual_seed(9)
    theta = 1.5 * torch.randn(64, 3, k, generator=g, dtype=torch.float64)
    w = torch.randn(3, k, generator=g, dtype=torch.float64)
    return theta, lambda z: ((z * w).sum((-1, -2)) - 0.2) ** 2


def test_categorical_gradient_is_the_stick_breaking_estimator_given_the_same_noise():
    theta, f = categorical_problem()
    x = theta.clone().requires_grad_()
    out = get("disarm")(x, f, generator=torch.Generator().manual_seed(3))
    out.surrogate.sum().backward()
    noise = gumbel_noise((64, 3, 4, 2), dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    expected, sample = categorical_reference(theta, noise[..., 1] - noise[..., 0], f)
    torch.testing.assert_close(x.grad, expected, rtol=1e-10, atol=1e-12)
    assert torch.equal(out.sample, sample)
    assert (x.grad != 0).any(-1).any(-1).sum() > 16  # many rows have a pair that differs


def test_two_category_calls_are_the_binary_estimator():
    """K = 2 categorical logits (l_0, l_1) give the Bernoulli estimator of l_1 - l_0 (phi_0 = l_0 - l_1)."""
    g = torch.Generator().manual_seed(5)
    theta = torch.randn(B, V, 2, generator=g, dtype=torch.float64)
    weights = torch.randn(V, generator=g, dtype=torch.float64)
    x, a = theta.clone().requires_grad_(), (theta[..., 1] - theta[..., 0]).clone().requires_grad_()
    cat = get("disarm")(x, lambda z: quadratic_loss(weights)(z[..., 1]), generator=torch.Generator().manual_seed(1))
    bern = get("disarm")(a, quadratic_loss(weights), bernoulli=True, generator=torch.Generator().manual_seed(1))
    cat.surrogate.sum().backward()
    bern.surrogate.sum().backward()
    assert torch.equal(cat.sample[..., 1], bern.sample)
    torch.testing.assert_close(x.grad[..., 1], a.grad, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(x.grad[..., 0], -a.grad, rtol=1e-12, atol=1e-14)


def test_both_categorical_samples_have_the_law_of_the_logits(generator):
    """z and its partner z~ are each Categorical(softmax(l)): chi-square at ALPHA each (false failure <= 2 ALPHA)."""
    logits = torch.tensor([0.8, -0.5, 1.2, -2.0, 0.1], dtype=torch.float64)
    n, calls = 40_000, []

    def recording(z):
        calls.append(z.detach().clone())
        return z.sum(-1)

    get("disarm")(logits.expand(n, 5).clone().requires_grad_(), recording, generator=generator)
    for z in calls:
        assert_categorical(z.sum(0).tolist(), torch.softmax(logits, -1).tolist())
    assert (calls[0] != calls[1]).any(-1).double().mean() > 0.5  # the pair is antithetic, not a copy


def test_masked_categories_are_never_drawn_and_get_no_gradient(generator):
    inf = float("inf")
    logits = torch.tensor([[0.2, -inf, -0.3, 0.5, -inf]], dtype=torch.float64).expand(2000, 5).clone()
    logits.requires_grad_()
    calls = []

    def f(z):
        calls.append(z.detach())
        return (z * torch.tensor([1.0, 5.0, -2.0, 0.5, 3.0], dtype=z.dtype)).sum(-1) ** 2

    get("disarm")(logits, f, generator=generator).surrogate.sum().backward()
    assert all(bool((z[:, [1, 4]] == 0).all()) for z in calls)
    assert bool(torch.isfinite(logits.grad).all()) and bool((logits.grad[:, [1, 4]] == 0).all())
    assert logits.grad.abs().sum() > 0

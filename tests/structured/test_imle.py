"""I-MLE: the sum-of-Gamma noise against its exact law and a Gumbel, the gradient formula, and recovery."""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pytest
import scipy.stats
import torch

from gumbel_softmax.structured import imle, matching_argmax, sum_of_gamma_noise, top_k_argmax
from tests.stats import ALPHA, assert_ks, ks_pvalue


def max_of_exponentials_cdf(s: int, tau: float = 1.0):
    """CDF of tau (max of s standard exponentials - log s): (1 - e^{-x/tau} / s)^s above -tau log s."""

    def cdf(x):
        u = np.exp(-np.asarray(x) / tau) / s
        return np.where(u < 1, np.clip(1 - u, 0, 1) ** s, 0.0)

    return cdf


@pytest.mark.parametrize("s", [1, 3, 10])
def test_k1_noise_is_the_max_of_s_exponentials_minus_log_s(s, generator):
    """Exact for any s (the Renyi representation). False failure <= ALPHA = 1e-7 (tests/stats.py)."""
    eps = sum_of_gamma_noise((20000,), k=1, s=s, dtype=torch.float64, generator=generator)
    assert_ks(eps, max_of_exponentials_cdf(s))


@pytest.mark.parametrize("k", [2, 5])
def test_the_sum_of_k_draws_has_the_same_law(k, generator):
    """(1/k) sum of k Gamma(1/k, k/i) is an Exp(rate i): summed over k draws, the law of k = 1. Bound ALPHA."""
    eps = sum_of_gamma_noise((20000, k), k=k, s=10, tau=0.5, dtype=torch.float64, generator=generator).sum(-1)
    assert_ks(eps, max_of_exponentials_cdf(10, tau=0.5))


def test_k1_noise_passes_ks_against_a_gumbel(generator):
    """With s = 1000 terms the law is within 0.27 / s = 2.7e-4 of the Gumbel CDF (sup distance, at u = e^{-x} = 2:
    (1 - u/s)^s = e^{-u} (1 - u^2 / (2 s) + ...)). The KS threshold at 1e-7 for n = 10000 is about 0.029, so the
    false-failure probability is at most 2 exp(-2 n (0.029 - 0.00027)^2) < 1e-7 (Dvoretzky-Kiefer-Wolfowitz)."""
    eps = sum_of_gamma_noise((10000,), k=1, s=1000, dtype=torch.float64, generator=generator)
    assert_ks(eps, "gumbel_r")


def test_the_gumbel_ks_test_has_power_against_few_terms(generator):
    """s = 2 is 0.13 away from the Gumbel in sup distance: the same test must reject it."""
    eps = sum_of_gamma_noise((10000,), k=1, s=2, dtype=torch.float64, generator=generator)
    assert ks_pvalue(eps, "gumbel_r") < ALPHA
    assert scipy.stats.kstest(eps.numpy(), "gumbel_r").statistic > 0.05


def test_tau_scales_and_the_generator_repeats(generator):
    state = generator.get_state()
    a = sum_of_gamma_noise((5, 4), k=3, tau=1.0, generator=generator)
    generator.set_state(state)
    b = sum_of_gamma_noise((5, 4), k=3, tau=2.5, generator=generator)
    torch.testing.assert_close(b, 2.5 * a)


def test_without_noise_the_gradient_is_the_difference_of_two_map_states(generator):
    theta = torch.randn(6, 8, generator=generator, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(6, 8, generator=generator, dtype=torch.float64)
    solver = partial(top_k_argmax, k=3)
    z = imle(theta, solver, lam=2.0, noise="none")
    (z * upstream).sum().backward()
    expected = solver(theta.detach()) - solver(theta.detach() - 2.0 * upstream)
    assert torch.equal(z, solver(theta.detach()))
    torch.testing.assert_close(theta.grad, expected)


def test_noise_is_shared_by_the_forward_and_the_target(generator):
    """The gradient is MAP(theta + eps) - MAP(theta' + eps) with the eps of the forward pass."""
    theta = torch.randn(4, 5, generator=generator, requires_grad=True)
    upstream = torch.randn(4, 5, generator=generator)
    state = generator.get_state()
    z = imle(theta, partial(top_k_argmax, k=2), lam=3.0, k=2, generator=generator)
    (z * upstream).sum().backward()
    generator.set_state(state)
    eps = sum_of_gamma_noise((4, 5), k=2, generator=generator)
    solver = partial(top_k_argmax, k=2)
    expected = solver(theta.detach() + eps) - solver(theta.detach() - 3.0 * upstream + eps)
    assert torch.equal(z, solver(theta.detach() + eps))
    torch.testing.assert_close(theta.grad, expected)


def test_samples_stack_in_front_and_their_gradients_add_up(generator):
    theta = torch.randn(3, 6, generator=generator, requires_grad=True)
    z = imle(theta, partial(top_k_argmax, k=2), samples=7, noise="gumbel", generator=generator)
    assert z.shape == (7, 3, 6) and bool((z.sum(-1) == 2).all())
    z.mean(0).sum().backward()  # a loss that ignores z has a zero gradient: theta' = theta - lam/7
    assert theta.grad.shape == theta.shape and torch.isfinite(theta.grad).all()


@pytest.mark.parametrize("noise", ["sum_of_gamma", "gumbel"])
def test_a_planted_top_k_problem_recovers_the_planted_support(noise, generator):
    """Learn theta so that MAP(theta + eps) matches z* = top-k(theta*) under the squared error, from theta = 0:
    the learned theta ranks the planted support first, in every one of 16 problems."""
    n, k, problems = 12, 3, 16
    planted = torch.randn(problems, n, generator=generator)
    target = top_k_argmax(planted, k)
    theta = torch.zeros(problems, n, requires_grad=True)
    optimizer = torch.optim.SGD([theta], lr=0.2)
    solver = partial(top_k_argmax, k=k)
    for _ in range(150):
        z = imle(theta, solver, lam=5.0, noise=noise, k=k, samples=4, generator=generator)
        loss = ((z - target) ** 2).sum(-1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert torch.equal(top_k_argmax(theta.detach(), k), target)


def test_matching_through_imle_keeps_permutations(generator):
    theta = torch.randn(5, 4, 4, generator=generator, requires_grad=True)
    z = imle(theta, matching_argmax, generator=generator)
    assert bool((z.sum(-1) == 1).all() and (z.sum(-2) == 1).all())
    (z * torch.randn(5, 4, 4, generator=generator)).sum().backward()
    assert torch.isfinite(theta.grad).all()


def test_no_nan_or_inf_in_float32_at_a_small_temperature(generator):
    theta = torch.randn(64, 30, generator=generator, requires_grad=True)
    z = imle(theta, partial(top_k_argmax, k=5), noise_temperature=0.01, k=5, generator=generator)
    (z * torch.randn(64, 30, generator=generator)).sum().backward()
    assert torch.isfinite(z).all() and torch.isfinite(theta.grad).all()
    assert math.isfinite(float(sum_of_gamma_noise((1000,), k=50, s=10, generator=generator).abs().max()))


def test_a_solver_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match="in the shape of the scores"):
        imle(torch.zeros(3, 4), lambda s: s.argmax(-1).float())

"""The k-subset stochastic softmax trick: the dynamic program against enumeration of all k-subsets."""

from __future__ import annotations

import itertools

import pytest
import torch

from gumbel_softmax import sample_without_replacement
from gumbel_softmax.noise import gumbel_noise
from gumbel_softmax.structured import k_subset_marginals, relaxed_k_subset


def enumerated_marginals(logits: torch.Tensor, k: int, tau: float) -> torch.Tensor:
    """P(i in S) for p(S) ∝ exp(sum_{i in S} logits_i / tau), summing over all C(n, k) subsets."""
    n = logits.shape[-1]
    subsets = torch.zeros(0, n, dtype=logits.dtype)
    for chosen in itertools.combinations(range(n), k):
        row = torch.zeros(1, n, dtype=logits.dtype)
        row[0, list(chosen)] = 1
        subsets = torch.cat([subsets, row])
    weights = torch.softmax(logits @ subsets.T / tau, -1)  # [..., C(n, k)]
    return weights @ subsets


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7])
@pytest.mark.parametrize("tau", [0.3, 1.0, 4.0])
def test_marginals_match_enumeration_and_sum_to_k(n, tau, generator):
    logits = torch.randn(10, n, generator=generator, dtype=torch.float64) * 2
    for k in range(1, n + 1):
        mu = k_subset_marginals(logits, k, tau)
        torch.testing.assert_close(mu, enumerated_marginals(logits, k, tau))
        torch.testing.assert_close(mu.sum(-1), torch.full((10,), float(k), dtype=torch.float64))


def test_k_equal_1_is_the_softmax(generator):
    logits = torch.randn(4, 6, generator=generator)
    torch.testing.assert_close(k_subset_marginals(logits, 1, 0.5), torch.softmax(logits / 0.5, -1))


def test_masked_items_get_zero_and_the_rest_match_enumeration(generator):
    logits = torch.randn(3, 6, generator=generator, dtype=torch.float64)
    logits[:, 2] = float("-inf")
    mu = k_subset_marginals(logits, 3)
    assert (mu[:, 2] == 0).all()
    keep = [0, 1, 3, 4, 5]
    torch.testing.assert_close(mu[:, keep], enumerated_marginals(logits[:, keep], 3, 1.0))


def test_dim_and_per_row_tau(generator):
    logits = torch.randn(5, 3, generator=generator, dtype=torch.float64)
    tau = torch.tensor([[0.5, 1.0, 2.0]], dtype=torch.float64)  # one per column of items along dim 0
    mu = k_subset_marginals(logits, 2, tau, dim=0)
    for c in range(3):
        torch.testing.assert_close(mu[:, c], enumerated_marginals(logits[:, c], 2, float(tau[0, c])))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_stable_at_any_tau(dtype, generator):
    """No overflow where exp(logits / tau) would: tau = 1e-3 and 1e-30, logits up to 1e3; the limit is the top k."""
    logits = (torch.randn(20, 12, generator=generator, dtype=dtype) * 1e3).requires_grad_()
    for tau in (1e-3, 1e-30):
        mu = k_subset_marginals(logits, 4, tau)
        top = torch.zeros_like(mu).scatter_(-1, logits.detach().topk(4).indices, 1.0)
        assert torch.isfinite(mu).all()
        torch.testing.assert_close(mu, top, atol=1e-4, rtol=0)
        (mu * torch.arange(12.0, dtype=dtype)).sum().backward()
        assert torch.isfinite(logits.grad).all()
        logits.grad = None


def test_no_nan_or_inf_at_tau_001_in_float32(generator):
    logits = torch.randn(64, 30, generator=generator).requires_grad_()
    y = relaxed_k_subset(logits, 5, tau=0.01, generator=generator)
    (y * torch.randn(64, 30, generator=generator)).sum().backward()
    assert torch.isfinite(y).all() and torch.isfinite(logits.grad).all()
    # The documented rounding: about k M eps = 5 * 40 * 6e-8 = 1.2e-5 relative.
    torch.testing.assert_close(y.sum(-1), torch.full((64,), 5.0), rtol=5e-5, atol=0)


def test_gradcheck(generator):
    logits = torch.randn(3, 6, generator=generator, dtype=torch.float64, requires_grad=True)
    tau = torch.tensor([[0.5], [1.0], [3.0]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, t: k_subset_marginals(x, 3, t), (logits, tau))
    assert torch.autograd.gradcheck(
        lambda x, t: relaxed_k_subset(x, 2, t, generator=torch.Generator().manual_seed(3)), (logits, tau)
    )


def test_the_jacobian_is_the_covariance_of_the_k_hot_vector(generator):
    """d mu / d theta = Cov(x) / tau for an exponential family with natural parameter theta / tau."""
    logits = torch.randn(5, generator=generator, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda x: k_subset_marginals(x, 2, 1.0), logits)
    subsets = torch.tensor([[float(i in c) for i in range(5)] for c in itertools.combinations(range(5), 2)],
                           dtype=torch.float64)
    w = torch.softmax(subsets @ logits, 0)
    mean = w @ subsets
    cov = (subsets * w[:, None]).T @ subsets - torch.outer(mean, mean)
    torch.testing.assert_close(jac, cov)


def test_relaxed_is_the_marginals_of_the_perturbed_logits_and_hard_is_the_top_k(generator):
    logits = torch.randn(50, 8, generator=generator)
    state = generator.get_state()
    soft = relaxed_k_subset(logits, 3, 0.5, generator=generator)
    generator.set_state(state)
    hard = relaxed_k_subset(logits, 3, 0.5, hard=True, generator=generator)
    generator.set_state(state)
    noise = gumbel_noise(logits.shape, generator=generator)
    generator.set_state(state)
    index = sample_without_replacement(logits, 3, generator=generator)
    torch.testing.assert_close(soft, k_subset_marginals(logits + noise, 3, 0.5))
    assert torch.equal(hard, torch.zeros_like(hard).scatter_(-1, index, 1.0))


def test_straight_through_gradient_is_the_soft_gradient(generator):
    logits = torch.randn(4, 6, generator=generator, dtype=torch.float64, requires_grad=True)
    grads = []
    for hard in (False, True):
        (relaxed_k_subset(logits, 2, 0.5, hard, generator=torch.Generator().manual_seed(0)) *
         torch.arange(6.0, dtype=torch.float64)).sum().backward()
        grads.append(logits.grad.clone())
        logits.grad = None
    torch.testing.assert_close(grads[0], grads[1])


def test_masked_items_have_finite_gradients(generator):
    """Taking a masked item makes impossible states; their gradient must be 0, not NaN."""
    logits = torch.randn(2, 6, generator=generator, dtype=torch.float64)
    logits[:, [2, 3]] = float("-inf")
    free = logits[:, [0, 1, 4, 5]].clone().requires_grad_()

    def marginals(x):
        full = logits.clone()
        full[:, [0, 1, 4, 5]] = x
        return k_subset_marginals(full, 3, 0.5)

    assert torch.autograd.gradcheck(marginals, (free,))
    x = logits.clone().requires_grad_()
    k_subset_marginals(x, 3, 0.5)[:, 0].sum().backward()
    assert bool(torch.isfinite(x.grad).all()) and bool((x.grad[:, [2, 3]] == 0).all())


@pytest.mark.parametrize("tau_shape", [(), (1,), (1, 1), (2, 1, 4)])
def test_any_tau_shape_check_tau_accepts_is_aligned(tau_shape, generator):
    """A tau with fewer dims than the logits lines up from the right, as in gumbel_softmax."""
    logits = torch.randn(2, 3, 4, generator=generator, dtype=torch.float64)
    tau = torch.rand(tau_shape, generator=generator, dtype=torch.float64) + 0.5
    mu = k_subset_marginals(logits, 2, tau, dim=1)
    full = tau.expand(2, 1, 4) if tau.ndim == 3 else tau.reshape((1,) * (3 - tau.ndim) + tuple(tau.shape))
    for a in range(2):
        for c in range(4):
            t = float(full.expand(2, 1, 4)[a, 0, c])
            torch.testing.assert_close(mu[a, :, c], enumerated_marginals(logits[a, :, c], 2, t))

"""Decoupled straight-through (Shah et al. 2024): the forward temperature sets the sample's law.

The construction as the sources quoted in the module docstring state it: with one Gumbel draw `G`,
`D = onehot(argmax(l / tau_f + G))` and the backward pass of `y = softmax(l / tau_b + G)`. The
reference below writes that with the noise the generator gives (the estimator draws the logits-shaped
noise first), in plain tensor arithmetic. Biased; test_unbiasedness.py shows the bound rejects it.
"""

from __future__ import annotations

import math

import pytest
import torch

from gumbel_softmax.estimators import decoupled_straight_through, get
from gumbel_softmax.noise import gumbel_noise
from tests.stats import ALPHA, assert_categorical, chi_square_pvalue

B, K = 64, 5


def seeded(seed: int = 9) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def problem():
    gen = torch.Generator().manual_seed(4)
    return torch.randn(B, K, generator=gen, dtype=torch.float64), torch.randn(B, K, generator=gen, dtype=torch.float64)


@pytest.mark.parametrize(("tau_f", "tau_b"), [(0.3, 2.0), (1.0, 0.5), (2.0, 2.0), (4.0, 0.2)])
def test_closed_form_given_the_noise(problem, tau_f, tau_b):
    logits, w = problem
    x = logits.clone().requires_grad_()
    out = decoupled_straight_through(x, tau_b, forward_tau=tau_f, generator=seeded())
    (out * w).sum().backward()
    noise = gumbel_noise((B, K), dtype=torch.float64, generator=seeded())
    hard = torch.nn.functional.one_hot((logits / tau_f + noise).argmax(-1), K).double()
    y = torch.softmax(logits / tau_b + noise, -1)
    assert torch.equal(out.detach(), hard)
    torch.testing.assert_close(x.grad, y * (w - (y * w).sum(-1, keepdim=True)) / tau_b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("tau_f", [0.5, 2.0])
def test_the_sample_is_drawn_from_the_tempered_distribution(tau_f, generator):
    """Counts of D match softmax(l / tau_f) (chi-square, false failure <= ALPHA) and not softmax(l) (power)."""
    logits = torch.tensor([1.0, 0.0, -0.5, 0.3], dtype=torch.float64)
    n = 20_000
    out = decoupled_straight_through(logits.expand(n, 4), 1.0, forward_tau=tau_f, generator=generator)
    counts = out.sum(0).tolist()
    assert_categorical(counts, torch.softmax(logits / tau_f, -1).tolist())
    assert chi_square_pvalue(counts, torch.softmax(logits, -1).tolist()) < ALPHA


def test_registry_takes_tau_as_the_backward_temperature(problem):
    logits, w = problem
    x, y = logits.clone().requires_grad_(), logits.clone().requires_grad_()
    out = get("decoupled_st", forward_tau=0.4)(x, lambda z: (z * w).sum(-1), tau=1.7, generator=seeded(2))
    out.surrogate.sum().backward()
    (decoupled_straight_through(y, 1.7, forward_tau=0.4, generator=seeded(2)) * w).sum().backward()
    assert torch.equal(x.grad, y.grad)
    assert get("decoupled_st").relaxed is False


def test_masked_category_is_never_drawn_and_gets_no_gradient(generator):
    logits = torch.tensor([[0.2, -math.inf, -0.3]], dtype=torch.float64).expand(300, 3).clone().requires_grad_()
    out = decoupled_straight_through(logits, 0.5, forward_tau=3.0, generator=generator)
    (out * torch.tensor([1.0, 5.0, -2.0], dtype=torch.float64)).sum().backward()
    assert bool((out[:, 1] == 0).all()) and bool(torch.isfinite(logits.grad).all())
    assert bool((logits.grad[:, 1] == 0).all())

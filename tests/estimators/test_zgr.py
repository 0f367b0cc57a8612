"""ZGR (Shekhovtsov 2023) is the authors' backward pass given the same sample, categorical and binary.

The reference follows eq. (50) of the paper as the authors' `ZGR_Function.backward` (shekhovt/ZGR,
`zgr.py`) applies it, one row at a time in Python floats: `J_l = (g - g_x) p / 2`, then the sampled
entry loses the row's sum so the gradient sums to 0. The binary reference is their `ZGR_binary`,
`(b (1 - p) + (1 - b) p) / 2` times the upstream gradient. Neither shares code with ours.
ZGR is biased; test_unbiasedness.py shows the bound rejects it.
"""

from __future__ import annotations

import math

import pytest
import torch

from gumbel_softmax.estimators import get, zgr
from gumbel_softmax.functional import sample

B, K = 64, 5


def reference_gradient(logits: list[float], x: int, g: list[float]) -> list[float]:
    top = max(logits)
    e = [math.exp(v - top) for v in logits]
    p = [v / sum(e) for v in e]
    grad = [(gi - g[x]) * pi / 2 for gi, pi in zip(g, p)]
    total = sum(grad)
    grad[x] -= total
    return grad


@pytest.fixture
def problem():
    gen = torch.Generator().manual_seed(3)
    logits = 2 * torch.randn(B, K, generator=gen, dtype=torch.float64)
    return logits, torch.randn(B, K, generator=gen, dtype=torch.float64)


def test_gradient_is_the_authors_backward_given_the_sample(problem):
    logits, w = problem
    x = logits.clone().requires_grad_()
    out = zgr(x, generator=torch.Generator().manual_seed(1))
    (out * w).sum().backward()
    index = out.detach().argmax(-1)
    expected = [reference_gradient(logits[b].tolist(), int(index[b]), w[b].tolist()) for b in range(B)]
    torch.testing.assert_close(x.grad, torch.tensor(expected, dtype=torch.float64), rtol=1e-10, atol=1e-12)
    assert len(set(index.tolist())) > 1


def test_forward_value_is_the_exact_sample(problem):
    logits, _ = problem
    out = zgr(logits, generator=torch.Generator().manual_seed(5))
    expected = torch.nn.functional.one_hot(sample(logits, generator=torch.Generator().manual_seed(5)), K)
    assert torch.equal(out, expected.to(out.dtype))


def test_binary_form_is_the_authors_zgr_binary(problem):
    """Bernoulli logits through the registry: gradient (b (1 - p) + (1 - b) p) / 2 times the upstream one."""
    alpha, w = problem[0][:, 0], problem[1][:, 0]
    x = alpha.clone().requires_grad_()
    out = get("zgr")(x, lambda b: b * w, bernoulli=True, generator=torch.Generator().manual_seed(2))
    out.surrogate.sum().backward()
    b, p = out.sample, torch.sigmoid(alpha)
    torch.testing.assert_close(x.grad, (b * (1 - p) + (1 - b) * p) / 2 * w, rtol=1e-12, atol=1e-14)
    assert 0 < int(b.sum()) < B


def test_registry_entry_ignores_tau_and_matches_the_function(problem):
    logits, w = problem
    grads = []
    for tau in (0.3, 3.0):
        x = logits.clone().requires_grad_()
        out = get("zgr")(x, lambda z: (z * w).sum(-1), tau=tau, generator=torch.Generator().manual_seed(4))
        out.surrogate.sum().backward()
        grads.append(x.grad)
    y = logits.clone().requires_grad_()
    (zgr(y, generator=torch.Generator().manual_seed(4)) * w).sum().backward()
    assert torch.equal(grads[0], grads[1]) and torch.equal(grads[0], y.grad)


def test_dim_and_masked_categories(problem):
    logits, w = problem
    masked = logits.clone()
    masked[:, 2] = -math.inf
    x = masked.T.contiguous().requires_grad_()
    out = zgr(x, dim=0, generator=torch.Generator().manual_seed(6))
    (out * w.T).sum().backward()
    assert bool((out[2] == 0).all()) and bool((out.sum(0) == 1).all())
    assert bool(torch.isfinite(x.grad).all()) and bool((x.grad[2] == 0).all())

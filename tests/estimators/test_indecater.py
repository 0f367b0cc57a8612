"""IndeCateR (De Smet et al. 2023) is the CatLog-derivative sum given the same samples.

The reference evaluates `f` itself at each recorded sample with one variable set to each category and
differentiates `p_d(k)` by hand, `d p_d(k) / d l_d = p_d(k) (e_k - p_d)`, in Python loops. Its
unbiasedness against the exact gradient and the power check are in test_unbiasedness.py.
"""

from __future__ import annotations

import pytest
import torch

from gumbel_softmax.estimators import get

B, V, K = 6, 2, 3


@pytest.fixture
def problem():
    gen = torch.Generator().manual_seed(5)
    logits = torch.randn(B, V, K, generator=gen, dtype=torch.float64)
    a = torch.randn(V * K, V * K, generator=gen, dtype=torch.float64)
    return logits, lambda z: ((z.flatten(-2) @ a) * z.flatten(-2)).sum(-1) + z[..., 0, 1]


@pytest.mark.parametrize("samples", [1, 3])
def test_gradient_is_the_catlog_sum_given_the_samples(problem, samples):
    logits, f = problem
    calls = []

    def recording(z):
        calls.append(z.detach().clone())
        return f(z)

    x = logits.clone().requires_grad_()
    out = get("indecater", samples=samples)(x, recording, generator=torch.Generator().manual_seed(2))
    out.surrogate.sum().backward()
    assert len(calls) == samples * (1 + V * K)
    drawn = calls[:samples]
    p = torch.softmax(logits, -1)
    expected = torch.zeros_like(logits)
    for b in range(B):
        for d in range(V):
            for k in range(K):
                value = 0.0
                for z in drawn:
                    changed = z[b].clone()
                    changed[d] = torch.nn.functional.one_hot(torch.tensor(k), K).double()
                    value += float(f(changed[None])[0]) / samples
                for c in range(K):
                    expected[b, d, c] += value * float(p[b, d, k]) * (float(k == c) - float(p[b, d, c]))
    torch.testing.assert_close(x.grad, expected, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(out.loss, torch.stack([f(z) for z in drawn]).mean(0))
    assert torch.equal(out.sample, drawn[0])


def test_a_constant_loss_gets_zero_gradient(problem):
    """sum_k grad p_d(k) = 0: the built-in baseline removes any constant exactly."""
    logits, _ = problem
    x = logits.clone().requires_grad_()
    get("indecater")(x, lambda z: z.sum((-1, -2)) * 0 + 3.0, generator=torch.Generator()).surrogate.sum().backward()
    assert float(x.grad.abs().max()) < 1e-15


def test_f_parameters_get_the_mean_pathwise_gradient(problem):
    logits, _ = problem
    weight = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    out = get("indecater", samples=2)(logits.clone().requires_grad_(), lambda z: weight * z[..., 0, 0],
                                      generator=torch.Generator().manual_seed(1))  # fmt: skip
    out.surrogate.sum().backward()
    torch.testing.assert_close(weight.grad, (out.loss / weight.detach()).sum())


def test_bernoulli_variables_are_two_class_ones():
    alpha = torch.tensor([[0.3, -1.0]], dtype=torch.float64, requires_grad=True)
    get("indecater")(alpha, lambda b: (b[..., 0] - 0.4) ** 2 + b[..., 1], bernoulli=True,
                     generator=torch.Generator()).surrogate.sum().backward()  # fmt: skip
    p = torch.sigmoid(alpha.detach())
    exact = p * (1 - p) * torch.tensor([[(1 - 0.4) ** 2 - 0.4**2, 1.0]], dtype=torch.float64)
    torch.testing.assert_close(alpha.grad, exact)  # separable f: each variable's sum is exact

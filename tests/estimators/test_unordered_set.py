"""The unordered set estimator (Kool et al. 2020) is eq. 14-16 of the paper given the same set.

The reference works from the set of joint configurations `f` was called at, in Python floats: the
probability of a set drawn without replacement by summing the Plackett-Luce probability of every order
(`prod_t p_t / (1 - removed - sum_{u<t} p_u)`, the paper's definition), the ratios `R`, the built-in
baselines, and `sum_s p(s) R(S, s) (f(s) - b_s) grad log p(s)` with
`d log p(s) / d l_{d,c} = [s_d = c] - p_{d,c}`. It shares no code with ours (which works in log space
from the masses of the set and its complement). Unbiasedness and the power check are in
test_unbiasedness.py.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from gumbel_softmax.estimators import exact_gradient, get
from tests.stats import assert_categorical

B, V, K = 5, 2, 3


def set_probability(p: list[float], removed: float) -> float:
    total = 0.0
    for order in itertools.permutations(p):
        term, used = 1.0, removed
        for q in order:
            term *= q / (1 - used)
            used += q
        total += term
    return total


def reference_gradient(logits: torch.Tensor, configs: list[tuple[int, ...]], values: list[float]) -> torch.Tensor:
    """One example: logits [V, K], the k drawn configurations and f at each."""
    probs = torch.softmax(logits, -1).tolist()
    p = [math.prod(probs[d][c] for d, c in enumerate(s)) for s in configs]
    k = len(p)
    p1 = [set_probability([p[j] for j in range(k) if j != i], p[i]) for i in range(k)]
    whole = sum(p[i] * p1[i] for i in range(k))
    grad = torch.zeros_like(logits)
    for i, s in enumerate(configs):
        base = p[i] * values[i]
        for j in range(k):
            if j != i:
                rest = [p[m] for m in range(k) if m not in (i, j)]
                base += p[j] * set_probability(rest, p[i] + p[j]) / p1[i] * values[j]
        coef = p[i] * p1[i] / whole * (values[i] - base)
        for d, c in enumerate(s):
            grad[d] += coef * (torch.nn.functional.one_hot(torch.tensor(c), K).double() - torch.tensor(probs[d]))
    return grad


@pytest.fixture
def problem():
    gen = torch.Generator().manual_seed(6)
    logits = 1.5 * torch.randn(B, V, K, generator=gen, dtype=torch.float64)
    a = torch.randn(V * K, V * K, generator=gen, dtype=torch.float64)
    return logits, lambda z: ((z.flatten(-2) @ a) * z.flatten(-2)).sum(-1) + 2 * z[..., 1, 0]


@pytest.mark.parametrize("samples", [2, 3, 5])
def test_gradient_is_the_papers_estimator_given_the_set(problem, samples):
    logits, f = problem
    calls = []

    def recording(z):
        calls.append(z.detach().clone())
        return f(z)

    x = logits.clone().requires_grad_()
    out = get("unordered_set", samples=samples)(x, recording, generator=torch.Generator().manual_seed(3))
    out.surrogate.sum().backward()
    assert len(calls) == samples and torch.equal(out.sample, calls[0])
    for b in range(B):
        configs = [tuple(z[b].argmax(-1).tolist()) for z in calls]
        assert len(set(configs)) == samples  # distinct joint configurations
        values = [float(f(z[b][None])[0]) for z in calls]
        torch.testing.assert_close(x.grad[b], reference_gradient(logits[b], configs, values), rtol=1e-9, atol=1e-12)


def test_the_whole_support_gives_the_exact_gradient():
    """k = K^V: the set is every configuration, R makes the weights the probabilities, and the estimate is exact."""
    gen = torch.Generator().manual_seed(2)
    logits = torch.randn(2, 2, dtype=torch.float64)
    w = torch.randn(4, dtype=torch.float64)

    def f(z):
        return ((z.flatten(-2) * w).sum(-1)) ** 2

    _, exact = exact_gradient(logits, f)
    x = logits.expand(3, 2, 2).clone().requires_grad_()
    out = get("unordered_set", samples=4)(x, f, generator=gen)
    out.surrogate.sum().backward()
    torch.testing.assert_close(x.grad, exact.expand(3, 2, 2), rtol=1e-10, atol=1e-12)
    expectation, _ = exact_gradient(logits, f)
    torch.testing.assert_close(out.loss, expectation.expand(3))


def test_the_set_has_the_law_of_draws_without_replacement(generator):
    """Unordered pairs of joint configurations of two Bernoulli variables against the enumerated P(S).

    Chi-square over the 6 pairs at the false-failure bound ALPHA; the probabilities come from
    `set_probability` above, the law of Gumbel-top-2 on the joint.
    """
    alpha = torch.tensor([0.8, -0.4], dtype=torch.float64)
    n, calls = 20_000, []

    def recording(b):
        calls.append(b.detach().clone())
        return b.sum(-1)

    get("unordered_set", samples=2)(alpha.expand(n, 2).clone().requires_grad_(), recording, bernoulli=True,
                                    generator=generator)  # fmt: skip
    number = [(2 * c[:, 0] + c[:, 1]).long() for c in calls]
    pairs = list(itertools.combinations(range(4), 2))
    lo, hi = torch.minimum(number[0], number[1]), torch.maximum(number[0], number[1])
    counts = [int(((lo == i) & (hi == j)).sum()) for i, j in pairs]
    q = torch.sigmoid(alpha).tolist()
    p = [(1 - q[0]) * (1 - q[1]), (1 - q[0]) * q[1], q[0] * (1 - q[1]), q[0] * q[1]]
    assert_categorical(counts, [set_probability([p[i], p[j]], 0.0) for i, j in pairs])


def test_the_first_draw_is_what_the_other_estimators_draw(problem):
    logits, f = problem
    outs = [get(name)(logits.clone().requires_grad_(), f, generator=torch.Generator().manual_seed(8))
            for name in ("unordered_set", "reinforce")]  # fmt: skip
    assert torch.equal(outs[0].sample, outs[1].sample)



@pytest.mark.parametrize("bernoulli", [False, True], ids=["categorical", "bernoulli"])
def test_an_empty_batch_gives_empty_outputs(problem, bernoulli):
    """No examples: empty surrogate, loss and sample, and a zero-size gradient (not a reshape error)."""
    logits, _ = problem
    x = (logits[:0, :, 0] if bernoulli else logits[:0]).clone().requires_grad_()
    out = get("unordered_set", samples=3)(x, lambda z: z.flatten(1).sum(-1), bernoulli=bernoulli,
                                          generator=torch.Generator().manual_seed(0))  # fmt: skip
    assert out.surrogate.shape == out.loss.shape == (0,) and out.sample.shape == x.shape
    out.surrogate.sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape

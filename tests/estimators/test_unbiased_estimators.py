"""Unbiased estimators are unbiased: Monte Carlo means against the exact gradient by enumeration.

The problem: 3 categorical variables with 3 classes (27 configurations) or 3 Bernoulli
variables, and a random quadratic loss f(x) = x^T A x + c^T x of the flattened sample. The
exact gradient of E[f(z)] comes from enumerating every configuration (exact.py, itself checked
against the closed form of the Bernoulli toy below).

The bound: the n = 10,000 per-example estimates of one call are independent given the
estimator's state, and each has the exact gradient as its mean (for the EMA, NVIL and RELAX
states that were fixed before the call). For each of the d coordinates, the CLT gives
P(|mean - exact| > z * s / sqrt(n)) <= ALPHA / d with z the two-sided normal quantile of
ALPHA / d (s is the sample standard deviation; at n = 10,000 the t and normal laws agree to
three digits). A union bound over the d coordinates keeps a correct estimator's false-failure
probability below ALPHA = 1e-7. The same bound rejects DARN and straight-through, which are
biased on a quadratic loss (the test has power).
"""

from __future__ import annotations

import pytest
import torch
from stats import ALPHA, mean_bound

from gumbel_softmax.estimators import get
from gumbel_softmax.estimators.exact import exact_gradient

N = 10_000
VARIABLES, CLASSES = 3, 3


def quadratic(size: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(size, size, generator=g, dtype=torch.float64)
    a, c = (a + a.T) / 2, torch.randn(size, generator=g, dtype=torch.float64)
    return lambda z: ((z.flatten(1) @ a) * z.flatten(1)).sum(-1) + z.flatten(1) @ c


def problem(bernoulli: bool):
    g = torch.Generator().manual_seed(11)
    shape = (VARIABLES,) if bernoulli else (VARIABLES, CLASSES)
    logits = torch.randn(shape, generator=g, dtype=torch.float64)
    return logits, quadratic(VARIABLES * (1 if bernoulli else CLASSES), 5)


def estimates(name: str, bernoulli: bool, generator, n: int = N, warmup: int = 3, **options):
    """Per-example gradient estimates from one call on n copies, after `warmup` calls that move the state."""
    logits, f = problem(bernoulli)
    est = get(name, **options)

    def call(n):
        batch = logits.expand((n,) + logits.shape).clone().requires_grad_()
        kw = {"baseline": torch.full((n,), 0.3, dtype=torch.float64)} if est.needs_baseline else {}
        est(batch, f, tau=0.7, bernoulli=bernoulli, generator=generator, **kw).surrogate.sum().backward()
        return batch.grad

    for _ in range(warmup):
        call(256)
    return call(n).flatten(1)


def assert_unbiased(grads: torch.Tensor, exact: torch.Tensor) -> None:
    d = grads.shape[1]
    diff = (grads.mean(0) - exact.flatten()).abs()
    bound = torch.tensor([mean_bound(float(s), len(grads), ALPHA / d) for s in grads.std(0)], dtype=diff.dtype)
    assert bool((diff <= bound + 1e-12).all()), f"|mean - exact| = {diff.tolist()} > bound {bound.tolist()}"


UNBIASED = [
    ("reinforce", {}),
    ("reinforce_ema", {}),
    ("nvil", {}),
    ("rloo", {"samples": 3}),
    ("muprop", {}),
    ("rebar", {}),
    ("relax", {"lr": 0.05}),
]


@pytest.mark.parametrize("bernoulli", [False, True], ids=["categorical", "bernoulli"])
@pytest.mark.parametrize(("name", "options"), UNBIASED, ids=[n for n, _ in UNBIASED])
def test_unbiased(generator, name, options, bernoulli):
    logits, f = problem(bernoulli)
    _, exact = exact_gradient(logits, f, bernoulli=bernoulli)
    assert_unbiased(estimates(name, bernoulli, generator, **options), exact)


@pytest.mark.parametrize("name", ["darn", "straight_through"])
def test_the_bound_rejects_biased_estimators(generator, name):
    logits, f = problem(False)
    _, exact = exact_gradient(logits, f)
    with pytest.raises(AssertionError):
        assert_unbiased(estimates(name, False, generator, warmup=0), exact)


def test_darn_is_exact_for_a_linear_loss(generator):
    """DARN's Taylor signal is exact when f is linear, so there it is unbiased (Gregor et al. 2014)."""
    logits, _ = problem(False)
    c = torch.randn(VARIABLES, CLASSES, generator=torch.Generator().manual_seed(3), dtype=torch.float64)

    def linear(z):
        return (z * c).sum((-1, -2))

    _, exact = exact_gradient(logits, linear)
    batch = logits.expand(N, VARIABLES, CLASSES).clone().requires_grad_()
    get("darn")(batch, linear, generator=generator).surrogate.sum().backward()
    assert_unbiased(batch.grad.flatten(1), exact)


def test_exact_gradient_matches_the_bernoulli_toy_closed_form():
    """Tucker et al.'s toy: d/dl E[(b - t)^2] = sigmoid'(l) ((1 - t)^2 - t^2) = sigmoid'(l) (1 - 2t)."""
    logits = torch.tensor([-0.4, 0.0, 1.3], dtype=torch.float64)
    t = 0.499
    value, grad = exact_gradient(logits, lambda b: ((b - t) ** 2).sum(-1), bernoulli=True)
    p = torch.sigmoid(logits)
    torch.testing.assert_close(grad, p * (1 - p) * (1 - 2 * t))
    torch.testing.assert_close(value, (p * (1 - t) ** 2 + (1 - p) * t**2).sum())


def test_masked_category_is_never_drawn_and_gets_no_gradient(generator):
    logits = torch.tensor([[0.2, float("-inf"), -0.3]], dtype=torch.float64).expand(500, 3).clone().requires_grad_()
    for name in ("reinforce", "rloo", "muprop", "darn", "rebar", "relax"):
        logits.grad = None
        out = get(name)(logits, lambda z: (z * torch.tensor([1.0, 5.0, -2.0], dtype=z.dtype)).sum(-1),
                        generator=generator)
        out.surrogate.sum().backward()
        assert bool((out.sample[:, 1] == 0).all()), name
        assert bool(torch.isfinite(logits.grad).all()) and bool((logits.grad[:, 1] == 0).all()), name

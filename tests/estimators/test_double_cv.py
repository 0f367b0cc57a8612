"""Double control variates (Titsias and Shi 2022) equal the authors' construction given the same samples.

Unbiasedness against the exact gradient (at a nonzero weight), and the power check that rejects the
estimator without its global correction, are in test_unbiasedness.py.
"""

from __future__ import annotations

import pytest
import torch

from gumbel_softmax.estimators import get

B, V = 64, 5


def problem():
    g = torch.Generator().manual_seed(4)
    alpha = 1.2 * torch.randn(B, V, generator=g, dtype=torch.float64)
    w = torch.randn(V, V, generator=g, dtype=torch.float64)

    def f(b):
        return torch.tanh(b @ w).sum(-1) + (b * w[0]).sum(-1) ** 2

    return alpha, f


def recorded_call(est, alpha, f, seed):
    calls = []

    def recording(b):
        calls.append(b.detach().clone())
        return f(b)

    x = alpha.clone().requires_grad_()
    est(x, recording, bernoulli=True, generator=torch.Generator().manual_seed(seed)).surrogate.sum().backward()
    return x.grad, calls


def authors_four_sample_gradient(alpha, samples, f, a):
    """The paper's estimator for K = 4 written out sample by sample, as in the authors' code: slopes s_k = df/db at
    b_k; g_k = mean of the other three slopes; c_k = a g_k . (b_k - p); diff_k = f_k + c_k - mean_{j != k}(f_j + c_j);
    grad = 1/4 sum_k diff_k (b_k - p) - a mean_k(s_k) p (1 - p)."""
    p = torch.sigmoid(alpha)
    slopes, values = [], []
    for b in samples:
        b = b.clone().requires_grad_()
        value = f(b)
        slopes.append(torch.autograd.grad(value.sum(), b)[0])
        values.append(value.detach())
    others = [sum(slopes[j] for j in range(4) if j != k) / 3 for k in range(4)]
    c = [a * (others[k] * (samples[k] - p)).sum(-1, keepdim=True) for k in range(4)]
    diff = [values[k].unsqueeze(-1) + c[k] - sum(values[j].unsqueeze(-1) + c[j] for j in range(4) if j != k) / 3
            for k in range(4)]  # fmt: skip
    return sum(diff[k] * (samples[k] - p) for k in range(4)) / 4 - a * sum(slopes) / 4 * p * (1 - p)


@pytest.mark.parametrize("a", [0.0, 0.8, -1.5])
def test_four_samples_are_the_authors_construction_given_the_same_samples(a):
    alpha, f = problem()
    grad, calls = recorded_call(get("double_cv", samples=4, alpha=a), alpha, f, seed=2)
    assert len(calls) == 4
    torch.testing.assert_close(grad, authors_four_sample_gradient(alpha, calls, f, a), rtol=1e-10, atol=1e-12)


def test_the_samples_are_independent_draws_of_what_reinforce_draws():
    """The first sample is the one reinforce draws at the same generator state; the others follow it."""
    alpha, f = problem()
    _, calls = recorded_call(get("double_cv", samples=3), alpha, f, seed=5)
    out = get("reinforce")(alpha, f, bernoulli=True, generator=torch.Generator().manual_seed(5))
    assert torch.equal(calls[0], out.sample) and not torch.equal(calls[0], calls[1])


def test_the_weight_takes_one_adam_step_down_the_mean_squared_estimate():
    """After one call, a moves by lr against the sign of d/da mean(grad(a)^2) (Adam's first step), with the
    derivative taken from the authors' construction by central differences."""
    alpha, f = problem()
    est = get("double_cv", samples=4, alpha=0.5, lr=0.01)
    _, calls = recorded_call(est, alpha, f, seed=3)
    h = 1e-5
    slope = [(authors_four_sample_gradient(alpha, calls, f, a) ** 2).mean() for a in (0.5 + h, 0.5 - h)]
    derivative = (slope[0] - slope[1]) / (2 * h)
    assert abs(float(derivative)) > 1e-6
    torch.testing.assert_close(float(est.alpha.detach()), 0.5 - 0.01 * float(torch.sign(derivative)), rtol=0, atol=1e-8)


def test_training_the_weight_lowers_the_variance(generator):
    """On a smooth f the Taylor control variate helps: after 60 training calls the estimate's variance is lower
    than plain RLOO's (a = 0, lr tiny) at the same point, by more than 1.5x."""
    alpha, f = problem()
    x0 = alpha[:1].expand(512, V)
    trained, plain = get("double_cv", lr=0.05), get("double_cv", lr=1e-12)
    for _ in range(60):
        recorded_call(trained, x0, f, seed=int(torch.randint(0, 2**31, (1,), generator=generator)))
    variances = [recorded_call(e, x0, f, seed=9)[0].var(0).sum() for e in (trained, plain)]
    assert float(variances[0]) * 1.5 < float(variances[1]), (float(trained.alpha.detach()), variances)


def test_categorical_calls_are_refused():
    with pytest.raises(ValueError, match=r"binary variables only.*bernoulli=True"):
        get("double_cv")(torch.zeros(2, 3, requires_grad=True), lambda z: z.sum(-1))


def test_an_f_that_ignores_its_input_gives_zero_slopes(generator):
    x = torch.zeros(8, 3, requires_grad=True)
    out = get("double_cv", alpha=1.0)(x, lambda b: torch.ones(b.shape[0]), bernoulli=True, generator=generator)
    out.surrogate.sum().backward()
    assert bool((x.grad == 0).all())


def test_the_weight_follows_the_logits_device():
    """`a` and Adam's state move to the device of the logits (as RELAX's `eta` does), so a call on a GPU does not
    assign a GPU gradient to a CPU weight. Checked on the meta device, the one other device every machine has."""
    est = get("double_cv", alpha=0.5)
    x = torch.zeros(4, 3, device="meta", requires_grad=True)
    out = est(x, lambda b: (b**2).sum(-1), bernoulli=True)
    out.surrogate.sum().backward()
    assert est.alpha.device.type == "meta" and x.grad is not None and x.grad.shape == x.shape

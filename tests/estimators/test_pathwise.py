"""Pathwise estimators are what their papers say: closed forms for fixed noise, Gumbel-Rao's law, ReinMax by hand.

Fixed noise: a generator seeded with s gives the same Gumbel draws to
``gumbel_noise(shape, generator=seeded(s))`` and to the estimator (both draw the
logits-shaped noise first), so the expected gradient can be written in closed form.
"""

from __future__ import annotations

import itertools
import math

import pytest
import scipy.stats
import torch

from gumbel_softmax.estimators import get, gumbel_rao, reinmax, reinmax_from_sample
from gumbel_softmax.functional import sample
from gumbel_softmax.noise import gumbel_noise
from tests.stats import ALPHA

B, K, SEED = 64, 5, 1234


def seeded() -> torch.Generator:
    return torch.Generator().manual_seed(SEED)


def linear_loss(w):
    return lambda z: (z * w).sum(-1)


def run(name, logits, w, bernoulli=False, **call):
    logits = logits.clone().requires_grad_()
    loss = (lambda z: z * w) if bernoulli else linear_loss(w)
    out = get(name)(logits, loss, generator=seeded(), bernoulli=bernoulli, **call)
    out.surrogate.sum().backward()
    return out, logits.grad


def softmax_vjp(p, w, tau):
    """(diag(p) - p p^T) w / tau: the backward pass of softmax(x / tau) at p for upstream w."""
    return p * (w - (p * w).sum(-1, keepdim=True)) / tau


@pytest.fixture
def problem():
    g = torch.Generator().manual_seed(7)
    return torch.randn(B, K, generator=g, dtype=torch.float64), torch.randn(B, K, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("tau", [0.3, 1.0, 2.5])
def test_st_gumbel_softmax_closed_form(problem, tau):
    logits, w = problem
    out, grad = run("st_gumbel_softmax", logits, w, tau=tau)
    perturbed = logits + gumbel_noise((B, K), dtype=torch.float64, generator=seeded())
    y = torch.softmax(perturbed / tau, -1)
    assert torch.equal(out.sample, torch.nn.functional.one_hot(perturbed.argmax(-1), K).double())
    torch.testing.assert_close(grad, softmax_vjp(y, w, tau), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(out.loss, (out.sample * w).sum(-1))


@pytest.mark.parametrize("tau", [0.3, 1.0])
def test_soft_gumbel_softmax_closed_form(problem, tau):
    logits, w = problem
    out, grad = run("gumbel_softmax", logits, w, tau=tau)
    y = torch.softmax((logits + gumbel_noise((B, K), dtype=torch.float64, generator=seeded())) / tau, -1)
    torch.testing.assert_close(out.sample, y)
    torch.testing.assert_close(grad, softmax_vjp(y, w, tau), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("tau", [0.5, 1.0])
def test_st_gumbel_softmax_bernoulli_is_binary_concrete(problem, tau):
    """Binary form: b = [l + L > 0], backward of sigmoid((l + L) / tau), L = G_1 - G_0 logistic."""
    logits, w = problem[0][:, 0], problem[1][:, 0]
    out, grad = run("st_gumbel_softmax", logits, w, tau=tau, bernoulli=True)
    noise = gumbel_noise((B, 2), dtype=torch.float64, generator=seeded())
    x = logits + noise[:, 1] - noise[:, 0]
    y = torch.sigmoid(x / tau)
    assert torch.equal(out.sample, (x > 0).double())
    torch.testing.assert_close(grad, w * y * (1 - y) / tau, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("tau", [1.0, 0.5])
def test_straight_through_closed_form(problem, tau):
    logits, w = problem
    out, grad = run("straight_through", logits, w, tau=tau)
    assert torch.equal(out.sample.argmax(-1), sample(logits, generator=seeded()))
    torch.testing.assert_close(grad, softmax_vjp(torch.softmax(logits / tau, -1), w, tau), rtol=1e-10, atol=1e-12)


def test_straight_through_bernoulli_closed_form(problem):
    logits, w = problem[0][:, 0], problem[1][:, 0]
    out, grad = run("straight_through", logits, w, bernoulli=True)
    p = torch.sigmoid(logits)
    torch.testing.assert_close(grad, w * p * (1 - p), rtol=1e-10, atol=1e-12)
    assert set(out.sample.tolist()) <= {0.0, 1.0}


def test_category_axis_anywhere(problem):
    """dim=1 of a [B, K, 3] tensor gives the same estimate as the same numbers with categories last."""
    logits = torch.randn(B, K, 3, dtype=torch.float64)
    w = torch.randn(K, 3, dtype=torch.float64)
    moved = logits.movedim(1, -1).contiguous().requires_grad_()
    a = get("st_gumbel_softmax")(moved, lambda z: (z * w.T).sum((-1, -2)), generator=seeded(), tau=0.5)
    a.surrogate.sum().backward()
    original = logits.clone().requires_grad_()
    b = get("st_gumbel_softmax")(original, lambda z: (z * w).sum((-1, -2)), generator=seeded(), tau=0.5, dim=1)
    b.surrogate.sum().backward()
    torch.testing.assert_close(original.grad, moved.grad.movedim(-1, 1))
    torch.testing.assert_close(b.sample, a.sample.movedim(-1, 1))


@pytest.mark.parametrize("name", ["st_gumbel_softmax", "straight_through", "gumbel_rao", "reinmax", "gst", "gst_p"])
def test_a_non_contiguous_view_gives_what_its_contiguous_copy_gives(name):
    """reinmax failed on non-contiguous input (ANCHORS.md); ours give the same sample and gradient on a view."""
    base = torch.randn(K, B, 3, dtype=torch.float64)
    w = torch.randn(B, K, 3, dtype=torch.float64)
    results = []
    for logits in (base.transpose(0, 1), base.transpose(0, 1).contiguous()):
        leaf = logits.detach().requires_grad_()  # detach keeps the strides: the first leaf is non-contiguous
        out = get(name)(leaf, lambda z: (z * w).sum((-1, -2)), generator=seeded(), tau=0.5)
        out.surrogate.sum().backward()
        results.append((leaf.is_contiguous(), out.sample, leaf.grad))
    assert [contiguous for contiguous, _, _ in results] == [False, True]
    torch.testing.assert_close(results[0][1], results[1][1])
    torch.testing.assert_close(results[0][2], results[1][2])


# --- Gumbel-Rao -------------------------------------------------------------------------

N = 20_000
RAO_LOGITS = torch.tensor([1.0, 0.0, -0.5, 0.3], dtype=torch.float64)
RAO_W = torch.tensor([0.5, -1.0, 2.0, 0.0], dtype=torch.float64)


def gradients(sampler, generator, n=N, tau=0.5):
    """n independent per-example gradients of w . z for z = sampler(logits)."""
    logits = RAO_LOGITS.expand(n, 4).clone().requires_grad_()
    (sampler(logits, tau, generator) * RAO_W).sum().backward()
    return logits.grad



def test_gumbel_rao_k1_is_st_gumbel_softmax_in_distribution(generator):
    """Per coordinate, a two-sample KS test of k = 1 against ST-GS (4 tests at ALPHA / 4)."""
    from gumbel_softmax.functional import gumbel_softmax

    ours = gradients(lambda x, t, g: gumbel_rao(x, t, k=1, generator=g), generator)
    reference = gradients(lambda x, t, g: gumbel_softmax(x, t, hard=True, generator=g), generator)
    for j in range(4):
        p = scipy.stats.ks_2samp(ours[:, j].numpy(), reference[:, j].numpy()).pvalue
        assert p > ALPHA / 4, f"coordinate {j}: p = {p:.3g}"
    # The same test has power: k = 10 has a visibly different law.
    other = gradients(lambda x, t, g: gumbel_rao(x, t, k=10, generator=g), generator)
    assert scipy.stats.ks_2samp(other[:, 0].numpy(), reference[:, 0].numpy()).pvalue < ALPHA


def trace_variance(grads):
    """tr Cov of the rows, and its standard error (delta method: Var(s^2) ~ (m4 - s^4) / n per coordinate)."""
    centred = grads - grads.mean(0)
    squares = (centred**2).sum(1)
    return float(squares.mean()), float(squares.std() / math.sqrt(len(squares)))


def test_gumbel_rao_variance_falls_with_k(generator):
    """tr Cov at k = 1, 10, 100 strictly decreases, each step by more than 5.33 standard errors.

    5.33 is the two-sided normal quantile of ALPHA: a Gumbel-Rao whose variance did not fall would
    pass each comparison with probability < 1e-7. The drops measured at this size are 47 (k = 1 -> 10)
    and 13 (k = 10 -> 100) standard errors, so a correct one would need a deviation of more than 8
    standard errors to fail: probability far below 1e-7.
    """
    z = scipy.stats.norm.isf(ALPHA / 2)
    stats = [
        trace_variance(gradients(lambda x, t, g, k=k: gumbel_rao(x, t, k=k, generator=g), generator, n=N // 2))
        for k in (1, 10, 100)
    ]
    for (v_small_k, se_a), (v_large_k, se_b) in itertools.pairwise(stats):
        assert v_small_k - v_large_k > z * math.hypot(se_a, se_b), stats


def test_gumbel_rao_mean_gradient_is_k_independent(generator):
    """E[estimate] = E[E[J^T w | D]] does not depend on k: means at k = 1 and k = 30 agree."""
    a = gradients(lambda x, t, g: gumbel_rao(x, t, k=1, generator=g), generator)
    b = gradients(lambda x, t, g: gumbel_rao(x, t, k=30, generator=g), generator)
    z = scipy.stats.norm.isf(ALPHA / 8)  # 4 coordinates, two-sided: union bound
    se = (a.var(0) / N + b.var(0) / N).sqrt()
    assert bool(((a.mean(0) - b.mean(0)).abs() <= z * se).all())


def test_gumbel_rao_rejects_bad_k():
    with pytest.raises(ValueError, match="k"):
        gumbel_rao(torch.zeros(3), 1.0, k=0)


# --- ReinMax (Liu et al. 2023, Algorithm 2) -------------------------------------------------


@pytest.mark.parametrize(
    ("tau", "expected"),
    [
        # pi0 = (1/2, 1/4, 1/4), D = e_1 (index 1 below is e_0), g = (1, 2, 3); worked in the comments.
        (1.0, (-0.375, 0.125, 0.25)),
        (2.0, (-0.20158729, 0.04717712, 0.15441017)),
    ],
)
def test_reinmax_hand_worked(tau, expected):
    """Hand-worked Algorithm 2 (Liu et al. 2023).

    tau = 1, D = e_0: softmax(l / tau) = pi0 = (.5, .25, .25); pi1 = (D + pi0) / 2 = (.75, .125, .125).
    2 (diag(pi1) - pi1 pi1^T) g: pi1.g = 1.375, pi1 * (g - 1.375) = (-.28125, .078125, .203125), doubled
    (-.5625, .15625, .40625). -1/2 (diag(pi0) - pi0 pi0^T) g: pi0.g = 1.75, pi0 * (g - 1.75) =
    (-.375, .0625, .3125), times -1/2: (.1875, -.03125, -.15625). Sum: (-.375, .125, .25).

    tau = 2, D = e_1: softmax(l / 2) = (sqrt(.5), .5, .5) / 1.70710678 = (.41421356, .29289322, .29289322);
    pi1 = (.20710678, .64644661, .14644661); pi1.g = 1.93933983; pi1 * (g - pi1.g) =
    (-.19454364, .03921356, .15533009), doubled (-.38908729, .07842712, .31066017); plus the same
    pi0 term (.1875, -.03125, -.15625): (-.20158729, .04717712, .15441017).
    """
    logits = torch.tensor([0.5, 0.25, 0.25], dtype=torch.float64).log().requires_grad_()
    hard = torch.tensor([1.0, 0.0, 0.0] if tau == 1.0 else [0.0, 1.0, 0.0], dtype=torch.float64)
    out = reinmax_from_sample(logits, hard, tau)
    assert torch.equal(out.detach(), hard)
    (out * torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)).sum().backward()
    torch.testing.assert_close(logits.grad, torch.tensor(expected, dtype=torch.float64), rtol=0, atol=1e-8)


def test_reinmax_samples_at_temperature_one(generator):
    """The forward sample comes from softmax(logits) whatever tau is: same draws as `sample` at the same seed."""
    logits = torch.randn(500, 6, dtype=torch.float64)
    for tau in (0.1, 5.0):
        y = reinmax(logits, tau, generator=torch.Generator().manual_seed(3))
        assert torch.equal(y.argmax(-1), sample(logits, generator=torch.Generator().manual_seed(3)))


def test_reinmax_masked_category_gets_no_gradient():
    logits = torch.tensor([0.0, float("-inf"), 1.0], dtype=torch.float64, requires_grad=True)
    out = reinmax_from_sample(logits, torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64), 0.5)
    (out * torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)).sum().backward()
    assert bool(torch.isfinite(logits.grad).all()) and logits.grad[1] == 0.0

"""Gapped straight-through (Fan et al. 2022) is the authors' construction, worked by hand and step by step.

The reference below follows the equations of `gst_mover` (chijames/GST, model/basic.py) one
row at a time in Python floats: m1, m2, theta' = theta + m1 - m2, mean-centring, y = softmax(theta' / tau),
and the backward pass (diag(y) - y y^T) w / tau of an upstream gradient w. It shares no code with ours.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from gumbel_softmax.estimators import (
    gapped_straight_through,
    gapped_straight_through_from_sample,
    get,
    straight_through,
)
from gumbel_softmax.functional import sample

B, K = 64, 5


def reference_gradient(theta: list[float], chosen: int, w: list[float], tau: float, gap: float | str) -> list[float]:
    """Fan et al.'s GST gradient for one row, from the equations (no torch)."""
    m = max(theta)
    if gap == "p":
        z = sum(math.exp(t - m) for t in theta)
        pi = math.exp(theta[chosen] - m) / z * (1 - 1e-5)  # the authors' clamp
        kappa = -math.log(1 - pi) / pi
    else:
        kappa = float(gap)
    m1 = [(m - t) if i == chosen else 0.0 for i, t in enumerate(theta)]
    m2 = [0.0 if i == chosen else max(0.0, t - m + kappa) for i, t in enumerate(theta)]
    moved = [t + a - b for t, a, b in zip(theta, m1, m2)]
    centre = sum(moved) / len(moved)
    moved = [(t - centre) / tau for t in moved]
    top = max(moved)
    e = [math.exp(t - top) for t in moved]
    y = [v / sum(e) for v in e]
    yw = sum(a * b for a, b in zip(y, w))
    return [yi * (wi - yw) / tau for yi, wi in zip(y, w)]


@pytest.fixture
def problem():
    g = torch.Generator().manual_seed(7)
    logits = 2 * torch.randn(B, K, generator=g, dtype=torch.float64)
    return logits, torch.randn(B, K, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("gap", [1.0, "p", 0.3])
@pytest.mark.parametrize("tau", [0.5, 1.0, 2.0])
def test_gradient_is_the_authors_construction_given_the_sample(problem, tau, gap):
    logits, w = problem
    x = logits.clone().requires_grad_()
    out = gapped_straight_through(x, tau, gap=gap, generator=torch.Generator().manual_seed(3))
    (out * w).sum().backward()
    index = out.detach().argmax(-1)
    expected = torch.tensor(
        [reference_gradient(logits[b].tolist(), int(index[b]), w[b].tolist(), tau, gap) for b in range(B)],
        dtype=torch.float64,
    )
    torch.testing.assert_close(x.grad, expected, rtol=1e-10, atol=1e-12)
    assert len(set(index.tolist())) > 1  # the rows do not all draw the same category


@pytest.mark.parametrize("gap", [1.0, "p"])
@pytest.mark.parametrize("tau", [0.1, 1.0, 5.0])
def test_forward_value_is_the_exact_sample_at_temperature_one(problem, tau, gap):
    """The one-hot output is `sample(logits)` at the same seed, whatever tau and gap are."""
    logits, _ = problem
    out = gapped_straight_through(logits, tau, gap=gap, generator=torch.Generator().manual_seed(5))
    expected = torch.nn.functional.one_hot(sample(logits, generator=torch.Generator().manual_seed(5)), K)
    assert torch.equal(out, expected.to(out.dtype))


@pytest.mark.parametrize(("gap", "kappa"), [(1.0, 1.0), ("p", -math.log(1 - 0.25 * (1 - 1e-5)) / (0.25 * (1 - 1e-5)))])
def test_hand_worked(gap, kappa):
    """pi = (1/2, 1/4, 1/4), D = e_1, tau = 1: theta' = m + (-kappa, 0, -kappa).

    The sampled logit log(1/4) is raised to m = log(1/2); the others are lowered to min(theta_i, m - kappa)
    = m - kappa (for e_0, m - kappa < m; for e_2, m - kappa < log(1/4) as kappa > log 2). So
    y = (e^-kappa, 1, e^-kappa) / (1 + 2 e^-kappa), and the gradient of w . D is y * (w - y . w).
    GST-p: kappa = -log(1 - pi_D) / pi_D with pi_D = 1/4 (times the clamp 1 - 1e-5): 1.1507.
    """
    logits = torch.tensor([0.5, 0.25, 0.25], dtype=torch.float64).log().requires_grad_()
    hard = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)
    w = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    out = gapped_straight_through_from_sample(logits, hard, 1.0, gap=gap)
    assert torch.equal(out.detach(), hard)
    (out * w).sum().backward()
    y = torch.tensor([math.exp(-kappa), 1.0, math.exp(-kappa)], dtype=torch.float64)
    y = y / y.sum()
    torch.testing.assert_close(logits.grad, y * (w - (y * w).sum()), rtol=1e-12, atol=1e-14)


def test_gap_zero_with_the_argmax_drawn_is_straight_through(problem):
    """kappa = 0 and D = argmax: nothing moves (m1 = m2 = 0), so the gradient is ST's at the same tau."""
    logits, w = problem
    hard = torch.nn.functional.one_hot(logits.argmax(-1), K).double()
    grads = []
    for fn in (lambda x: gapped_straight_through_from_sample(x, hard, 0.7, gap=0.0),
               lambda x: hard + (straight_through(x, 0.7) - straight_through(x, 0.7).detach())):  # fmt: skip
        x = logits.clone().requires_grad_()
        (fn(x) * w).sum().backward()
        grads.append(x.grad)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-12, atol=1e-14)


def test_gst_p_gap_grows_with_the_sampled_probability():
    """GST-p's kappa rises from 1 (pi_D -> 0) towards -log(1e-5) ~ 11.5 (pi_D -> 1, the authors' clamp).

    Seen through the gradient: with D = e_0 and logits (0, -b) the other logit becomes min(-b, -kappa), and
    the gradient of z_1 for it is y (1 - y) with y = softmax of that logit; it shrinks as b grows. At b = 0,
    pi_D = 1/2 and kappa = 2 log 2 (times the clamp); at b = 30 the gap b already exceeds any kappa, so
    nothing moves and y = sigmoid(-30).
    """
    grads = []
    for b in (0.0, 2.0, 8.0, 30.0):
        x = torch.tensor([0.0, -b], dtype=torch.float64, requires_grad=True)
        out = gapped_straight_through_from_sample(x, torch.tensor([1.0, 0.0], dtype=torch.float64), gap="p")
        out[1].backward()
        grads.append(float(x.grad[1]))
    assert all(a > b for a, b in itertools.pairwise(grads))
    pi = 0.5 * (1 - 1e-5)
    for value, other in ((grads[0], math.log1p(-pi) / pi), (grads[-1], -30.0)):
        y = 1 / (1 + math.exp(-other))
        torch.testing.assert_close(value, y * (1 - y), rtol=1e-10, atol=0)


@pytest.mark.parametrize("gap", [1.0, "p"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gradients_are_finite_at_extremes(gap, dtype):
    """Huge logit spreads, tiny and large temperatures, a sample of probability ~0 (pi_D underflows)."""
    logits = torch.tensor([[0.0, 200.0, -200.0], [1e4, -1e4, 0.0], [0.0, 0.0, 0.0]], dtype=dtype)
    for tau in (1e-3, 1.0, 1e3):
        for hard_index in range(3):  # including categories whose probability is 0 in this dtype
            x = logits.clone().requires_grad_()
            hard = torch.nn.functional.one_hot(torch.full((3,), hard_index), 3).to(dtype)
            out = gapped_straight_through_from_sample(x, hard, tau, gap=gap)
            (out * torch.tensor([1.0, -2.0, 3.0], dtype=dtype)).sum().backward()
            assert torch.equal(out.detach(), hard)
            assert bool(torch.isfinite(x.grad).all()), (tau, hard_index, x.grad)


@pytest.mark.parametrize("gap", [1.0, "p"])
def test_masked_category_is_never_drawn_and_gets_no_gradient(gap, generator):
    logits = torch.tensor([[0.2, float("-inf"), -0.3, 1.0]], dtype=torch.float64).expand(500, 4).clone()
    logits.requires_grad_()
    out = gapped_straight_through(logits, 0.5, gap=gap, generator=generator)
    (out * torch.tensor([1.0, 5.0, -2.0, 0.5], dtype=torch.float64)).sum().backward()
    assert bool((out[:, 1] == 0).all()) and bool((out.sum(-1) == 1).all())
    assert bool(torch.isfinite(logits.grad).all()) and bool((logits.grad[:, 1] == 0).all())
    assert bool((logits.grad.abs().sum(-1) > 0).all())


def test_registry_entries_are_gst_1_and_gst_p(problem):
    """`gst` is kappa = 1 (or the `gap` option), `gst_p` the adaptive gap; both through the call contract."""
    logits, w = problem
    for name, options, gap in (("gst", {}, 1.0), ("gst", {"gap": 2.5}, 2.5), ("gst_p", {}, "p")):
        x, y = logits.clone().requires_grad_(), logits.clone().requires_grad_()
        out = get(name, **options)(x, lambda z: (z * w).sum(-1), tau=0.5, generator=torch.Generator().manual_seed(1))
        out.surrogate.sum().backward()
        (gapped_straight_through(y, 0.5, gap=gap, generator=torch.Generator().manual_seed(1)) * w).sum().backward()
        torch.testing.assert_close(x.grad, y.grad, rtol=0, atol=0)


@pytest.mark.parametrize("gap", [-1.0, float("nan"), float("inf"), "q"])
def test_bad_gap_is_refused(gap):
    with pytest.raises(ValueError, match="gap"):
        get("gst", gap=gap)
    with pytest.raises(ValueError, match="gap"):
        gapped_straight_through(torch.zeros(2, 3), gap=gap)

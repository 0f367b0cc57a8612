"""Straight-through Concrete distributions: exact discrete values, relaxed gradients, stateless log_prob."""

from __future__ import annotations

import pytest
import torch

from gumbel_softmax.distributions import (
    BinaryConcrete,
    BinaryConcreteStraightThrough,
    Concrete,
    ConcreteStraightThrough,
)
from tests.stats import assert_categorical


def test_one_hot_samples_are_categorical_with_concrete_gradients(generator):
    probs = torch.tensor([0.1, 0.2, 0.7])
    d = ConcreteStraightThrough(0.5, probs=probs)
    s = d.sample((100_000,), generator=generator)
    assert bool(((s == 0) | (s == 1)).all()) and bool((s.sum(-1) == 1).all())
    assert_categorical(s.sum(0), probs)
    # Forward: the argmax of the Concrete sample with the same noise; backward: its gradient.
    logits = torch.randn(4, 3, generator=generator, requires_grad=True)
    weights = torch.randn(4, 3, generator=generator)
    hard = ConcreteStraightThrough(0.5, logits=logits).rsample(generator=torch.Generator().manual_seed(1))
    soft = Concrete(0.5, logits=logits).rsample(generator=torch.Generator().manual_seed(1))
    assert torch.equal(hard.argmax(-1), soft.argmax(-1))
    (grad_hard,) = torch.autograd.grad((hard * weights).sum(), logits)
    (grad_soft,) = torch.autograd.grad((soft * weights).sum(), logits)
    torch.testing.assert_close(grad_hard, grad_soft)


def test_log_prob_reads_only_the_values(generator):
    logits = torch.randn(5, 4, generator=generator, requires_grad=True)
    d = ConcreteStraightThrough(0.3, logits=logits)
    s = d.rsample((6,), generator=generator)
    expected = logits.log_softmax(-1).expand(6, 5, 4).gather(-1, s.argmax(-1, keepdim=True)).squeeze(-1)
    torch.testing.assert_close(d.log_prob(s), expected)
    assert torch.equal(d.log_prob(s.clone()), d.log_prob(s))
    assert torch.equal(d.log_prob(s.detach().clone()), d.log_prob(s))
    torch.testing.assert_close(d.mean, logits.softmax(-1))
    assert torch.equal(d.mode.argmax(-1), logits.argmax(-1))


def test_binary_straight_through(generator):
    logits = torch.tensor([-1.0, 0.0, 2.0])
    d = BinaryConcreteStraightThrough(0.5, logits=logits)
    s = d.sample((100_000,), generator=generator)
    assert bool(((s == 0) | (s == 1)).all())
    for k in range(3):
        p = float(torch.sigmoid(logits[k]))
        assert_categorical([float(s[:, k].sum()), float((1 - s[:, k]).sum())], [p, 1 - p])
    # Same noise: the hard value is the rounded soft one, and the gradient is the soft one's.
    lg = logits.clone().requires_grad_(True)
    hard = BinaryConcreteStraightThrough(0.5, logits=lg).rsample((50,), generator=torch.Generator().manual_seed(8))
    soft = BinaryConcrete(0.5, logits=lg).rsample((50,), generator=torch.Generator().manual_seed(8))
    assert torch.equal(hard, (soft > 0.5).float())
    w = torch.randn(50, 3, generator=generator)
    (grad_hard,), (grad_soft,) = torch.autograd.grad((hard * w).sum(), lg), torch.autograd.grad((soft * w).sum(), lg)
    torch.testing.assert_close(grad_hard, grad_soft)
    expected = torch.where(s[:5] > 0.5, torch.nn.functional.logsigmoid(logits), torch.nn.functional.logsigmoid(-logits))
    torch.testing.assert_close(d.log_prob(s[:5]), expected)
    assert torch.equal(d.log_prob(s[:5].clone()), d.log_prob(s[:5]))
    torch.testing.assert_close(d.mean, logits.sigmoid())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_straight_through_values_are_exactly_zero_and_one_with_gradients_on(dtype, generator):
    """``hard - soft.detach() + soft`` can round to 0.99999994 (relaxit's ST Bernoulli); ours must not, in any dtype."""
    logits = torch.randn(2000, 5, generator=generator).to(dtype).requires_grad_(True)
    one_hot = ConcreteStraightThrough(torch.tensor(0.3, dtype=dtype), logits=logits).rsample(generator=generator)
    binary = BinaryConcreteStraightThrough(torch.tensor(0.3, dtype=dtype), logits=logits).rsample(generator=generator)
    for s in (one_hot, binary):
        assert s.dtype == dtype and s.requires_grad
        assert bool(((s == 0) | (s == 1)).all())
    assert bool((one_hot.sum(-1) == 1).all())

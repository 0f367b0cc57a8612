"""torch.compile(fullgraph=True) traces the reference path (value checks are skipped while compiling)."""

from __future__ import annotations

import pytest
import torch

import gumbel_softmax as gs


@pytest.mark.parametrize("hard", [True, pytest.param(False, marks=pytest.mark.slow)])
def test_fullgraph_compile_of_the_reference(hard):
    torch._dynamo.reset()
    logits = torch.randn(32, 6, requires_grad=True)
    logits.data[:, 2] = float("-inf")
    # Dynamo cannot take a torch.Generator argument: compiled code draws from torch's global RNG.
    compiled = torch.compile(lambda x, tau: gs.gumbel_softmax(x, tau=tau, hard=hard), fullgraph=True)
    compiled(logits, 0.7)
    y = compiled(logits, 0.5)  # a second float makes tau a traced number: checks must not branch on it
    assert torch.isfinite(y).all() and (y[:, 2] == 0).all()
    torch.testing.assert_close(y.sum(-1), torch.ones(32))
    if hard:
        assert set(y.unique().tolist()) <= {0.0, 1.0}
    (y * torch.randn(32, 6)).sum().backward()
    assert torch.isfinite(logits.grad).all() and (logits.grad[:, 2] == 0).all()

"""Drop-in equivalence with torch.nn.functional.gumbel_softmax: same signature, same values given the same noise."""

from __future__ import annotations

import inspect

import pytest
import torch
import torch.nn.functional as F

from gumbel_softmax import gumbel_softmax, gumbel_softmax_from_noise


def _torch_noise_like(logits: torch.Tensor, seed: int) -> torch.Tensor:
    """The Gumbel noise F.gumbel_softmax draws after torch.manual_seed(seed), drawn the same way."""
    torch.manual_seed(seed)
    return -torch.empty_like(logits, memory_format=torch.legacy_contiguous_format).exponential_().log()


@pytest.mark.parametrize("hard", [False, True])
@pytest.mark.parametrize("tau", [0.1, 1.0, 7.5])
@pytest.mark.parametrize("dim", [-1, 0, 1])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_same_noise_same_output_as_torch(hard, tau, dim, dtype):
    logits = torch.randn(6, 5, 4, generator=torch.Generator().manual_seed(0), dtype=dtype)
    torch.manual_seed(123)
    expected = F.gumbel_softmax(logits, tau=tau, hard=hard, dim=dim)
    ours = gumbel_softmax_from_noise(logits, _torch_noise_like(logits, 123), tau=tau, hard=hard, dim=dim)
    torch.testing.assert_close(ours, expected)


def test_gradients_agree_with_torch_given_the_same_noise():
    logits = torch.randn(10, 6, generator=torch.Generator().manual_seed(0), requires_grad=True)
    weights = torch.randn(10, 6, generator=torch.Generator().manual_seed(1))
    for hard in (False, True):
        torch.manual_seed(5)
        (expected,) = torch.autograd.grad((F.gumbel_softmax(logits, 0.5, hard) * weights).sum(), logits)
        ours_y = gumbel_softmax_from_noise(logits, _torch_noise_like(logits, 5), 0.5, hard)
        (ours,) = torch.autograd.grad((ours_y * weights).sum(), logits)
        torch.testing.assert_close(ours, expected)


def test_signature_accepts_every_torch_call_form():
    ours = inspect.signature(gumbel_softmax).parameters
    theirs = inspect.signature(F.gumbel_softmax).parameters
    assert list(theirs) == list(ours)[: len(theirs)]
    logits = torch.randn(3, 4)
    assert gumbel_softmax(logits, 0.5, True, 1e-10, 0).shape == (3, 4)
    assert gumbel_softmax(logits=logits, tau=2, hard=False, dim=1).shape == (3, 4)


def test_eps_is_accepted_and_ignored_with_a_deprecation_warning():
    logits = torch.randn(3, 4)
    with pytest.warns(DeprecationWarning, match="eps"):
        y = gumbel_softmax(logits, eps=1e-3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(y, gumbel_softmax(logits, generator=torch.Generator().manual_seed(0)))

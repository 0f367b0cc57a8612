"""Property tests over shapes, dims, dtypes and temperatures: simplex, one-hot, masks."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gumbel_softmax import gumbel_softmax, sample

DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-12, torch.float16: 1e-2, torch.bfloat16: 2e-2}


@st.composite
def cases(draw):
    ndim = draw(st.integers(1, 4))
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=ndim, max_size=ndim)))
    dim = draw(st.integers(-ndim, ndim - 1))
    dtype = draw(st.sampled_from(DTYPES))
    tau = 10 ** draw(st.floats(-4, 2))
    seed = draw(st.integers(0, 2**31 - 1))
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(shape, generator=g) * draw(st.floats(0.1, 20))
    mask = torch.rand(shape, generator=g) < draw(st.floats(0, 0.9))
    # Keep one unmasked category per row: unmask the row's first entry.
    first = [slice(None)] * ndim
    first[dim] = 0
    mask[tuple(first)] = False
    return logits.masked_fill(mask, float("-inf")).to(dtype), mask, dim, tau, g


@settings(max_examples=150, deadline=None, derandomize=True)
@given(cases(), st.booleans())
def test_outputs_lie_on_the_simplex_and_respect_masks(case, hard):
    logits, mask, dim, tau, g = case
    y = gumbel_softmax(logits, tau=tau, hard=hard, dim=dim, generator=g)
    assert y.shape == logits.shape and y.dtype == logits.dtype
    assert torch.isfinite(y).all() and (y >= 0).all() and (y <= 1).all()
    assert (y[mask] == 0).all()
    sums = y.double().sum(dim)
    assert (sums - 1).abs().max() <= TOLERANCE[logits.dtype]
    if hard:
        assert set(y.unique().tolist()) <= {0.0, 1.0}
        assert (sums == 1).all()


@settings(max_examples=100, deadline=None, derandomize=True)
@given(cases())
def test_samples_are_in_range_and_never_masked(case):
    logits, mask, dim, _, g = case
    index = sample(logits, dim=dim, generator=g)
    d = dim % logits.ndim
    assert index.shape == logits.shape[:d] + logits.shape[d + 1 :]
    assert ((index >= 0) & (index < logits.shape[d])).all()
    assert not mask.gather(d, index.unsqueeze(d)).any()

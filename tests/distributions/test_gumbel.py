"""Gumbel(loc, scale): the law of its samples and its closed forms against scipy."""

from __future__ import annotations

import pytest
import scipy.stats
import torch

from gumbel_softmax.distributions import Gumbel
from tests.stats import assert_ks

F64 = torch.float64


def test_samples_follow_scipys_gumbel(generator):
    d = Gumbel(torch.tensor(1.5), torch.tensor(0.7))
    x = d.sample((200_000,), generator=generator)
    assert bool(x.isfinite().all())
    assert_ks(x, scipy.stats.gumbel_r(loc=1.5, scale=0.7).cdf)


def test_closed_forms_match_scipy():
    loc, scale = torch.tensor([0.0, -2.0], dtype=F64), torch.tensor([1.0, 3.0], dtype=F64)
    d = Gumbel(loc, scale)
    x = torch.linspace(-8, 20, 57, dtype=F64).unsqueeze(-1)
    ref = scipy.stats.gumbel_r(loc=loc.numpy(), scale=scale.numpy())
    torch.testing.assert_close(d.log_prob(x), torch.from_numpy(ref.logpdf(x.numpy())))
    torch.testing.assert_close(d.cdf(x), torch.from_numpy(ref.cdf(x.numpy())))
    q = torch.linspace(0.01, 0.99, 33, dtype=F64).unsqueeze(-1)
    torch.testing.assert_close(d.icdf(q), torch.from_numpy(ref.ppf(q.numpy())))
    torch.testing.assert_close(d.entropy(), torch.from_numpy(ref.entropy()))
    torch.testing.assert_close(d.mean, torch.from_numpy(ref.mean()))
    torch.testing.assert_close(d.variance, torch.from_numpy(ref.var()))
    torch.testing.assert_close(d.stddev, torch.from_numpy(ref.std()))
    torch.testing.assert_close(d.mode, loc)


def test_gradcheck_rsample_and_log_prob():
    loc = torch.tensor([0.3, -1.0], dtype=F64, requires_grad=True)
    scale = torch.tensor([0.5, 2.0], dtype=F64, requires_grad=True)
    sample = lambda a, b: Gumbel(a, b).rsample((3,), generator=torch.Generator().manual_seed(4))  # noqa: E731
    assert torch.autograd.gradcheck(sample, (loc, scale))
    x = torch.tensor([[0.1, 2.0], [-1.0, 0.4]], dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b, v: Gumbel(a, b).log_prob(v), (loc, scale, x))


def test_shapes_dtypes_and_errors(generator):
    d = Gumbel(torch.zeros(3), 1.0)
    assert d.batch_shape == (3,) and d.sample((2,), generator=generator).shape == (2, 3)
    assert d.expand((4, 3)).sample().shape == (4, 3)
    half = Gumbel(torch.zeros(3, dtype=torch.float16), torch.ones(3, dtype=torch.float16))
    x = half.sample((10,), generator=generator)
    assert x.dtype == torch.float16 and half.log_prob(x).dtype == torch.float16
    with pytest.raises(ValueError):
        Gumbel(0.0, -1.0)


def test_icdf_validates_and_computes_in_float32():
    d = Gumbel(torch.tensor(0.0), torch.tensor(2.0), validate_args=True)
    for bad in (1.5, -0.1, float("nan")):
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            d.icdf(torch.tensor(bad))
    assert torch.equal(d.icdf(torch.tensor([0.0, 1.0])), torch.tensor([float("-inf"), float("inf")]))
    assert bool(Gumbel(0.0, 2.0, validate_args=False).icdf(torch.tensor(1.5)).isnan())  # unchecked: as asked
    # bfloat16 parameters and quantiles: the float32 result, rounded once (not bfloat16 arithmetic).
    bf16 = torch.bfloat16
    q = torch.tensor([0.01, 0.3, 0.5, 0.99], dtype=bf16)
    half = Gumbel(torch.tensor(0.5, dtype=bf16), torch.tensor(3.0, dtype=bf16)).icdf(q)
    assert half.dtype == bf16
    assert torch.equal(half, Gumbel(torch.tensor(0.5), torch.tensor(3.0)).icdf(q.float()).to(bf16))

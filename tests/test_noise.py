"""Gumbel noise: the right law (KS against scipy), always finite, reproducible from a generator."""

from __future__ import annotations

import math

import pytest
import scipy.stats
import torch

from gumbel_softmax import gumbel_like, gumbel_noise, noise_range
from gumbel_softmax.noise import log_exponential
from tests.stats import assert_ks


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_noise_follows_the_standard_gumbel_law(dtype, generator):
    noise = gumbel_noise((300_000,), dtype=dtype, generator=generator)
    assert noise.dtype == dtype
    assert_ks(noise, scipy.stats.gumbel_r.cdf)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_noise_is_rounded_float32_noise(dtype):
    low = gumbel_noise((1000,), dtype=dtype, generator=torch.Generator().manual_seed(3))
    high = gumbel_noise((1000,), dtype=torch.float32, generator=torch.Generator().manual_seed(3))
    assert low.dtype == dtype
    assert torch.equal(low, high.to(dtype))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_noise_stays_inside_the_documented_range(dtype, generator):
    low, high = noise_range(dtype)
    noise = gumbel_noise((4_000_000,), dtype=dtype, generator=generator)
    assert torch.isfinite(noise).all()
    assert noise.min() >= low and noise.max() <= high


def test_documented_range_matches_the_uniform_edges():
    # float32: U in [2^-24, 1 - 2^-24]; the noise at both edges is finite and is what noise_range says.
    edge = 2.0**-24
    u = torch.tensor([edge, 1 - edge], dtype=torch.float32)
    assert u[1] < 1 and u[0] > 0
    g = -torch.log(-torch.log(u))
    assert torch.isfinite(g).all()
    low, high = noise_range(torch.float32)
    assert math.isclose(low, float(g[0]), rel_tol=1e-6) and math.isclose(high, float(g[1]), rel_tol=1e-5)
    assert math.isclose(high, 16.6355, abs_tol=1e-4) and math.isclose(low, -2.8116, abs_tol=1e-4)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_the_extreme_uniform_draws_give_the_documented_finite_noise(monkeypatch, dtype):
    """Force every draw of ``uniform_(a, b)`` to ``a`` or ``b``: the noise stays finite, at the ends of noise_range.

    This is the code path that made torch's ``exponential_``-based noise NaN (pytorch 22442, 101620): a draw at
    the edge of the interval. Ours asks for a closed interval whose both ends give finite noise.
    """

    def extremes(self, a=0.0, b=1.0, *, generator=None):
        flat = self.view(-1)
        flat[0::2], flat[1::2] = a, b
        return self

    monkeypatch.setattr(torch.Tensor, "uniform_", extremes)
    g = gumbel_noise((64,), dtype=dtype)
    low, high = noise_range(dtype)
    assert torch.isfinite(g).all()
    assert math.isclose(float(g[0::2].min()), low, rel_tol=1e-2)
    assert math.isclose(float(g[1::2].max()), high, rel_tol=1e-2)
    assert torch.isfinite(log_exponential((8,), torch.float32, torch.device("cpu"), None)).all()


def test_the_largest_uniform_draw_cannot_round_to_one():
    # torch.rand-style draws are x = k / 2^24 with k < 2^24; uniform_(a, 1 - a) maps them to a + x (1 - 2a).
    a = torch.tensor(2.0**-24)
    x = torch.tensor(1 - 2.0**-24)
    for value in (x * (1 - 2 * a) + a, torch.addcmul(a, x, 1 - 2 * a)):
        assert value.dtype == torch.float32 and value < 1


def test_same_generator_state_gives_same_noise_and_different_states_differ():
    first = gumbel_noise((5, 7), generator=torch.Generator().manual_seed(1))
    again = gumbel_noise((5, 7), generator=torch.Generator().manual_seed(1))
    other = gumbel_noise((5, 7), generator=torch.Generator().manual_seed(2))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_log_exponential_is_minus_gumbel():
    minus = log_exponential((3, 4), torch.float32, torch.device("cpu"), torch.Generator().manual_seed(5))
    plus = gumbel_noise((3, 4), dtype=torch.float32, generator=torch.Generator().manual_seed(5))
    assert torch.equal(minus, -plus)


def test_gumbel_like_copies_shape_dtype_device(generator):
    like = gumbel_like(torch.zeros(2, 3, dtype=torch.float64), generator=generator)
    assert like.shape == (2, 3) and like.dtype == torch.float64 and like.device.type == "cpu"


def test_default_dtype_and_empty_shapes():
    assert gumbel_noise((2,)).dtype == torch.get_default_dtype()
    assert gumbel_noise((0, 3)).shape == (0, 3)


def test_non_floating_dtype_is_refused():
    with pytest.raises(TypeError, match="floating dtype"):
        gumbel_noise((2,), dtype=torch.int64)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_generator_on_the_wrong_device_is_refused():
    with pytest.raises(ValueError, match="generator lives on cpu"):
        gumbel_noise((2,), device="cuda", generator=torch.Generator())

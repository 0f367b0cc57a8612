"""The kernels' Philox noise: Gumbel(0, 1), independent across columns and rows, independent of tiling."""

from __future__ import annotations

import pytest
import scipy.stats
import torch

import gumbel_softmax as gs
from gumbel_softmax.kernels.noise import draw_key, kernel_gumbel_noise
from gumbel_softmax.kernels.sample_op import sample as kernel_sample
from gumbel_softmax.kernels.softmax_op import gumbel_softmax as kernel_gumbel_softmax
from tests.kernels.kernel_support import DEVICE, generator, quiet_interpreter
from tests.stats import ALPHA, assert_categorical, assert_ks

pytestmark = quiet_interpreter


def _noise(n_rows, n_cols, seed):
    return kernel_gumbel_noise(n_rows, n_cols, draw_key(generator(seed), DEVICE))


def test_marginal_law_is_gumbel():
    """KS over all 65,536 draws and over each of the four Philox output words.

    Five tests at ALPHA / 5 each: a false failure has probability <= ALPHA (union bound).
    """
    noise = _noise(64, 1024, 40).cpu()
    lo, hi = gs.noise_range(torch.float32)
    assert torch.isfinite(noise).all() and lo <= noise.min() and noise.max() <= hi
    assert_ks(noise, scipy.stats.gumbel_r.cdf, alpha=ALPHA / 5)
    for word in range(4):
        assert_ks(noise[:, word::4], scipy.stats.gumbel_r.cdf, alpha=ALPHA / 5)


def _joint_bins(a: torch.Tensor, b: torch.Tensor, bins: int = 10) -> torch.Tensor:
    """Counts of (F(a), F(b)) on a bins x bins grid, F the Gumbel CDF; uniform under independence."""
    ia = (torch.exp(-torch.exp(-a.double())) * bins).long().clamp(max=bins - 1)
    ib = (torch.exp(-torch.exp(-b.double())) * bins).long().clamp(max=bins - 1)
    return torch.bincount((ia * bins + ib).flatten(), minlength=bins * bins)


def test_pairs_are_independent():
    """Chi-square of neighbouring pairs on a 10 x 10 grid: columns sharing one Philox call, columns in
    neighbouring calls, and neighbouring rows (three tests at ALPHA / 3 each)."""
    noise = _noise(64, 1024, 41).cpu()
    uniform = torch.full((100,), 0.01)
    pairs = [(noise[:, 0::4], noise[:, 1::4]), (noise[:, 3:-4:4], noise[:, 4::4]), (noise[0::2], noise[1::2])]
    for a, b in pairs:
        assert_categorical(_joint_bins(a, b), uniform, alpha=ALPHA / 3)


def test_noise_does_not_depend_on_tiling():
    key = draw_key(generator(42), DEVICE)
    single_tile, long_rows = kernel_gumbel_noise(3, 5000, key), kernel_gumbel_noise(3, 20000, key)
    assert torch.equal(single_tile, long_rows[:, :5000])
    many_rows = kernel_gumbel_noise(40, 10, key)  # 64 rows per program instead of 4
    assert torch.equal(many_rows[:3], kernel_gumbel_noise(3, 10, key))


def test_kernels_add_exactly_this_noise():
    """A kernel run from a key equals the same kernel fed that key's noise through the test hook."""
    logits = torch.randn(24, 10, generator=torch.Generator().manual_seed(43)).to(DEVICE)
    noise = kernel_gumbel_noise(24, 10, draw_key(generator(44), DEVICE))
    assert torch.equal(kernel_sample(logits, 1, generator(44)), kernel_sample(logits, 1, None, noise=noise))
    from_key = kernel_gumbel_softmax(logits, 0.5, False, 1, generator(44))
    torch.testing.assert_close(from_key, kernel_gumbel_softmax(logits, 0.5, False, 1, None, noise=noise))


def test_key_draw_advances_the_generator():
    g = generator(45)
    first, second = draw_key(g, DEVICE), draw_key(g, DEVICE)
    assert not torch.equal(first, second)
    assert torch.equal(first, draw_key(generator(45), DEVICE))


@pytest.mark.slow
def test_marginal_law_is_gumbel_large_sample():
    """KS over 4,194,304 draws: rejects CDF errors above about 0.15% (false failure <= ALPHA)."""
    noise = _noise(4096, 1024, 46).cpu()
    assert_ks(noise, scipy.stats.gumbel_r.cdf)

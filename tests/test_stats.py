"""The goodness-of-fit helpers can fail: they reject slightly wrong samplers at the sizes the suite uses."""

from __future__ import annotations

import pytest
import scipy.stats
import torch

from gumbel_softmax import gumbel_noise, sample
from tests.stats import ALPHA, assert_categorical, chi_square_pvalue, empirical_bernstein_bound, ks_pvalue, mean_bound


def test_chi_square_rejects_a_sampler_that_is_slightly_too_sharp(generator):
    logits = torch.tensor([0.0, 0.5, 1.0, 1.5])
    draws = sample((1.1 * logits).expand(100_000, 4), generator=generator)
    counts = torch.bincount(draws, minlength=4)
    assert chi_square_pvalue(counts, logits.softmax(-1)) < ALPHA
    assert_categorical(counts, (1.1 * logits).softmax(-1))


def test_chi_square_rejects_any_draw_of_a_zero_probability_category():
    assert chi_square_pvalue([10, 0, 1], [0.5, 0.5, 0.0]) == 0.0
    assert chi_square_pvalue([10, 12, 0], [0.5, 0.5, 0.0]) > 0.1


def test_chi_square_pools_rare_categories():
    # Expected counts 0.5 each would break the asymptotics; pooled they form one bin (count 1, expected 1.0).
    p = chi_square_pvalue([500, 499, 1, 0], [0.4995, 0.4995, 0.0005, 0.0005])
    statistic = 2 * 0.5**2 / 499.5 + (1 - 1.0) ** 2 / 1.0  # three bins: 500, 499 and the pooled 1
    assert p == pytest.approx(scipy.stats.chi2.sf(statistic, df=2), rel=1e-12)
    # Unpooled, the same counts would give a 4-bin statistic with df = 3 and another p-value.
    unpooled = 2 * 0.5**2 / 499.5 + 2 * 0.5**2 / 0.5
    assert p != pytest.approx(scipy.stats.chi2.sf(unpooled, df=3), rel=1e-3)


@pytest.mark.parametrize("shift", [0.05, -0.05])
def test_ks_rejects_a_shifted_gumbel(shift, generator):
    noise = gumbel_noise((200_000,), dtype=torch.float64, generator=generator)
    assert ks_pvalue(noise + shift, scipy.stats.gumbel_r.cdf) < ALPHA
    assert ks_pvalue(noise, scipy.stats.gumbel_r.cdf) > ALPHA


def test_empirical_bernstein_bound_is_the_published_formula_and_has_power(generator):
    """Maurer & Pontil (2009, Theorem 4) two-sided; wider than the CLT one; rejects a 0.1-sd shift at n = 10^5."""
    log_term = float(torch.log(torch.tensor(4 / ALPHA, dtype=torch.float64)))
    expected = (2 * 0.25 * log_term / 1000) ** 0.5 + 7 * 2.0 * log_term / (3 * 999)
    assert empirical_bernstein_bound(0.5, 2.0, 1000) == pytest.approx(expected, rel=1e-12)
    assert empirical_bernstein_bound(0.5, 1.0, 1000) > mean_bound(0.5, 1000)
    x = torch.bernoulli(torch.full((100_000,), 0.55, dtype=torch.float64), generator=generator)  # mean 0.55
    # a correct law would need |mean - 0.5| <= the bound; a 0.05 shift (0.1 sd) exceeds it
    assert abs(float(x.mean()) - 0.5) > empirical_bernstein_bound(float(x.std()), 1.0, len(x))
    with pytest.raises(ValueError, match="n >= 2"):
        empirical_bernstein_bound(1.0, 1.0, 1)

"""The goodness-of-fit helpers can fail: they reject slightly wrong samplers at the sizes the suite uses."""

from __future__ import annotations

import pytest
import scipy.stats
import torch

from gumbel_softmax import gumbel_noise, sample
from tests.stats import ALPHA, assert_categorical, chi_square_pvalue, ks_pvalue


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
    # Expected counts 0.1 each would break the asymptotics; pooled they form one bin of 1.0 (< 5, still pooled).
    p = chi_square_pvalue([500, 499, 1, 0], [0.4995, 0.4995, 0.0005, 0.0005])
    assert 0.0 <= p <= 1.0


@pytest.mark.parametrize("shift", [0.05, -0.05])
def test_ks_rejects_a_shifted_gumbel(shift, generator):
    noise = gumbel_noise((200_000,), dtype=torch.float64, generator=generator)
    assert ks_pvalue(noise + shift, scipy.stats.gumbel_r.cdf) < ALPHA
    assert ks_pvalue(noise, scipy.stats.gumbel_r.cdf) > ALPHA

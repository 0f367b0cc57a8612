"""Goodness-of-fit helpers shared by every sampler test.

Each helper fails when the p-value of its test falls below ``ALPHA``. Under the
null hypothesis (a correct sampler) a p-value is uniform on [0, 1] (exactly for
KS on continuous data, asymptotically for chi-square with expected counts >= 5),
so a correct sampler fails with probability ``ALPHA`` = 1e-7 per call, below the
project's budget of 1e-6 per test. Tests use fixed seeds, so a given run is
deterministic; the bound is over the choice of seed.

To show the tests can fail, tests/test_stats.py checks that these helpers reject
slightly wrong samplers at the same sample sizes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.stats
import torch

from gumbel_softmax.studies.report import chi_square_pvalue

__all__ = ["ALPHA", "chi_square_pvalue", "assert_categorical", "ks_pvalue", "assert_ks", "mean_bound",
           "empirical_bernstein_bound"]

ALPHA = 1e-7


def assert_categorical(counts, probs, alpha: float = ALPHA) -> None:
    """Assert that ``counts`` are a draw from ``Multinomial(n, probs)`` (false failure <= alpha)."""
    p = chi_square_pvalue(counts, probs)
    assert p > alpha, f"chi-square p-value {p:.3g} <= {alpha:g}: counts {list(counts)} vs probs {list(probs)}"


def ks_pvalue(samples: torch.Tensor | np.ndarray, cdf: Callable | str, args: tuple = ()) -> float:
    """p-value of the one-sample Kolmogorov-Smirnov test of ``samples`` against ``cdf``."""
    data = np.asarray(torch.as_tensor(samples).detach().double().cpu().flatten())
    return float(scipy.stats.kstest(data, cdf, args=args).pvalue)


def assert_ks(samples, cdf: Callable | str, args: tuple = (), alpha: float = ALPHA) -> None:
    """Assert that ``samples`` follow the continuous law with CDF ``cdf`` (false failure <= alpha)."""
    p = ks_pvalue(samples, cdf, args)
    assert p > alpha, f"Kolmogorov-Smirnov p-value {p:.3g} <= {alpha:g}"


def mean_bound(std: float, n: int, alpha: float = ALPHA) -> float:
    """Half-width of a two-sided interval that a mean of ``n`` draws leaves with probability <= alpha.

    By the central limit theorem, with the z-quantile of ``alpha`` (5.33 for 1e-7).
    Use for averages of bounded variables with many draws, where the normal
    approximation is good.
    """
    return float(scipy.stats.norm.isf(alpha / 2)) * std / n**0.5


def empirical_bernstein_bound(std: float, range_: float, n: int, alpha: float = ALPHA) -> float:
    """Half-width of a two-sided interval that a mean of ``n`` i.i.d. draws leaves with probability <= alpha.

    Non-asymptotic, for draws known to lie in an interval of length ``range_``: the empirical
    Bernstein bound of Maurer & Pontil ("Empirical Bernstein Bounds and Sample Variance
    Penalization", COLT 2009, Theorem 4), applied to each side with ``alpha / 2``:

    .. math:: |\\bar X - \\mathbb{E} X| \\le \\sqrt{2 V_n \\ln(4/\\alpha) / n} + 7 R \\ln(4/\\alpha) / (3 (n - 1))

    with ``V_n = std**2`` the unbiased sample variance of the same draws and ``R = range_``.
    Close to :func:`mean_bound` when ``R / n`` is small against ``std / sqrt(n)``.
    """
    if n < 2:
        raise ValueError(f"the empirical Bernstein bound needs n >= 2 draws, got {n}")
    log_term = float(np.log(4.0 / alpha))
    return float(np.sqrt(2.0 * std**2 * log_term / n) + 7.0 * range_ * log_term / (3.0 * (n - 1)))

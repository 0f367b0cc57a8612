"""The conditional (truncated) Gumbel sampler inside Gumbel-Rao, REBAR and RELAX, tested on its own.

Each KS test fails a correct sampler with probability ALPHA = 1e-7 (tests/stats.py); a test
that makes several KS calls divides ALPHA by their number (union bound), so each test's
false-failure probability stays below 1e-7.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch

from gumbel_softmax.estimators import conditional_gumbel, truncated_gumbel
from gumbel_softmax.noise import gumbel_noise
from tests.stats import ALPHA, assert_ks, ks_pvalue

N = 20_000


def truncated_cdf(x, location, upper):
    """CDF of Gumbel(location) truncated to (-inf, upper]: exp(-(e^{mu - x} - e^{mu - b})), 1 above b."""
    x = np.minimum(np.asarray(x, dtype=np.float64), upper)
    return np.exp(-(np.exp(location - x) - np.exp(location - upper)))


@pytest.mark.parametrize(("location", "upper"), [(0.0, 0.0), (1.5, -0.5), (-2.0, 3.0)])
def test_truncated_gumbel_matches_its_cdf(generator, location, upper):
    x = truncated_gumbel(torch.full((N,), location, dtype=torch.float64), torch.tensor(upper), generator=generator)
    assert bool((x <= upper).all())
    assert_ks(x, truncated_cdf, args=(location, upper))


def test_ks_rejects_an_untruncated_gumbel_clipped_at_the_bound(generator):
    """The test has power: clipping a Gumbel at b instead of truncating it is caught."""
    location, upper = 0.0, 0.5
    wrong = gumbel_noise((N,), dtype=torch.float64, generator=generator).clamp(max=upper) + location
    assert ks_pvalue(wrong, truncated_cdf, args=(location, upper)) < ALPHA


LOGITS = [math.log(p) for p in (0.1, 0.2, 0.3, 0.4)]


@pytest.mark.parametrize("index", [0, 3])
def test_conditional_gumbel_has_the_conditional_law(generator, index):
    """Given argmax = i: the max is Gumbel(log Z), and each other X_j is Gumbel(l_j) truncated at the max.

    The second claim is tested by the probability integral transform: F_trunc(X_j; l_j, M)
    is Uniform(0, 1) exactly when X_j | M has that CDF. Four KS tests at ALPHA / 4 each.
    """
    logits = torch.tensor(LOGITS, dtype=torch.float64).expand(N, 4)
    noise = conditional_gumbel(logits, torch.full((N,), index), generator=generator)
    x = logits + noise
    assert bool((x.argmax(-1) == index).all())
    log_z = float(torch.logsumexp(logits[0], 0))
    alpha = ALPHA / 4
    assert_ks(x[:, index], scipy.stats.gumbel_r.cdf, args=(log_z, 1.0), alpha=alpha)
    top = x[:, index].numpy()
    for j in (j for j in range(4) if j != index):
        u = truncated_cdf(x[:, j].numpy(), LOGITS[j], top)
        assert_ks(torch.from_numpy(u), "uniform", alpha=alpha)


def test_conditional_gumbel_agrees_with_rejection_sampling(generator):
    """Draw unconditional Gumbels, keep those whose argmax is 1: same law of every X_j (two-sample KS)."""
    logits = torch.tensor(LOGITS, dtype=torch.float64)
    raw = logits + gumbel_noise((5 * N, 4), dtype=torch.float64, generator=generator)
    kept = raw[raw.argmax(-1) == 1]
    ours = logits + conditional_gumbel(logits.expand(N, 4), torch.full((N,), 1), generator=generator)
    for j in range(4):
        p = scipy.stats.ks_2samp(kept[:, j].numpy(), ours[:, j].numpy()).pvalue
        assert p > ALPHA / 4, f"coordinate {j}: two-sample KS p = {p:.3g}"


def test_masked_categories_stay_masked_with_finite_gradients(generator):
    logits = torch.tensor([[0.0, float("-inf"), 1.0]], dtype=torch.float64, requires_grad=True)
    noise = conditional_gumbel(logits, torch.tensor([2]), generator=generator)
    assert noise[0, 1] == 0.0
    assert (logits + noise).argmax(-1).item() == 2
    noise.sum().backward()
    assert bool(torch.isfinite(logits.grad).all())
    assert logits.grad[0, 1] == 0.0


def test_conditional_gumbel_gradient_for_fixed_draws():
    """REBAR/RELAX differentiate the conditional sample in the logits for fixed draws: gradcheck in float64."""
    index = torch.tensor([2, 0, 1])

    def perturbed(logits):
        return logits + conditional_gumbel(logits, index, generator=torch.Generator().manual_seed(5))

    logits = torch.randn(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1), requires_grad=True)
    assert torch.autograd.gradcheck(perturbed, (logits,))
    upper = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda loc, b: truncated_gumbel(loc, b, generator=torch.Generator().manual_seed(2)), (logits, upper)
    )

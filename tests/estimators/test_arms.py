"""ARMS (Dimitriev and Zhou 2021) equals the authors' construction given the same noise; its copulas are right.

Unbiasedness against the exact gradient, and the power check that rejects it without its
correction factor, are in test_unbiasedness.py.
"""

from __future__ import annotations

import pytest
import scipy.stats
import torch

from gumbel_softmax.estimators import get
from gumbel_softmax.estimators.arms import copula_diagonal, copula_uniforms
from gumbel_softmax.noise import gumbel_noise
from tests.stats import ALPHA, assert_ks

B, V = 128, 5


def authors_dirichlet_gradient(alpha: torch.Tensor, exponentials: torch.Tensor, f) -> torch.Tensor:
    """The ARMS equations with the Dirichlet copula, from the paper: d = e / sum e, u = (1 - d)^(n-1), flipped for
    p >= 1/2; joint = max(2 p^(1/(n-1)) - 1, 0)^(n-1) for p < 1/2 and 2p - 1 + the same at 1 - p otherwise;
    grad = n / (n - 1) mean_k (f_k - mean f) (b_k - p) p (1 - p) / (p - joint)."""
    n = exponentials.shape[0]
    p = torch.sigmoid(alpha)
    d = exponentials / exponentials.sum(0)
    u = (1 - d) ** (n - 1)
    low = p < 0.5
    u = torch.where(low, u, 1 - u)

    def bivariate(x):
        return torch.clamp(2 * x ** (1 / (n - 1)) - 1, min=0) ** (n - 1)

    joint = torch.where(low, bivariate(p), 2 * p - 1 + bivariate(1 - p))
    b = (u < p).double()
    values = torch.stack([f(b[k]) for k in range(n)])
    centred = (values - values.mean(0)).unsqueeze(-1)
    return (centred * (b - p)).mean(0) * n / (n - 1) * p * (1 - p) / (p - joint), b


def quadratic(weights):
    return lambda b: ((b * weights).sum(-1) - 0.4) ** 2


@pytest.mark.parametrize("n", [2, 3, 6])
def test_dirichlet_arms_is_the_authors_construction_given_the_same_noise(n):
    g = torch.Generator().manual_seed(n)
    alpha = 1.5 * torch.randn(B, V, generator=g, dtype=torch.float64)
    f = quadratic(torch.randn(V, generator=g, dtype=torch.float64))
    x = alpha.clone().requires_grad_()
    out = get("arms", samples=n)(x, f, bernoulli=True, generator=torch.Generator().manual_seed(7))
    out.surrogate.sum().backward()
    e = torch.exp(-gumbel_noise((n, B, V), dtype=torch.float64, generator=torch.Generator().manual_seed(7)))
    expected, b = authors_dirichlet_gradient(alpha, e, f)
    torch.testing.assert_close(x.grad, expected, rtol=1e-10, atol=1e-12)
    assert torch.equal(out.sample, b[0])
    torch.testing.assert_close(out.loss, torch.stack([f(bk) for bk in b]).mean(0))


@pytest.mark.parametrize("n", [3, 4, 10])
def test_gaussian_diagonal_is_the_bivariate_normal_cdf(n):
    """C(q) = Phi_2(Phi^-1(q), Phi^-1(q); -1/(n-1)), against scipy's bivariate normal CDF."""
    q = torch.tensor([1e-4, 0.02, 0.2, 0.37, 0.5], dtype=torch.float64)
    rho = -1 / (n - 1)
    law = scipy.stats.multivariate_normal(mean=[0, 0], cov=[[1, rho], [rho, 1]])
    expected = [law.cdf([scipy.stats.norm.ppf(x)] * 2) for x in q.tolist()]
    torch.testing.assert_close(copula_diagonal("gaussian", n, q), torch.tensor(expected, dtype=torch.float64),
                               rtol=1e-6, atol=1e-9)  # fmt: skip


@pytest.mark.parametrize("copula", ["dirichlet", "gaussian"])
@pytest.mark.parametrize("n", [2, 4])
def test_copula_uniforms_are_uniform_and_their_diagonal_is_c(copula, n):
    """Each u_k is Uniform(0, 1) (KS at ALPHA / n each), and the fraction of pairs with u_1, u_2 < q matches
    C(q) (binomial test at ALPHA): false failure <= 2 ALPHA in total. n = 2 is antithetic: u_2 = 1 - u_1."""
    m = 40_000
    like = torch.zeros((), dtype=torch.float64)
    u = copula_uniforms(copula, n, torch.Size([m]), like, torch.Generator().manual_seed(11))
    for k in range(n):
        assert_ks(u[k], "uniform", alpha=ALPHA / n)
    q = 0.3
    both = int(((u[0] < q) & (u[1] < q)).sum())
    c = float(copula_diagonal(copula, n, torch.tensor(q, dtype=torch.float64)))
    if c == 0:
        assert both == 0
    else:
        assert scipy.stats.binomtest(both, m, c).pvalue > ALPHA
    if n == 2:
        torch.testing.assert_close(u[0] + u[1], torch.ones(m, dtype=torch.float64))
    assert float(torch.corrcoef(u[:2])[0, 1]) < 0


def test_the_samples_of_each_variable_are_bernoulli_and_f_is_called_n_times(generator):
    alpha = torch.tensor([-1.2, 0.0, 0.4, 2.0], dtype=torch.float64)
    n, calls = 20_000, []

    def recording(b):
        calls.append(b.detach().clone())
        return b.sum(-1)

    get("arms", samples=3)(alpha.expand(n, 4).clone().requires_grad_(), recording, bernoulli=True,
                           generator=generator)  # fmt: skip
    assert len(calls) == 3
    for b in calls:  # two-sided binomial test per coordinate and sample at ALPHA / 12 each
        for k, p in zip(b.sum(0).tolist(), torch.sigmoid(alpha).tolist()):
            assert scipy.stats.binomtest(int(k), n, p).pvalue > ALPHA / 12


def test_categorical_calls_are_refused():
    with pytest.raises(ValueError, match=r"binary variables only.*bernoulli=True"):
        get("arms")(torch.zeros(2, 3, requires_grad=True), lambda z: z.sum(-1))


@pytest.mark.parametrize("copula", ["dirichlet", "gaussian"])
def test_extreme_logits_give_a_finite_gradient(copula, generator):
    """p within rounding of 0 or 1 (q - C(q) tiny or 0 in float32): finite estimates, never NaN."""
    x = torch.tensor([[-40.0, -17.0, 0.0, 17.0, 40.0]]).expand(64, 5).clone().requires_grad_()
    out = get("arms", copula=copula)(x, lambda b: (b**2).sum(-1), bernoulli=True, generator=generator)
    out.surrogate.sum().backward()
    assert bool(torch.isfinite(x.grad).all())


@pytest.mark.parametrize("copula", ["dirichlet", "gaussian"])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_logits_work_and_keep_their_dtype(copula, dtype, generator):
    """The copula and its diagonal are computed in float32 (`ndtri` has no float16 kernel); the sample and the
    gradient come back in the logits' dtype, finite."""
    x = torch.randn(B, V, generator=generator).to(dtype).requires_grad_()
    out = get("arms", copula=copula)(x, lambda b: (b * b).sum(-1), bernoulli=True, generator=generator)
    out.surrogate.sum().backward()
    assert out.sample.dtype == out.surrogate.dtype == x.grad.dtype == dtype
    assert bool(torch.isfinite(x.grad).all())

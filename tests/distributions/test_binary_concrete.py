"""BinaryConcrete and LogitBinaryConcrete: the K = 2 Concrete, the logistic law, quadrature, gradients."""

from __future__ import annotations

import pytest
import scipy.integrate
import scipy.stats
import torch

from gumbel_softmax.distributions import BinaryConcrete, Concrete, LogitBinaryConcrete
from tests.stats import assert_ks, ks_pvalue

F64 = torch.float64


@pytest.mark.parametrize("tau", [0.05, 0.5, 2.0])
def test_binary_concrete_is_the_two_category_concrete(tau, generator):
    logits = torch.tensor([-2.0, 0.0, 1.3], dtype=F64)
    binary = BinaryConcrete(torch.tensor(tau, dtype=F64), logits=logits)
    pair = Concrete(torch.tensor(tau, dtype=F64), logits=torch.stack([logits, torch.zeros_like(logits)], -1))
    # Same generator state, same two Gumbels per element: the same samples.
    x = binary.sample((500,), generator=torch.Generator().manual_seed(9))
    y = pair.sample((500,), generator=torch.Generator().manual_seed(9))
    torch.testing.assert_close(x, y[..., 0], rtol=1e-12, atol=1e-300)
    # And the same density at the same points (away from the float64 floor).
    inside = (x > 1e-300) & (x < 1 - 1e-15)
    expected = pair.log_prob(torch.stack([x, 1 - x], -1))
    torch.testing.assert_close(binary.log_prob(x)[inside], expected[inside], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("tau, logit", [(0.1, 0.0), (0.5, 2.0), (2.0, -1.5)])
def test_densities_integrate_to_one(tau, logit):
    binary = BinaryConcrete(torch.tensor(tau, dtype=F64), logits=torch.tensor(logit, dtype=F64))
    logit_space = LogitBinaryConcrete(torch.tensor(tau, dtype=F64), logits=torch.tensor(logit, dtype=F64))
    # In z = logit(x): tau z - logit is standard logistic, |.| > 40 has mass ~1e-17.
    low, high = (logit - 40) / tau, (logit + 40) / tau

    def binary_integrand(z: float) -> float:
        x = torch.tensor(z, dtype=F64).sigmoid()
        return float(binary.log_prob(x).exp() * x * (1 - x))

    def logit_integrand(z: float) -> float:
        return float(logit_space.log_prob(torch.tensor(z, dtype=F64)).exp())

    total, _ = scipy.integrate.quad(logit_integrand, low, high, limit=200)
    assert abs(total - 1) < 1e-3, total
    # x itself is only resolved for |z| < 36 (float64 rounds sigmoid(36.8) to 1): at tau = 0.1 that
    # leaves 2% of the mass out of reach, so the x-space check runs where it holds all but ~1e-7.
    if tau >= 0.5:
        total, _ = scipy.integrate.quad(binary_integrand, max(low, -36), min(high, 36), limit=200)
        assert abs(total - 1) < 1e-3, total


@pytest.mark.parametrize("tau, logit", [(0.3, 0.7), (1.5, -2.0)])
def test_logit_samples_follow_the_scaled_logistic_law(tau, logit, generator):
    d = LogitBinaryConcrete(tau, logits=torch.tensor(logit))
    z = d.sample((100_000,), generator=generator)
    assert_ks(tau * z.double() - logit, scipy.stats.logistic.cdf)
    assert ks_pvalue(1.05 * tau * z.double() - logit, scipy.stats.logistic.cdf) < 1e-7  # the test can fail
    # One draw of a batch of equal distributions: each batch element needs its own noise.
    batch = LogitBinaryConcrete(tau, logits=torch.full((100_000,), logit)).sample(generator=generator)
    assert_ks(tau * batch.double() - logit, scipy.stats.logistic.cdf)
    torch.testing.assert_close(d.mean, torch.tensor(logit / tau))
    # In float64: float32 cannot hold x above 1 - 6e-8, where 1.3% of the mass lies at tau = 0.3.
    x = BinaryConcrete(tau, logits=torch.tensor(logit, dtype=F64)).sample((100_000,), generator=generator)
    assert_ks(tau * torch.logit(x) - logit, scipy.stats.logistic.cdf)


def test_log_prob_matches_maddisons_closed_form():
    tau, logit = 0.7, 0.4
    x = torch.linspace(0.01, 0.99, 99, dtype=F64)
    alpha = torch.tensor(logit, dtype=F64).exp()
    closed = (tau * alpha * x ** (-tau - 1) * (1 - x) ** (-tau - 1) / (alpha * x**-tau + (1 - x) ** -tau) ** 2).log()
    ours = BinaryConcrete(torch.tensor(tau, dtype=F64), logits=torch.tensor(logit, dtype=F64)).log_prob(x)
    torch.testing.assert_close(ours, closed)


@pytest.mark.parametrize("tau", [0.5, 0.1, 0.01])
def test_finite_on_own_float32_samples(tau, generator):
    d = BinaryConcrete(tau, logits=torch.randn(50, generator=generator) * 3)
    x = d.sample((1000,), generator=generator)
    assert bool(((x > 0) & (x < 1)).all())
    assert bool(d.log_prob(x).isfinite().all())
    assert bool(d.log_prob(torch.tensor([0.0, 1.0]).unsqueeze(-1).expand(2, 50)).isfinite().all())


@pytest.mark.parametrize("cls", [BinaryConcrete, LogitBinaryConcrete])
def test_gradcheck_rsample_and_log_prob(cls):
    logits = torch.tensor([0.3, -1.2, 2.0], dtype=F64, requires_grad=True)
    tau = torch.tensor([0.6, 1.0, 2.5], dtype=F64, requires_grad=True)

    def sample(logits, tau):
        return cls(tau, logits=logits).rsample((4,), generator=torch.Generator().manual_seed(2))

    assert torch.autograd.gradcheck(sample, (logits, tau))
    value = cls(1.0, logits=logits.detach()).sample((4,), generator=torch.Generator().manual_seed(3))
    value.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda lg, t, v: cls(t, logits=lg).log_prob(v), (logits, tau, value))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision(dtype, generator):
    d = BinaryConcrete(0.5, probs=torch.tensor([0.1, 0.5, 0.9]).to(dtype))
    x = d.rsample((100,), generator=generator)
    assert x.dtype == dtype and d.log_prob(x).dtype == dtype and bool(d.log_prob(x).isfinite().all())


def test_shapes_expand_and_probs(generator):
    d = BinaryConcrete(torch.tensor([[0.5], [1.0]]), probs=torch.tensor([0.2, 0.7, 0.9]))
    assert d.batch_shape == (2, 3) and d.event_shape == ()
    assert d.sample((4,), generator=generator).shape == (4, 2, 3)
    assert d.expand((5, 2, 3)).sample().shape == (5, 2, 3)
    torch.testing.assert_close(d.probs, torch.tensor([0.2, 0.7, 0.9]).expand(2, 3))


@pytest.mark.parametrize(
    "make, error",
    [
        (lambda: BinaryConcrete(0.5, probs=torch.tensor([0.0, 0.5])), ValueError),
        (lambda: BinaryConcrete(0.5, logits=torch.tensor([float("inf")])), ValueError),
        (lambda: BinaryConcrete(-0.5, logits=torch.zeros(2)), ValueError),
        (lambda: BinaryConcrete(0.5), ValueError),
        (lambda: BinaryConcrete(0.5, logits=torch.zeros(2)).log_prob(torch.tensor([0.5, 1.5])), ValueError),
    ],
)
def test_bad_input_raises(make, error):
    with pytest.raises(error):
        make()

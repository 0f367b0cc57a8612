"""Concrete and ExpConcrete: finite densities on their own samples, torch agreement, quadrature, KS, limits, shapes."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.integrate
import torch
from torch.distributions import RelaxedOneHotCategorical
from torch.distributions.relaxed_categorical import ExpRelaxedCategorical

from gumbel_softmax.distributions import Concrete, ExpConcrete
from tests.stats import assert_categorical, assert_ks, ks_pvalue

F64 = torch.float64
TAUS = [0.5, 0.1, 0.05, 0.01]


def _relative_error(ours: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    return (ours.double() - reference).abs() / reference.abs().clamp_min(1.0)


@pytest.mark.parametrize("K, n", [(10, 2000), (1000, 100)])
@pytest.mark.parametrize("tau", TAUS)
def test_log_prob_is_finite_on_own_float32_samples_and_agrees_with_torch(K, n, tau, generator):
    logits = torch.randn(K, generator=generator) * 2
    for ours_cls, torch_cls in [(Concrete, RelaxedOneHotCategorical), (ExpConcrete, ExpRelaxedCategorical)]:
        value = ours_cls(tau, logits=logits).sample((n,), generator=generator)
        assert value.dtype == torch.float32
        log_prob = ours_cls(tau, logits=logits).log_prob(value)
        assert bool(log_prob.isfinite().all()), f"{ours_cls.__name__} K={K} tau={tau}"
        # The same formula as torch in float64, wherever torch's value is finite.
        reference = torch_cls(torch.tensor(tau, dtype=F64), logits=logits.double(), validate_args=False)
        expected = reference.log_prob(value.double())
        finite = expected.isfinite()
        assert finite.sum() > 0
        ours64 = ours_cls(torch.tensor(tau, dtype=F64), logits=logits.double()).log_prob(value.double())
        assert _relative_error(ours64, expected)[finite].max() < 1e-6
        # float32 arithmetic: ~10 roundings of 6e-8 each on terms no larger than the result times K.
        assert _relative_error(log_prob, expected)[finite].max() < 1e-5


@pytest.mark.parametrize("tau", [0.1, 0.05])
def test_torchs_own_samples_get_finite_densities_that_agree_where_torchs_do(tau):
    torch.manual_seed(0)
    logits = torch.linspace(-2, 2, 10)
    theirs = RelaxedOneHotCategorical(torch.tensor(tau), logits=logits, validate_args=False)
    value = theirs.sample((4000,))
    expected = RelaxedOneHotCategorical(torch.tensor(tau, dtype=F64), logits=logits.double(), validate_args=False)
    expected = expected.log_prob(value.double())
    assert not bool(expected.isfinite().all())  # torch fails on some of its own samples
    ours = Concrete(tau, logits=logits, validate_args=False).log_prob(value)
    assert bool(ours.isfinite().all())
    finite = expected.isfinite()
    assert _relative_error(ours, expected)[finite].max() < 1e-5


# ---- the density integrates to 1 --------------------------------------------------------------

CASES_2 = [(tau, logits) for tau in (0.1, 0.4, 1.0, 3.0) for logits in ((0.0, 0.0), (2.0, -1.0), (-3.0, 0.5))]


@pytest.mark.parametrize("tau, logits", CASES_2)
def test_concrete_and_exp_concrete_integrate_to_one_for_two_categories(tau, logits):
    # In the log-ratio z = log(x1 / x2): x = (sigmoid z, sigmoid -z), dx1/dz = x1 x2, and the
    # ExpConcrete density is the density of z itself (module docstring of concrete.py).
    concrete = Concrete(torch.tensor(tau, dtype=F64), logits=torch.tensor(logits, dtype=F64))
    exp_concrete = ExpConcrete(torch.tensor(tau, dtype=F64), logits=torch.tensor(logits, dtype=F64))

    def point(z: float) -> torch.Tensor:
        z = torch.tensor([z, -z], dtype=F64)
        return z.sigmoid()

    def concrete_integrand(z: float) -> float:
        x = point(z)
        return float(concrete.log_prob(x).exp() * x[0] * x[1])

    def exp_integrand(z: float) -> float:
        return float(exp_concrete.log_prob(point(z).log()).exp())

    # tau * z - (l1 - l2) is a difference of two Gumbels (logistic): |.| > 40 holds mass ~1e-17.
    low, high = (logits[0] - logits[1] - 40) / tau, (logits[0] - logits[1] + 40) / tau
    for integrand in (concrete_integrand, exp_integrand):
        total, error = scipy.integrate.quad(integrand, low, high, limit=200)
        assert abs(total - 1) < 1e-3, (total, error)


@pytest.mark.parametrize("tau", [0.15, 0.6, 2.5])
@pytest.mark.parametrize("logits", [(0.0, 0.0, 0.0), (1.5, -1.0, 0.2)])
def test_concrete_and_exp_concrete_integrate_to_one_on_the_2_simplex(tau, logits):
    # Additive log-ratios z_k = log(x_k / x_3), k = 1, 2: dx1 dx2 = x1 x2 x3 dz1 dz2. In w = tau z the
    # integrand is analytic with unit-scale features and tails like exp(-|w|); the trapezoid rule on
    # a grid of step 0.1 over |w - shift| <= 36 (tail mass ~1e-15) is accurate far beyond 1e-3.
    logits_t = torch.tensor(logits, dtype=F64)
    shift = logits_t[:2] - logits_t[2]
    h, half_width = 0.1, 36.0
    axis = torch.arange(-half_width, half_width + h / 2, h, dtype=F64)
    w1, w2 = torch.meshgrid(axis + shift[0], axis + shift[1], indexing="ij")
    z = torch.stack([w1, w2, torch.zeros_like(w1)], -1) / tau
    x, y = z.softmax(-1), z.log_softmax(-1)
    temperature = torch.tensor(tau, dtype=F64)
    concrete = Concrete(temperature, logits=logits_t).log_prob(x).exp() * x.prod(-1)
    exp_concrete = ExpConcrete(temperature, logits=logits_t).log_prob(y).exp()
    for density in (concrete, exp_concrete):
        total = float(torch.trapezoid(torch.trapezoid(density, dx=h, dim=-1), dx=h)) / tau**2
        assert abs(total - 1) < 1e-3, total


# ---- samples follow the density -------------------------------------------------------------------


def _cdf_from_log_prob(distribution: Concrete, tau: float, logit: float):
    """CDF of z = log(x1 / x2) from Concrete.log_prob by cumulative trapezoid quadrature (error ~1e-9)."""
    w = torch.linspace(-45.0, 45.0, 180_001, dtype=F64) + logit
    z = w / tau
    x = torch.stack([z, -z], -1).sigmoid()
    density = distribution.log_prob(x).exp() * x[:, 0] * x[:, 1]
    cdf = scipy.integrate.cumulative_trapezoid(density.numpy(), z.numpy(), initial=0.0)
    return lambda t: np.interp(t, z.numpy(), cdf)


@pytest.mark.parametrize("tau, logit", [(0.2, 1.0), (1.0, -0.5), (3.0, 2.0)])
def test_two_category_samples_follow_the_cdf_implied_by_log_prob(tau, logit, generator):
    logits = torch.tensor([logit, 0.0], dtype=F64)
    d = Concrete(torch.tensor(tau, dtype=F64), logits=logits)
    x = d.sample((20_000,), generator=generator)
    z = (x[:, 0].log() - x[:, 1].log()).numpy()
    assert_ks(z, _cdf_from_log_prob(d, tau, logit))
    # The same test rejects the density of a 15% different temperature: it can fail.
    wrong = Concrete(torch.tensor(tau * 1.15, dtype=F64), logits=logits)
    assert ks_pvalue(z, _cdf_from_log_prob(wrong, tau * 1.15, logit)) < 1e-7


# ---- the Gumbel-max limit ------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [Concrete, ExpConcrete])
@pytest.mark.parametrize("tau", [0.1, 0.01])
def test_argmax_of_cold_samples_is_categorical(cls, tau, generator):
    probs = torch.tensor([0.05, 0.15, 0.3, 0.5])
    x = cls(tau, probs=probs).sample((100_000,), generator=generator)
    counts = torch.bincount(x.argmax(-1), minlength=4)
    assert_categorical(counts, probs)
    if cls is Concrete and tau == 0.01:  # and the samples are nearly one-hot
        assert float(x.max(-1).values.median()) > 1 - 1e-6


# ---- gradients -----------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [Concrete, ExpConcrete])
def test_gradcheck_rsample_and_log_prob(cls):
    logits = torch.tensor([[0.3, -1.2, 0.8], [1.0, 0.0, -0.5]], dtype=F64, requires_grad=True)
    tau = torch.tensor([[0.7], [1.9]], dtype=F64, requires_grad=True)

    def sample(logits, tau):
        return cls(tau, logits=logits).rsample((2,), generator=torch.Generator().manual_seed(5))

    assert torch.autograd.gradcheck(sample, (logits, tau))
    value = cls(0.7, logits=logits.detach()).sample((2,), generator=torch.Generator().manual_seed(6))
    value.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda lg, t, v: cls(t, logits=lg, validate_args=False).log_prob(v),
                                    (logits, tau, value))


# ---- masks, batched temperatures, dtypes, shapes ------------------------------------------------------


@pytest.mark.parametrize("cls", [Concrete, ExpConcrete])
def test_masked_categories_get_exact_zeros_and_the_density_of_the_rest(cls, generator):
    inf = float("-inf")
    logits = torch.tensor([[0.5, inf, -1.0, inf, 2.0], [inf, 0.0, 1.0, 3.0, inf]], requires_grad=True)
    tau = torch.tensor([[0.05], [0.5]], requires_grad=True)
    d = cls(tau, logits=logits)
    value = d.rsample((50,), generator=generator)
    masked = torch.isneginf(logits).expand_as(value)
    assert bool((value[masked] == (0.0 if cls is Concrete else inf)).all())
    log_prob = d.log_prob(value)
    assert log_prob.shape == (50, 2) and bool(log_prob.isfinite().all())
    for row in range(2):
        keep = ~torch.isneginf(logits[row])
        alone = cls(tau[row, 0], logits=logits[row, keep]).log_prob(value[:, row, keep])
        torch.testing.assert_close(log_prob[:, row], alone)
    (value.masked_fill(masked, 0.0).sum() + log_prob.sum()).backward()
    assert bool(logits.grad.isfinite().all()) and bool(tau.grad.isfinite().all())
    assert bool((logits.grad[torch.isneginf(logits)] == 0).all())


def test_batched_temperature_gives_one_log_prob_per_row(generator):
    logits = torch.randn(5, 3, generator=generator)
    tau = torch.tensor([[0.1], [0.3], [1.0], [2.0], [5.0]])
    for temperature in (tau, tau.squeeze(-1)):
        d = Concrete(temperature, logits=logits)
        assert d.batch_shape == (5,) and d.event_shape == (3,)
        x = d.rsample((7,), generator=generator)
        assert x.shape == (7, 5, 3) and d.log_prob(x).shape == (7, 5)
        rows = torch.stack([Concrete(float(tau[i]), logits=logits[i]).log_prob(x[:, i]) for i in range(5)], -1)
        torch.testing.assert_close(d.log_prob(x), rows)
        assert d.log_prob(x[0]).shape == (5,)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("cls", [Concrete, ExpConcrete])
def test_half_precision_computes_in_float32_and_returns_the_input_dtype(cls, dtype, generator):
    logits = torch.randn(4, 6, generator=generator).to(dtype)
    d = cls(0.5, logits=logits)
    value = d.rsample((100,), generator=generator)
    assert value.dtype == dtype
    log_prob = d.log_prob(value)
    assert log_prob.dtype == dtype and bool(log_prob.isfinite().all())
    wide = cls(0.5, logits=d.logits.float(), validate_args=False).log_prob(value.float())
    torch.testing.assert_close(log_prob.float(), wide.to(dtype).float())


def test_expand_probs_and_reproducibility(generator):
    logits = torch.randn(3, generator=generator)
    d = Concrete(0.4, logits=logits)
    e = d.expand((2, 4))
    assert e.batch_shape == (2, 4) and e.sample().shape == (2, 4, 3)
    x = d.sample((6,), generator=generator)
    torch.testing.assert_close(e.log_prob(x[:, None, None]), d.log_prob(x)[:, None, None].expand(6, 2, 4))
    torch.testing.assert_close(Concrete(0.4, probs=logits.softmax(-1)).log_prob(x), d.log_prob(x))
    torch.testing.assert_close(d.probs, logits.softmax(-1))
    one = d.sample((5,), generator=torch.Generator().manual_seed(1))
    assert torch.equal(one, d.sample((5,), generator=torch.Generator().manual_seed(1)))


def test_own_float32_samples_pass_the_support_check_at_k_1000(generator):
    d = Concrete(1.0, logits=torch.randn(1000, generator=generator), validate_args=True)
    x = d.sample((200,), generator=generator)
    assert bool(d.support.check(x).all())
    d.log_prob(x)  # validates without raising


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: Concrete(0.5), ValueError, "exactly one"),
        (lambda: Concrete(0.5, probs=torch.ones(3) / 3, logits=torch.zeros(3)), ValueError, "exactly one"),
        (lambda: Concrete(0.5, logits=torch.zeros(3, dtype=torch.int64)), TypeError, "floating"),
        (lambda: Concrete(0.0, logits=torch.zeros(3)), ValueError, "temperature"),
        (lambda: Concrete(torch.tensor([1.0, -1.0]), logits=torch.zeros(2, 3)), ValueError, "temperature"),
        (lambda: Concrete(torch.ones(4), logits=torch.zeros(2, 3)), ValueError, "broadcast"),
        (lambda: Concrete(1.0, logits=torch.full((2, 3), float("-inf"))), ValueError, "masked"),
        (lambda: ExpConcrete(1.0, logits=torch.tensor([0.0, float("nan")])), ValueError, "NaN"),
        (lambda: Concrete(1.0, logits=torch.zeros(3)).log_prob(torch.tensor([0.5, 0.6, 0.1])), ValueError, "support"),
    ],
)
def test_bad_input_raises_a_clear_error(make, error, match):
    with pytest.raises(error, match=match):
        make()

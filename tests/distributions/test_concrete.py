"""Concrete and ExpConcrete: finite densities on their own samples, torch agreement, quadrature, KS, limits, shapes."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.integrate
import scipy.stats
import torch
from torch.distributions import RelaxedOneHotCategorical, biject_to, transform_to
from torch.distributions.relaxed_categorical import ExpRelaxedCategorical
from torch.distributions.transforms import SoftmaxTransform, StickBreakingTransform

from gumbel_softmax import use_backend
from gumbel_softmax.distributions import (
    BinaryConcrete,
    BinaryConcreteStraightThrough,
    Concrete,
    ConcreteStraightThrough,
    ExpConcrete,
    LogitBinaryConcrete,
)
from gumbel_softmax.distributions._base import coordinate_floor, largest_below_one
from tests.stats import ALPHA, assert_categorical, assert_ks, ks_pvalue

F64 = torch.float64
TAUS = [0.5, 0.1, 0.05, 0.01]


def _relative_error(ours: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """``|ours - reference| / |reference|``, a true relative error (no floor on the denominator).

    The log-densities compared here are sums of terms of size ``|logits - tau y|``: at these
    temperatures and K every reference value is far from 0 (|log p| >= 10 on every sample of these
    tests), so the quotient is well defined; a reference of exactly 0 would give inf/nan and fail.
    """
    return (ours.double() - reference).abs() / reference.abs()


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
    logits = torch.linspace(-2, 2, 10)
    theirs = RelaxedOneHotCategorical(torch.tensor(tau), logits=logits, validate_args=False)
    with torch.random.fork_rng(devices=[]):  # torch's sampler only draws from the global RNG
        torch.manual_seed(0)
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
@pytest.mark.parametrize("batched", [False, True])
def test_argmax_of_cold_samples_is_categorical(cls, tau, batched, generator):
    """Also as one draw of a batch of 100,000 equal distributions: each batch element needs its own noise."""
    probs = torch.tensor([0.05, 0.15, 0.3, 0.5])
    if batched:
        x = cls(tau, probs=probs.expand(100_000, 4)).sample(generator=generator)
    else:
        x = cls(tau, probs=probs).sample((100_000,), generator=generator)
    counts = torch.bincount(x.argmax(-1), minlength=4)
    assert_categorical(counts, probs)
    if cls is Concrete and tau == 0.01:  # and the samples are nearly one-hot
        assert _median_check_false_failure_bound(probs, tau, len(x)) < ALPHA
        assert float(x.max(-1).values.median()) > 1 - 1e-6


def _median_check_false_failure_bound(probs: torch.Tensor, tau: float, n: int) -> float:
    """Probability that the median of ``max_k x_k`` over ``n`` Concrete samples is at most ``1 - 1e-6``.

    With ``d`` the gap between the two largest perturbed logits, ``1 - max_k x_k <= (K - 1) exp(-d / tau)``,
    so ``1 - max_k x_k >= 0.9e-6`` (1e-6, less 1e-7 for float32 rounding of ``x``) needs
    ``d <= tau log((K - 1) / 0.9e-6)``. In the exponential-race form (``exp(-logit_k - G_k)`` is
    Exp(p_k)), ``P(d > delta) = sum_i p_i / (1 + (1 - p_i)(e^delta - 1))``. The median fails only if at
    least half of the ``n`` independent samples fall short: a binomial tail.
    """
    delta = tau * np.log((len(probs) - 1) / 0.9e-6)
    p = probs.double().numpy()
    short = 1.0 - float(np.sum(p / (1.0 + (1.0 - p) * np.expm1(delta))))
    return float(scipy.stats.binom.sf(n // 2 - 1, n, short))  # P(at least n / 2 of n fall short)


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


def test_concrete_path_gradient_is_the_exp_concrete_one_with_its_jacobian():
    # Same noise (same generator state): x = exp(y), and log p_X(x) = log p_Y(y) - sum_k y_k.
    logits = torch.tensor([0.2, -0.7, 1.1, 0.0], dtype=F64, requires_grad=True)
    tau = torch.tensor(0.7, dtype=F64, requires_grad=True)
    x = Concrete(tau, logits=logits).rsample((3,), generator=torch.Generator().manual_seed(11))
    y = ExpConcrete(tau, logits=logits).rsample((3,), generator=torch.Generator().manual_seed(11))
    torch.testing.assert_close(x.log(), y)
    simplex_path = Concrete(tau, logits=logits).log_prob(x).sum()
    log_path = (ExpConcrete(tau, logits=logits).log_prob(y) - y.sum(-1)).sum()
    torch.testing.assert_close(simplex_path, log_path)
    for a, b in zip(torch.autograd.grad(simplex_path, (logits, tau)), torch.autograd.grad(log_path, (logits, tau))):
        torch.testing.assert_close(a, b)


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


RELAXED = [Concrete, ExpConcrete, ConcreteStraightThrough, BinaryConcrete, LogitBinaryConcrete,
           BinaryConcreteStraightThrough]


def _rounded_like_rsample(cls: type, x: torch.Tensor) -> torch.Tensor:
    """A wider sample rounded to ``x.dtype`` and kept in the documented range of ``cls`` in that dtype."""
    if cls is Concrete:
        return x.clamp_min(coordinate_floor(x.dtype))
    if cls is BinaryConcrete:
        return x.clamp(coordinate_floor(x.dtype), largest_below_one(x.dtype))
    return x


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("cls", RELAXED)
def test_half_precision_keeps_the_parameters_in_float32(cls, dtype, generator):
    # bfloat16 would round tau = 0.3 to 0.30078: the parameters stay float32, only outputs are rounded.
    logits = (torch.randn(4, 6, generator=generator) * 2).to(dtype)
    d, wide = cls(0.3, logits=logits), cls(0.3, logits=logits.float())
    assert d.temperature.dtype == d.logits.dtype == torch.float32
    assert torch.equal(d.temperature, wide.temperature) and torch.equal(d.logits, wide.logits)
    value = d.rsample((50,), generator=torch.Generator().manual_seed(3))
    expected = wide.rsample((50,), generator=torch.Generator().manual_seed(3)).to(dtype)
    assert value.dtype == dtype and torch.equal(value, _rounded_like_rsample(cls, expected))
    assert torch.equal(d.log_prob(value), wide.log_prob(value).to(dtype))


@pytest.mark.parametrize("cls", [Concrete, ExpConcrete])
def test_a_float64_temperature_makes_the_compute_dtype_float64(cls):
    logits = torch.tensor([0.3, -1.2, 0.8, 2.0])
    tau = torch.tensor(0.37, dtype=F64)
    d, wide = cls(tau, logits=logits), cls(tau, logits=logits.double())
    assert d.temperature.dtype == d.logits.dtype == F64 and torch.equal(d.logits, wide.logits)
    value = d.sample((200,), generator=torch.Generator().manual_seed(4))
    assert value.dtype == torch.float32  # samples in the dtype of the logits
    expected = wide.sample((200,), generator=torch.Generator().manual_seed(4)).float()
    assert torch.equal(value, _rounded_like_rsample(cls, expected))
    assert torch.equal(d.log_prob(value), wide.log_prob(value.double()).float())


def test_a_temperature_ending_in_a_size_1_axis_broadcasts_with_the_category_axis_kept(generator):
    logits = torch.randn(4, 2, 3, generator=generator)
    per_row = torch.tensor([[0.2], [1.5]])  # [2, 1] against [4, 2, 3]: one temperature per middle index
    per_block = torch.tensor([0.1, 0.4, 0.9, 2.0]).reshape(4, 1, 1)
    for tau, batch_form in [(per_row, per_row.squeeze(-1).expand(4, 2)), (per_block, per_block[..., 0].expand(4, 2))]:
        d = Concrete(tau, logits=logits)
        assert d.batch_shape == (4, 2)
        assert torch.equal(d.temperature, batch_form)
        x = d.sample((3,), generator=generator)
        assert torch.equal(d.log_prob(x), Concrete(batch_form, logits=logits).log_prob(x))
    # The rule is the same with one batch dim ([2, 1] with [2, 3]) ...
    assert torch.equal(Concrete(per_row, logits=logits[0]).temperature, per_row.squeeze(-1))
    # ... and a tensor that does not end in a size-1 axis broadcasts against the batch shape.
    assert Concrete(torch.tensor([0.2, 1.5]), logits=logits).batch_shape == (4, 2)
    with pytest.raises(ValueError, match="category axis"):
        Concrete(torch.ones(3, 1), logits=logits)


def test_float16_exp_concrete_samples_are_finite_where_unmasked(generator):
    # y_1 is about -700 / 0.01 = -7e4, beyond float16's -65504: the sample is clamped there, not -inf.
    d = ExpConcrete(0.01, logits=torch.tensor([0.0, -700.0, float("-inf")], dtype=torch.float16))
    y = d.sample((100,), generator=generator)
    assert bool(y[:, :2].isfinite().all()) and bool(torch.isneginf(y[:, 2]).all())
    assert bool((y[:, 1] == torch.finfo(torch.float16).min).any())  # the clamp is reached
    assert bool(d.log_prob(y).isfinite().all())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_samples_pass_a_float32_concretes_support_check(dtype, generator):
    for K in (2, 3, 1000):
        d = Concrete(0.5, logits=torch.randn(K, generator=generator) * 3, validate_args=True)
        for x in (d.sample((500,), generator=generator).to(dtype),
                  Concrete(0.5, logits=d.logits.to(dtype)).sample((500,), generator=generator)):
            assert bool(d.support.check(x).all()), (K, dtype)
            assert bool(d.log_prob(x).isfinite().all())  # validates without raising


@pytest.mark.parametrize("registry, transform", [(biject_to, StickBreakingTransform), (transform_to, SoftmaxTransform)])
def test_the_support_has_transforms_for_hmc_and_autoguides(registry, transform, generator):
    # Pyro's autoguides and HMC ask these registries for a map from unconstrained space to the support.
    d = Concrete(0.5, logits=torch.randn(2, 4, generator=generator))
    t = registry(d.support)
    assert isinstance(t, transform)
    u = torch.randn(10, 2, 3 if transform is StickBreakingTransform else 4, generator=generator, dtype=F64)
    x = t(u).float()
    assert x.shape == (10, 2, 4) and bool(d.support.check(x).all())
    assert bool(d.log_prob(x).isfinite().all())


@pytest.mark.parametrize("cls", [Concrete, ConcreteStraightThrough])
def test_samples_come_from_the_reference_noise_whatever_the_backend(cls):
    # A fused kernel draws other noise from the same generator; Concrete = exp(ExpConcrete) and the
    # other same-noise relations need the reference. ("triton" without a kernel for CPU would raise.)
    logits = torch.tensor([[0.3, -1.2, 0.8], [1.0, 0.0, -0.5]])
    reference = cls(0.5, logits=logits).sample((4,), generator=torch.Generator().manual_seed(2))
    with use_backend("triton"):
        forced = cls(0.5, logits=logits).sample((4,), generator=torch.Generator().manual_seed(2))
    assert torch.equal(forced, reference)


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


@pytest.mark.slow
@pytest.mark.parametrize("tau", TAUS)
def test_finite_on_many_own_samples_at_k_1000(tau, generator):
    logits = torch.randn(1000, generator=generator) * 2
    for cls in (Concrete, ExpConcrete):
        d = cls(tau, logits=logits)
        for _ in range(10):
            assert bool(d.log_prob(d.sample((1000,), generator=generator)).isfinite().all())


@pytest.mark.slow
def test_two_category_samples_follow_log_prob_with_many_draws(generator):
    logits = torch.tensor([0.4, 0.0], dtype=F64)
    d = Concrete(torch.tensor(0.3, dtype=F64), logits=logits)
    x = d.sample((500_000,), generator=generator)
    assert_ks((x[:, 0].log() - x[:, 1].log()).numpy(), _cdf_from_log_prob(d, 0.3, 0.4))

"""gumbel_softmax, sample and sample_one_hot: exact frequencies, gradients, masks, and edge shapes."""

from __future__ import annotations

import itertools

import pytest
import torch

from gumbel_softmax import gumbel_like, gumbel_softmax, gumbel_softmax_from_noise, sample, sample_one_hot
from tests.stats import assert_categorical, mean_bound

INF = float("inf")


def _counts(draws: torch.Tensor, k: int) -> torch.Tensor:
    return torch.bincount(draws.flatten(), minlength=k)


# --- Gumbel-max is exact: chi-square against softmax(logits) -------------------------------------------

DISTRIBUTIONS = {
    "uniform K=2": torch.zeros(2),
    "uniform K=10": torch.zeros(10),
    "skewed with a 1e-3 category": torch.tensor([1e-3, 0.2, 0.3, 0.499]).log(),
    "K=1000 random": torch.randn(1000, generator=torch.Generator().manual_seed(7)) * 2,
    "masked categories": torch.tensor([0.3, -INF, 1.2, -INF, -0.4]),
}


@pytest.mark.parametrize("name", list(DISTRIBUTIONS))
def test_gumbel_max_frequencies_match_softmax(name, generator):
    logits = DISTRIBUTIONS[name]
    k = logits.numel()
    n = 100_000 if k > 10 else 200_000
    draws = sample(logits.expand(n, k), generator=generator)
    assert_categorical(_counts(draws, k), logits.softmax(-1))


def test_gumbel_max_along_a_leading_dim_of_a_transposed_tensor(generator):
    logits = torch.tensor([0.1, 1.0, -1.0, 2.0])
    draws = sample(logits.expand(50_000, 4).t(), dim=0, generator=generator)
    assert draws.shape == (50_000,)
    assert_categorical(_counts(draws, 4), logits.softmax(-1))


def test_hard_samples_have_categorical_frequencies(generator):
    logits = torch.tensor([-1.0, 0.0, 0.5, -INF])
    y = gumbel_softmax(logits.expand(100_000, 4), tau=0.7, hard=True, generator=generator)
    assert_categorical(y.sum(0), logits.softmax(-1))


@pytest.mark.slow
def test_gumbel_max_with_many_draws(generator):
    logits = torch.tensor([1e-4, 1e-3, 0.1, 0.3, 0.5989]).log()
    draws = sample(logits.expand(5_000_000, 5), generator=generator)
    assert_categorical(_counts(draws, 5), logits.softmax(-1))


def test_sample_is_the_argmax_of_the_hard_relaxation_with_the_same_noise():
    logits = torch.randn(64, 9, generator=torch.Generator().manual_seed(1))
    index = sample(logits, generator=torch.Generator().manual_seed(2))
    y = gumbel_softmax(logits, tau=0.3, hard=True, generator=torch.Generator().manual_seed(2))
    assert torch.equal(y.argmax(-1), index)
    assert torch.equal(sample_one_hot(logits, generator=torch.Generator().manual_seed(2)), y)


def test_gumbel_softmax_is_softmax_of_perturbed_logits():
    logits = torch.randn(6, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    g = gumbel_like(logits, generator=torch.Generator().manual_seed(9))
    y = gumbel_softmax(logits, tau=0.4, generator=torch.Generator().manual_seed(9))
    torch.testing.assert_close(y, ((logits + g) / 0.4).softmax(-1), rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(gumbel_softmax_from_noise(logits, g, tau=0.4), y, rtol=1e-12, atol=1e-15)


# --- Temperature: the mean of soft samples moves from pi toward uniform ------------------------------------


def test_mean_of_soft_samples_goes_from_pi_to_uniform_as_tau_grows(generator):
    pi = torch.tensor([0.15, 0.4, 0.45], dtype=torch.float64)
    n = 200_000
    # Entries lie in [0, 1], so each coordinate's std is <= 1/2; mean_bound is a CLT interval with
    # false-failure 1e-7 per coordinate, so the few comparisons below stay well under 1e-6 together.
    bound = mean_bound(0.5, n)
    means = {}
    for tau in (1e-4, 0.5, 2.0, 10.0, 100.0):
        means[tau] = gumbel_softmax(pi.log().expand(n, 3), tau=tau, generator=generator).mean(0)
    assert (means[1e-4] - pi).abs().max() < bound  # cold: the one-hot mixture, whose mean is pi
    distance = {tau: (m - 1 / 3).abs().max().item() for tau, m in means.items()}
    taus = sorted(distance)
    for cold, hot in itertools.pairwise(taus):
        assert distance[hot] < distance[cold] - 2 * bound, distance
    assert distance[100.0] < 0.01


# --- Gradients -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tau", [0.1, 1.0, 3.0])
def test_gradcheck_of_the_soft_sample(tau):
    logits = torch.randn(3, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    logits[1, 2] = -INF
    logits.requires_grad_(True)

    def fn(x):
        return gumbel_softmax(x, tau=tau, generator=torch.Generator().manual_seed(4))

    assert torch.autograd.gradcheck(fn, (logits,))
    assert torch.autograd.gradgradcheck(fn, (logits,))


def test_gradcheck_through_a_per_row_temperature_tensor_with_masks():
    logits = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    logits[0, 1] = -INF
    tau = torch.tensor([[0.5], [1.0], [2.0], [0.25]], dtype=torch.float64, requires_grad=True)
    noise = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    assert torch.autograd.gradcheck(lambda t: gumbel_softmax_from_noise(logits, noise, tau=t), (tau,))


def test_straight_through_gradient_is_the_soft_gradient_with_the_same_noise():
    logits = torch.randn(8, 6, generator=torch.Generator().manual_seed(0), requires_grad=True)
    weights = torch.randn(8, 6, generator=torch.Generator().manual_seed(1))
    hard = gumbel_softmax(logits, tau=0.5, hard=True, generator=torch.Generator().manual_seed(3))
    (grad_hard,) = torch.autograd.grad((hard * weights).sum(), logits)
    soft = gumbel_softmax(logits, tau=0.5, generator=torch.Generator().manual_seed(3))
    (grad_soft,) = torch.autograd.grad((soft * weights).sum(), logits)
    assert torch.equal(grad_hard, grad_soft)
    assert torch.equal(hard.detach(), torch.nn.functional.one_hot(soft.argmax(-1), 6).float())


# --- Output values: one-hot, masks, ties, tiny temperatures ------------------------------------------------


@pytest.mark.parametrize("requires_grad", [False, True])
def test_hard_output_is_exactly_one_hot(requires_grad, generator):
    logits = torch.randn(500, 7, generator=generator).requires_grad_(requires_grad)
    y = gumbel_softmax(logits, tau=0.37, hard=True, generator=generator)
    assert set(y.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(y.sum(-1), torch.ones(500))


def test_ties_give_exactly_one_hot():
    logits = torch.zeros(4, 5, requires_grad=True)
    y = gumbel_softmax_from_noise(logits, torch.zeros(4, 5), tau=1.0, hard=True)
    assert torch.equal(y.detach(), torch.nn.functional.one_hot(torch.zeros(4, dtype=torch.long), 5).float())


@pytest.mark.parametrize("hard", [False, True])
def test_masked_categories_get_exact_zero_value_and_gradient(hard, generator):
    logits = torch.randn(200, 6, generator=generator)
    mask = torch.rand(200, 6, generator=generator) < 0.5
    mask[:, 0] = False
    logits = logits.masked_fill(mask, -INF).requires_grad_(True)
    y = gumbel_softmax(logits, tau=0.5, hard=hard, generator=generator)
    assert (y[mask] == 0).all()
    (y * torch.randn(200, 6, generator=generator)).sum().backward()
    assert (logits.grad[mask] == 0).all() and torch.isfinite(logits.grad).all()
    assert not mask.flatten()[sample(logits, generator=generator) + 6 * torch.arange(200)].any()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("tau", [1e-4, 1e-6])
@pytest.mark.parametrize("hard", [False, True])
def test_tiny_temperatures_stay_finite(dtype, tau, hard, generator):
    logits = (torch.randn(64, 10, generator=generator) * 5).to(dtype).requires_grad_(True)
    y = gumbel_softmax(logits, tau=tau, hard=hard, generator=generator)
    assert y.dtype == dtype and torch.isfinite(y).all()
    (y * torch.randn(64, 10, generator=generator).to(dtype)).sum().backward()
    assert torch.isfinite(logits.grad).all()


# --- Shapes, dims, layouts ------------------------------------------------------------------------------------


@pytest.mark.parametrize("hard", [False, True])
def test_empty_tensors(hard):
    for shape, dim in [((0, 5), -1), ((3, 0), -1), ((2, 0, 4), 0)]:
        y = gumbel_softmax(torch.empty(shape), hard=hard, dim=dim)
        assert y.shape == shape
    assert sample(torch.empty(0, 5)).shape == (0,)
    assert sample_one_hot(torch.empty(0, 5)).shape == (0, 5)
    with pytest.raises(ValueError, match="0 categories"):
        sample(torch.empty(3, 0))


@pytest.mark.parametrize("hard", [False, True])
def test_layout_does_not_change_the_sample(hard):
    base = torch.randn(7, 4, 5, generator=torch.Generator().manual_seed(0))
    for view, dim in [(base.transpose(0, 2), 0), (base.transpose(0, 2), -2), (base[:, ::2, :], 1), (base, 0)]:
        assert not view.is_contiguous() or dim == 0
        a = gumbel_softmax(view, 0.5, hard, dim=dim, generator=torch.Generator().manual_seed(1))
        b = gumbel_softmax(view.contiguous(), 0.5, hard, dim=dim, generator=torch.Generator().manual_seed(1))
        assert torch.equal(a, b)
        torch.testing.assert_close(a.sum(dim), torch.ones_like(a.sum(dim)))


def test_per_row_temperatures_equal_row_by_row_calls():
    logits = torch.randn(3, 4, generator=torch.Generator().manual_seed(0))
    noise = torch.randn(3, 4, generator=torch.Generator().manual_seed(1))
    taus = torch.tensor([[0.1], [1.0], [5.0]])
    batched = gumbel_softmax_from_noise(logits, noise, tau=taus)
    for row in range(3):
        single = gumbel_softmax_from_noise(logits[row], noise[row], tau=float(taus[row]))
        torch.testing.assert_close(batched[row], single)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_output_dtype_is_the_input_dtype(dtype):
    logits = torch.randn(5, 3).to(dtype)
    assert gumbel_softmax(logits).dtype == dtype
    assert gumbel_softmax(logits, hard=True).dtype == dtype
    assert sample_one_hot(logits).dtype == dtype
    assert sample(logits).dtype == torch.int64


def test_same_generator_state_same_sample_and_consecutive_calls_differ():
    logits = torch.randn(16, 8)
    g = torch.Generator().manual_seed(11)
    first, second = gumbel_softmax(logits, generator=g), gumbel_softmax(logits, generator=g)
    assert not torch.equal(first, second)
    assert torch.equal(first, gumbel_softmax(logits, generator=torch.Generator().manual_seed(11)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_generator_reproduces_on_cuda():
    logits = torch.randn(256, 33, device="cuda")
    a = gumbel_softmax(logits, hard=True, generator=torch.Generator("cuda").manual_seed(3))
    b = gumbel_softmax(logits, hard=True, generator=torch.Generator("cuda").manual_seed(3))
    assert torch.equal(a, b)

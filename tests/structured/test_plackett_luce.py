"""PlackettLuce and RelaxedPlackettLuce: log_prob against all n! orderings, samples by chi-square, the relaxation."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch.distributions import Distribution

from gumbel_softmax.structured import PlackettLuce, RelaxedPlackettLuce
from tests.stats import ALPHA, assert_categorical


def orderings(n: int) -> torch.Tensor:
    return torch.tensor(list(itertools.permutations(range(n))), dtype=torch.int64).reshape(-1, n)


def sequential_probability(probs: list[float], order: list[int]) -> float:
    """The defining product: draw order[0] from probs, then order[1] from what is left, and so on."""
    p, left = 1.0, 1.0
    for i in order:
        p *= probs[i] / left
        left -= probs[i]
    return p


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6])
def test_log_prob_sums_to_one_over_all_orderings(n, generator):
    logits = torch.randn(3, n, generator=generator, dtype=torch.float64) * 2
    sigma = orderings(n)  # [n!, n]
    log_p = PlackettLuce(logits).log_prob(sigma.unsqueeze(1))  # [n!, 3]
    torch.testing.assert_close(log_p.logsumexp(0), torch.zeros(3, dtype=torch.float64))


def test_log_prob_is_the_sequential_product(generator):
    logits = torch.randn(5, generator=generator, dtype=torch.float64)
    probs = torch.softmax(logits, -1).tolist()
    d = PlackettLuce(logits)
    for order in orderings(5)[::7]:
        assert math.isclose(float(d.log_prob(order).exp()), sequential_probability(probs, order.tolist()),
                            rel_tol=1e-12)


def test_samples_follow_exp_log_prob(generator):
    """Chi-square over all 120 orderings of 5 items, 400,000 draws; a correct sampler fails with
    probability <= ALPHA = 1e-7 (tests/stats.py)."""
    logits = torch.tensor([1.0, 0.2, -0.5, 0.0, -1.5])
    d = PlackettLuce(logits)
    draws = d.sample((400_000,), generator=generator)
    assert draws.shape == (400_000, 5) and draws.dtype == torch.int64
    sigma = orderings(5)
    codes = (draws * 5 ** torch.arange(4, -1, -1)).sum(-1)
    index = {int(c): i for i, c in enumerate((sigma * 5 ** torch.arange(4, -1, -1)).sum(-1))}
    keys, tally = torch.unique(codes, return_counts=True)
    counts = [0.0] * len(sigma)
    for key, c in zip(keys.tolist(), tally.tolist()):
        counts[index[key]] += c
    probs = d.log_prob(sigma).double().exp()
    assert_categorical(counts, probs.tolist(), alpha=ALPHA)


def test_batch_shape_sample_shape_expand_and_generator(generator):
    d = PlackettLuce(torch.randn(2, 3, 4, generator=generator))
    assert d.batch_shape == (2, 3) and d.event_shape == (4,)
    s = d.sample((5,), generator=torch.Generator().manual_seed(1))
    assert s.shape == (5, 2, 3, 4)
    assert torch.equal(s, d.sample((5,), generator=torch.Generator().manual_seed(1)))
    assert d.log_prob(s).shape == (5, 2, 3)
    e = PlackettLuce(torch.randn(4, generator=generator)).expand((7, 2))
    assert e.batch_shape == (7, 2) and e.sample(generator=generator).shape == (7, 2, 4)
    assert e.log_prob(torch.arange(4)).shape == (7, 2)
    assert torch.equal(PlackettLuce(torch.tensor([0.0, 3.0, 1.0])).mode, torch.tensor([1, 2, 0]))
    assert isinstance(d, Distribution) and not d.has_rsample


def test_validate_args_refuses_values_outside_the_support():
    d = PlackettLuce(torch.zeros(3), validate_args=True)
    with pytest.raises(ValueError):
        d.log_prob(torch.tensor([0, 0, 1]))
    with pytest.raises(ValueError, match="orderings of the 3 items"):
        d.log_prob(torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="must be finite"):
        PlackettLuce(torch.tensor([0.0, -math.inf]))
    PlackettLuce(torch.tensor([0.0, -math.inf]), validate_args=False)  # the check is skipped


def test_gradient_of_log_prob_is_exact(generator):
    """d log P(sigma) / d theta against the analytic form: e_{sigma_j} - softmax over the items left, summed."""
    logits = torch.randn(2, 4, generator=generator, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: PlackettLuce(x).log_prob(torch.tensor([2, 0, 3, 1])), (logits,))


def test_relaxed_sample_hardens_to_the_exact_sample_with_the_same_noise(generator):
    logits = torch.randn(3, 6, generator=generator)
    relaxed = RelaxedPlackettLuce(1e-3, logits).rsample((100,), generator=torch.Generator().manual_seed(2))
    exact = PlackettLuce(logits).sample((100,), generator=torch.Generator().manual_seed(2))
    assert relaxed.shape == (100, 3, 6, 6)
    # Rows are close to one-hot except where two perturbed scores fall within ~tau; count agreement.
    agree = (relaxed.argmax(-1) == exact).all(-1).float().mean()
    assert agree > 0.95
    hard = RelaxedPlackettLuce(0.5, logits).rsample((100,), generator=torch.Generator().manual_seed(2), hard=True)
    assert torch.equal(hard, torch.nn.functional.one_hot(exact, 6).float())


def test_relaxed_rsample_gradcheck_temperature_and_expand(generator):
    logits = torch.randn(2, 4, generator=generator, dtype=torch.float64, requires_grad=True)
    tau = torch.tensor([0.5, 2.0], dtype=torch.float64, requires_grad=True)

    def relaxed(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return RelaxedPlackettLuce(t, x).rsample((3,), generator=torch.Generator().manual_seed(0))

    assert torch.autograd.gradcheck(relaxed, (logits, tau))
    d = RelaxedPlackettLuce(tau, logits).expand((5, 2))
    assert d.batch_shape == (5, 2) and d.event_shape == (4, 4)
    assert d.sample(generator=generator).shape == (5, 2, 4, 4)
    with pytest.raises(NotImplementedError):
        d.log_prob(torch.zeros(5, 2, 4, 4))


def test_relaxed_no_nan_at_tau_001_in_float32(generator):
    logits = (torch.randn(8, 20, generator=generator) * 5).requires_grad_()
    y = RelaxedPlackettLuce(0.01, logits).rsample((4,), generator=generator)
    (y * torch.randn(20, 20, generator=generator)).sum().backward()
    assert torch.isfinite(y).all() and torch.isfinite(logits.grad).all()

"""Sampling without replacement (Gumbel-top-k): the Plackett-Luce law, distinct indices, masks, errors."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

import gumbel_softmax as gs
from tests.stats import assert_categorical

N = 200_000


def plackett_luce(probs: list[float], order: tuple[int, ...]) -> float:
    """P(first draw = order[0], second = order[1], ...) drawing without replacement in proportion to probs."""
    p, left = 1.0, 1.0
    for i in order:
        p *= probs[i] / left
        left -= probs[i]
    return p


def counts_of(rows: torch.Tensor, outcomes: list[tuple[int, ...]]) -> list[float]:
    index = {outcome: n for n, outcome in enumerate(outcomes)}
    counts = torch.zeros(len(outcomes))
    keys, tally = torch.unique(rows, dim=0, return_counts=True)
    for key, c in zip(keys.tolist(), tally.tolist()):
        counts[index[tuple(key)]] += c  # a KeyError here is an outcome that must not occur
    return counts.tolist()


def test_ordered_pairs_follow_the_plackett_luce_law(generator):
    """All 12 ordered pairs of K = 4 categories (one of them rare), chi-square against the exact law."""
    probs = [0.05, 0.15, 0.3, 0.5]
    logits = torch.tensor(probs).log().expand(N, 4)
    draws = gs.sample_without_replacement(logits, 2, generator=generator)
    outcomes = list(itertools.permutations(range(4), 2))
    assert_categorical(counts_of(draws, outcomes), [plackett_luce(probs, o) for o in outcomes])


def test_subsets_with_a_masked_category_follow_the_law_on_dim_0(generator):
    """Unordered 3-subsets of 5 categories, one masked, categories on dim 0: 4 possible subsets."""
    probs = [0.4, 0.0, 0.1, 0.2, 0.3]
    logits = torch.tensor([math.log(p) if p else -math.inf for p in probs]).unsqueeze(1).expand(5, N)
    draws = gs.sample_without_replacement(logits, 3, dim=0, generator=generator)
    assert draws.shape == (3, N)
    subsets = [s for s in itertools.combinations(range(5), 3) if 1 not in s]
    law = [sum(plackett_luce(probs, o) for o in itertools.permutations(s)) for s in subsets]
    assert math.isclose(sum(law), 1.0)
    assert_categorical(counts_of(draws.T.sort(dim=1).values, subsets), law)


def test_indices_are_distinct_and_k_equal_to_one_is_the_gumbel_max_sample():
    logits = torch.randn(6, 7, 5)
    for k in (1, 3, 7):
        index = gs.sample_without_replacement(logits, k, dim=1, generator=torch.Generator().manual_seed(3))
        assert index.shape == (6, k, 5) and index.dtype == torch.int64
        assert bool((index.sort(dim=1).values.diff(dim=1) > 0).all())
    first = gs.sample_without_replacement(logits, 1, dim=1, generator=torch.Generator().manual_seed(3))
    assert torch.equal(first.squeeze(1), gs.sample(logits, dim=1, generator=torch.Generator().manual_seed(3)))
    full = gs.sample_without_replacement(logits, 7, dim=1, generator=torch.Generator().manual_seed(3))
    assert torch.equal(full.sort(dim=1).values, torch.arange(7).view(1, 7, 1).expand(6, 7, 5))


def test_same_generator_state_same_draw_and_empty_batches():
    logits = torch.randn(4, 9)
    a = gs.sample_without_replacement(logits, 4, generator=torch.Generator().manual_seed(5))
    b = gs.sample_without_replacement(logits, 4, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    assert gs.sample_without_replacement(torch.empty(0, 9), 4).shape == (0, 4)


def test_bad_k_and_too_few_unmasked_categories_are_refused():
    logits = torch.zeros(3, 4)
    for k in (0, 5, -1):
        with pytest.raises(ValueError, match=r"use 1 <= k <= 4"):
            gs.sample_without_replacement(logits, k)
    for k in (True, 2.0):
        with pytest.raises(TypeError, match="k must be an int"):
            gs.sample_without_replacement(logits, k)
    for k in (np.int64(2), torch.tensor(2)):  # integers by operator.index, as torch.topk takes them
        assert gs.sample_without_replacement(logits, k).shape == (3, 2)
    logits[1, 1:] = -math.inf
    logits[2, 2:] = -math.inf
    with pytest.raises(ValueError, match=r"2 of 3 row\(s\) .* fewer than k=3 unmasked categories \(the fewest: 1\)"):
        gs.sample_without_replacement(logits, 3)
    assert bool((gs.sample_without_replacement(logits, 1) == 0)[1])


# --- The relaxed subset: gumbel_softmax_top_k ---------------------------------------------------------------


def seeded(seed: int = 1) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("hard", [False, True])
def test_k_equal_to_one_is_the_gumbel_softmax_sample(hard):
    logits = torch.randn(8, 6, dtype=torch.float64)
    ours = gs.gumbel_softmax_top_k(logits, 1, tau=0.7, hard=hard, generator=seeded())
    torch.testing.assert_close(ours, gs.gumbel_softmax(logits, 0.7, hard, generator=seeded()))


def test_two_of_two_categories_at_unit_temperature_is_the_first_draw_plus_one_half():
    """With K = 2, k = 2, tau = 1 the second softmax is (1/2, 1/2) whatever the logits (module docstring)."""
    logits = torch.randn(50, 2, dtype=torch.float64) * 3
    ours = gs.gumbel_softmax_top_k(logits, 2, tau=1.0, generator=seeded())
    torch.testing.assert_close(ours, gs.gumbel_softmax(logits, 1.0, generator=seeded()) + 0.5)


@pytest.mark.parametrize("tau", [0.1, 1.0, 10.0])
def test_entries_are_non_negative_sum_to_k_and_masked_categories_are_exactly_zero(tau):
    logits = torch.randn(16, 7, dtype=torch.float64)
    logits[:, 3] = -math.inf
    leaf = logits.clone().requires_grad_()
    y = gs.gumbel_softmax_top_k(leaf, 4, tau=tau, generator=seeded())
    assert bool((y >= 0).all()) and bool((y[:, 3] == 0).all())
    torch.testing.assert_close(y.sum(-1), torch.full((16,), 4.0, dtype=torch.float64))
    (y * torch.randn(16, 7, dtype=torch.float64)).sum().backward()
    assert bool(torch.isfinite(leaf.grad).all()) and bool((leaf.grad[:, 3] == 0).all())


def test_hard_is_the_exact_subset_forward_and_the_soft_gradient_backward():
    logits = torch.randn(32, 9, dtype=torch.float64)
    index = gs.sample_without_replacement(logits, 3, generator=seeded())
    w = torch.randn(32, 9, dtype=torch.float64)
    grads = []
    for hard in (True, False):
        leaf = logits.clone().requires_grad_()
        y = gs.gumbel_softmax_top_k(leaf, 3, tau=0.5, hard=hard, generator=seeded())
        if hard:
            assert torch.equal(y, torch.zeros_like(logits).scatter_(-1, index, 1.0))
        (y * w).sum().backward()
        grads.append(leaf.grad)
    torch.testing.assert_close(grads[0], grads[1])


def test_cold_relaxation_tends_to_the_exact_subset():
    logits = torch.randn(4, 6, dtype=torch.float64)
    exact = gs.gumbel_softmax_top_k(logits, 3, hard=True, generator=seeded())
    cold = gs.gumbel_softmax_top_k(logits, 3, tau=1e-6, generator=seeded())
    torch.testing.assert_close(cold, exact, atol=1e-6, rtol=0)


def test_gradcheck_in_logits_and_a_per_row_temperature():
    logits = torch.randn(3, 5, dtype=torch.float64)
    logits[1, 0] = -math.inf
    tau = torch.tensor([[0.3], [1.0], [2.5]], dtype=torch.float64, requires_grad=True)

    def relaxed(lg, t):
        return gs.gumbel_softmax_top_k(lg, 3, tau=t, generator=seeded())

    leaf = logits.clone().requires_grad_()
    assert torch.autograd.gradcheck(relaxed, (leaf, tau), masked=False)


def test_the_relaxed_subset_refuses_what_the_exact_one_refuses():
    logits = torch.zeros(2, 4)
    logits[1, 1:] = -math.inf
    with pytest.raises(ValueError, match="fewer than k=2 unmasked categories"):
        gs.gumbel_softmax_top_k(logits, 2)
    with pytest.raises(ValueError, match="tau must be finite and > 0"):
        gs.gumbel_softmax_top_k(torch.zeros(2, 4), 2, tau=0.0)


@pytest.mark.parametrize("tau", [0.3, 2.0])
def test_the_recurrence_of_xie_and_ermon_written_out(tau):
    """The module docstring's recurrence, computed naively in float64 from the same noise."""
    logits = torch.randn(10, 6, dtype=torch.float64)
    alpha = logits + gs.gumbel_noise((10, 6), dtype=torch.float64, generator=seeded())
    expected = torch.zeros_like(logits)
    for _ in range(3):
        a = torch.softmax(alpha / tau, -1)
        expected += a
        alpha = alpha + torch.log(1 - a)
    torch.testing.assert_close(gs.gumbel_softmax_top_k(logits, 3, tau=tau, generator=seeded()), expected)


def test_dim_half_precision_and_a_per_row_temperature_with_hard():
    """Categories on dim 1 of a float16 [B, K, 2] tensor; hard=True with a tau tensor that needs a gradient."""
    logits = torch.randn(6, 5, 2).half().requires_grad_()
    tau = torch.full((6, 1, 2), 0.5, requires_grad=True)
    y = gs.gumbel_softmax_top_k(logits, 2, tau=tau, hard=True, dim=1, generator=seeded())
    assert y.dtype == torch.float16 and bool(((y == 0) | (y == 1)).all())
    assert bool((y.sum(1) == 2).all())
    (y.float() * torch.randn(6, 5, 2)).sum().backward()
    assert bool(torch.isfinite(logits.grad).all()) and bool(torch.isfinite(tau.grad).all())
    soft = gs.gumbel_softmax_top_k(logits.detach().double(), 2, tau=0.5, dim=1, generator=seeded())
    torch.testing.assert_close(soft.sum(1), torch.full((6, 2), 2.0, dtype=torch.float64))


def test_both_trace_with_fullgraph_compile():
    torch._dynamo.reset()
    logits = torch.randn(8, 6)
    subset = torch.compile(lambda x: gs.sample_without_replacement(x, 3), backend="eager", fullgraph=True)(logits)
    assert bool((subset.sort(-1).values.diff(dim=-1) > 0).all())
    relaxed = torch.compile(lambda x: gs.gumbel_softmax_top_k(x, 3, tau=0.5), backend="eager", fullgraph=True)
    torch.testing.assert_close(relaxed(logits).sum(-1), torch.full((8,), 3.0))

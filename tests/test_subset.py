"""Sampling without replacement (Gumbel-top-k): the Plackett-Luce law, distinct indices, masks, errors."""

from __future__ import annotations

import itertools
import math

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
    logits[1, 1:] = -math.inf
    logits[2, 2:] = -math.inf
    with pytest.raises(ValueError, match=r"2 of 3 row\(s\) .* fewer than k=3 unmasked categories \(the fewest: 1\)"):
        gs.sample_without_replacement(logits, 3)
    assert bool((gs.sample_without_replacement(logits, 1) == 0)[1])

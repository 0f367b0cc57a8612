"""MAP solvers against brute force."""

from __future__ import annotations

import itertools

import torch

from gumbel_softmax.structured import grid_path_argmax, matching_argmax, top_k_argmax


def test_top_k_is_the_best_k_subset(generator):
    scores = torch.randn(20, 6, generator=generator)
    y = top_k_argmax(scores, 3)
    best = torch.stack([max(scores[b, list(c)].sum() for c in itertools.combinations(range(6), 3)) for b in range(20)])
    torch.testing.assert_close((y * scores).sum(-1), best)


def test_matching_is_the_best_permutation_matrix(generator):
    scores = torch.randn(10, 4, 4, generator=generator)
    y = matching_argmax(scores)
    best = torch.stack([max(scores[b, range(4), list(p)].sum() for p in itertools.permutations(range(4)))
                        for b in range(10)])
    torch.testing.assert_close((y * scores).sum((-2, -1)), best)


def paths(height: int, width: int):
    for moves in set(itertools.permutations("D" * (height - 1) + "R" * (width - 1))):
        mask, i, j = torch.zeros(height, width), 0, 0
        mask[0, 0] = 1
        for move in moves:
            i, j = (i + 1, j) if move == "D" else (i, j + 1)
            mask[i, j] = 1
        yield mask


def test_grid_path_is_the_best_monotone_path(generator):
    for height, width in [(1, 1), (1, 4), (4, 1), (3, 4), (4, 4)]:
        scores = torch.randn(8, height, width, generator=generator)
        y = grid_path_argmax(scores)
        every = torch.stack(list(paths(height, width)))
        best = (every.unsqueeze(0) * scores.unsqueeze(1)).sum((-2, -1)).amax(1)
        assert bool((y.sum((-2, -1)) == height + width - 1).all())
        assert any(torch.equal(y[0], p) for p in every)
        torch.testing.assert_close((y * scores).sum((-2, -1)), best)

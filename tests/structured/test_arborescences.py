"""The arborescence stochastic softmax trick: marginals and Chu-Liu/Edmonds against enumeration."""

from __future__ import annotations

import itertools

import pytest
import torch

from gumbel_softmax.noise import gumbel_noise
from gumbel_softmax.structured import arborescence_marginals, max_arborescence, relaxed_arborescence


def rooted_arborescences(n: int, root: int) -> torch.Tensor:
    """Every arborescence on n nodes rooted at `root`, as 0/1 matrices `[T, n, n]` (`[i, j] = 1`: i -> j):
    every choice of a parent for each other node whose parent pointers all lead to the root."""
    others = [j for j in range(n) if j != root]
    found = []
    for parents in itertools.product(range(n), repeat=n - 1):
        parent = dict(zip(others, parents, strict=True))
        if any(parent[j] == j for j in others):
            continue
        reaches_root = True
        for j in others:
            seen, node = set(), j
            while node != root and node not in seen:
                seen.add(node)
                node = parent[node]
            reaches_root = reaches_root and node == root
        if reaches_root:
            tree = torch.zeros(n, n, dtype=torch.float64)
            for j in others:
                tree[parent[j], j] = 1.0
            found.append(tree)
    return torch.stack(found)


def all_arborescences(n: int, root: int | None) -> torch.Tensor:
    """Rooted at `root`, or with `root=None` those of every root with the root marked on the diagonal."""
    if root is not None:
        return rooted_arborescences(n, root)
    marked = []
    for r in range(n):
        trees = rooted_arborescences(n, r)
        trees[:, r, r] = 1.0
        marked.append(trees)
    return torch.cat(marked)


def enumerated_marginals(scores: torch.Tensor, tau: float, root: int | None) -> torch.Tensor:
    trees = all_arborescences(scores.shape[-1], root)
    total = torch.where(trees.bool(), scores.unsqueeze(-3), 0.0).sum((-2, -1))
    return torch.einsum("...t,tij->...ij", torch.softmax(total / tau, -1), trees)


def test_the_enumeration_finds_the_known_counts():
    """n^(n - 2) arborescences per root of the complete digraph (one per spanning tree), n^(n - 1) in all."""
    assert [len(all_arborescences(n, 0)) for n in range(2, 7)] == [1, 3, 16, 125, 1296]
    assert [len(all_arborescences(n, None)) for n in range(2, 6)] == [2, 9, 64, 625]


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6])
@pytest.mark.parametrize("root", [0, -1, None])
def test_marginals_match_enumeration_and_columns_sum_to_1(n, root, generator):
    scores = torch.randn(3, n, n, generator=generator, dtype=torch.float64) * 2
    for tau in (0.4, 1.0, 3.0):
        mu = arborescence_marginals(scores, tau, root)
        torch.testing.assert_close(mu, enumerated_marginals(scores, tau, None if root is None else root % n))
        sums = mu.sum(-2)
        if root is None:
            torch.testing.assert_close(sums, torch.ones(3, n, dtype=torch.float64))
        else:
            expected = torch.ones(3, n, dtype=torch.float64)
            expected[:, root] = 0.0
            torch.testing.assert_close(sums, expected)
            assert bool((mu.diagonal(dim1=-2, dim2=-1) == 0).all())


def test_absent_edges_get_zero_and_the_rest_match_enumeration(generator):
    scores = torch.randn(2, 5, 5, generator=generator, dtype=torch.float64)
    scores[:, 0, 3] = scores[:, 2, 1] = scores[:, 4, 4] = float("-inf")  # (4, 4): 4 cannot be the root
    for root in (0, None):
        mu = arborescence_marginals(scores, 0.8, root)
        assert bool((mu[:, 0, 3] == 0).all() and (mu[:, 2, 1] == 0).all() and (mu[:, 4, 4] == 0).all())
        torch.testing.assert_close(mu, enumerated_marginals(scores, 0.8, root))


def test_marginals_ignore_a_constant_added_to_every_score(generator):
    """Every arborescence has n - 1 edges (and one root score with root=None)."""
    scores = torch.randn(3, 5, 5, generator=generator, dtype=torch.float64)
    for root in (1, None):
        torch.testing.assert_close(
            arborescence_marginals(scores - 4.0, 0.5, root), arborescence_marginals(scores, 0.5, root)
        )


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6])
@pytest.mark.parametrize("root", [0, -1, None])
def test_chu_liu_edmonds_finds_the_brute_force_best(n, root, generator):
    scores = torch.randn(25, n, n, generator=generator, dtype=torch.float64)
    trees = all_arborescences(n, None if root is None else root % n)
    totals = torch.where(trees.bool(), scores.unsqueeze(-3), 0.0).sum((-2, -1))
    assert torch.equal(max_arborescence(scores, root), trees[totals.argmax(-1)])


def test_chu_liu_edmonds_with_absent_edges_and_nested_cycles(generator):
    """Scores that make the best in-edges form cycles inside cycles, and -inf edges, on 6 nodes."""
    trees = all_arborescences(6, 0)
    for _ in range(40):
        scores = torch.randn(6, 6, generator=generator, dtype=torch.float64)
        scores[1:, 1:] += 3.0  # the non-root nodes prefer each other: cycles
        absent = torch.rand(6, 6, generator=generator) < 0.25
        absent[0, 1:] = False  # the root still reaches every node
        scores = scores.masked_fill(absent, float("-inf"))
        totals = torch.where(trees.bool(), scores.unsqueeze(-3), 0.0).sum((-2, -1))
        assert torch.equal(max_arborescence(scores, 0), trees[totals.argmax()])


def test_relaxed_is_the_marginals_of_the_perturbed_scores_and_hard_is_their_best(generator):
    scores = torch.randn(6, 5, 5, generator=generator)
    for root in (0, None):
        state = generator.get_state()
        soft = relaxed_arborescence(scores, 0.5, root=root, generator=generator)
        generator.set_state(state)
        hard = relaxed_arborescence(scores, 0.5, hard=True, root=root, generator=generator)
        generator.set_state(state)
        perturbed = scores + gumbel_noise(scores.shape, generator=generator)
        torch.testing.assert_close(soft, arborescence_marginals(perturbed, 0.5, root))
        assert torch.equal(hard, max_arborescence(perturbed, root))


def test_straight_through_gradient_is_the_soft_gradient(generator):
    scores = torch.randn(3, 5, 5, generator=generator, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(3, 5, 5, generator=generator, dtype=torch.float64)
    grads = []
    for hard in (False, True):
        y = relaxed_arborescence(scores, 0.5, hard, root=None, generator=torch.Generator().manual_seed(0))
        (y * weights).sum().backward()
        grads.append(scores.grad.clone())
        scores.grad = None
    torch.testing.assert_close(grads[0], grads[1])
    assert bool(torch.isfinite(grads[0]).all()) and bool(grads[0].abs().sum() > 0)


@pytest.mark.parametrize("root", [0, None])
def test_gradcheck(root, generator):
    scores = torch.randn(2, 4, 4, generator=generator, dtype=torch.float64, requires_grad=True)
    tau = torch.tensor([0.7, 1.5], dtype=torch.float64).reshape(2, 1, 1).requires_grad_()
    assert torch.autograd.gradcheck(lambda x, t: arborescence_marginals(x, t, root), (scores, tau))
    assert torch.autograd.gradgradcheck(lambda x: arborescence_marginals(x, 0.8, root), (scores,))
    assert torch.autograd.gradcheck(
        lambda x, t: relaxed_arborescence(x, t, root=root, generator=torch.Generator().manual_seed(1)),
        (scores, tau),
    )


def test_no_nan_or_inf_at_tau_001_in_float32_with_large_scores(generator):
    scores = (torch.randn(16, 7, 7, generator=generator) * 100).requires_grad_()
    for root in (0, None):
        y = relaxed_arborescence(scores, 0.01, root=root, generator=generator)
        (y * torch.randn(16, 7, 7, generator=generator)).sum().backward()
        assert bool(torch.isfinite(y).all()) and bool(torch.isfinite(scores.grad).all())
        scores.grad = None
        columns = y.sum(-2)
        if root == 0:
            columns[:, 0] += 1.0
        torch.testing.assert_close(columns, torch.ones(16, 7), rtol=0, atol=1e-5)


@pytest.mark.parametrize("root", [0, None])
def test_small_tau_matches_enumeration_in_float32_and_tends_to_the_best(root, generator):
    scores = torch.randn(8, 5, 5, generator=generator)
    mu = arborescence_marginals(scores, 0.01, root)
    torch.testing.assert_close(mu.double(), enumerated_marginals(scores.double(), 0.01, root), atol=1e-4, rtol=0)
    torch.testing.assert_close(arborescence_marginals(scores, 1e-6, root), max_arborescence(scores, root))


def test_without_grad_and_in_inference_mode(generator):
    scores = torch.randn(2, 4, 4, generator=generator, dtype=torch.float64)
    expected = enumerated_marginals(scores, 1.0, 0)
    with torch.no_grad():
        torch.testing.assert_close(arborescence_marginals(scores), expected)
    with torch.inference_mode():
        torch.testing.assert_close(arborescence_marginals(scores), expected)

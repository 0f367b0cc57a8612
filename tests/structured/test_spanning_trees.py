"""The spanning-tree stochastic softmax trick: marginals and Kruskal's tree against enumeration of all trees."""

from __future__ import annotations

import itertools

import pytest
import torch

from gumbel_softmax.noise import gumbel_noise
from gumbel_softmax.structured import max_spanning_tree, relaxed_spanning_tree, spanning_tree_marginals


def all_spanning_trees(n: int, present: torch.Tensor | None = None) -> torch.Tensor:
    """Every spanning tree of the complete graph on n nodes (or of the edges `present`), as symmetric 0/1
    matrices `[T, n, n]`: every (n - 1)-subset of the edges that joins all nodes (union-find)."""
    edges = [(i, j) for i, j in itertools.combinations(range(n), 2) if present is None or bool(present[i, j])]
    trees = []
    for chosen in itertools.combinations(edges, n - 1):
        label = list(range(n))

        def find(a: int, label: list[int] = label) -> int:
            while label[a] != a:
                a = label[a]
            return a

        acyclic = True
        for i, j in chosen:
            a, b = find(i), find(j)
            if a == b:
                acyclic = False
                break
            label[a] = b
        if acyclic:
            tree = torch.zeros(n, n, dtype=torch.float64)
            for i, j in chosen:
                tree[i, j] = tree[j, i] = 1.0
            trees.append(tree)
    return torch.stack(trees)


def enumerated_marginals(scores: torch.Tensor, tau: float) -> torch.Tensor:
    """sum_T p(T) x(T) with p(T) ∝ exp(sum of the tree's scores / tau), over every spanning tree."""
    n = scores.shape[-1]
    trees = all_spanning_trees(n, torch.isfinite(scores).reshape(-1, n, n).any(0))
    # A tree with an absent edge of one graph of the batch gets total -inf there, so probability 0.
    total = torch.where(trees.bool(), scores.unsqueeze(-3), 0.0).sum((-2, -1)) / 2
    return torch.einsum("...t,tij->...ij", torch.softmax(total / tau, -1), trees)


def symmetric(shape, generator, scale=1.0, dtype=torch.float64):
    x = torch.randn(shape, generator=generator, dtype=dtype) * scale
    return (x + x.mT) / 2


def test_the_enumeration_finds_cayleys_count():
    """n^(n - 2) spanning trees of the complete graph (Cayley 1889): the brute force below is complete."""
    assert [len(all_spanning_trees(n)) for n in range(2, 7)] == [1, 3, 16, 125, 1296]


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6])
@pytest.mark.parametrize("tau", [0.3, 1.0, 4.0])
def test_marginals_match_enumeration_and_sum_to_n_minus_1(n, tau, generator):
    scores = symmetric((4, n, n), generator, scale=2.0)
    mu = spanning_tree_marginals(scores, tau)
    torch.testing.assert_close(mu, enumerated_marginals(scores, tau))
    torch.testing.assert_close(mu, mu.mT)
    assert bool((mu.diagonal(dim1=-2, dim2=-1) == 0).all())
    torch.testing.assert_close(mu.triu(1).sum((-2, -1)), torch.full((4,), n - 1.0, dtype=torch.float64))


def test_absent_edges_get_zero_and_the_rest_match_enumeration(generator):
    scores = symmetric((3, 5, 5), generator)
    scores[:, 0, 2] = scores[:, 2, 0] = float("-inf")
    scores[:, 1, 4] = scores[:, 4, 1] = float("-inf")
    mu = spanning_tree_marginals(scores, 0.7)
    assert bool((mu[:, 0, 2] == 0).all() and (mu[:, 1, 4] == 0).all())
    torch.testing.assert_close(mu, enumerated_marginals(scores, 0.7))


def test_a_graph_that_is_a_tree_has_marginals_one_on_its_edges():
    path = torch.full((4, 4), float("-inf"))
    for i in range(3):
        path[i, i + 1] = path[i + 1, i] = float(i)
    mu = spanning_tree_marginals(path, 0.1)
    torch.testing.assert_close(mu, torch.isfinite(path).float().fill_diagonal_(0.0))


def test_marginals_ignore_a_constant_added_to_every_score(generator):
    """Every tree has n - 1 edges, so a shift multiplies all tree weights alike."""
    scores = symmetric((3, 5, 5), generator)
    torch.testing.assert_close(spanning_tree_marginals(scores + 7.5, 0.5), spanning_tree_marginals(scores, 0.5))


def test_per_graph_tau(generator):
    scores = symmetric((3, 4, 4), generator)
    tau = torch.tensor([0.5, 1.0, 3.0], dtype=torch.float64).reshape(3, 1, 1)
    mu = spanning_tree_marginals(scores, tau)
    for b in range(3):
        torch.testing.assert_close(mu[b], enumerated_marginals(scores[b], float(tau[b])))


@pytest.mark.parametrize("n", [2, 3, 5, 6])
def test_kruskal_finds_the_brute_force_best_tree(n, generator):
    scores = symmetric((20, n, n), generator)
    trees = all_spanning_trees(n)
    totals = (trees * scores.unsqueeze(-3)).sum((-2, -1))
    assert torch.equal(max_spanning_tree(scores), trees[totals.argmax(-1)])


def test_kruskal_on_larger_graphs_matches_scipy(generator):
    csgraph = pytest.importorskip("scipy.sparse.csgraph")
    scores = symmetric((5, 30, 30), generator).abs() + 1.0  # scipy reads zeros as absent edges
    tree = max_spanning_tree(scores)
    assert bool((tree.triu(1).sum((-2, -1)) == 29).all())
    for b in range(5):
        best = -csgraph.minimum_spanning_tree((-scores[b]).triu(1).numpy()).toarray().sum()
        torch.testing.assert_close(float((tree[b] * scores[b]).triu(1).sum()), float(best))


def test_kruskal_avoids_absent_edges():
    scores = torch.tensor([[0.0, -float("inf"), 1.0], [-float("inf"), 0.0, -5.0], [1.0, -5.0, 0.0]])
    assert max_spanning_tree(scores).tolist() == [[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]]


def test_relaxed_is_the_marginals_of_the_perturbed_scores_and_hard_is_their_best_tree(generator):
    scores = symmetric((6, 5, 5), generator, dtype=torch.float32)
    state = generator.get_state()
    soft = relaxed_spanning_tree(scores, 0.5, generator=generator)
    generator.set_state(state)
    hard = relaxed_spanning_tree(scores, 0.5, hard=True, generator=generator)
    generator.set_state(state)
    noise = gumbel_noise(scores.shape, generator=generator).triu(1)
    perturbed = scores + noise + noise.mT  # one draw per edge
    torch.testing.assert_close(soft, spanning_tree_marginals(perturbed, 0.5))
    assert torch.equal(hard, max_spanning_tree(perturbed))


def test_straight_through_gradient_is_the_soft_gradient(generator):
    scores = symmetric((3, 5, 5), generator).requires_grad_()
    weights = torch.randn(3, 5, 5, generator=generator, dtype=torch.float64)
    grads = []
    for hard in (False, True):
        y = relaxed_spanning_tree(scores, 0.5, hard, generator=torch.Generator().manual_seed(0))
        (y * weights).sum().backward()
        grads.append(scores.grad.clone())
        scores.grad = None
    torch.testing.assert_close(grads[0], grads[1])
    assert bool(torch.isfinite(grads[0]).all()) and bool(grads[0].abs().sum() > 0)


def test_gradcheck(generator):
    """Any matrix u enters as the symmetric scores u + u^T; tau per graph gets its gradient too."""
    u = torch.randn(2, 4, 4, generator=generator, dtype=torch.float64, requires_grad=True)
    tau = torch.tensor([0.7, 1.5], dtype=torch.float64).reshape(2, 1, 1).requires_grad_()
    assert torch.autograd.gradcheck(lambda u, t: spanning_tree_marginals(u + u.mT, t), (u, tau))
    assert torch.autograd.gradgradcheck(lambda u: spanning_tree_marginals(u + u.mT, 0.8), (u,))
    assert torch.autograd.gradcheck(
        lambda u, t: relaxed_spanning_tree(u + u.mT, t, generator=torch.Generator().manual_seed(1)), (u, tau)
    )


def test_the_jacobian_is_the_covariance_of_the_tree(generator):
    """d mu / d theta_e = Cov(x_e, x) / tau, for an exponential family with natural parameter theta / tau."""
    n, tau = 4, 0.8
    scores = symmetric((n, n), generator)
    rows, cols = torch.triu_indices(n, n, 1)
    trees = all_spanning_trees(n)[:, rows, cols]  # [T, edges]

    def edge_marginals(theta):
        full = torch.zeros(n, n, dtype=torch.float64).index_put((rows, cols), theta)
        return spanning_tree_marginals(full + full.mT, tau)[rows, cols]

    jac = torch.autograd.functional.jacobian(edge_marginals, scores[rows, cols])
    p = torch.softmax(trees @ scores[rows, cols] / tau, 0)
    mean = p @ trees
    cov = (trees * p[:, None]).T @ trees - torch.outer(mean, mean)
    torch.testing.assert_close(jac, cov / tau)


def test_no_nan_or_inf_at_tau_001_in_float32_with_large_scores(generator):
    """exp(scores / tau) overflows float32 here (scores up to about 300, so scores / tau near 3e4)."""
    scores = symmetric((32, 8, 8), generator, scale=100.0, dtype=torch.float32).requires_grad_()
    y = relaxed_spanning_tree(scores, 0.01, generator=generator)
    (y * torch.randn(32, 8, 8, generator=generator)).sum().backward()
    assert bool(torch.isfinite(y).all()) and bool(torch.isfinite(scores.grad).all())
    torch.testing.assert_close(y.triu(1).sum((-2, -1)), torch.full((32,), 7.0), rtol=1e-5, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_small_tau_gives_the_best_tree_and_matches_enumeration_in_float32(dtype, generator):
    scores = symmetric((16, 6, 6), generator, dtype=dtype)
    for tau in (0.01, 1e-30):
        mu = spanning_tree_marginals(scores, tau)
        assert bool(torch.isfinite(mu).all())
        if tau == 0.01:  # a few float32 roundings of scores / tau near 300: about 1e-5 absolute
            torch.testing.assert_close(mu.double(), enumerated_marginals(scores.double(), tau), atol=1e-4, rtol=0)
        else:
            torch.testing.assert_close(mu, max_spanning_tree(scores), atol=1e-6, rtol=0)
    # scores / tau up to 2e36, within float32's range: the best tree exactly.
    huge = torch.tensor([[0.0, 1e30, -1e30], [1e30, 0.0, 0.0], [-1e30, 0.0, 0.0]], dtype=dtype)
    torch.testing.assert_close(spanning_tree_marginals(huge, 1e-6), max_spanning_tree(huge))
    # Beyond the range, scores / tau below the floor tie (here edges {1, 2} and {0, 2}), but stay finite.
    assert bool(torch.isfinite(spanning_tree_marginals(huge, 1e-30)).all())


def test_without_grad_and_in_inference_mode(generator):
    scores = symmetric((2, 4, 4), generator)
    expected = enumerated_marginals(scores, 1.0)
    with torch.no_grad():
        torch.testing.assert_close(spanning_tree_marginals(scores), expected)
    with torch.inference_mode():
        torch.testing.assert_close(spanning_tree_marginals(scores), expected)


def test_the_textbook_inverse_formula_fails_in_float64_where_ours_does_not(generator):
    """The docs' claim: `A_ij (L^-1_ii + L^-1_jj - 2 L^-1_ij)` from `torch.linalg.inv` of `exp(scores / tau)`
    cancels catastrophically in float64 at tau = 0.03 (marginals far outside [0, 1], or a Laplacian singular
    in floating point); ours matches enumeration."""
    scores = symmetric((50, 6, 6), generator)
    tau = 0.03
    a = torch.exp(scores / tau) * (1 - torch.eye(6, dtype=torch.float64))
    inv = torch.zeros_like(a)
    inv[:, 1:, 1:] = torch.linalg.inv_ex((torch.diag_embed(a.sum(-1)) - a)[:, 1:, 1:]).inverse  # no raise if singular
    diag = inv.diagonal(dim1=-2, dim2=-1)
    textbook = a * (diag.unsqueeze(-1) + diag.unsqueeze(-2) - 2 * inv)
    exact = enumerated_marginals(scores, tau)
    assert float((textbook - exact).abs().nan_to_num(nan=float("inf")).max()) > 1.0
    torch.testing.assert_close(spanning_tree_marginals(scores, tau), exact)

r"""The spanning-tree stochastic softmax trick: marginals by the matrix-tree theorem, the hard tree by Kruskal.

Paulus, Choi, Tarlow, Krause, Maddison, "Gradient Estimation with Stochastic Softmax Tricks",
NeurIPS 2020, Sec. 4 and App. B (spanning trees). A spanning tree `T` of an undirected graph on `n`
nodes is a set of `n - 1` edges that connects them; as a vector it is the symmetric 0/1 adjacency
matrix `x`. Perturb the edge scores with Gumbel noise, one draw per edge, `U = theta + G`; the hard tree
is the maximum spanning tree of `U` (Kruskal 1956), and its relaxation is the mean of the exponential
family with natural parameter `U / tau` over spanning trees,

```text
p_{U/\tau}(T) = \exp\Big(\sum_{\{i,j\} \in T} U_{ij} / \tau\Big) / Z, \qquad
Z = \det L_{(r)}, \qquad L = \operatorname{diag}(A \mathbf{1}) - A, \quad A_{ij} = e^{U_{ij}/\tau},
\qquad X_\tau = \mu(U/\tau) = \mathbb{E}[x] = \nabla_{U/\tau} \log Z ,
```

where `L_(r)` is the graph Laplacian with the row and column of any one node `r` removed (Kirchhoff's
matrix-tree theorem). The marginals `P({i, j} in T)` lie in `[0, 1]`, sum to `n - 1` over the edges
(`2 (n - 1)` over the symmetric matrix), and tend to the maximum spanning tree of `U` as `tau -> 0`.

**Numerics.** Every tree has `n - 1` edges, so adding a constant to all scores of a graph leaves `p`
unchanged: the scores are shifted so that the largest is 0 before dividing by `tau`. `log Z` is then
computed by Gaussian elimination of the Laplacian in log space, where every step adds positive terms
(see the private `_matrix_tree` module), and the marginals are its gradient. The textbook formula
`A_ij (L^-1_ii + L^-1_jj - 2 L^-1_ij)` with `torch.linalg.inv` of `exp(U / tau)` overflows at
`tau = 0.01` in float32 and cancels catastrophically in float64 (entries of `L^-1` near `exp(300)` whose
differences are near 1); the log-space elimination stays finite at any `tau` (scores `1e30` at
`tau = 1e-30`) with an absolute error of a few float32 roundings of `U / tau` (about `1e-5` at
`tau = 0.01` for unit scores, against enumeration). `O(n^3)` work per graph in `n - 1` steps, batched.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gumbel_softmax.checks import check_generator, values_checked
from gumbel_softmax.noise import compute_dtype, log_exponential
from gumbel_softmax.structured._matrix_tree import (
    check_graph,
    log_partition,
    marginals,
    reachable,
    straight_through,
    tempered,
)

__all__ = ["max_spanning_tree", "relaxed_spanning_tree", "spanning_tree_marginals"]


def _check_connected(scores: Tensor) -> None:
    if values_checked() and scores.numel() > 0 and scores.device.type != "meta":
        connected = reachable(scores.detach())[..., 0, :].all(-1)
        if not bool(connected.all()):
            raise ValueError(
                f"{int((~connected).sum())} of {connected.numel()} graph(s) are not connected by their finite "
                "scores: no spanning tree exists (-inf marks an absent edge)"
            )


def _marginals(x: Tensor, tau: float | Tensor) -> Tensor:
    """The edge marginals of symmetric scores `x` (compute dtype, checked), as a symmetric matrix."""
    n = x.shape[-1]
    absent = torch.isneginf(x) | torch.eye(n, dtype=torch.bool, device=x.device)
    w = tempered((x + x.mT) / 2, tau)
    grad = marginals(w, lambda w: log_partition(w, 0))
    # An edge {i, j} is the pair of weights w_ij and w_ji of the elimination.
    return (grad + grad.mT).masked_fill(absent, 0.0)


def spanning_tree_marginals(scores: Tensor, tau: float | Tensor = 1.0) -> Tensor:
    """`P({i, j} in T)` for spanning trees drawn with `p(T) ∝ exp(sum_{{i,j} in T} scores_ij / tau)`.

    Args:
        scores: a floating tensor `[..., n, n]` (n >= 2) of symmetric edge scores (log-weights);
            `-inf` marks an absent edge, and the finite edges must connect each graph. The diagonal
            is ignored (it must not hold NaN or `+inf`).
        tau: a positive temperature: a float, or one value per graph broadcasting as `[..., 1, 1]`.

    Returns:
        the shape and dtype of `scores` (computed in float32, or float64 for float64): a symmetric
        matrix of marginals in `[0, 1]`, 0 on the diagonal and at absent edges; each graph's upper
        triangle sums to `n - 1`. Differentiable (twice: `gradcheck` passes). No noise.

    Raises:
        ValueError: `scores` is not square, `n < 2`, it holds NaN or `+inf`, it is not symmetric,
            or a graph is not connected; `tau` is not positive.

    Examples:
        >>> mu = spanning_tree_marginals(torch.zeros(4, 4))  # the 16 trees of K4, uniformly
        >>> round(float(mu.triu(1).sum()), 5), round(float(mu[0, 1]), 5)
        (3.0, 0.5)
    """
    tau = check_graph(scores, tau, symmetric=True)
    _check_connected(scores)
    work = compute_dtype(scores.dtype)
    tau = tau.to(work) if isinstance(tau, Tensor) else tau
    return _marginals(scores.to(work), tau).to(scores.dtype)


def max_spanning_tree(scores: Tensor) -> Tensor:
    """The spanning tree with the largest total score, by Kruskal's algorithm, batched on the device.

    Args:
        scores: symmetric edge scores `[..., n, n]` as in `spanning_tree_marginals` (`-inf`: absent).

    Returns:
        the symmetric 0/1 adjacency matrix of the tree in the shape and dtype of `scores` (0 on the
        diagonal, `n - 1` edges). Not differentiable (use `relaxed_spanning_tree(hard=True)`). On ties
        the edge found first in row-major order of the upper triangle wins.

    Raises:
        ValueError: as `spanning_tree_marginals`.

    Examples:
        >>> s = torch.tensor([[0.0, 3.0, 1.0], [3.0, 0.0, 2.0], [1.0, 2.0, 0.0]])
        >>> max_spanning_tree(s).tolist()
        [[0.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    """
    check_graph(scores, 1.0, symmetric=True)
    _check_connected(scores)
    return _kruskal(scores.detach()).to(scores.dtype)


def _kruskal(scores: Tensor) -> Tensor:
    """Kruskal (1956): take edges from the best down, skipping any that closes a cycle; float 0/1 out.

    Every graph of the batch takes its `t`-th best edge at step `t`; the components are a label per node,
    merged by relabelling (`O(n)` per step, `n (n - 1) / 2` steps at most).
    """
    n = scores.shape[-1]
    batch_shape = scores.shape[:-2]
    x = scores.reshape(-1, n, n)
    size, device = x.shape[0], x.device
    rows, cols = torch.triu_indices(n, n, 1, device=device)
    weights = x[:, rows, cols]
    order = weights.argsort(dim=-1, descending=True, stable=True)
    label = torch.arange(n, device=device).expand(size, n).clone()
    tree = torch.zeros(size, n, n, dtype=torch.float32, device=device)
    graphs = torch.arange(size, device=device)
    for t in range(rows.numel()):
        edge = order[:, t]
        u, v = rows[edge], cols[edge]
        lu, lv = label[graphs, u], label[graphs, v]
        take = (lu != lv) & torch.isfinite(weights[graphs, edge])
        tree[graphs, u, v] = take.to(tree.dtype)
        tree[graphs, v, u] = take.to(tree.dtype)
        label = torch.where(take.unsqueeze(-1) & (label == lv.unsqueeze(-1)), lu.unsqueeze(-1), label)
        if t % n == n - 1 and not bool((label != label[:, :1]).any()):
            break  # every graph has one component: n - 1 edges each
    return tree.reshape(batch_shape + (n, n))


def relaxed_spanning_tree(
    scores: Tensor,
    tau: float | Tensor = 1.0,
    hard: bool = False,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """The spanning-tree stochastic softmax trick (Paulus et al. 2020): marginals of `scores + G`.

    One standard Gumbel draw per edge (the upper triangle, mirrored), `U = scores + G`; the result is
    `spanning_tree_marginals(U, tau)`.

    Args:
        scores: symmetric edge scores `[..., n, n]` as in `spanning_tree_marginals`.
        tau: the temperature, a float or one value per graph (`[..., 1, 1]`).
        hard: return the maximum spanning tree of `U` (the same noise; `max_spanning_tree`) in the
            forward pass with the relaxed matrix's gradient (straight-through).
        generator: the source of the Gumbel noise.

    Returns:
        the shape and dtype of `scores`: symmetric marginals whose upper triangle sums to `n - 1`, or with
        `hard=True` the 0/1 adjacency matrix of a spanning tree. Differentiable.

    Examples:
        >>> g = torch.Generator().manual_seed(0)
        >>> y = relaxed_spanning_tree(torch.zeros(2, 5, 5), tau=0.1, hard=True, generator=g)
        >>> y.sum((-2, -1)).tolist()  # 4 edges, each twice in the symmetric matrix
        [8.0, 8.0]
    """
    tau = check_graph(scores, tau, symmetric=True)
    _check_connected(scores)
    check_generator(generator, scores.device)
    work = compute_dtype(scores.dtype)
    minus_gumbel = log_exponential(scores.shape, work, scores.device, generator).triu(1)
    perturbed = scores.to(work) - (minus_gumbel + minus_gumbel.mT)
    tau = tau.to(work) if isinstance(tau, Tensor) else tau
    soft = _marginals(perturbed, tau).to(scores.dtype)
    if not hard:
        return soft
    return straight_through(soft, _kruskal(perturbed.detach()))

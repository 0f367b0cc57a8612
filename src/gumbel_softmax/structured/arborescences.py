r"""The arborescence stochastic softmax trick: marginals by the directed matrix-tree theorem, the hard one by
Chu-Liu/Edmonds.

Paulus, Choi, Tarlow, Krause, Maddison, "Gradient Estimation with Stochastic Softmax Tricks",
NeurIPS 2020, Sec. 4 and App. B (arborescences). An arborescence `T` rooted at `r` is a spanning tree of
a directed graph whose edges point away from `r`: every other node has exactly one parent. As a vector
it is the 0/1 matrix `x` with `x_ij = 1` for the edge `i -> j` (parent `i`, child `j`). Perturb the edge
scores with Gumbel noise, `U = theta + G`; the hard arborescence is the one of largest total `U`
(Chu and Liu 1965; Edmonds 1967), and its relaxation is the mean of the exponential family with natural
parameter `U / tau` over arborescences,

```text
p_{U/\tau}(T) = \exp\Big(\sum_{(i \to j) \in T} U_{ij} / \tau\Big) / Z_r, \qquad
Z_r = \det L_{(r)}, \qquad L_{jj} = \sum_{i \ne j} A_{ij}, \quad L_{ij} = -A_{ij}, \quad A_{ij} = e^{U_{ij}/\tau},
\qquad X_\tau = \nabla_{U/\tau} \log Z_r ,
```

with `L_(r)` the in-degree Laplacian without the row and column of the root (Tutte's directed
matrix-tree theorem, 1948). The marginals `P(i -> j in T)` lie in `[0, 1]`; each non-root node's
in-marginals (a column) sum to 1 and the root's are 0.

**Roots.** `root=r` (an int) fixes the root. `root=None` lets any node be the root, with the diagonal of
the scores as root scores: `p(T) ∝ exp((U_rr + sum_{(i -> j) in T} U_ij) / tau)` for `T` rooted at `r`,
the single-root model of Koo, Globerson, Carreras, Collins, "Structured Prediction Models via the
Matrix-Tree Theorem", EMNLP 2007 (Sec. 3.3; dependency parsing with exactly one word attached to the
root). Then `log Z = logsumexp_r (U_rr / tau + log Z_r)`, computed as `n` rooted problems in one batch,
the diagonal of the result is `P(root = j)`, and every column, diagonal included, sums to 1.

**Numerics.** Every arborescence has `n - 1` edges (and one root score), so the scores of a graph are
shifted to a largest entry of 0 before dividing by `tau`; `log Z_r` is computed by Gaussian elimination
in log space, where every step adds positive terms (the private `_matrix_tree` module), and the
marginals are its gradient: finite at any `tau` (`tau = 0.01` in float32 included), where `det` and
`inv` of `exp(U / tau)` overflow. `O(n^3)` per root and graph, batched on any device.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from gumbel_softmax.checks import check_generator, values_checked
from gumbel_softmax.noise import compute_dtype, log_exponential
from gumbel_softmax.structured._matrix_tree import (
    check_graph,
    log_partition,
    log_partition_every_root,
    marginals,
    reachable,
    straight_through,
    tempered,
)

__all__ = ["arborescence_marginals", "max_arborescence", "relaxed_arborescence"]


def _check_root(scores: Tensor, root: int | None) -> int | None:
    n = scores.shape[-1]
    if root is not None:
        if isinstance(root, bool) or not isinstance(root, (int, np.integer)):
            raise TypeError(f"root must be an int (a node) or None (any node, scored by the diagonal); got {root!r}")
        if not -n <= root < n:
            raise ValueError(f"root={root} is not a node of a graph with n={n} nodes; use 0 <= root < {n}")
        root = int(root) % n
    if values_checked() and scores.numel() > 0 and scores.device.type != "meta":
        reach = reachable(scores.detach())
        if root is None:
            diagonal = scores.detach().diagonal(dim1=-2, dim2=-1)
            ok = (torch.isfinite(diagonal) & reach.all(-1)).any(-1)
            what = "no node with a finite root score (diagonal) reaches every node"
        else:
            ok = reach[..., root, :].all(-1)
            what = f"some node cannot be reached from the root {root}"
        if not bool(ok.all()):
            raise ValueError(
                f"{int((~ok).sum())} of {ok.numel()} graph(s) have no arborescence: {what} along edges with "
                "finite scores (-inf marks an absent edge; scores[..., i, j] scores the edge i -> j)"
            )
    return root


def _marginals(x: Tensor, tau: float | Tensor, root: int | None) -> Tensor:
    """The edge marginals of scores `x` (compute dtype, checked); the diagonal holds `P(root = j)`."""
    n = x.shape[-1]
    eye = torch.eye(n, dtype=torch.bool, device=x.device)
    if root is not None:
        grad = marginals(tempered(x, tau), lambda w: log_partition(w, root))
        return grad.masked_fill(torch.isneginf(x) | eye, 0.0)

    def log_z(w: Tensor) -> Tensor:
        return (w.diagonal(dim1=-2, dim2=-1) + log_partition_every_root(w)).logsumexp(-1)

    return marginals(tempered(x, tau, diagonal=True), log_z).masked_fill(torch.isneginf(x), 0.0)


def arborescence_marginals(scores: Tensor, tau: float | Tensor = 1.0, root: int | None = 0) -> Tensor:
    """`P(i -> j in T)` for arborescences drawn with `p(T) ∝ exp(sum_{(i -> j) in T} scores_ij / tau)`.

    Args:
        scores: a floating tensor `[..., n, n]` (n >= 2): `scores[..., i, j]` scores the edge from parent
            `i` to child `j`; `-inf` marks an absent edge. With an int `root` the diagonal is ignored;
            with `root=None` it holds the root scores.
        tau: a positive temperature: a float, or one value per graph broadcasting as `[..., 1, 1]`.
        root: the root node, or `None` for any root, scored by the diagonal (Koo et al. 2007).

    Returns:
        the shape and dtype of `scores` (computed in float32, or float64 for float64): marginals in
        `[0, 1]`, 0 at absent edges. With an int `root`, the diagonal and the root's column are 0 and
        every other column sums to 1; with `root=None`, the diagonal is `P(root = j)` and every column
        sums to 1. Differentiable (twice: `gradcheck` passes). No noise.

    Raises:
        ValueError: `scores` is not square, `n < 2`, it holds NaN or `+inf`, a node cannot be reached
            from the root, or `root` is out of range; `tau` is not positive.
        TypeError: `root` is neither an int nor `None`.

    Examples:
        >>> mu = arborescence_marginals(torch.zeros(3, 3), root=0)  # the 3 arborescences rooted at 0
        >>> [round(float(c), 5) for c in mu.sum(-2)]
        [0.0, 1.0, 1.0]
    """
    tau = check_graph(scores, tau, symmetric=False)
    root = _check_root(scores, root)
    work = compute_dtype(scores.dtype)
    tau = tau.to(work) if isinstance(tau, Tensor) else tau
    return _marginals(scores.to(work), tau, root).to(scores.dtype)


def max_arborescence(scores: Tensor, root: int | None = 0) -> Tensor:
    """The arborescence with the largest total score, by Chu-Liu/Edmonds (one graph at a time, on the CPU).

    Args:
        scores: edge scores `[..., n, n]` as in `arborescence_marginals` (`scores[..., i, j]`: `i -> j`).
        root: the root, or `None` for the best over all roots with the diagonal as root scores.

    Returns:
        the 0/1 matrix of the arborescence's edges (`[i, j] = 1` for `i -> j`) in the shape, dtype and
        device of `scores`; with `root=None` the diagonal marks the chosen root. Not differentiable (use
        `relaxed_arborescence(hard=True)`). `O(n^3)` per graph and root, in float64 NumPy.

    Raises:
        ValueError, TypeError: as `arborescence_marginals`.

    Examples:
        >>> s = torch.tensor([[0.0, 5.0, 1.0], [0.0, 0.0, 4.0], [0.0, 2.0, 0.0]])
        >>> max_arborescence(s, root=0).tolist()
        [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]
    """
    check_graph(scores, 1.0, symmetric=False)
    root = _check_root(scores, root)
    return _best(scores.detach(), root).to(scores.dtype)


def _best(scores: Tensor, root: int | None) -> Tensor:
    n = scores.shape[-1]
    x = scores.to(torch.float64).cpu().reshape(-1, n, n).numpy()
    out = np.zeros(x.shape)
    for b, graph in enumerate(x):
        roots = [root] if root is not None else [r for r in range(n) if np.isfinite(graph[r, r])]
        best_total, best_parent, best_root = -np.inf, None, roots[0] if roots else 0
        for r in roots:
            parent = _chu_liu_edmonds(graph, r)
            children = np.array([j for j in range(n) if j != r])
            total = graph[parent[children], children].sum() + (graph[r, r] if root is None else 0.0)
            if best_parent is None or total > best_total:
                best_total, best_parent, best_root = total, parent, r
        if best_parent is None:
            continue  # validation off and no root: nothing to return but zeros
        children = np.array([j for j in range(n) if j != best_root])
        out[b, best_parent[children], children] = 1.0
        if root is None:
            out[b, best_root, best_root] = 1.0
    return torch.from_numpy(out).reshape(scores.shape).to(scores.device)


def _chu_liu_edmonds(scores: np.ndarray, root: int) -> np.ndarray:
    """The parent of each node (`-1` at the root) in the best arborescence rooted at `root`.

    Chu and Liu (1965), Edmonds (1967): give each node its best incoming edge; if these form no cycle,
    they are the answer. Otherwise contract a cycle `C` to one node, where an edge `u -> v` entering
    `C` scores `s_uv - s_{p(v) v}` (it replaces `v`'s edge in the cycle) and an edge leaving `C` keeps
    the best score from any node of `C`; solve the smaller graph and expand: the edge chosen into `C`
    breaks the cycle at its head. Absent edges (`-inf`) get a score below any arborescence of real
    edges, so the subtractions stay finite.
    """
    n = scores.shape[0]
    finite = np.isfinite(scores)
    if not finite.all():
        span = np.ptp(scores[finite]) if finite.any() else 0.0
        low = (scores[finite].min() if finite.any() else 0.0) - 2 * n * (span + 1.0)
        scores = np.where(finite, scores, low)
    return _contract(scores, root)


def _contract(scores: np.ndarray, root: int) -> np.ndarray:
    n = scores.shape[0]
    s = scores.copy()
    np.fill_diagonal(s, -np.inf)
    s[:, root] = -np.inf
    parent = s.argmax(0)
    parent[root] = -1
    cycle = _find_cycle(parent, root)
    if cycle is None:
        return parent
    in_cycle = np.zeros(n, dtype=bool)
    in_cycle[cycle] = True
    rest = np.flatnonzero(~in_cycle)  # the root is among them
    c = len(rest)  # the contracted cycle's index in the smaller graph
    smaller = np.full((c + 1, c + 1), -np.inf)
    smaller[:c, :c] = scores[np.ix_(rest, rest)]
    entering = scores[np.ix_(rest, cycle)] - scores[parent[cycle], cycle][None, :]
    head = entering.argmax(1)  # for each outside node, where its best edge enters the cycle
    smaller[:c, c] = entering[np.arange(c), head]
    leaving = scores[np.ix_(cycle, rest)]
    tail = leaving.argmax(0)  # for each outside node, the cycle node of its best edge from the cycle
    smaller[c, :c] = leaving[tail, np.arange(c)]
    sub = _contract(smaller, int(np.flatnonzero(rest == root)[0]))
    out = parent.copy()  # cycle nodes keep their cycle parents, but one
    for new, old in enumerate(rest):
        p = sub[new]
        out[old] = -1 if p < 0 else (cycle[tail[new]] if p == c else rest[p])
    u = sub[c]
    out[cycle[head[u]]] = rest[u]
    return out


def _find_cycle(parent: np.ndarray, root: int) -> np.ndarray | None:
    """The nodes of a cycle of the parent pointers, or None."""
    n = len(parent)
    state = np.zeros(n, dtype=np.int64)  # 0: unvisited, 1: on the current walk, 2: done
    state[root] = 2
    for start in range(n):
        walk = []
        node = start
        while state[node] == 0:
            state[node] = 1
            walk.append(node)
            node = parent[node]
        if state[node] == 1:  # the walk came back to itself
            return np.array(walk[walk.index(node):])
        for v in walk:
            state[v] = 2
    return None


def relaxed_arborescence(
    scores: Tensor,
    tau: float | Tensor = 1.0,
    hard: bool = False,
    root: int | None = 0,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """The arborescence stochastic softmax trick (Paulus et al. 2020): marginals of `scores + G`.

    One standard Gumbel draw per directed edge (and per root score), `U = scores + G`; the result is
    `arborescence_marginals(U, tau, root)`.

    Args:
        scores: edge scores `[..., n, n]` as in `arborescence_marginals` (`scores[..., i, j]`: `i -> j`).
        tau: the temperature, a float or one value per graph (`[..., 1, 1]`).
        hard: return the best arborescence of `U` (the same noise; `max_arborescence`, on the CPU) in
            the forward pass with the relaxed matrix's gradient (straight-through).
        root: the root, or `None` for any root scored by the diagonal.
        generator: the source of the Gumbel noise.

    Returns:
        the shape and dtype of `scores`: marginals whose non-root columns sum to 1, or with `hard=True`
        the 0/1 matrix of an arborescence. Differentiable.

    Examples:
        >>> g = torch.Generator().manual_seed(0)
        >>> y = relaxed_arborescence(torch.zeros(2, 4, 4), tau=0.1, hard=True, root=0, generator=g)
        >>> y.sum(-2).tolist()  # one parent for each node but the root
        [[0.0, 1.0, 1.0, 1.0], [0.0, 1.0, 1.0, 1.0]]
    """
    tau = check_graph(scores, tau, symmetric=False)
    root = _check_root(scores, root)
    check_generator(generator, scores.device)
    work = compute_dtype(scores.dtype)
    perturbed = scores.to(work) - log_exponential(scores.shape, work, scores.device, generator)
    tau = tau.to(work) if isinstance(tau, Tensor) else tau
    soft = _marginals(perturbed, tau, root).to(scores.dtype)
    if not hard:
        return soft
    return straight_through(soft, _best(perturbed.detach(), root))

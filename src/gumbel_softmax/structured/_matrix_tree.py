r"""The matrix-tree theorem in log space: what `spanning_trees` and `arborescences` share.

Private: the public functions of those modules validate their arguments and call these.

**The theorem.** For edge weights `a_ij >= 0` (edge `i -> j`; an undirected edge is `a_ij = a_ji`), let
`L` be the in-degree Laplacian, `L_jj = sum_{i != j} a_ij` and `L_ij = -a_ij`. The total weight of the
arborescences rooted at `r` (every other node has one parent) is the determinant of `L` with row and
column `r` removed (Tutte 1948; for a symmetric `a`, Kirchhoff's count of spanning trees). With
`a_ij = exp(w_ij)`, `log Z = log det L_(r)` and the edge marginals are `P(i -> j in T) = d log Z / d w_ij`.

**Elimination in log space.** Eliminating a node `v != r` (one step of Gaussian elimination with pivot
`L_vv`) leaves the Laplacian of the graph without `v`, in which each edge `i -> j` also gets the paths
through `v`, and `det L_(r) = L_vv det L'_(r)`:

```text
a'_{ij} = a_{ij} + a_{iv} a_{vj} / d_v, \qquad d_v = L_{vv} = \sum_{i \ne v} a_{iv}, \qquad
\log Z = \sum_{v \ne r} \log d_v \quad (\text{each } d_v \text{ taken when } v \text{ is eliminated}).
```

The Schur complement of a Laplacian is a Laplacian (its columns still sum to 0), so its diagonal is the
sum of its new in-weights: no step subtracts, and in log space every step is a `logsumexp`/`logaddexp`
of the log-weights. Nothing overflows or cancels at any temperature, unlike `det`/`inv` of `exp(w)`,
whose entries span `exp(1000)` at `tau = 0.01` and whose marginal formula (the effective resistances
`a_ij (L^-1_ii + L^-1_jj - 2 L^-1_ij)`) cancels catastrophically even in float64. The marginals are the
gradient of `log Z`, taken by autograd through the elimination: `n - 1` steps of `O(n^2)` work,
batched over leading dimensions. Absent edges (`-inf`) enter at a finite floor (weight `exp(floor) = 0`
in any sum with a real edge), so that no `logaddexp(-inf, -inf)` gives a NaN gradient.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from gumbel_softmax.checks import check_logits, check_tau, values_checked

__all__ = [
    "check_graph",
    "floor",
    "log_partition",
    "log_partition_every_root",
    "marginals",
    "reachable",
    "straight_through",
    "tempered",
]


def floor(dtype: torch.dtype, n: int) -> float:
    """The log-weight of an absent edge: so low that a sum of `3 n` of them stays finite."""
    return -torch.finfo(dtype).max / (8 * max(n, 1))


def check_graph(scores: Tensor, tau: float | Tensor, *, symmetric: bool) -> float | Tensor:
    """Check a batch of graphs `[..., n, n]` (n >= 2, no NaN or `+inf`) and its temperature; return tau.

    The temperature is a float or one value per graph, broadcasting as `[..., 1, 1]`.
    """
    check_logits(scores, -1, "scores", validate=False)
    if scores.ndim < 2 or scores.shape[-1] != scores.shape[-2]:
        raise ValueError(
            f"scores must be a batch of square matrices of edge scores, shape [..., n, n]; "
            f"got shape {tuple(scores.shape)}"
        )
    if scores.shape[-1] < 2:
        raise ValueError(f"a tree needs n >= 2 nodes; got scores of shape {tuple(scores.shape)}")
    tau = check_tau(tau, scores, -1)
    if isinstance(tau, Tensor):
        tau = check_tau(tau, scores, -2)
    if values_checked() and scores.numel() > 0 and scores.device.type != "meta":
        x = scores.detach()
        if bool(torch.isnan(x).any()):
            raise ValueError(f"scores contain NaN ({int(torch.isnan(x).sum())} of {x.numel()} values)")
        if bool(torch.isposinf(x).any()):
            raise ValueError("scores contain +inf; use finite scores, and -inf only for an absent edge")
        if symmetric and not torch.equal(x, x.mT):
            raise ValueError(
                "scores of an undirected graph must be symmetric (scores[..., i, j] == scores[..., j, i]); "
                "symmetrize with (scores + scores.mT) / 2, or use the arborescence functions for directed edges"
            )
    return tau


def reachable(scores: Tensor) -> Tensor:
    """`[..., n, n]` bool: `j` can be reached from `i` along edges with finite scores (`i -> j`)."""
    n = scores.shape[-1]
    eye = torch.eye(n, dtype=torch.bool, device=scores.device)
    reach = (torch.isfinite(scores) | eye).to(torch.float32)
    for _ in range(max(1, math.ceil(math.log2(n)))):
        reach = ((reach @ reach) > 0).to(torch.float32)
    return reach > 0


def tempered(x: Tensor, tau: float | Tensor, *, diagonal: bool = False) -> Tensor:
    """`(x - c) / tau` with `c` the largest finite score of each graph, and absent edges at `floor`.

    The diagonal is set to `floor` too unless `diagonal` (root scores). Subtracting `c` from every
    log-weight multiplies each tree's weight by `exp(-(n - 1) c / tau)` (every tree has `n - 1` edges;
    with root scores, `n` terms), which leaves the distribution unchanged and keeps `x / tau` from
    overflowing. Entries below the floor (`x / tau` at `tau = 1e-30`, say) are clamped to it: such edges
    tie with each other and with absent edges, a weight of 0 beside any edge above the floor.
    """
    n = x.shape[-1]
    low = floor(x.dtype, n)
    masked = torch.isneginf(x)
    if not diagonal:
        masked = masked | torch.eye(n, dtype=torch.bool, device=x.device)
    top = x.detach().masked_fill(masked, float("-inf")).amax((-2, -1), keepdim=True)
    top = top.masked_fill(torch.isneginf(top), 0.0)
    shifted = (x - top).masked_fill(masked, 0.0)
    scaled = shifted * tau.reciprocal() if isinstance(tau, Tensor) else shifted / tau
    return scaled.clamp_min(low).masked_fill(masked, low)


def log_partition(w: Tensor, root: int) -> Tensor:
    """`log Z` of the arborescences rooted at `root` for log-weights `w[..., i, j]` of edges `i -> j`.

    `w` must be finite (absent edges at `floor`); its diagonal is never read. Returns `[...]`.
    """
    n = w.shape[-1]
    low = floor(w.dtype, n)
    order = [root] + [i for i in range(n) if i != root]
    w = w[..., order, :][..., :, order]
    log_z = w.new_zeros(w.shape[:-2])
    for m in range(n, 1, -1):  # eliminate the last node, v = m - 1, until only the root is left
        into = w[..., : m - 1, m - 1]
        out_of = w[..., m - 1, : m - 1]
        degree = into.logsumexp(-1)
        log_z = log_z + degree
        # `into <= degree`, so the paths through v never exceed `out_of`: no overflow.
        through = into.unsqueeze(-1) + out_of.unsqueeze(-2) - degree[..., None, None]
        w = _logaddexp(w[..., : m - 1, : m - 1], through).clamp_min(low)
    return log_z


def log_partition_every_root(w: Tensor) -> Tensor:
    """`log Z_r` for every root `r` at once, `[..., n]`: the `n` reorderings with `r` first, as one batch."""
    n = w.shape[-1]
    order = torch.tensor([[r] + [i for i in range(n) if i != r] for r in range(n)], device=w.device)
    return log_partition(w[..., order[:, :, None], order[:, None, :]], 0)


def _logaddexp(a: Tensor, b: Tensor) -> Tensor:
    """`log(exp(a) + exp(b))` whose second derivative stays finite where `|a - b|` is huge.

    `torch.logaddexp`'s gradient `1 / (1 + exp(b - a))` is right there, but its derivative is
    `inf / inf = NaN` (the floor of an absent edge against a real one), which breaks double backward.
    """
    return torch.maximum(a, b) + torch.log1p(torch.exp(-(a - b).abs()))


def marginals(w: Tensor, log_z: Callable[[Tensor], Tensor]) -> Tensor:
    """`d log_z(w) / d w`, differentiable again when `w` needs a gradient (and grad mode is on)."""
    if torch.is_inference_mode_enabled():
        with torch.inference_mode(False):
            return marginals(w.clone(), log_z).detach()
    create_graph = torch.is_grad_enabled() and w.requires_grad
    with torch.enable_grad():
        if not w.requires_grad:
            w = w.detach().requires_grad_()
        (grad,) = torch.autograd.grad(log_z(w).sum(), w, create_graph=create_graph)
    return grad


class _StraightThrough(torch.autograd.Function):
    @staticmethod
    def forward(ctx: object, soft: Tensor, hard: Tensor) -> Tensor:  # type: ignore[override]
        return hard.clone()

    @staticmethod
    def backward(ctx: object, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        return grad, None


def straight_through(soft: Tensor, hard: Tensor) -> Tensor:
    """`hard` (exact 0.0 and 1.0) in the forward pass, the gradient of `soft` in the backward pass."""
    return _StraightThrough.apply(soft, hard.to(soft.dtype))

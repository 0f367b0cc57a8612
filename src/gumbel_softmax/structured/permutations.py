r"""Relaxed permutations: the Sinkhorn operator, Gumbel-Sinkhorn, the best matching and NeuralSort.

**Sinkhorn.** For a square matrix of scores `X` (`n x n`), the Sinkhorn operator alternately normalizes
the rows and the columns of `exp(X)`. In log space, with `T_r` and `T_c` the row and column
normalizations,

```text
T_r(X)_{ij} = X_{ij} - \log \sum_k \exp X_{ik}, \qquad T_c(X)_{ij} = X_{ij} - \log \sum_k \exp X_{kj},
S^0(X) = X, \qquad S^l(X) = T_c(T_r(S^{l-1}(X))), \qquad S(X) = \exp S^L(X).
```

`S^L(X)` converges to the log of a doubly stochastic matrix as `L -> infinity` (Sinkhorn 1964), and
`S(X / tau)` tends to the permutation matrix of the best matching `argmax_P <P, X>` as `tau -> 0`
(Mena, Belanger, Linderman, Snoek, "Learning Latent Permutations with Gumbel-Sinkhorn Networks",
ICLR 2018, Theorem 1). Every step is a `logsumexp` of entries shifted to at most 0 and floored at
`finfo.min / 2`, so nothing over- or underflows at any `tau` (`tau = 0.01` in float32, or scores
`1e30` at `tau = 1e-30`): entries that round to 0 are exactly 0, never NaN.

**Gumbel-Sinkhorn** (Mena et al. 2018, Sec. 2-3) perturbs the scores with i.i.d. standard Gumbel noise
and relaxes the matching that maximizes the perturbed score:

```text
\mathrm{GS}(X, \tau) = S\big((X + \epsilon G) / \tau\big), \qquad
M(X + \epsilon G) = \operatorname{argmax}_{P \in \mathcal{P}_n} \langle P, X + \epsilon G \rangle ,
```

where `epsilon` is the noise factor (1 in the paper's sorting experiments). `M` is the hard version
(`hard=True`), found exactly by the Hungarian algorithm (Kuhn 1955; the shortest augmenting path
form with potentials, O(n^3)); the straight-through version returns `M` in the forward pass and the
gradient of `GS` in the backward pass. Unlike the Gumbel-max trick, `M(X + G)` is not distributed
as `exp <P, X> / Z` (a Gumbel matching is only an approximation of that law; Mena et al., Sec. 3).

**NeuralSort** (Grover, Wang, Zweig, Ermon, "Stochastic Optimization of Sorting Networks via Continuous
Relaxations", ICLR 2019, Eq. 5) relaxes the permutation matrix that sorts a score vector `s` in
decreasing order: with `A_{jk} = |s_j - s_k|`,

```text
\hat P_{i\cdot} = \mathrm{softmax}\big(((n + 1 - 2i)\, s - A \mathbf{1}) / \tau\big), \qquad i = 1, \dots, n .
```

Each row is a distribution (the matrix is row stochastic, not doubly stochastic), and row `i` tends to
the one-hot of the `i`-th largest score as `tau -> 0`. With `s = logits + G` it relaxes a Plackett-Luce
sample (see `gumbel_softmax.structured.RelaxedPlackettLuce`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from gumbel_softmax._relaxation import StraightThrough
from gumbel_softmax.checks import (
    check_generator,
    check_logits,
    check_positive_finite,
    check_tau,
    values_checked,
)
from gumbel_softmax.noise import compute_dtype, log_exponential

__all__ = ["sinkhorn", "gumbel_sinkhorn", "best_permutation", "neural_sort"]


def _check_square(scores: Tensor, name: str = "log_alpha") -> None:
    check_logits(scores, -1, name)
    if scores.ndim < 2 or scores.shape[-1] != scores.shape[-2]:
        raise ValueError(
            f"{name} must be a batch of square matrices, shape [..., n, n]; got shape {tuple(scores.shape)}"
        )
    if values_checked() and scores.numel() > 0 and scores.device.type != "meta":
        # check_logits covered the rows; a column with every entry -inf has no matching either.
        if bool(torch.isneginf(scores.detach().amax(-2)).any()):
            raise ValueError(f"{name} has a column with every entry -inf: no permutation can use it")


def _check_iterations(n_iters: int) -> int:
    if isinstance(n_iters, bool) or not isinstance(n_iters, int) or n_iters < 1:
        raise ValueError(f"n_iters must be an int >= 1 (the number of Sinkhorn iterations), got {n_iters!r}")
    return n_iters


def _matrix_tau(tau: float | Tensor, scores: Tensor) -> float | Tensor:
    """A float, or a tensor of one temperature per matrix that broadcasts as `[..., 1, 1]`."""
    tau = check_tau(tau, scores, -1)
    if isinstance(tau, Tensor):
        tau = check_tau(tau, scores, -2)
    return tau


def _tempered(x: Tensor, tau: float | Tensor) -> Tensor:
    """`X / tau` with each row shifted to a maximum of 0, and every entry at least `finfo.min / 2`.

    The row shift changes nothing (the first row normalization removes it) and keeps `X / tau` from
    overflowing (scores `1e30` at `tau = 1e-30`). Entries below the floor, `-inf` (forbidden) ones
    included, have weight `exp` of it, 0; the floor keeps a column whose entries all underflow from
    giving `-inf - (-inf)`: Sinkhorn spreads it evenly instead, as it does for any column of tiny weights.
    """
    floor = torch.finfo(x.dtype).min / 2
    masked = torch.isneginf(x)
    shifted = (x - x.detach().amax(-1, keepdim=True)).masked_fill(masked, 0.0)
    scaled = shifted * tau.reciprocal() if isinstance(tau, Tensor) else shifted / tau
    return scaled.clamp_min(floor).masked_fill(masked, floor)


def _log_sinkhorn(log_alpha: Tensor, n_iters: int) -> Tensor:
    """`S^L(X)`: `n_iters` rounds of row then column normalization in log space (no checks)."""
    for _ in range(n_iters):
        log_alpha = log_alpha - log_alpha.logsumexp(-1, keepdim=True)
        log_alpha = log_alpha - log_alpha.logsumexp(-2, keepdim=True)
    return log_alpha


def sinkhorn(log_alpha: Tensor, tau: float | Tensor = 1.0, n_iters: int = 20) -> Tensor:
    """The Sinkhorn operator `S(X / tau)`: a (nearly) doubly stochastic matrix, computed in log space.

    Args:
        log_alpha: scores `X`, a floating tensor of shape `[..., n, n]`; `-inf` forbids an entry
            (each row and column keeps a finite one).
        tau: a positive temperature: a float, or a tensor of one value per matrix that broadcasts as
            `[..., 1, 1]`.
        n_iters: the number `L` of row-and-column normalizations (Mena et al. use 10 to 20).

    Returns:
        `exp S^L(X / tau)` in the shape and dtype of `log_alpha` (computed in float32, or float64 for
        float64): the columns sum to 1 exactly up to rounding, the rows up to the convergence error
        left after `n_iters` iterations. Differentiable.

    Raises:
        ValueError: `log_alpha` is not square or holds NaN/`+inf`, `tau` is not positive, `n_iters < 1`.

    Examples:
        >>> p = sinkhorn(torch.tensor([[2.0, 0.0], [0.0, 1.0]]), n_iters=50)
        >>> torch.allclose(p.sum(-1), torch.ones(2)) and torch.allclose(p.sum(-2), torch.ones(2))
        True
    """
    _check_square(log_alpha)
    tau = _matrix_tau(tau, log_alpha)
    n_iters = _check_iterations(n_iters)
    x = log_alpha.to(compute_dtype(log_alpha.dtype))
    return _log_sinkhorn(_tempered(x, tau), n_iters).exp().to(log_alpha.dtype)


def gumbel_sinkhorn(
    log_alpha: Tensor,
    tau: float | Tensor = 1.0,
    n_iters: int = 20,
    hard: bool = False,
    noise_factor: float = 1.0,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """A relaxed random permutation matrix: `S((X + noise_factor * G) / tau)` (Mena et al. 2018).

    Args:
        log_alpha: scores `X`, shape `[..., n, n]`, as in `sinkhorn`.
        tau: the temperature, as in `sinkhorn`.
        n_iters: Sinkhorn iterations, as in `sinkhorn`.
        hard: return the exact permutation matrix of `best_permutation(X + noise_factor * G)` (the same
            noise) in the forward pass, with the relaxed matrix's gradient (straight-through).
        noise_factor: the scale `epsilon >= 0` of the Gumbel noise; 0 gives the deterministic `sinkhorn`.
        generator: the source of the noise.

    Returns:
        the shape and dtype of `log_alpha`: a doubly stochastic matrix up to the convergence error of
        `n_iters` iterations, or with `hard=True` a permutation matrix (exact 0.0 and 1.0). Differentiable.

    Examples:
        >>> g = torch.Generator().manual_seed(0)
        >>> p = gumbel_sinkhorn(torch.randn(4, 3, 3, generator=g), tau=0.5, hard=True, generator=g)
        >>> bool((p.sum(-1) == 1).all() and (p.sum(-2) == 1).all())
        True
    """
    _check_square(log_alpha)
    tau = _matrix_tau(tau, log_alpha)
    n_iters = _check_iterations(n_iters)
    noise_factor = check_positive_finite("noise_factor", noise_factor, zero_ok=True)
    check_generator(generator, log_alpha.device)
    work = compute_dtype(log_alpha.dtype)
    x = log_alpha.to(work)
    if noise_factor > 0:
        minus_gumbel = log_exponential(x.shape, work, x.device, generator)
        x = x - minus_gumbel * noise_factor if noise_factor != 1 else x - minus_gumbel
    soft = _log_sinkhorn(_tempered(x, tau), n_iters).exp().to(log_alpha.dtype)
    if not hard:
        return soft
    perm = _hungarian(x.detach())
    return StraightThrough.apply(soft, perm.unsqueeze(-1), soft.ndim - 1)


def best_permutation(scores: Tensor, *, solver: str = "auto") -> Tensor:
    """The matching that maximizes the total score: `argmax_sigma sum_i scores[i, sigma(i)]`, per matrix.

    Args:
        scores: a floating tensor `[..., n, n]`; `-inf` forbids an entry (it is used only where no
            matching avoids every forbidden entry).
        solver: `"torch"` (a batched Hungarian algorithm in torch, on the device of `scores`),
            `"scipy"` (`scipy.optimize.linear_sum_assignment`, one matrix at a time, on CPU; scipy is
            not a dependency of this library) or `"auto"` (scipy when importable and `scores` is on
            the CPU, else torch). Both are exact; on ties they may choose different optima.

    Returns:
        int64 `[..., n]`: `sigma`, the column matched to each row. The permutation matrix is
        `torch.nn.functional.one_hot(sigma, n)`. Not differentiable (use `gumbel_sinkhorn(hard=True)`).

    Raises:
        ValueError: `scores` is not square or holds NaN/`+inf`; an unknown `solver`.
        ImportError: `solver="scipy"` without scipy.

    Examples:
        >>> best_permutation(torch.tensor([[1.0, 5.0], [2.0, 9.0]])).tolist()
        [0, 1]
    """
    _check_square(scores, "scores")
    if solver not in ("auto", "torch", "scipy"):
        raise ValueError(f"solver must be one of 'auto', 'torch', 'scipy'; got {solver!r}")
    if solver == "auto":
        on_cpu = scores.device.type == "cpu" and not torch.compiler.is_compiling()
        solver = "scipy" if on_cpu and _have_scipy() else "torch"
    if solver == "scipy":
        return _scipy_assignment(scores.detach())
    return _hungarian(scores.detach())


def _have_scipy() -> bool:
    try:
        import scipy.optimize  # noqa: F401
    except ImportError:
        return False
    return True


def _finite_costs(scores: Tensor) -> Tensor:
    """`-scores` in float64 with `-inf` scores replaced by a cost larger than any matching's total."""
    cost = -scores.to(torch.float64)
    forbidden = torch.isposinf(cost)
    if bool(forbidden.any()):
        finite = cost.masked_fill(forbidden, 0.0)
        big = (finite.abs().amax(dim=(-2, -1), keepdim=True) + 1.0) * (2 * scores.shape[-1] + 1)
        cost = torch.where(forbidden, big, cost)
    return cost


def _scipy_assignment(scores: Tensor) -> Tensor:
    from scipy.optimize import linear_sum_assignment

    n = scores.shape[-1]
    cost = _finite_costs(scores.cpu()).reshape(-1, n, n).numpy()
    out = torch.empty(cost.shape[0], n, dtype=torch.int64)
    for b in range(cost.shape[0]):
        rows, cols = linear_sum_assignment(cost[b])
        out[b, torch.as_tensor(rows)] = torch.as_tensor(cols)
    return out.reshape(scores.shape[:-1]).to(scores.device)


def _hungarian(scores: Tensor) -> Tensor:
    """Exact maximum-score matching of every matrix in a batch: the Hungarian algorithm with potentials.

    Rows enter one at a time; for each, a Dijkstra-like search over the columns (with the reduced costs
    `c_ij - u_i - v_j >= 0`) finds the shortest augmenting path, and the potentials are updated so the
    reduced costs stay non-negative (Kuhn 1955; Munkres 1957; the O(n^3) form of Jonker and Volgenant 1987).
    All matrices of the batch take each step together; a matrix whose path is found waits, masked.
    Float64 on the device of `scores`; returns int64 `[..., n]`, the column of each row.
    """
    n = scores.shape[-1]
    batch_shape = scores.shape[:-2]
    cost = _finite_costs(scores).reshape(-1, n, n)
    size, device = cost.shape[0], cost.device
    if size == 0 or n == 0:
        return torch.zeros(batch_shape + (n,), dtype=torch.int64, device=device)
    arange = torch.arange(size, device=device)
    inf = torch.tensor(float("inf"), dtype=torch.float64, device=device)
    # Index 0 is a virtual column; row_of[:, j] is the 1-based row matched to column j (0: none).
    u = torch.zeros(size, n + 1, dtype=torch.float64, device=device)
    v = torch.zeros(size, n + 1, dtype=torch.float64, device=device)
    row_of = torch.zeros(size, n + 1, dtype=torch.int64, device=device)
    way = torch.zeros(size, n + 1, dtype=torch.int64, device=device)
    padded = torch.cat([torch.zeros(size, n, 1, dtype=torch.float64, device=device), cost], dim=2)
    padded = torch.cat([torch.zeros(size, 1, n + 1, dtype=torch.float64, device=device), padded], dim=1)
    for i in range(1, n + 1):
        row_of[:, 0] = i
        j0 = torch.zeros(size, dtype=torch.int64, device=device)
        min_v = torch.full((size, n + 1), float("inf"), dtype=torch.float64, device=device)
        used = torch.zeros(size, n + 1, dtype=torch.bool, device=device)
        active = torch.ones(size, dtype=torch.bool, device=device)
        for _ in range(n + 1):  # a path is found after at most n + 1 column visits
            used[arange, j0] |= active
            i0 = row_of[arange, j0]
            reduced = padded[arange, i0] - u[arange, i0].unsqueeze(1) - v
            better = ~used & (reduced < min_v) & active.unsqueeze(1)
            min_v = torch.where(better, reduced, min_v)
            way = torch.where(better, j0.unsqueeze(1), way)
            candidates = min_v.masked_fill(used, inf)
            candidates[:, 0] = inf
            delta, j1 = candidates.min(1)
            delta = torch.where(active, delta, torch.zeros_like(delta))
            step = used.to(torch.float64) * delta.unsqueeze(1)
            u.scatter_add_(1, row_of, step)
            v -= step
            min_v = torch.where(used, min_v, min_v - delta.unsqueeze(1))
            j0 = torch.where(active, j1, j0)
            active = active & (row_of[arange, j0] != 0)
            if not bool(active.any()):
                break
        for _ in range(n + 1):  # augment along the path back to the virtual column
            moving = j0 != 0
            if not bool(moving.any()):
                break
            j1 = way[arange, j0]
            row_of[arange, j0] = torch.where(moving, row_of[arange, j1], row_of[arange, j0])
            j0 = torch.where(moving, j1, j0)
    column_of = torch.empty(size, n, dtype=torch.int64, device=device)
    column_of.scatter_(1, row_of[:, 1:] - 1, torch.arange(n, device=device).expand(size, n))
    return column_of.reshape(batch_shape + (n,))


def neural_sort(scores: Tensor, tau: float | Tensor = 1.0, hard: bool = False) -> Tensor:
    """NeuralSort's relaxed sorting matrix (Grover et al., ICLR 2019, Eq. 5): row `i` ~ the `i`-th largest.

    Args:
        scores: a floating tensor `[..., n]` of finite scores `s`.
        tau: a positive temperature: a float, or a tensor of one value per score vector that
            broadcasts as `[..., 1]` against `scores`.
        hard: return the exact sorting permutation matrix (rows: ranks, columns: items) in the
            forward pass with the relaxed matrix's gradient (straight-through; Grover et al., Sec. 4).

    Returns:
        `[..., n, n]` in the dtype of `scores`: row `i` is a softmax whose mode is the item with the
        `i`-th largest score (row stochastic; its columns need not sum to 1). Differentiable.

    Examples:
        >>> p = neural_sort(torch.tensor([0.1, 3.0, 2.0]), tau=0.01)
        >>> p.argmax(-1).tolist()
        [1, 2, 0]
    """
    check_logits(scores, -1, "scores")
    if values_checked() and scores.numel() > 0 and scores.device.type != "meta":
        if not bool(torch.isfinite(scores.detach()).all()):
            raise ValueError("scores must be finite (NeuralSort has no masked items)")
    tau = check_tau(tau, scores, -1)
    n = scores.shape[-1]
    s = scores.to(compute_dtype(scores.dtype))
    pairwise = (s.unsqueeze(-1) - s.unsqueeze(-2)).abs().sum(-1)  # (A 1)_j
    scale = n + 1 - 2 * torch.arange(1, n + 1, dtype=s.dtype, device=s.device)
    logits = scale.unsqueeze(-1) * s.unsqueeze(-2) - pairwise.unsqueeze(-2)
    if isinstance(tau, Tensor):
        tau = tau.to(s.dtype).unsqueeze(-1)
    soft = ((logits - logits.detach().amax(-1, keepdim=True)) / tau).softmax(-1).to(scores.dtype)
    if not hard:
        return soft
    order = s.detach().argsort(dim=-1, descending=True, stable=True)
    return StraightThrough.apply(soft, order.unsqueeze(-1), soft.ndim - 1)

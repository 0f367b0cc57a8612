r"""The k-subset stochastic softmax trick: exponential-family marginals by a log-space dynamic program.

Paulus, Choi, Tarlow, Krause, Maddison, "Gradient Estimation with Stochastic Softmax Tricks",
NeurIPS 2020, Sec. 4 and App. B (k-subsets). A subset of size `k` of `n` items is a k-hot vector `x`.
Perturb the scores with Gumbel noise, `U = theta + G`; the hard subset is the top `k` of `U`
(`gumbel_softmax.sample_without_replacement`). Its relaxation is the mean of the exponential family
with natural parameter `U / tau` over k-hot vectors,

```text
p_{U/\tau}(x) = \exp(\langle x, U \rangle / \tau) / Z, \qquad
Z = e_k\big(e^{U_1/\tau}, \dots, e^{U_n/\tau}\big) = \sum_{|S| = k} \prod_{i \in S} e^{U_i / \tau},
\qquad X_\tau = \mu(U/\tau) = \mathbb{E}_{p_{U/\tau}}[x] = \nabla_{U/\tau} \log Z ,
```

the marginals `P(i in S)`: entries in `[0, 1]` summing to `k`, tending to the k-hot top-k of `U` as
`tau -> 0` (the regularized argmax of the SST with the exponential family's entropy as regularizer).

**The dynamic program.** With `w_i = U_i / tau` and `a_m(j) = log e_j(w_1..w_m)` (the log elementary
symmetric polynomial of the first `m` items),

```text
a_m(j) = \operatorname{logaddexp}\big(a_{m-1}(j),\ a_{m-1}(j-1) + w_m\big), \qquad a_m(0) = 0 ,
```

and `b_m(j) = log e_j(w_{m+1}..w_n)` by the same recursion from the right. Then

```text
\nu_i = w_i + \operatorname{logsumexp}_{j=0}^{k-1} \big(a_{i-1}(j) + b_i(k-1-j)\big)
= \log\big(e^{w_i} e_{k-1}(w_{-i})\big), \qquad
\mu_i = \exp\big(\nu_i - \log Z\big), \qquad \log Z = \operatorname{logsumexp}_i \nu_i - \log k ,
```

using `sum_i e^{w_i} e_{k-1}(w_{-i}) = k e_k(w)`, so that the marginals sum to `k` up to rounding.

Everything is a `logaddexp`/`logsumexp` of finite numbers, so nothing overflows at any `tau` (the
SST authors' NumPy version works with `exp(U / tau)` directly). States with `j` larger than the items
seen are left out rather than set to `-inf`, so no gradient meets `-inf - (-inf)`. O(n k) work per
row in `n` sequential steps, each vectorized over the batch and `j`. Before the program, `w` is
shifted to centre on the boundary between the k-th and (k+1)-th largest entries and clamped to
`[-M, M]` (`M = 40` in float32, 80 in float64), which changes the marginals by at most
`2 n^2 exp(-M)` and bounds the rounding error of `mu` by about `k M eps` (relative), at any `tau`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from gumbel_softmax._relaxation import StraightThrough
from gumbel_softmax.checks import check_logits, check_sample_size, check_tau
from gumbel_softmax.noise import compute_dtype, log_exponential

__all__ = ["k_subset_marginals", "relaxed_k_subset"]


def _prefix_log_esp(w: Tensor, k: int) -> list[Tensor]:
    """`[a_0, ..., a_{n-1}]`: `a_m[..., j] = log e_j(w_1..w_m)` for `j = 0..min(m, k)`."""
    a = torch.zeros(w.shape[:-1] + (1,), dtype=w.dtype, device=w.device)
    prefixes = [a]
    for m in range(w.shape[-1] - 1):
        x = w[..., m : m + 1]
        taken = a + x  # item m joins: from j - 1 to j
        if a.shape[-1] <= k:  # j = m + 1 can be reached only by taking every item so far
            a = torch.cat([a[..., :1], torch.logaddexp(a[..., 1:], taken[..., :-1]), taken[..., -1:]], -1)
        else:
            a = torch.cat([a[..., :1], torch.logaddexp(a[..., 1:], taken[..., :-1])], -1)
        prefixes.append(a)
    return prefixes


def _pad(parts: list[Tensor], k: int) -> Tensor:
    """Stack states of unequal length (`<= k + 1`) as `[..., n, k]`, keeping `j < k` and padding with `-inf`."""
    full = []
    for part in parts:
        part = part[..., :k]
        if part.shape[-1] < k:
            fill = part.new_full(part.shape[:-1] + (k - part.shape[-1],), float("-inf"))
            part = torch.cat([part, fill], -1)
        full.append(part)
    return torch.stack(full, -2)


def _clamped(x: Tensor, tau: float | Tensor, k: int) -> Tensor:
    """`w = (x - c) / tau` clamped to `[-M, M]` (`-inf` kept), `c` between the k-th and (k+1)-th largest `x`.

    The marginals do not change when a constant is added to `w`, and change by at most `2 n^2 exp(-M)`
    in total variation when entries beyond `+-M` are clamped (conditioned on every clamped-high item
    being in `S` and no clamped-low one, the law is the same before and after, and that event has
    probability `>= 1 - 2 n^2 exp(-M)`). `M` makes that far below the dtype's rounding, and keeps the
    sums of the dynamic program within `k M`, so their rounding error is `k M eps`, whatever `tau`.
    Shifting before dividing keeps `x / tau` from overflowing (scores `1e30` at `tau = 1e-30`).
    """
    bound = 80.0 if x.dtype == torch.float64 else 40.0
    n = x.shape[-1]
    with torch.no_grad():
        top = x.topk(min(k + 1, n), -1).values
        c = top[..., k - 1 : k]
        if k < n:
            below = top[..., k : k + 1]
            c = torch.where(torch.isneginf(below), c, c / 2 + below / 2)
    masked = torch.isneginf(x)
    shifted = (x - c).masked_fill(masked, 0.0)
    w = shifted * tau.reciprocal() if isinstance(tau, Tensor) else shifted / tau
    # A masked item enters at -3M, not -inf: a state built only from -inf would reach logaddexp(-inf, -inf),
    # whose gradient is NaN. Its weight exp(-3M) moves the others' marginals by far less than the rounding,
    # and `_marginals` sets its own marginal to exactly 0.
    return w.clamp(-bound, bound).masked_fill(masked, -3 * bound)


def _marginals(x: Tensor, tau: float | Tensor, k: int) -> Tensor:
    """`mu(x / tau)` along the last axis for a k-subset, `1 <= k <= n` (no checks)."""
    w = _clamped(x, tau, k)
    masked = torch.isneginf(x)
    before = _pad(_prefix_log_esp(w, k), k)  # [..., n, k]: a_{i-1}(j)
    after = _pad(_prefix_log_esp(w.flip(-1), k)[::-1], k)  # [..., n, k]: b_i(j)
    # log of exp(w_i) e_{k-1}(w without i), the unnormalized P(i in S).
    numerators = w + torch.logsumexp(before + after.flip(-1), -1)
    # sum_i exp(w_i) e_{k-1}(w without i) = k e_k(w): normalizing by it makes the marginals sum to k.
    marginals = torch.exp(numerators - (numerators.logsumexp(-1, keepdim=True) - math.log(k)))
    return marginals.masked_fill(masked, 0.0)


def k_subset_marginals(logits: Tensor, k: int, tau: float | Tensor = 1.0, dim: int = -1) -> Tensor:
    """The marginals `P(i in S)` of the k-subset distribution `p(S) ∝ exp(sum_{i in S} logits_i / tau)`.

    Args:
        logits: a floating tensor; `-inf` masks an item (never in `S`), and every row needs at least
            `k` unmasked items.
        k: the subset size, an int from 1 to the size of `logits` along `dim`.
        tau: a positive temperature: a float or a per-row tensor (the category axis kept with size 1).
        dim: the axis of the items.

    Returns:
        the shape and dtype of `logits` (computed in float32, or float64 for float64): entries in
        `[0, 1]` summing to `k` along `dim`, exactly 0 at masked items. Differentiable; its Jacobian
        is the covariance of the k-hot vector. Deterministic (no noise); `relaxed_k_subset` adds it.

    Examples:
        >>> mu = k_subset_marginals(torch.tensor([0.0, 1.0, 2.0, 3.0]), k=2)
        >>> round(float(mu.sum()), 5)
        2.0
    """
    dim = check_logits(logits, dim)
    k = check_sample_size(logits, k, dim)
    tau = check_tau(tau, logits, dim)
    work = compute_dtype(logits.dtype)
    tau = tau.to(work).movedim(dim, -1) if isinstance(tau, Tensor) else tau
    return _marginals(logits.to(work).movedim(dim, -1), tau, k).movedim(-1, dim).to(logits.dtype)


def relaxed_k_subset(
    logits: Tensor,
    k: int,
    tau: float | Tensor = 1.0,
    hard: bool = False,
    dim: int = -1,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """The k-subset stochastic softmax trick (Paulus et al. 2020): `k_subset_marginals(logits + G, k, tau)`.

    Args:
        logits: as in `k_subset_marginals`.
        k: the subset size.
        tau: the temperature, a float or a per-row tensor.
        hard: return the exact k-hot vector of the top `k` of `logits + G` (the same noise; the sample of
            `gumbel_softmax.sample_without_replacement`) in the forward pass with the relaxed vector's
            gradient (straight-through).
        dim: the axis of the items.
        generator: the source of the Gumbel noise.

    Returns:
        the shape and dtype of `logits`: entries in `[0, 1]` summing to `k` (unlike
        `gumbel_softmax.gumbel_softmax_top_k`, whose entries can exceed 1 at high `tau`), or k-hot with
        `hard=True`. Differentiable.

    Examples:
        >>> g = torch.Generator().manual_seed(0)
        >>> y = relaxed_k_subset(torch.zeros(3, 5), k=2, tau=0.1, hard=True, generator=g)
        >>> y.sum(-1).tolist()
        [2.0, 2.0, 2.0]
    """
    dim = check_logits(logits, dim)
    k = check_sample_size(logits, k, dim)
    tau = check_tau(tau, logits, dim)
    work = compute_dtype(logits.dtype)
    perturbed = logits.to(work) - log_exponential(logits.shape, work, logits.device, generator)
    tau = tau.to(work).movedim(dim, -1) if isinstance(tau, Tensor) else tau
    soft = _marginals(perturbed.movedim(dim, -1), tau, k).movedim(-1, dim).to(logits.dtype)
    if not hard:
        return soft
    top = perturbed.detach().topk(k, dim).indices
    return StraightThrough.apply(soft, top, dim)

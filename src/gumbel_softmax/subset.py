r"""Sampling `k` categories without replacement: the Gumbel-top-k trick.

Perturb the logits with independent standard Gumbel noise and keep the `k` largest:

```text
(I_1, \dots, I_k) = \operatorname{top-}k\,(\ell + G), \qquad G_i \sim \mathrm{Gumbel}(0, 1),
```

in decreasing order of `logits + G`. `I_1` is a Gumbel-max sample, and the whole tuple is a draw of `k`
categories one after another without replacement, each from the softmax of the categories still left
(the Plackett-Luce law):

```text
P(I_1 = i_1, \dots, I_k = i_k) = \prod_{j=1}^{k} \frac{p_{i_j}}{1 - \sum_{m<j} p_{i_m}},
\qquad p = \mathrm{softmax}(\ell).
```

Yellott (1977), "The relationship between Luce's choice axiom, Thurstone's theory of comparative judgment,
and the double exponential distribution", J. Math. Psychology 15; Kool, van Hoof, Welling (ICML 2019),
"Stochastic Beams and Where to Find Them: The Gumbel-Top-k Trick for Sampling Sequences Without
Replacement", Sec. 2. One noise draw and one `topk`; no loop over the `k` draws.

The relaxed k-hot vector of `gumbel_softmax_top_k` replaces each of the `k` draws by a softmax and
takes the chosen mass out of the next draw (the relaxed top-k of Xie and Ermon, IJCAI 2019,
"Reparameterizable Subset Sampling via Continuous Relaxations", after the continuous nearest-neighbour
selection of Plötz and Roth, NeurIPS 2018, "Neural Nearest Neighbors Networks"):

```text
\alpha^{(1)} = \ell + G, \qquad a^{(j)} = \mathrm{softmax}(\alpha^{(j)} / \tau), \qquad
\alpha^{(j+1)} = \alpha^{(j)} + \log(1 - a^{(j)}), \qquad y = \sum_{j=1}^{k} a^{(j)}.
```

The entries of `y` are non-negative and sum to `k`, but at high temperatures an entry can exceed 1: for
two categories, `k = 2` and `tau = 1`, `a^(2) = (1/2, 1/2)` whatever the logits, so `y = a^(1) + 1/2`.
As `tau -> 0`, `y` tends to the k-hot vector of the top `k` of `logits + G`, the exact sample above.
`k = 1` is the Gumbel-Softmax sample.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gumbel_softmax._relaxation import relax
from gumbel_softmax.checks import check_logits, check_sample_size, check_tau
from gumbel_softmax.functional import perturbed_logits
from gumbel_softmax.noise import compute_dtype, log_exponential

__all__ = ["gumbel_softmax_top_k", "sample_without_replacement"]


def sample_without_replacement(
    logits: Tensor, k: int, dim: int = -1, *, generator: torch.Generator | None = None
) -> Tensor:
    """`k` distinct categories per row, drawn one after another without replacement.

    Arguments are `logits` and `dim` as in `gumbel_softmax.sample`; `k`, an int from 1 to the
    number of categories. `-inf` categories are never drawn, so every row needs at least `k` finite
    logits (a `ValueError` says which rows have fewer, while validation is on; with validation off, or
    inside `torch.compile`, such a row silently gets masked categories).

    Returns:
        int64 indices, the shape of `logits` with size `k` along `dim`; position `j` holds
        the `j`-th draw. `k = 1` is `gumbel_softmax.sample` with `dim` kept (the same draw on the
        torch path; `sample` uses the fused kernel's own noise on CUDA). This reference runs on every device.
        For a k-hot mask (a random subset of size `k`) scatter ones:
        `torch.zeros_like(logits).scatter_(dim, index, 1.0)`. Not differentiable.

    Examples:
        >>> g = torch.Generator().manual_seed(0)
        >>> index = sample_without_replacement(torch.tensor([[0.0, 1.0, float("-inf"), 2.0]]), k=3, generator=g)
        >>> sorted(index[0].tolist())
        [0, 1, 3]
    """
    dim = check_logits(logits, dim)
    k = check_sample_size(logits, k, dim)
    if logits.numel() == 0:
        return torch.empty(logits.shape[:dim] + (k,) + logits.shape[dim + 1 :], dtype=torch.int64, device=logits.device)
    return perturbed_logits(logits, generator).topk(k, dim, sorted=True).indices


def gumbel_softmax_top_k(
    logits: Tensor,
    k: int,
    tau: float | Tensor = 1.0,
    hard: bool = False,
    dim: int = -1,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """A relaxed random subset of `k` categories: the k-hot analogue of `gumbel_softmax.gumbel_softmax`.

    Arguments are `logits`, `tau`, `dim` and `generator` as in `gumbel_softmax.gumbel_softmax`
    (`tau` may be a per-row tensor); `k` as in `sample_without_replacement`.

    Returns:
        the shape and dtype of `logits`: non-negative entries summing to `k` along `dim` (not
        bounded by 1 at high `tau`; see the module docstring), exactly 0 (value and gradient) at `-inf`
        categories. With `hard=True` the forward value is the exact k-hot
        vector of `sample_without_replacement` with the same noise, and the backward pass is the soft
        vector's gradient (straight-through).

    Examples:
        >>> g = torch.Generator().manual_seed(0)
        >>> y = gumbel_softmax_top_k(torch.zeros(2, 5), k=2, tau=0.5, generator=g)
        >>> torch.allclose(y.sum(-1), torch.tensor(2.0))
        True
    """
    dim = check_logits(logits, dim)
    k = check_sample_size(logits, k, dim)
    tau = check_tau(tau, logits, dim)
    if logits.numel() == 0:
        return logits.softmax(dim)
    minus_gumbel = log_exponential(logits.shape, compute_dtype(logits.dtype), logits.device, generator)
    return relax(logits, minus_gumbel, tau, hard, dim, k)

r"""MAP solvers: `argmax_y <y, theta>` over k-subsets, matchings and monotone grid paths.

I-MLE (`gumbel_softmax.structured.imle`, in `implicit_mle`) and the perturbed optimizers
(`gumbel_softmax.structured.perturbed_argmax`) treat a combinatorial solver as a black box: a callable
that takes scores `theta` of any leading batch shape and returns, for each, the structure `y` (a 0/1
tensor in the shape of `theta`) that maximizes the linear score

```text
y^*(\theta) = \operatorname{argmax}_{y \in \mathcal{Y}} \langle y, \theta \rangle .
```

Three solvers are here, each exact and batched; any other (a call into an external solver, say) works
the same way, and a minimization problem becomes one by negating its costs.

- `top_k_argmax`: `Y` = k-hot vectors; `y*` marks the `k` largest scores.
- `matching_argmax`: `Y` = `n x n` permutation matrices; `y*` is the maximum-weight matching, by the
  Hungarian algorithm of `gumbel_softmax.structured.best_permutation`.
- `grid_path_argmax`: `Y` = paths on an `H x W` grid from the top-left to the bottom-right cell that
  move one cell right or down at a time (a DAG), as 0/1 masks of the cells visited; `y*` maximizes the
  total score of the cells visited. With `theta = -costs` it is the shortest path, the structure of
  the Warcraft shortest-path benchmark used by Vlastelica et al. (ICLR 2020) and Niepert et al.
  (NeurIPS 2021), there with 8-neighbour moves. The dynamic program, with `B(i, j)` the best score of
  a path ending at cell `(i, j)`,

```text
B(0, 0) = \theta_{00}, \qquad B(i, j) = \theta_{ij} + \max\big(B(i - 1, j),\ B(i, j - 1)\big),
```

  runs over the `H + W - 1` anti-diagonals, each step vectorized over the batch and the diagonal, and
  the path is read back from the choices (ties: from above).
"""

from __future__ import annotations

import torch
from torch import Tensor

from gumbel_softmax.checks import check_logits, check_sample_size, values_checked
from gumbel_softmax.structured.permutations import best_permutation

__all__ = ["top_k_argmax", "matching_argmax", "grid_path_argmax"]


def top_k_argmax(scores: Tensor, k: int, dim: int = -1) -> Tensor:
    """The k-hot vector of the `k` largest scores along `dim` (ties: the lower index, as `torch.topk`).

    Args:
        scores: a floating tensor; `-inf` masks an item (never chosen while `k` others are unmasked).
        k: the number of items chosen, from 1 to the size of `scores` along `dim`.
        dim: the axis of the items.

    Returns:
        a 0/1 tensor of the shape and dtype of `scores` with `k` ones along `dim`. Not differentiable.

    Examples:
        >>> top_k_argmax(torch.tensor([0.5, 2.0, -1.0, 1.0]), k=2).tolist()
        [0.0, 1.0, 0.0, 1.0]
    """
    dim = check_logits(scores, dim, "scores")
    k = check_sample_size(scores, k, dim)
    index = scores.detach().topk(k, dim).indices
    return torch.zeros_like(scores, requires_grad=False).scatter_(dim, index, 1.0)


def matching_argmax(scores: Tensor) -> Tensor:
    """The permutation matrix of the maximum-score matching of each `n x n` matrix of `scores`.

    Args:
        scores: a floating tensor `[..., n, n]`, as in `gumbel_softmax.structured.best_permutation`.

    Returns:
        a permutation matrix per matrix, in the shape and dtype of `scores`: entry `(i, j)` is 1 when
        row `i` is matched to column `j`. Not differentiable.

    Examples:
        >>> matching_argmax(torch.tensor([[1.0, 5.0], [2.0, 9.0]])).tolist()
        [[1.0, 0.0], [0.0, 1.0]]
    """
    sigma = best_permutation(scores)
    return torch.nn.functional.one_hot(sigma, scores.shape[-1]).to(scores.dtype)


def grid_path_argmax(scores: Tensor) -> Tensor:
    """The best monotone path through each `H x W` grid: top-left to bottom-right, moving right or down.

    Args:
        scores: a finite floating tensor `[..., H, W]`: the score of each cell. For the shortest path
            under costs `c >= 0`, pass `-c`.

    Returns:
        a 0/1 mask of the cells on the path, in the shape and dtype of `scores` (`H + W - 1` ones per
        grid), maximizing the sum of `scores` over its cells. Not differentiable.

    Raises:
        ValueError: `scores` has fewer than 2 dims or holds NaN or infinities.

    Examples:
        >>> costs = torch.tensor([[1.0, 9.0, 9.0], [1.0, 1.0, 9.0], [9.0, 1.0, 1.0]])
        >>> grid_path_argmax(-costs).int().tolist()
        [[1, 0, 0], [1, 1, 0], [0, 1, 1]]
    """
    check_logits(scores, -1, "scores")
    if scores.ndim < 2:
        raise ValueError(f"scores must be a batch of grids, shape [..., H, W]; got shape {tuple(scores.shape)}")
    if values_checked() and scores.numel() > 0 and scores.device.type != "meta":
        if not bool(torch.isfinite(scores.detach()).all()):
            raise ValueError("scores must be finite: every cell can be on a path (give a blocked cell a large cost)")
    height, width = scores.shape[-2:]
    batch_shape = scores.shape[:-2]
    s = scores.detach().to(torch.float64).reshape(-1, height, width)
    size, device = s.shape[0], s.device
    mask = torch.zeros(size, height, width, dtype=scores.dtype, device=device)
    if size == 0 or height == 0 or width == 0:
        return mask.reshape(scores.shape)
    # best[:, i + 1, j + 1] = B(i, j); the border row and column are -inf (no cell there).
    best = torch.full((size, height + 1, width + 1), float("-inf"), dtype=torch.float64, device=device)
    from_above = torch.zeros(size, height, width, dtype=torch.bool, device=device)
    best[:, 1, 1] = s[:, 0, 0]
    for d in range(1, height + width - 1):
        i = torch.arange(max(0, d - width + 1), min(height - 1, d) + 1, device=device)
        j = d - i
        above, left = best[:, i, j + 1], best[:, i + 1, j]
        from_above[:, i, j] = above >= left
        best[:, i + 1, j + 1] = s[:, i, j] + torch.maximum(above, left)
    arange = torch.arange(size, device=device)
    i = torch.full((size,), height - 1, dtype=torch.long, device=device)
    j = torch.full((size,), width - 1, dtype=torch.long, device=device)
    mask[arange, i, j] = 1
    for _ in range(height + width - 2):
        up = (from_above[arange, i, j] & (i > 0)) | (j == 0)
        i, j = torch.where(up, i - 1, i), torch.where(up, j, j - 1)
        mask[arange, i, j] = 1
    return mask.reshape(batch_shape + (height, width))

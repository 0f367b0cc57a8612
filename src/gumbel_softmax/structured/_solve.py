"""What I-MLE, the perturbed optimizers and the relaxation switch share: calling a MAP solver and checking it.

A MAP solver is any callable `solver(scores) -> structure` that returns `argmax_y <y, scores>` over a set of
structures (k-hot vectors, permutation matrices, paths), in the shape of `scores`, for every leading batch
index at once.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

__all__ = ["Solver", "check_solver", "solve", "check_event_dims"]

Solver = Callable[[Tensor], Tensor]


def check_solver(solver: object) -> Solver:
    """Refuse a `solver` that is not callable, with a message that says what to pass."""
    if not callable(solver):
        raise TypeError(
            f"solver must be a callable scores -> structure (for example functools.partial(top_k_argmax, k=3)), "
            f"got {type(solver).__name__}"
        )
    return solver  # type: ignore[return-value]


def solve(solver: Solver, scores: Tensor) -> Tensor:
    """`solver(scores)` without gradients, checked: a tensor of the shape of `scores`, in its dtype."""
    with torch.no_grad():
        out = solver(scores.detach())
    if not isinstance(out, Tensor):
        raise TypeError(f"the solver must return a torch.Tensor, got {type(out).__name__}")
    if out.shape != scores.shape:
        raise ValueError(
            f"the solver returned shape {tuple(out.shape)} for scores of shape {tuple(scores.shape)}; it must "
            "return one structure per score tensor, in the shape of the scores (a k-hot vector, a permutation "
            "matrix, a 0/1 mask of a path)"
        )
    return out.to(dtype=scores.dtype, device=scores.device)


def check_event_dims(event_dims: object, theta: Tensor) -> int:
    """The number of trailing dims of `theta` that form one structure: an int from 1 to `theta.ndim`."""
    if isinstance(event_dims, bool) or not isinstance(event_dims, int) or not 1 <= event_dims <= max(theta.ndim, 1):
        raise ValueError(
            f"event_dims must be an int from 1 to {max(theta.ndim, 1)} (the trailing dims of one structure: "
            f"1 for vectors, 2 for matrices), got {event_dims!r}"
        )
    return event_dims

"""ReinMax: a second-order (Heun's method) straight-through estimator.

Liu, Liu, Gao, Chen, Han, "Bridging Discrete and Backpropagation: Straight-Through and
Beyond", NeurIPS 2023, Algorithm 2. With `pi_0 = softmax(l)` and a one-hot sample
`D ~ Categorical(pi_0)`:

```text
\\pi_1 = \\tfrac12 \\left(D + \\mathrm{softmax}(l / \\tau)\\right), \\qquad
\\pi_1 \\leftarrow \\mathrm{softmax}\\left(\\mathrm{sg}(\\log \\pi_1 - l) + l\\right), \\\\
\\pi_2 = 2 \\pi_1 - \\tfrac12 \\pi_0, \\qquad
\\hat D = \\pi_2 - \\mathrm{sg}(\\pi_2) + D.
```

The second line keeps the value of `pi_1` but gives it the softmax Jacobian
`diag(pi_1) - pi_1 pi_1^T` in `l`. So for an upstream gradient `g`
the estimator is `2 (diag(pi_1) - pi_1 pi_1^T) g - 1/2 (diag(pi_0) - pi_0 pi_0^T) g`.

How `tau` is used: only in `softmax(l / tau)` inside `pi_1` (the backward pass).
The forward sample is always drawn at temperature 1 from `softmax(l)`, as in the paper.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gumbel_softmax.checks import check_logits, check_tau
from gumbel_softmax.functional import sample_one_hot

__all__ = ["reinmax", "reinmax_from_sample"]


def reinmax_from_sample(logits: Tensor, hard: Tensor, tau: float | Tensor = 1.0, dim: int = -1) -> Tensor:
    """Algorithm 2 of Liu et al. (2023) for a given one-hot sample `hard`.

    Args:
        logits: unnormalized log-probabilities, categories along `dim`.
        hard: a one-hot tensor shaped like `logits` (the sample `D`).
        tau: temperature of `softmax(logits / tau)` in `pi_1`.
        dim: the category axis.

    Returns:
        `hard` in value, with the ReinMax gradient in the backward pass.

    Raises:
        ValueError: bad logits or `tau` (as `gumbel_softmax`), or `hard` not shaped like `logits`.
    """
    dim = check_logits(logits, dim)
    tau = check_tau(tau, logits, dim)
    if not isinstance(hard, Tensor) or hard.shape != logits.shape:
        got = tuple(hard.shape) if isinstance(hard, Tensor) else type(hard).__name__
        raise ValueError(f"hard must be a one-hot tensor shaped like logits {tuple(logits.shape)}, got {got}")
    return _with_reinmax_gradient(logits, hard, tau, dim)


def _with_reinmax_gradient(logits: Tensor, hard: Tensor, tau: float | Tensor, dim: int) -> Tensor:
    """`hard` with Algorithm 2's gradient; the arguments are already checked (`dim` normalized)."""
    pi0 = torch.softmax(logits, dim)
    pi1 = 0.5 * (hard + torch.softmax(logits / tau, dim))
    shift = (pi1.log() - logits).detach().masked_fill(torch.isneginf(logits), 0.0)  # masked: -inf - -inf
    pi1 = torch.softmax(shift + logits, dim)
    pi2 = 2.0 * pi1 - 0.5 * pi0
    return hard + (pi2 - pi2.detach())


def reinmax(
    logits: Tensor, tau: float | Tensor = 1.0, dim: int = -1, *, generator: torch.Generator | None = None
) -> Tensor:
    """One-hot sample from `softmax(logits)` whose backward pass is ReinMax (Liu et al. 2023).

    Args:
        logits: unnormalized log-probabilities, categories along `dim`.
        tau: temperature used only in the backward pass (see the module docstring).
        dim: the category axis.
        generator: source of the sample's randomness.

    Returns:
        a one-hot tensor shaped like `logits`.
    """
    dim = check_logits(logits, dim)
    tau = check_tau(tau, logits, dim)
    return _with_reinmax_gradient(logits, sample_one_hot(logits.detach(), dim, generator=generator), tau, dim)

"""Gumbel-Rao: the straight-through Gumbel-Softmax gradient, Rao-Blackwellized over the noise.

Paulus, Maddison, Krause, "Rao-Blackwellizing the Straight-Through Gumbel-Softmax
Gradient Estimator", ICLR 2021, eq. (6)-(7). With `D = argmax(l + G)` the ST-GS
gradient is `J(G)^T dL/dD` for the Jacobian `J(G)` of `softmax((l + G) / tau)`.
Gumbel-Rao replaces it by its conditional expectation given `D`, estimated with
`k` draws of the noise conditioned on `D` (`.conditional_gumbel`):

```text
\\hat z = D + \\bar y - \\mathrm{sg}(\\bar y), \\qquad
\\bar y = \\frac{1}{k} \\sum_{j=1}^{k} \\mathrm{softmax}((l + \\tilde G_j) / \\tau),
\\qquad \\tilde G_j \\sim G \\mid \\operatorname{argmax}(l + G) = D.
```

The noise is held fixed in the backward pass (it is detached), exactly as in ST-GS, so
`k = 1` is ST-GS in distribution and the variance falls as `k` grows (Rao-Blackwell):
`Var_k = Var(E[J^T g | D]) + E[Var(J^T g | D)] / k`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gumbel_softmax.estimators._conditional_gumbel import conditional_gumbel
from gumbel_softmax.estimators.base import categories_last, draw
from gumbel_softmax.functional import gumbel_softmax_from_noise

__all__ = ["check_draws", "gumbel_rao"]


def gumbel_rao(
    logits: Tensor,
    tau: float | Tensor = 1.0,
    k: int = 10,
    dim: int = -1,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """One-hot categorical sample whose backward pass is the Gumbel-Rao estimator with `k` draws.

    Args:
        logits: unnormalized log-probabilities, categories along `dim`.
        tau: temperature of the soft samples in the backward pass.
        k: number of conditional noise draws averaged (`k = 1` is ST-GS).
        dim: the category axis.
        generator: source of randomness (the sample, then the `k` conditional draws).

    Returns:
        a one-hot tensor shaped like `logits`.
    """
    check_draws(k)
    moved, tau, dim = categories_last(logits, tau, dim)
    index, hard = draw(moved, generator)
    many = moved.detach().expand((k,) + moved.shape)
    noise = conditional_gumbel(many, index.expand((k,) + index.shape), generator=generator)
    soft = gumbel_softmax_from_noise(moved.expand((k,) + moved.shape), noise, tau).mean(0)
    return (hard + (soft - soft.detach())).movedim(-1, dim)


def check_draws(k: int) -> int:
    """`k` if it is a valid number of conditional noise draws (an int >= 1), else `ValueError`."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k (the number of conditional noise draws) must be an int >= 1, got {k!r}")
    return k

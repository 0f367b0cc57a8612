"""ZGR: the Gumbel-Rao estimator at zero temperature, in closed form.

Shekhovtsov, "Cold Analysis of Rao-Blackwellized Straight-Through Gumbel-Softmax Gradient
Estimator", ICML 2023. As `tau -> 0` the Gumbel-Rao gradient (Paulus et al. 2021) has a closed
form that needs no noise at all: the average of the straight-through gradient (the Jacobian of
`p = softmax(l)`) and the DARN / REINFORCE-with-linearization term. With `D` the one-hot sample
of category `x`:

```text
\\hat z = D + d - \\mathrm{sg}(d), \\qquad
d = \\tfrac12\\big(p + (D - \\mathrm{sg}(p))\\,\\log p_x\\big),
```

so for an upstream gradient `g = dL/dD`

```text
\\frac{\\partial L}{\\partial l}
= \\tfrac12\\Big((\\mathrm{diag}(p) - p p^T)\\, g
+ \\big(g^T (D - p)\\big)\\,(D - p)\\Big).
```

Read against the authors' code (shekhovt/ZGR, `zgr.py`: function `ZGR`, and its binary form
`ZGR_binary`, where the gradient is `J = (b (1 - p) + (1 - b) p) / 2`, "DARN(1/2)"). The binary form
is the categorical one at `K = 2` with logits `(0, l)` (both give `(1 - p) / 2` when `b = 1` and
`p / 2` when `b = 0`), so this one function serves both. ZGR has no temperature: the call's `tau`
is accepted and ignored. Biased in general; for `f` linear in `D` both halves have expectation
`(diag(p) - p p^T) g`, the exact gradient, so ZGR is then unbiased.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gumbel_softmax.estimators.base import categories_last, draw

__all__ = ["zgr"]


def zgr(logits: Tensor, dim: int = -1, *, generator: torch.Generator | None = None) -> Tensor:
    """One-hot categorical sample whose backward pass is ZGR (Shekhovtsov 2023).

    Args:
        logits: unnormalized log-probabilities, categories along `dim`.
        dim: the category axis.
        generator: source of the sample's randomness.

    Returns:
        a one-hot tensor shaped like `logits` (exact 0.0/1.0 values); `-inf` categories are never drawn
        and get gradient 0.

    Examples:
        >>> logits = torch.tensor([[1.0, 0.0, -1.0]], requires_grad=True)
        >>> z = zgr(logits, generator=torch.Generator().manual_seed(0))
        >>> z.sum().item()
        1.0
    """
    moved, _, dim = categories_last(logits, 1.0, dim)
    index, hard = draw(moved, generator)
    log_p = torch.log_softmax(moved, -1)
    p = log_p.exp()
    log_p_drawn = log_p.gather(-1, index.unsqueeze(-1))
    half = (p + (hard - p.detach()) * log_p_drawn) / 2
    return (hard + (half - half.detach())).movedim(-1, dim)

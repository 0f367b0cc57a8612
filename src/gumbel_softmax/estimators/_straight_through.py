"""Plain straight-through (Bengio, Leonard, Courville 2013, "Estimating or propagating gradients
through stochastic neurons for conditional computation", arXiv 1308.3432).

Forward: an exact categorical sample `D ~ Categorical(softmax(logits))` as a one-hot vector.
Backward: the gradient of the probabilities, as if `D` were `softmax(logits / tau)`:

```text
\\hat z = D + p_\\tau - \\mathrm{sg}(p_\\tau), \\qquad p_\\tau = \\mathrm{softmax}(\\ell / \\tau),
\\qquad \\frac{\\partial \\hat z}{\\partial \\ell}
= \\frac{1}{\\tau}(\\mathrm{diag}(p_\\tau) - p_\\tau p_\\tau^T).
```

`tau = 1` is Bengio et al.'s estimator (torch's `OneHotCategoricalStraightThrough`);
other values give the slope-annealed variant (Chung, Ahn, Bengio 2017) that Jang et al.
(2017, Table 1) list as "Annealed ST". The forward sample never depends on `tau`.
For Bernoulli logits (two-class form) the backward pass is `sigmoid'(l / tau) / tau`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gumbel_softmax.checks import check_logits, check_tau
from gumbel_softmax.functional import sample_one_hot

__all__ = ["straight_through"]


def straight_through(
    logits: Tensor, tau: float | Tensor = 1.0, dim: int = -1, *, generator: torch.Generator | None = None
) -> Tensor:
    """One-hot categorical sample with the straight-through gradient of `softmax(logits / tau)`.

    Args:
        logits: unnormalized log-probabilities, categories along `dim`.
        tau: slope of the backward softmax (1 = plain ST); the sample does not depend on it.
        dim: the category axis.
        generator: source of the sample's randomness.

    Returns:
        a one-hot tensor shaped like `logits` (exact 0.0/1.0 values).
    """
    dim = check_logits(logits, dim)
    tau = check_tau(tau, logits, dim)
    hard = sample_one_hot(logits.detach(), dim, generator=generator)
    probs = torch.softmax(logits / tau, dim)
    return hard + (probs - probs.detach())

"""Gumbel noise conditioned on the argmax: the truncated-Gumbel construction.

Let `X_j = l_j + G_j` with `G_j` standard Gumbel. Given `argmax_j X_j = i`
(Maddison, Tarlow, Minka 2014, "A* Sampling", Section 3; Paulus, Maddison, Krause 2021,
"Rao-Blackwellizing the Straight-Through Gumbel-Softmax Gradient Estimator", Appendix):

* the maximum `M = X_i` is `Gumbel(log Z)` with `log Z = logsumexp_j l_j`,
  independent of `i`;
* every other `X_j` is `Gumbel(l_j)` truncated to `X_j <= M`, independently.

A `Gumbel(mu)` variable truncated to `(-inf, b]` has CDF
`F(x) = exp(-(exp(mu - x) - exp(mu - b)))` for `x <= b`; inverting it with an
exponential draw `E = exp(-G)` (`G` standard Gumbel) gives

```text
X = -\\log\\left(e^{-b} + e^{-(\\mu + G)}\\right) = -\\operatorname{logaddexp}(-b, -(\\mu + G)).
```

Both pieces are smooth in the logits for fixed standard-Gumbel draws, which is the
reparameterization of `p(z | b)` that REBAR needs (Tucker et al. 2017, Appendix C).
"""

from __future__ import annotations

import torch
from torch import Tensor

from gumbel_softmax.checks import values_checked
from gumbel_softmax.noise import gumbel_like

__all__ = ["truncated_gumbel", "conditional_gumbel"]


def check_index(logits: Tensor, index: Tensor) -> None:
    """Refuse an `index` that cannot be the argmax of `logits + G` (shape, dtype, range, masked)."""
    if not isinstance(index, Tensor) or index.dtype.is_floating_point or index.dtype == torch.bool:
        raise TypeError("index must be an integer tensor of category indices")
    if index.shape != logits.shape[:-1]:
        raise ValueError(f"index has shape {tuple(index.shape)}; logits {tuple(logits.shape)} need "
                         f"{tuple(logits.shape[:-1])} (one category per row)")
    if values_checked() and index.numel() > 0 and index.device.type != "meta":
        categories = logits.shape[-1]
        if bool(((index < 0) | (index >= categories)).any()):
            raise ValueError(f"index must lie in [0, {categories - 1}] (the categories of logits)")
        if bool(torch.isneginf(logits.detach().gather(-1, index.unsqueeze(-1))).any()):
            raise ValueError("index names a masked (-inf) category, which is never the argmax")


def truncated_gumbel(location: Tensor, upper: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
    """Draw `Gumbel(location)` truncated to `(-inf, upper]`.

    Args:
        location: the Gumbel location `mu` (may be `-inf`: the draw is then `-inf`).
        upper: the truncation point `b`, broadcastable to `location`.
        generator: source of randomness.

    Returns:
        a tensor of the shape of `location`; differentiable in both arguments.
    """
    noise = gumbel_like(location.detach(), generator=generator)
    return -torch.logaddexp(-upper, -(location + noise))


def conditional_gumbel(logits: Tensor, index: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
    """Gumbel noise `G` drawn from its law given `argmax(logits + G, -1) = index`.

    Args:
        logits: `[..., K]` logits, categories on the last axis (`-inf` = masked).
        index: `[...]` int64, the conditioning category of each row (must be unmasked).
        generator: source of randomness.

    Returns:
        `G` shaped like `logits` with `argmax(logits + G) = index` (ties have
        probability zero); 0 at masked entries. Differentiable in `logits` for fixed
        underlying draws; detach it for Gumbel-Rao, keep the graph for REBAR/RELAX.

    Raises:
        ValueError: `index` is not an integer tensor of shape `logits.shape[:-1]`, or (with validation on)
            names a category out of range or masked.
    """
    check_index(logits, index)
    top = index.unsqueeze(-1)
    log_z = torch.logsumexp(logits, -1, keepdim=True)
    maximum = log_z + gumbel_like(log_z.detach(), generator=generator)
    # Masked entries get a finite stand-in location so no inf - inf reaches the backward pass.
    masked = torch.isneginf(logits)
    location = logits.masked_fill(masked, 0.0)
    perturbed = truncated_gumbel(location, maximum, generator=generator).scatter(-1, top, maximum)
    return torch.where(masked, torch.zeros_like(perturbed), perturbed - location)

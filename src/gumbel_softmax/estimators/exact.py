"""The exact gradient of `E[f(z)]` by enumerating every joint configuration.

```text
\\nabla_l \\mathbb{E}[f(z)] = \\nabla_l \\sum_{z} \\prod_v p_l(z_v)\\, f(z)
```

For the proofs and the benchmark: feasible when `K^V` (categories to the power of the
number of variables) is small, e.g. `10^3`.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor

from gumbel_softmax.estimators.base import Loss

__all__ = ["exact_gradient", "all_configurations"]

MAX_CONFIGURATIONS = 100_000


def all_configurations(logits: Tensor) -> Tensor:
    """Every joint one-hot configuration of the variables in `logits` `[*variables, K]`.

    Returns:
        `[K^V, *variables, K]` one-hot, in the dtype of `logits`.
    """
    shape, k = logits.shape[:-1], logits.shape[-1]
    count = k ** math.prod(shape)
    if count > MAX_CONFIGURATIONS:
        raise ValueError(f"{count} configurations to enumerate (more than {MAX_CONFIGURATIONS}); use a smaller problem")
    index = torch.tensor(list(itertools.product(range(k), repeat=math.prod(shape))), dtype=torch.int64)
    index = index.reshape((count,) + tuple(shape))
    return torch.zeros((count,) + tuple(logits.shape), dtype=logits.dtype).scatter_(-1, index.unsqueeze(-1), 1.0)


def exact_gradient(logits: Tensor, f: Loss, bernoulli: bool = False) -> tuple[Tensor, Tensor]:
    """`(E[f(z)], grad_logits E[f(z)])` for independent categorical (or Bernoulli) variables.

    Args:
        logits: `[*variables, K]` categorical logits (categories last), or `[*variables]`
            Bernoulli logits with `bernoulli=True`. No batch dims.
        f: `f(z) -> [M]` for a batch `z` of `M` configurations `[M, *logits.shape]`
            (one-hot, or `{0, 1}` for Bernoulli).
        bernoulli: `logits` are Bernoulli logits.

    Returns:
        the expectation (0-d) and its gradient (the shape of `logits`), detached.
    """
    theta = logits.detach().requires_grad_()
    cat = torch.stack([torch.zeros_like(theta), theta], -1) if bernoulli else theta
    configs = all_configurations(cat)
    logp = (configs * torch.log_softmax(cat, -1).masked_fill(configs == 0, 0.0)).flatten(1).sum(1)
    values = f(configs[..., 1] if bernoulli else configs)
    expectation = (logp.exp() * values).sum()
    (grad,) = torch.autograd.grad(expectation, theta)
    return expectation.detach(), grad

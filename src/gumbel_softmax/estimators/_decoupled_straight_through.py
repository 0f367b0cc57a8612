"""Decoupled straight-through Gumbel-Softmax: one temperature for the sample, another for the gradient.

Shah, Yan, Mozer, Liu, "Improving Discrete Optimisation Via Decoupled Straight-Through Gumbel-Softmax",
arXiv 2410.13331 (v1, 2024; v2 is titled "... Decoupled Straight-Through Estimator"). The paper
writes the Gumbel-Softmax sample with the temperature on the logits only, `softmax(l / tau + G)`, and
gives the forward and the backward pass their own temperatures `tau_f` and `tau_b` with one noise
draw `G`:

```text
D = \\mathrm{onehot}\\big(\\operatorname{argmax}(l / \\tau_f + G)\\big), \\qquad
y = \\mathrm{softmax}(l / \\tau_b + G), \\qquad
\\hat z = D + y - \\mathrm{sg}(y).
```

So the forward temperature changes the hard sample: `D ~ Categorical(softmax(l / tau_f))` (Gumbel-max
on the logits `l / tau_f`), sharper than the model's distribution for `tau_f < 1` and flatter for
`tau_f > 1`, and `f` is averaged under that tempered law, not under `softmax(l)`. Only `tau_f = 1`
draws from the model. The backward pass is the softmax Jacobian at `y`, `(diag(y) - y y^T) / tau_b`.
(Were the temperature applied to `l + G` as in Jang et al., `argmax((l + G) / tau_f)` would not
depend on `tau_f` at all, and the forward temperature could not control the "forward-pass
stochasticity, which controls exploration" that the paper's v2 abstract names.)

Where this was confirmed, and how far: the role of `tau_f` (forward stochasticity and exploration,
separate from the backward pass's gradient dispersion) is in the paper's own abstract (arXiv
2410.13331v2). The form `softmax(l / tau + G)`, with the paper's footnote that it differs from the
original `softmax((l + G) / tau)`, is as a published review of the ICLR 2025 submission (OpenReview
5pFV1FxG9d) reports it; a summary of the paper gives the forward pass as
`z ~ Categorical(softmax(l / tau_f))`, which agrees. The method section itself could not be read
here, so this is the construction as those sources state it, not checked against the authors' code
(none was found).

In the registry (`decoupled_st`) the call's `tau` is `tau_b`, the relaxation's temperature, and the
option `forward_tau` is `tau_f` (default 1: exact samples from the model). Biased, like ST-GS.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gumbel_softmax.checks import check_positive_finite
from gumbel_softmax.estimators.base import categories_last, one_hot
from gumbel_softmax.noise import gumbel_noise

__all__ = ["decoupled_straight_through"]


def decoupled_straight_through(
    logits: Tensor,
    tau: float | Tensor = 1.0,
    dim: int = -1,
    *,
    forward_tau: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """One-hot sample of `softmax(logits / forward_tau)` with the gradient of `softmax(logits / tau + G)`.

    Args:
        logits: unnormalized log-probabilities, categories along `dim`.
        tau: the backward temperature `tau_b` (a float, or a tensor as in `gumbel_softmax`).
        dim: the category axis.
        forward_tau: the forward temperature `tau_f > 0`; the sample is drawn from
            `softmax(logits / forward_tau)`, so 1 draws from the model.
        generator: source of the one noise draw `G` both passes share.

    Returns:
        a one-hot tensor shaped like `logits` (exact 0.0/1.0 values).

    Raises:
        ValueError: bad logits or `tau`, or a `forward_tau` that is not finite and `> 0`.

    Examples:
        >>> logits = torch.tensor([[1.0, 0.0, -1.0]], requires_grad=True)
        >>> z = decoupled_straight_through(logits, 2.0, forward_tau=0.5, generator=torch.Generator().manual_seed(0))
        >>> z.sum().item()
        1.0
    """
    forward_tau = check_positive_finite("forward_tau", forward_tau)
    moved, tau, dim = categories_last(logits, tau, dim)
    noise = gumbel_noise(moved.shape, dtype=moved.dtype, device=moved.device, generator=generator)
    hard = one_hot((moved.detach() / forward_tau + noise).argmax(-1), moved)
    soft = torch.softmax(moved / tau + noise, -1)
    return (hard + (soft - soft.detach())).movedim(-1, dim)

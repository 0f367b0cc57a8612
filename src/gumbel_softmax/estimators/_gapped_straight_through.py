"""Gapped straight-through (GST-1.0 and GST-p): ST-GS without the Gumbel noise.

Fan, Chi, Rudnicky, Ramadge, "Training Discrete Deep Generative Models via Gapped
Straight-Through Estimator", ICML 2022. Instead of perturbing the logits with Gumbel
noise, GST moves them deterministically so that the sampled category leads every other
one by at least a gap `kappa`, and differentiates the softmax of the moved logits. With
`\\tilde\\theta = \\mathrm{sg}(\\theta)`, a one-hot sample `D ~ Categorical(softmax(\\tilde\\theta))`
and `m = \\max_i \\tilde\\theta_i`:

```text
m_1 = (m - \\tilde\\theta) \\odot D, \\qquad
m_2 = \\mathrm{ReLU}(\\tilde\\theta - m + \\kappa) \\odot (1 - D), \\\\
\\theta' = \\theta + \\mathrm{sg}(m_1 - m_2), \\qquad
y = \\mathrm{softmax}(\\theta' / \\tau), \\qquad
\\hat D = D + y - \\mathrm{sg}(y).
```

In value, the sampled logit is raised to the maximum `m` and every other one is lowered
to `min(theta_i, m - kappa)`; the gradient is the softmax Jacobian at `y`,
`(diag(y) - y y^T) / tau`. GST-1.0 uses `kappa = 1`; GST-p uses
`kappa = -log(1 - pi_D) / pi_D` for the sampled category's probability `pi_D`, a gap
that grows from 1 (as `pi_D -> 0`) without bound (as `pi_D -> 1`).

Read against the authors' code (chijames/GST, `gst_mover` in `model/basic.py`), with
two differences that change no value and no gradient: their `theta'` is also
mean-centred before the softmax, which `softmax` ignores, and masking is by `-inf`
logits here (a masked category is never drawn, keeps `theta' = -inf` and gets gradient
0). Kept from their code: `pi_D` is scaled by `1 - 1e-5` in GST-p, so the gap stays
below `-log(1e-5) ~ 11.5`; and `kappa = 1` (the limit) where `pi_D` underflows to 0.
The sample is drawn at temperature 1; `tau` only enters the backward softmax.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gumbel_softmax.checks import check_logits, check_positive_finite, check_tau
from gumbel_softmax.functional import sample_one_hot

__all__ = ["check_gap", "gapped_straight_through", "gapped_straight_through_from_sample"]

P_CLAMP = 1.0 - 1e-5  # the authors' factor on pi_D in GST-p ("for numerical stability")


def check_gap(gap: float | str) -> float | str:
    """`gap` if it is a finite number `>= 0` (a fixed `kappa`) or the string `"p"` (GST-p).

    Raises:
        ValueError: another string, or a negative, NaN or infinite number.
        TypeError: neither a number nor a string.
    """
    if isinstance(gap, str):
        if gap != "p":
            raise ValueError(f"gap must be a number >= 0 (GST-1.0: 1.0) or 'p' (GST-p), got {gap!r}")
        return gap
    return check_positive_finite("gap", gap, zero_ok=True)


def gapped_straight_through_from_sample(
    logits: Tensor, hard: Tensor, tau: float | Tensor = 1.0, dim: int = -1, gap: float | str = 1.0
) -> Tensor:
    """The GST construction of Fan et al. (2022) for a given one-hot sample `hard`.

    Args:
        logits: unnormalized log-probabilities, categories along `dim`.
        hard: a one-hot tensor shaped like `logits` (the sample `D`).
        tau: temperature of the backward softmax `softmax(theta' / tau)`.
        dim: the category axis.
        gap: `kappa`, a number `>= 0` (1.0 is GST-1.0), or `"p"` for GST-p's
            `kappa = -log(1 - pi_D) / pi_D`.

    Returns:
        `hard` in value, with the gapped straight-through gradient in the backward pass.

    Raises:
        ValueError: bad logits, `tau` or `gap`, or `hard` not shaped like `logits`.
    """
    dim = check_logits(logits, dim)
    tau = check_tau(tau, logits, dim)
    checked = check_gap(gap)
    if not isinstance(hard, Tensor) or hard.shape != logits.shape:
        got = tuple(hard.shape) if isinstance(hard, Tensor) else type(hard).__name__
        raise ValueError(f"hard must be a one-hot tensor shaped like logits {tuple(logits.shape)}, got {got}")
    return _with_gapped_gradient(logits, hard, tau, dim, checked)


def _with_gapped_gradient(logits: Tensor, hard: Tensor, tau: float | Tensor, dim: int, gap: float | str) -> Tensor:
    """`hard` with the GST gradient; the arguments are already checked (`dim` normalized)."""
    checked = gap
    theta = logits.detach()
    chosen = hard.detach() > 0.5
    top = theta.amax(dim, keepdim=True)
    kappa: float | Tensor
    if isinstance(checked, str):  # "p"
        pi = (torch.softmax(theta, dim) * chosen).sum(dim, keepdim=True) * P_CLAMP
        kappa = torch.where(pi > 0, -torch.log1p(-pi) / pi, torch.ones_like(pi))
    else:
        kappa = checked
    zero = torch.zeros((), dtype=theta.dtype, device=theta.device)
    raise_chosen = torch.where(chosen, top - theta, zero)  # m1; where() keeps masked (inf) entries out
    lower_others = torch.where(chosen, zero, torch.relu(theta - top + kappa))  # m2; relu(-inf) = 0
    soft = torch.softmax((logits + (raise_chosen - lower_others)) / tau, dim)
    return hard + (soft - soft.detach())


def gapped_straight_through(
    logits: Tensor,
    tau: float | Tensor = 1.0,
    dim: int = -1,
    *,
    gap: float | str = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """One-hot sample from `softmax(logits)` whose backward pass is gapped straight-through (Fan et al. 2022).

    Args:
        logits: unnormalized log-probabilities, categories along `dim`.
        tau: temperature of the backward softmax; the sample does not depend on it.
        dim: the category axis.
        gap: `kappa`: 1.0 for GST-1.0, `"p"` for GST-p, or another number `>= 0`.
        generator: source of the sample's randomness.

    Returns:
        a one-hot tensor shaped like `logits` (exact 0.0/1.0 values).

    Examples:
        >>> logits = torch.tensor([[1.0, 0.0, -1.0]], requires_grad=True)
        >>> z = gapped_straight_through(logits, gap="p", generator=torch.Generator().manual_seed(0))
        >>> z.sum().item(), z.detach().max().item()
        (1.0, 1.0)
    """
    dim = check_logits(logits, dim)
    tau = check_tau(tau, logits, dim)
    gap = check_gap(gap)
    hard = sample_one_hot(logits.detach(), dim, generator=generator)
    return _with_gapped_gradient(logits, hard, tau, dim, gap)

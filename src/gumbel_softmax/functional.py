"""The reference definitions: Gumbel-Softmax, and exact sampling by the Gumbel-max trick.

With `G_k` independent standard Gumbel noise (`gumbel_softmax.noise`):

* Gumbel-max (Gumbel 1954; Maddison, Tarlow, Minka 2014):
  `argmax_k (logits_k + G_k) ~ Categorical(softmax(logits))` exactly.
* Gumbel-Softmax / Concrete (Jang, Gu, Poole, ICLR 2017; Maddison, Mnih, Teh,
  ICLR 2017): `y = softmax((logits + G) / tau)`, a differentiable point on the
  simplex that tends to the Gumbel-max one-hot sample as `tau -> 0`.
* Straight-through Gumbel-Softmax (Jang et al. 2017, Section 2.2): the forward
  value is the exact one-hot `onehot(argmax_k (logits_k + G_k))`; the backward
  pass is the gradient of the soft `y` drawn with the same noise.

These pure-PyTorch functions are the definitions. A fused kernel, where
`gumbel_softmax.backend` selects one, computes the same function.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

from gumbel_softmax._relaxation import one_hot_like, relax
from gumbel_softmax.backend import kernel_for
from gumbel_softmax.checks import check_logits, check_noise, check_tau
from gumbel_softmax.noise import compute_dtype, log_exponential

__all__ = ["gumbel_softmax", "gumbel_softmax_from_noise", "sample", "sample_one_hot"]


def gumbel_softmax(
    logits: Tensor,
    tau: float | Tensor = 1.0,
    hard: bool = False,
    eps: float = 1e-10,
    dim: int = -1,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Draw a Gumbel-Softmax sample; a drop-in for `torch.nn.functional.gumbel_softmax`.

    ```text
    y_k = \frac{\exp((\ell_k + G_k)/\tau)}{\sum_j \exp((\ell_j + G_j)/\tau)},
    \qquad G_k \sim \mathrm{Gumbel}(0, 1)
    ```

    (Jang, Gu, Poole 2017, eq. 1; Maddison, Mnih, Teh 2017.)

    Args:
        logits: `[..., K, ...]` unnormalized log-probabilities, floating dtype.
            `-inf` masks a category: it gets exactly 0 in the output and
            exactly 0 gradient. Every row needs one unmasked category.
        tau: temperature > 0: a float, or a tensor broadcastable to `logits`
            with the `dim` axis kept (e.g. `[B, 1]` for per-row values).
            A tensor that requires grad receives a gradient.
        hard: if `True`, the forward value is exactly one-hot (entries 0.0
            and 1.0, one 1 per row, ties included) and the backward pass is the
            straight-through gradient of the soft sample.
        eps: deprecated and ignored, as in torch.
        dim: the category axis.
        generator: a `torch.Generator` on the device of `logits`.

    Returns:
        a tensor of the shape and dtype of `logits`. float16 and
        bfloat16 inputs are computed in float32 and rounded at the end, so tiny
        temperatures (down to 1e-4 and below) stay finite in value and gradient.

    Raises:
        ValueError: for a temperature that is not finite and positive, for NaN or
            `+inf` logits and for fully masked rows (value checks can be switched off
            with `gumbel_softmax.set_validation`), and for an out-of-range `dim`
            (`DimensionError`, also an `IndexError`).
        TypeError: for non-floating logits.

    Examples:
        >>> g = torch.Generator().manual_seed(0)
        >>> y = gumbel_softmax(torch.zeros(2, 3), tau=0.5, hard=True, generator=g)
        >>> y.sum(-1)
        tensor([1., 1.])
    """
    if eps != 1e-10:
        warnings.warn("`eps` is deprecated and has no effect", DeprecationWarning, stacklevel=2)
    dim = check_logits(logits, dim)
    tau = check_tau(tau, logits, dim)
    kernel = kernel_for("gumbel_softmax", logits)
    if kernel is not None:
        return kernel(logits, tau, hard, dim, generator)
    if logits.numel() == 0:
        return logits.softmax(dim)
    minus_gumbel = log_exponential(logits.shape, compute_dtype(logits.dtype), logits.device, generator)
    return relax(logits, minus_gumbel, tau, hard, dim)


def gumbel_softmax_from_noise(
    logits: Tensor,
    gumbels: Tensor,
    tau: float | Tensor = 1.0,
    hard: bool = False,
    dim: int = -1,
) -> Tensor:
    """`gumbel_softmax` with the Gumbel noise given instead of drawn.

    `gumbels` must broadcast to the shape of `logits`. Useful to reuse one
    draw of noise (common random numbers), to feed conditional noise (Gumbel-Rao),
    and to compare with other implementations given the same noise.
    """
    dim = check_logits(logits, dim)
    tau = check_tau(tau, logits, dim)
    check_noise(gumbels, logits)
    minus_gumbel = gumbels.to(compute_dtype(logits.dtype)).expand(logits.shape).neg()
    return relax(logits, minus_gumbel, tau, hard, dim)


def sample(logits: Tensor, dim: int = -1, *, generator: torch.Generator | None = None) -> Tensor:
    """Exact categorical samples by the Gumbel-max trick: `argmax(logits + G, dim)`.

    Arguments are as in `gumbel_softmax`; `-inf` categories are never drawn.

    Returns:
        int64 indices, the shape of `logits` with `dim` removed.
        Not differentiable; use `gumbel_softmax(..., hard=True)` for gradients.

    Examples:
        >>> g = torch.Generator().manual_seed(0)
        >>> sample(torch.tensor([[0.0, float("-inf")]]), generator=g)
        tensor([0])
    """
    dim = check_logits(logits, dim)
    out_shape = logits.shape[:dim] + logits.shape[dim + 1 :]
    if logits.numel() == 0:
        if logits.shape[dim] == 0 and out_shape.numel() > 0:
            raise ValueError(f"cannot sample from 0 categories: logits has size 0 along dim={dim}")
        return torch.empty(out_shape, dtype=torch.int64, device=logits.device)
    kernel = kernel_for("sample", logits)
    if kernel is not None:
        return kernel(logits, dim, generator)
    return perturbed_logits(logits, generator).argmax(dim)


def perturbed_logits(logits: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """`logits + G` with standard Gumbel `G`, in the compute dtype (float32 or float64), without gradient.

    The ranking of these values is what the exact samplers read: the argmax (`sample`) or the top k
    (`gumbel_softmax.sample_without_replacement`).
    """
    with torch.no_grad():
        minus_gumbel = log_exponential(logits.shape, compute_dtype(logits.dtype), logits.device, generator)
        return torch.sub(logits.to(minus_gumbel.dtype), minus_gumbel, out=minus_gumbel)


def sample_one_hot(logits: Tensor, dim: int = -1, *, generator: torch.Generator | None = None) -> Tensor:
    """`sample` in one-hot form: exact 0.0/1.0 in the dtype and shape of `logits`.

    Not differentiable; use `gumbel_softmax(..., hard=True)` for gradients.
    """
    index = sample(logits, dim, generator=generator)
    dim = dim % logits.ndim
    return one_hot_like(index.unsqueeze(dim), logits, dim)

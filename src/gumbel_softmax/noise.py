"""Standard Gumbel noise in which every draw is finite.

A standard Gumbel variable has CDF `F(g) = exp(-exp(-g))`; inverting it gives
`G = -log(-log U)` for `U ~ Uniform(0, 1)`. The Gumbel-max trick
(Gumbel 1954; Maddison, Tarlow, Minka 2014) says that
`argmax_k (logits_k + G_k)` is distributed as `Categorical(softmax(logits))`,
and the Gumbel-Softmax relaxation (Jang, Gu, Poole 2017; Maddison, Mnih, Teh
2017) replaces that argmax by a tempered softmax.

`U` equal to exactly 0 or 1 makes `G` infinite, and `torch.rand` can
return 0. Here `U` is drawn with `Tensor.uniform_(a, 1 - a)` where
`a = eps / 2` is half the machine epsilon of the compute dtype: both ends are
representable and `uniform_` computes `a + x (1 - 2a)` with `x` in
`[0, 1)`, so rounding keeps every draw inside `[a, 1 - a]`. (A uniform built
as `(n + 1/2) / 2^24` from 24 random bits rounds to exactly 1.0 in float32 for
the largest `n`; this construction cannot.)

Noise is computed in float32 for float16/bfloat16/float32 outputs and in float64
for float64 outputs. The range of the noise, and the tail mass that the finite
grid folds into its end points, follow from `a`:

=========  ==========  ===========  ===============================
compute    `a`       largest G    smallest G
=========  ==========  ===========  ===============================
float32    2^-24       16.6355      -2.8116
float64    2^-53       36.7368      -3.6038
=========  ==========  ===========  ===============================

`P(G > largest) = 1 - exp(-a) ~ a` (5.96e-8 in float32, 1.1e-16 in
float64), and the same mass lies below the smallest value. Compared with the
exact distribution the draws are off by at most `a` in probability, far below
what any sampling test of this library can see.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from gumbel_softmax.checks import check_generator

__all__ = ["gumbel_noise", "gumbel_like", "noise_range", "compute_dtype"]


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype in which noise and softmax are computed for an output of `dtype`."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def _edge(dtype: torch.dtype) -> float:
    """Half the machine epsilon: `[edge, 1 - edge]` holds every uniform draw."""
    return torch.finfo(dtype).eps / 2


def noise_range(dtype: torch.dtype = torch.float32) -> tuple[float, float]:
    """The smallest and largest Gumbel value this module can return for `dtype`.

    Both ends are finite; see the module docstring for the tail mass they clip.

    Examples:
        >>> noise_range(torch.float32)  # doctest: +ELLIPSIS
        (-2.811..., 16.635...)
    """
    import math

    edge = _edge(compute_dtype(dtype))
    return -math.log(-math.log(edge)), -math.log(-math.log1p(-edge))


def log_exponential(
    shape: Sequence[int],
    dtype: torch.dtype,
    device: torch.device,
    generator: torch.Generator | None,
) -> Tensor:
    """Fresh tensor holding `log(-log U)`, which is `-G` for standard Gumbel `G`.

    Returning the negated noise saves a pass over memory: callers subtract it.
    `dtype` must be float32 or float64 (the compute dtype).
    """
    check_generator(generator, device)
    edge = _edge(dtype)
    buf = torch.empty(tuple(shape), dtype=dtype, device=device)
    buf.uniform_(edge, 1.0 - edge, generator=generator)
    return buf.log_().neg_().log_()


def noise_target(
    caller: str, dtype: torch.dtype | None, device: torch.device | str | None, generator: torch.Generator | None
) -> tuple[torch.dtype, torch.device]:
    """The dtype and device of fresh noise: the defaults filled in, a bad dtype or generator refused.

    `dtype` defaults to `torch.get_default_dtype()` and must be floating (`TypeError` naming `caller`);
    `device` defaults to the generator's device, else the default device; the generator must be a
    `torch.Generator` on that device type.
    """
    dtype = torch.get_default_dtype() if dtype is None else dtype
    if not dtype.is_floating_point:
        raise TypeError(f"{caller} needs a floating dtype, got {dtype}")
    if generator is not None and not isinstance(generator, torch.Generator):
        check_generator(generator, torch.device("cpu"))  # raises the TypeError that says what to pass
    if device is None:
        device = generator.device if generator is not None else torch.empty(0).device
    device = torch.device(device)
    check_generator(generator, device)
    return dtype, device


def gumbel_noise(
    shape: Sequence[int] | torch.Size,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Standard Gumbel(0, 1) noise, `-log(-log U)`, always finite.

    Args:
        shape: the shape of the result.
        dtype: a floating dtype (default: `torch.get_default_dtype()`).
            float16/bfloat16 noise is computed in float32 and rounded.
        device: default: the generator's device if one is given, else the
            default device.
        generator: a `torch.Generator` on the same device type; the same state
            gives the same noise.

    Returns:
        a tensor of `shape` and `dtype` with values in
        `noise_range` `(dtype)`.

    Examples:
        >>> g = torch.Generator().manual_seed(0)
        >>> gumbel_noise((2, 3), generator=g).shape
        torch.Size([2, 3])
    """
    dtype, device = noise_target("gumbel_noise", dtype, device, generator)
    work = compute_dtype(dtype)
    noise = log_exponential(shape, work, device, generator).neg_()
    return noise if work == dtype else noise.to(dtype)


def gumbel_like(tensor: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
    """Standard Gumbel noise with the shape, dtype and device of `tensor`."""
    return gumbel_noise(tensor.shape, dtype=tensor.dtype, device=tensor.device, generator=generator)

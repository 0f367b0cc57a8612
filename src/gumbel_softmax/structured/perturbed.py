r"""Perturbed optimizers and their Fenchel-Young loss (Berthet et al., NeurIPS 2020).

Berthet, Blondel, Teboul, Cuturi, Vert, Bach, "Learning with Differentiable Perturbed Optimizers",
NeurIPS 2020. A MAP solver `y*(theta) = argmax_{y in Y} <y, theta>` is piecewise constant in `theta`.
Perturbing its input with noise `Z` of density `mu(z) ∝ exp(-nu(z))` and scale `epsilon` smooths it:

```text
y^*_\epsilon(\theta)
= \mathbb{E}_Z\big[\operatorname{argmax}_{y \in \mathcal{Y}} \langle y, \theta + \epsilon Z \rangle\big],
\qquad
F_\epsilon(\theta) = \mathbb{E}_Z\big[\max_{y \in \mathcal{Y}} \langle y, \theta + \epsilon Z \rangle\big],
```

a point in the convex hull of `Y`, differentiable in `theta`, with `y*_eps = grad F_eps` (their Prop. 2.2).
Its Jacobian is an expectation too (their Prop. 3.1), estimated by Monte Carlo with the same draws as
the forward pass:

```text
J_\theta\, y^*_\epsilon(\theta)
= \frac{1}{\epsilon}\, \mathbb{E}_Z\big[ y^*(\theta + \epsilon Z)\, \nabla_z \nu(Z)^\top \big],
\qquad \nabla_z \nu(z) = z \ \text{(Gaussian)}, \quad \nabla_z \nu(z) = 1 - e^{-z} \ \text{(Gumbel)} .
```

So the backward pass of `perturbed_argmax` for an upstream gradient `g` is
`(1 / (epsilon M)) sum_m <g, y*(theta + epsilon Z_m)> grad nu(Z_m)`, per structure (the inner product
runs over the `event_dims` trailing dims of one structure, never across a batch). It is unbiased for
the Jacobian of the smoothed map, and its variance grows as `1 / (epsilon^2 M)`.

**The Fenchel-Young loss** (their Sec. 4) of scores `theta` against a target structure `y`,

```text
L_\epsilon(\theta; y) = F_\epsilon(\theta) - \langle \theta, y \rangle + \epsilon\,\Omega(y),
\qquad \nabla_\theta L_\epsilon(\theta; y) = y^*_\epsilon(\theta) - y ,
```

is convex in `theta` and needs no Jacobian at all. `fenchel_young_loss` returns the Monte-Carlo
estimate of `F_eps(theta) - <theta, y>` (the term `Omega(y)` does not depend on `theta` and is left
out, so the value can be negative); autograd differentiates it to exactly `mean_m y*(theta + eps Z_m) - y`,
the Monte-Carlo `y*_eps(theta) - y`, because each `y*` is the maximizer at its own perturbed scores.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from gumbel_softmax.checks import check_generator, check_logits, check_positive_finite, check_sample_count
from gumbel_softmax.noise import compute_dtype, log_exponential
from gumbel_softmax.structured._solve import Solver, check_event_dims, check_solver, solve

__all__ = ["perturbed_argmax", "fenchel_young_loss"]

NOISES = ("normal", "gumbel")


def _draw(shape: torch.Size, noise: str, dtype: torch.dtype, device: torch.device,
          generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
    """`Z` and `grad nu(Z)` for standard normal or standard Gumbel noise."""
    if noise == "normal":
        z = torch.randn(shape, dtype=dtype, device=device, generator=generator)
        return z, z
    minus_z = log_exponential(shape, dtype, device, generator)  # -Z for a standard Gumbel Z
    return -minus_z, 1.0 - minus_z.exp()


def _checked(theta: Tensor, solver: object, sigma: float, samples: int, noise: str, event_dims: int,
             generator: torch.Generator | None) -> tuple[Solver, float, int, int]:
    check_logits(theta, -1, "theta")
    solver = check_solver(solver)
    sigma = check_positive_finite("sigma", sigma)
    samples = check_sample_count("perturbed", samples, 1)
    if noise not in NOISES:
        raise ValueError(f"noise must be one of {', '.join(map(repr, NOISES))}; got {noise!r}")
    event_dims = check_event_dims(event_dims, theta)
    check_generator(generator, theta.device)
    return solver, sigma, samples, event_dims


class _Perturbed(torch.autograd.Function):
    """Forward: the mean of `y*(theta + sigma Z_m)`. Backward: the Monte-Carlo Jacobian of Prop. 3.1."""

    @staticmethod
    def forward(ctx: Any, theta: Tensor, z: Tensor, score: Tensor, solver: Solver, sigma: float,
                event_dims: int) -> Tensor:
        ys = solve(solver, theta.detach() + sigma * z)
        ctx.save_for_backward(ys, score)
        ctx.sigma, ctx.event_dims = sigma, event_dims
        return ys.mean(0)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None, None, None, None]:
        ys, score = ctx.saved_tensors
        dims = tuple(range(-ctx.event_dims, 0))
        weights = (ys * grad).sum(dims, keepdim=True)  # <g, y*(theta + sigma Z_m)> per structure
        return (weights * score).mean(0) / ctx.sigma, None, None, None, None, None


def perturbed_argmax(
    theta: Tensor,
    solver: Solver,
    sigma: float = 1.0,
    samples: int = 100,
    *,
    noise: str = "normal",
    event_dims: int = 1,
    generator: torch.Generator | None = None,
) -> Tensor:
    """The perturbed maximizer `y*_eps(theta) = E[argmax_y <y, theta + sigma Z>]` (Berthet et al. 2020).

    Args:
        theta: scores, a floating tensor `[..., *structure]`.
        solver: a MAP solver `scores -> structure` (see `gumbel_softmax.structured.solvers`).
        sigma: the noise scale `epsilon > 0`: larger is smoother, smaller is closer to the solver.
        samples: `M`, the Monte-Carlo draws of the forward value and of the Jacobian.
        noise: `"normal"` (Gaussian `Z`, the paper's default) or `"gumbel"` (with top-1 argmax, the
            Gumbel-max trick: `y*_eps = softmax(theta / sigma)`).
        event_dims: how many trailing dims of `theta` form one structure (1 for vectors, 2 for
            matchings and grid paths); the Jacobian is block diagonal across the rest.
        generator: the source of the noise.

    Returns:
        the Monte-Carlo mean of `M` solver outputs, in the shape and dtype of `theta`: a point of the
        convex hull of the structures. Differentiable with the Monte-Carlo Jacobian of the module docstring.

    Raises:
        ValueError: NaN or `+inf` in `theta`; `sigma` not finite and > 0; `samples` not an int >= 1;
            an unknown `noise`; `event_dims` out of range; a solver output of the wrong shape.
        TypeError: `theta` not floating, a `solver` that is not callable.

    Examples:
        >>> from gumbel_softmax.structured import top_k_argmax
        >>> theta = torch.tensor([0.0, 1.0, 2.0], requires_grad=True)
        >>> y = perturbed_argmax(theta, lambda s: top_k_argmax(s, 1), sigma=0.5, samples=1000,
        ...                      generator=torch.Generator().manual_seed(0))
        >>> round(float(y.detach().sum()), 4), bool(y[2] > y[1] > y[0])
        (1.0, True)
    """
    solver, sigma, samples, event_dims = _checked(theta, solver, sigma, samples, noise, event_dims, generator)
    work = compute_dtype(theta.dtype)
    z, score = _draw(torch.Size((samples,)) + theta.shape, noise, work, theta.device, generator)
    return _Perturbed.apply(theta.to(work), z, score, solver, sigma, event_dims).to(theta.dtype)


def fenchel_young_loss(
    theta: Tensor,
    y: Tensor,
    solver: Solver,
    sigma: float = 1.0,
    samples: int = 100,
    *,
    noise: str = "normal",
    event_dims: int = 1,
    generator: torch.Generator | None = None,
) -> Tensor:
    """The perturbed Fenchel-Young loss `F_eps(theta) - <theta, y>`, whose gradient is `y*_eps(theta) - y`.

    Args:
        theta: scores, a floating tensor `[..., *structure]`; `-inf` masks an item the solver never picks.
        y: the target structures (or any points of their convex hull), broadcastable to `theta`; no
            gradient flows into `y`.
        solver: a MAP solver `scores -> structure`.
        sigma: the noise scale `epsilon > 0`.
        samples: the Monte-Carlo draws `M`.
        noise: `"normal"` or `"gumbel"`.
        event_dims: how many trailing dims form one structure.
        generator: the source of the noise.

    Returns:
        the loss per structure, shape `theta.shape[:-event_dims]`, in the dtype of `theta` (up to the
        constant `epsilon Omega(y)`). Differentiable: its gradient in `theta` is exactly
        `mean_m y*(theta + sigma Z_m) - y`, with no Jacobian estimate.

    Raises:
        ValueError: as `perturbed_argmax`, and a `y` that does not broadcast to `theta` or holds NaN/inf.
        TypeError: as `perturbed_argmax`, and a `y` that is not a floating tensor.

    Examples:
        >>> from gumbel_softmax.structured import top_k_argmax
        >>> theta = torch.zeros(2, 4, requires_grad=True)
        >>> y = torch.tensor([[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
        >>> loss = fenchel_young_loss(theta, y, lambda s: top_k_argmax(s, 1), samples=10,
        ...                           generator=torch.Generator().manual_seed(0))
        >>> loss.sum().backward()
        >>> [round(v, 4) for v in theta.grad.sum(-1).tolist()]  # y*_eps - y sums to 1 - 1 per row
        [0.0, 0.0]
    """
    solver, sigma, samples, event_dims = _checked(theta, solver, sigma, samples, noise, event_dims, generator)
    if not isinstance(y, Tensor) or not y.dtype.is_floating_point:
        got = f"dtype {y.dtype}" if isinstance(y, Tensor) else type(y).__name__
        raise TypeError(f"y must be a floating tensor of target structures, got {got}; convert with y.float()")
    try:
        fits = torch.broadcast_shapes(y.shape, theta.shape) == theta.shape
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(f"y of shape {tuple(y.shape)} does not broadcast to theta of shape {tuple(theta.shape)}")
    if y.numel() and y.device.type != "meta" and not bool(torch.isfinite(y).all()):
        raise ValueError("y must be finite: a structure or a point of the convex hull of the structures")
    work = compute_dtype(theta.dtype)
    x = theta.to(work)
    z, _ = _draw(torch.Size((samples,)) + theta.shape, noise, work, theta.device, generator)
    perturbed = x + sigma * z
    ys = solve(solver, perturbed.detach())
    dims = tuple(range(-event_dims, 0))
    maxima = _inner(ys, perturbed, dims).mean(0)  # F_eps(theta) by Monte Carlo; its gradient is mean y*
    return (maxima - _inner(y.detach().to(work), x, dims)).to(theta.dtype)


def _inner(y: Tensor, scores: Tensor, dims: tuple[int, ...]) -> Tensor:
    """`<y, scores>` over `dims`, where an entry with `y = 0` adds 0 even at a masked (`-inf`) score."""
    return torch.where(y != 0, y * scores, torch.zeros((), dtype=scores.dtype, device=scores.device)).sum(dims)

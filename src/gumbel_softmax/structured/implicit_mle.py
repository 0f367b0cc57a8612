r"""I-MLE: implicit maximum-likelihood estimation through any MAP solver, with sum-of-Gamma noise.

Niepert, Minervini, Franceschi, "Implicit MLE: Backpropagating Through Discrete Exponential Family
Distributions", NeurIPS 2021. A discrete structure `z` (a k-subset, a matching, a path) is chosen by a
MAP solver of the perturbed scores, `z = MAP(theta + eps) = argmax_y <y, theta + eps>` (perturb-and-MAP);
the solver has no useful derivative. I-MLE treats the downstream loss `L(z)` as defining a *target
distribution* whose parameters move the scores against the loss's gradient,

```text
\theta' = \theta - \lambda \, \nabla_z L(z),
```

and estimates the gradient of `L` with respect to `theta` by the gradient of the I-MLE objective (the
log-likelihood of the target's samples), the difference of the two distributions' marginals, each
approximated by one perturb-and-MAP call with the *same* noise (their Sec. 3-4, perturbation-based
implicit differentiation):

```text
\widehat{\nabla_\theta L} = \mathrm{MAP}(\theta + \epsilon) - \mathrm{MAP}(\theta' + \epsilon) .
```

`lambda > 0` trades bias for informativeness: too small and the two MAP states coincide (a zero
gradient); too large and the estimate ignores `theta`. The estimate is not divided by `lambda` (the
paper's form; the learning rate absorbs the scale). With `samples = S`, `S` noise draws give `S`
structures, each backpropagating its own `nabla_z L`; their estimates add up in `theta`'s gradient.

**Sum-of-Gamma noise** (their Sec. 5, Theorem 1; the uclnlp/torch-imle code draws the same law). For
the marginals of a k-subset distribution, the right perturbation of each score is not a Gumbel but

```text
\epsilon = \frac{\tau}{k} \Big( \sum_{i=1}^{s} \mathrm{Gamma}\big(\tfrac{1}{k}, \tfrac{k}{i}\big) - \log s \Big),
```

with `Gamma(alpha, beta)` of shape `alpha` and scale `beta`, and `s` the number of terms. The sum of `k`
independent draws is `tau (sum_{i <= s} E_i / i - log s)` for i.i.d. standard exponentials `E_i`, which
is `tau` times the largest of `s` standard exponentials minus `log s` (the Renyi representation): its
CDF is `(1 - e^{-x / tau} / s)^s`, tending to the Gumbel(0, `tau`) CDF `exp(-e^{-x / tau})` as `s -> infinity`.
For `k = 1` each draw is itself that law. Gumbel noise (`noise="gumbel"`) and no noise (`noise="none"`,
the deterministic solver with the I-MLE gradient) are the other choices.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from gumbel_softmax.checks import check_generator, check_logits, check_positive_finite, check_sample_count
from gumbel_softmax.noise import compute_dtype, log_exponential, noise_target
from gumbel_softmax.structured._solve import Solver, check_solver, solve

__all__ = ["sum_of_gamma_noise", "imle"]

NOISES = ("sum_of_gamma", "gumbel", "none")


def _check_terms(s: object) -> int:
    if isinstance(s, bool) or not isinstance(s, int) or s < 1:
        raise ValueError(f"s must be an int >= 1 (the number of Gamma terms; Niepert et al. use 10), got {s!r}")
    return s


def _sum_of_gamma(shape: Sequence[int], k: float, s: int, tau: float, dtype: torch.dtype, device: torch.device,
                  generator: torch.Generator | None) -> Tensor:
    """Sum-of-Gamma noise in the compute `dtype` (no checks)."""
    concentration = torch.full((*shape, s), 1.0 / k, dtype=dtype, device=device)
    gammas = torch._standard_gamma(concentration, generator=generator)  # shape 1/k, scale 1
    scale = k / torch.arange(1, s + 1, dtype=dtype, device=device)  # Gamma(1/k, k/i) = k/i * Gamma(1/k, 1)
    return (gammas * scale).sum(-1).sub_(math.log(s)).mul_(tau / k)


def sum_of_gamma_noise(
    shape: Sequence[int] | torch.Size,
    k: float = 1.0,
    s: int = 10,
    tau: float = 1.0,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Sum-of-Gamma noise `(tau / k) (sum_{i=1}^s Gamma(1/k, k/i) - log s)` (Niepert et al. 2021, Sec. 5).

    Args:
        shape: the shape of the result.
        k: the shape parameter, a positive number: the subset size for k-subset marginals (the sum of
            `k` draws is then Gumbel-like); 1 gives Gumbel-like noise itself.
        s: the number of Gamma terms, an int >= 1 (the paper uses 10); the law tends to a Gumbel
            (summed over `k` draws) as `s` grows.
        tau: the scale, a positive number (the Gumbel's scale in the limit).
        dtype: a floating dtype (default `torch.get_default_dtype()`); computed in float32, or float64.
        device: default: the generator's device if one is given, else the default device.
        generator: the source of the noise.

    Returns:
        a tensor of `shape` and `dtype`.

    Raises:
        ValueError: `k` or `tau` not finite and > 0, or `s` not an int >= 1.
        TypeError: a non-floating `dtype` or a `generator` that is not a `torch.Generator`.

    Examples:
        >>> eps = sum_of_gamma_noise((4, 3), k=2, generator=torch.Generator().manual_seed(0))
        >>> eps.shape
        torch.Size([4, 3])
    """
    k = check_positive_finite("k", k)
    s = _check_terms(s)
    tau = check_positive_finite("tau", tau)
    dtype, device = noise_target("sum_of_gamma_noise", dtype, device, generator)
    work = compute_dtype(dtype)
    return _sum_of_gamma(tuple(shape), k, s, tau, work, device, generator).to(dtype)


class _IMLE(torch.autograd.Function):
    """Forward: `MAP(theta + eps)`. Backward: `MAP(theta + eps) - MAP(theta - lam * grad + eps)`."""

    @staticmethod
    def forward(ctx: Any, theta: Tensor, noise: Tensor, solver: Solver, lam: float) -> Tensor:
        z = solve(solver, theta.detach() + noise)
        ctx.save_for_backward(theta.detach(), noise, z)
        ctx.solver, ctx.lam = solver, lam
        return z

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, None, None, None]:
        theta, noise, z = ctx.saved_tensors
        target = theta - ctx.lam * grad  # theta' per draw: grad has the draws' shape
        z_target = solve(ctx.solver, target + noise)
        estimate = z - z_target
        if estimate.shape != theta.shape:  # S draws of a broadcast theta: their estimates add up
            estimate = estimate.sum(0)
        return estimate, None, None, None


def imle(
    theta: Tensor,
    solver: Solver,
    lam: float = 10.0,
    *,
    noise: str = "sum_of_gamma",
    k: float = 1.0,
    s: int = 10,
    noise_temperature: float = 1.0,
    samples: int | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """A discrete structure `MAP(theta + eps)` whose backward pass is the I-MLE estimate (Niepert et al. 2021).

    Args:
        theta: scores, a finite floating tensor `[..., *structure]` (`-inf` masks an entry where the
            solver allows it).
        solver: a MAP solver, `solver(scores) -> structure` of the shape of `scores` for any leading
            batch shape: `functools.partial(top_k_argmax, k=3)`, `matching_argmax`, `grid_path_argmax`
            or your own.
        lam: `lambda > 0`, the step of the target distribution `theta' = theta - lam * dL/dz`.
        noise: `"sum_of_gamma"` (the paper's, with `k` and `s`), `"gumbel"` or `"none"`.
        k: the sum-of-Gamma shape: the subset size for k-subsets, 1 for one choice or matchings.
        s: the number of Gamma terms (10 in the paper).
        noise_temperature: the scale `tau` of the noise (both the sum-of-Gamma and the Gumbel).
        samples: `None` for one draw in the shape of `theta`; an int `S` for `S` independent draws
            stacked in front, `[S, *theta.shape]` (average your loss over them).
        generator: the source of the noise.

    Returns:
        the solver's structures for the perturbed scores, in the dtype of `theta`. Differentiable: the
        gradient reaching `theta` is `MAP(theta + eps) - MAP(theta - lam * dL/dz + eps)`, with the same
        `eps`, summed over the draws.

    Raises:
        ValueError: NaN or `+inf` in `theta`, an unknown `noise`, `lam`, `k` or `noise_temperature`
            not finite and > 0, `s` or `samples` not an int >= 1, a solver output of the wrong shape.
        TypeError: `theta` not a floating tensor, a `solver` that is not callable or returns no tensor.

    Examples:
        >>> from functools import partial
        >>> from gumbel_softmax.structured import top_k_argmax
        >>> theta = torch.tensor([[0.0, 3.0, 1.0, 2.0]], requires_grad=True)
        >>> z = imle(theta, partial(top_k_argmax, k=2), noise="none")
        >>> z.tolist()
        [[0.0, 1.0, 0.0, 1.0]]
        >>> (z * torch.tensor([0.0, 0.0, -1.0, 5.0])).sum().backward()  # the loss wants item 2, not item 3
        >>> theta.grad.tolist()
        [[0.0, 0.0, -1.0, 1.0]]
    """
    check_logits(theta, -1, "theta")
    solver = check_solver(solver)
    lam = check_positive_finite("lam", lam)
    if noise not in NOISES:
        raise ValueError(f"noise must be one of {', '.join(map(repr, NOISES))}; got {noise!r}")
    k = check_positive_finite("k", k)
    s = _check_terms(s)
    tau = check_positive_finite("noise_temperature", noise_temperature)
    if samples is not None:
        samples = check_sample_count("imle", samples, 1)
    check_generator(generator, theta.device)
    work = compute_dtype(theta.dtype)
    shape = theta.shape if samples is None else torch.Size((samples,)) + theta.shape
    if noise == "sum_of_gamma":
        eps = _sum_of_gamma(shape, k, s, tau, work, theta.device, generator)
    elif noise == "gumbel":
        eps = log_exponential(shape, work, theta.device, generator).mul_(-tau)
    else:
        eps = torch.zeros(shape, dtype=work, device=theta.device)
    z = _IMLE.apply(theta.to(work), eps, solver, lam)
    return z.to(theta.dtype)

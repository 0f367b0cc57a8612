"""ARMS: antithetic REINFORCE with `n` samples, for binary variables.

Dimitriev and Zhou, "ARMS: Antithetic-REINFORCE-Multi-Sample Gradient for Binary Variables",
ICML 2021 (authors' code: alekdimi/arms, `grad_type='arms'` and `'arms_normal'`). The `n`
samples of each Bernoulli variable `b ~ Bernoulli(p)`, `p = sigmoid(alpha)`, are drawn from
uniforms `u_1..u_n` that each have a uniform marginal but are negatively correlated (a copula):

* `copula="dirichlet"`: `d ~ Dirichlet(1, ..., 1)` and `u_k = (1 - d_k)^{n - 1}` (the marginal
  of `d_k` is `Beta(1, n - 1)`, whose survival function this is);
* `copula="gaussian"`: `x ~ N(0, S)` with unit variances and correlations `-1 / (n - 1)` (drawn as
  `sqrt(n / (n - 1)) (e - mean(e))` for `e ~ N(0, I)`), and `u_k = Phi(x_k)`.

Then `b_k = 1[u_k < p]` where `p < 1/2` and `b_k = 1[1 - u_k < p]` otherwise (so the samples
disagree as much as the copula allows either way). The estimator is REINFORCE with the
leave-one-out baseline, rescaled so that it stays unbiased under the correlation:

```text
\\hat g = \\frac{1}{n - 1} \\sum_{k=1}^n \\Big(f(b_k) - \\frac1n \\sum_j f(b_j)\\Big)(b_k - p)\\,
\\frac{q (1 - q)}{q - C(q)}, \\qquad q = \\min(p, 1 - p),
```

with `C(q) = P(u_1 < q, u_2 < q)` the copula's bivariate diagonal:
`C(q) = max(2 q^{1/(n-1)} - 1, 0)^{n - 1}` for the Dirichlet copula, and for the Gaussian one
`C(q) = Phi_2(a, a; rho)` at `a = Phi^{-1}(q)`, `rho = -1 / (n - 1)`, computed here from Plackett's
identity `Phi_2(a, a; rho) = Phi(a)^2 - \\int_rho^0 exp(-a^2 / (1 + r)) / (2 pi sqrt(1 - r^2)) dr`
by 32-point Gauss-Legendre quadrature (exact to rounding for `rho >= -1/2`; `n = 2` is the closed
form `max(2q - 1, 0) = 0`). `q - C(q) = p (1 - p) - Cov(b_1, b_2)`, so the factor undoes the
covariance the copula adds; with independent samples it is 1 and this is RLOO. For `n = 2` and
either copula the pair is antithetic (`u_2 = 1 - u_1`). The authors' code adds `1e-6` to the
denominator; here it is exact (and 1 where `q = 0`).

Binary variables only (`bernoulli=True`); CARMS (Dimitriev and Zhou 2021) is the categorical
extension, a different estimator. `f` is called `n` times; the surrogate's value (and the
gradient of `f`'s own parameters) is the mean over the samples, and `sample` is the first.
Noise: the Dirichlet copula draws `n` standard Gumbels per variable (one `gumbel_noise` tensor of
shape `(n,) + alpha.shape`) and uses `exp(-G)` as the exponentials `e_k`, `d = e / sum(e)`; the
Gaussian copula draws `torch.randn((n,) + alpha.shape)`, both in float32 for float16 and bfloat16 logits.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from gumbel_softmax.checks import check_sample_count
from gumbel_softmax.estimators.base import Estimator, expand_to, linear_in
from gumbel_softmax.noise import compute_dtype, gumbel_noise

__all__ = ["ARMS", "copula_diagonal", "copula_uniforms"]

COPULAS = ("dirichlet", "gaussian")
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(32)


def copula_uniforms(
    copula: str, samples: int, shape: torch.Size, like: Tensor, generator: torch.Generator | None
) -> Tensor:
    """`[samples, *shape]` uniforms, each with a Uniform(0, 1) marginal, negatively correlated across samples."""
    size = (samples,) + tuple(shape)
    if copula == "dirichlet":
        e = torch.exp(-gumbel_noise(size, dtype=like.dtype, device=like.device, generator=generator))
        d = e / e.sum(0, keepdim=True)
        return (1 - d) ** (samples - 1)
    x = torch.randn(size, dtype=like.dtype, device=like.device, generator=generator)
    x = math.sqrt(samples / (samples - 1)) * (x - x.mean(0, keepdim=True))
    return torch.special.ndtr(x)


def copula_diagonal(copula: str, samples: int, q: Tensor) -> Tensor:
    """`C(q) = P(u_1 < q, u_2 < q)` for two of the copula's uniforms, `q` in `[0, 1/2]`."""
    if copula == "dirichlet":
        return (2 * q ** (1 / (samples - 1)) - 1).clamp_min(0) ** (samples - 1)
    if samples == 2:  # u_2 = 1 - u_1
        return (2 * q - 1).clamp_min(0)
    rho = -1.0 / (samples - 1)
    a = torch.special.ndtri(q).unsqueeze(-1)
    r = torch.as_tensor((_NODES + 1) * (-rho) / 2 + rho, dtype=q.dtype, device=q.device)  # nodes on [rho, 0]
    w = torch.as_tensor(_WEIGHTS * (-rho) / 2, dtype=q.dtype, device=q.device)
    density = torch.exp(-(a**2) / (1 + r)) / (2 * math.pi * torch.sqrt(1 - r**2))
    return q**2 - (density * w).sum(-1)


class ARMS(Estimator):
    """The ARMS estimator for Bernoulli variables (Dimitriev and Zhou 2021).

    Args:
        samples: number of samples `n >= 2`; `f` is called `n` times.
        copula: `"dirichlet"` (the paper's main one) or `"gaussian"`.
    """

    name = "arms"
    family = "score_function"
    supports_categorical = False

    def __init__(self, samples: int = 4, copula: str = "dirichlet") -> None:
        check_sample_count("ARMS", samples, 2)
        if copula not in COPULAS:
            raise ValueError(f"copula must be one of {', '.join(map(repr, COPULAS))}, got {copula!r}")
        self.samples, self.copula = samples, copula

    def estimate(self, logits, f, tau, generator, baseline):
        alpha = logits[..., 1] - logits[..., 0]  # the two-class form (0, l) of Bernoulli logits l
        work = alpha.detach().to(compute_dtype(alpha.dtype))  # float16 has no ndtri, and too coarse uniforms
        p = torch.sigmoid(work)
        q = torch.sigmoid(-work.abs())  # min(p, 1 - p)
        u = copula_uniforms(self.copula, self.samples, alpha.shape, work, generator)
        u = torch.where(p < 0.5, u, 1 - u)
        bits = (u < p).to(work.dtype)
        b = bits.to(alpha.dtype)
        losses = torch.stack([f(torch.stack([1 - x, x], -1)) for x in b])
        loss = losses.mean(0)
        joint = copula_diagonal(self.copula, self.samples, q)
        gap = q - joint
        debias = torch.where(gap > 0, q * (1 - q) / gap.clamp_min(torch.finfo(q.dtype).tiny), torch.ones_like(q))
        centred = (losses - loss).detach().to(work.dtype)
        terms = expand_to(centred, bits) * (bits - p)
        grad = terms.sum(0) / (self.samples - 1) * debias
        surrogate = loss + linear_in(alpha, grad.to(alpha.dtype), loss.ndim)
        return surrogate, loss, torch.stack([1 - b[0], b[0]], -1)

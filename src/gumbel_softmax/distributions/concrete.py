r"""The Concrete (Gumbel-Softmax) distribution on the simplex, and ExpConcrete, its log-space form.

Maddison, Mnih, Teh (ICLR 2017, "The Concrete Distribution"); Jang, Gu, Poole
(ICLR 2017, "Categorical Reparameterization with Gumbel-Softmax", eq. 3).

With temperature `\lambda`, logits `\ell` (`-inf` = masked) and
`G_k` standard Gumbel noise, an ExpConcrete sample is

```text
y = \operatorname{log\,softmax}((\ell + G) / \lambda), \qquad x = \exp(y)
```

and `x` is a Concrete sample. Over the `n` unmasked categories

```text
\log p_Y(y) = \log (n-1)! + (n-1)\log\lambda + \sum_k (\ell_k - \lambda y_k)
- n \operatorname{logsumexp}_k (\ell_k - \lambda y_k)
```

```text
\log p_X(x) = \log p_Y(\log x) - \sum_{k=1}^{n} \log x_k
```

Base measures (checked by quadrature in `tests/distributions/test_concrete.py`):
`p_X` is the density with respect to Lebesgue measure on the first
`n-1` coordinates of the simplex (the last is `1 - \sum`), the
formula of both papers. `p_Y` is symmetric in the categories, so it cannot
be the density of `(y_1, \dots, y_{n-1})`; it is the density of the
log-ratios `(y_k - y_n)_{k<n}`, whose map to `(x_k)_{k<n}` has
Jacobian `\prod_{k=1}^{n} x_k` (all `n` coordinates: hence the sum
over every category above). The Lebesgue density of `(y_1,\dots,y_{n-1})`
would be `p_Y(y) - y_n` in log space. `p_Y` is what torch's
`ExpRelaxedCategorical` computes, and the density to put in a relaxed ELBO
(Maddison et al., Appendix C): prior and posterior share the base measure.

**Finite on its own samples.** In float32 a coordinate below `1e-45` is 0, so
torch's `RelaxedOneHotCategorical.log_prob`, which takes `log x`, returns
`nan`/`inf` for a large share of its samples at low temperature. Here
`Concrete.rsample` floors unmasked coordinates at the dtype's smallest normal
number (`coordinate_floor`: 1.2e-38 in float32), and `log_prob` reads a 0 at an
unmasked category as that floor: the result is the density of the returned point,
finite. When a coordinate sits at the floor that point differs from the exact
sample (whose coordinate was smaller), and `log_prob(rsample())` gets no gradient
through it. `ExpConcrete` keeps samples in log space, where nothing underflows:
use it for densities of exact samples and their gradients (relaxed ELBOs).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.distributions import constraints

from gumbel_softmax._relaxation import relax, tempered_
from gumbel_softmax.distributions._base import Relaxed, SampleShape, coordinate_floor, simplex
from gumbel_softmax.noise import log_exponential

__all__ = ["Concrete", "ExpConcrete", "exp_concrete_log_density"]


def exp_concrete_log_density(logits: Tensor, temperature: Tensor, y: Tensor) -> Tensor:
    """`\\log p_Y(y)` over the unmasked categories (see the module docstring).

    Args:
        logits: `[..., K]`, `-inf` where masked (normalization does not matter).
        temperature: `[...]`, broadcastable to the batch shape.
        y: `[..., K]` log-space points; entries at masked categories are ignored.

    Returns:
        `[...]`, the broadcast batch shape, in the promoted dtype of the inputs.
    """
    logits, y = torch.broadcast_tensors(logits, y)
    masked = torch.isneginf(logits)
    tau = temperature.unsqueeze(-1)
    # Masked entries of y may be -inf; zeroing them keeps -inf * tau out of the score and its gradient.
    score = logits - tau * y.masked_fill(masked, 0.0)
    n = (~masked).sum(-1).to(score.dtype)
    total = score.masked_fill(masked, 0.0).sum(-1)
    return torch.lgamma(n) + (n - 1) * temperature.log() + total - n * score.logsumexp(-1)


def _masked_where(logits: Tensor, value: Tensor, fill: float) -> Tensor:
    """`value` with `fill` at the masked (`-inf`) categories of `logits`, broadcast."""
    return torch.where(torch.isneginf(logits), fill, value)


class ExpConcrete(Relaxed):
    """The log of a Concrete sample: `y = log_softmax((logits + G) / temperature)`.

    Arguments as `Concrete`. `rsample` returns `[*sample_shape, *batch_shape, K]`
    finite values (`-inf` at masked categories); `log_prob` is `\\log p_Y` of
    the module docstring, torch's `ExpRelaxedCategorical.log_prob` (finite with masks too).

    Examples:
        >>> d = ExpConcrete(0.5, logits=torch.zeros(3))
        >>> y = d.rsample((4,), generator=torch.Generator().manual_seed(0))
        >>> bool((y.logsumexp(-1).abs() < 1e-6).all())  # exp(y) is on the simplex
        True
    """

    support = constraints.real_vector

    def rsample(self, sample_shape: SampleShape = torch.Size(), generator: torch.Generator | None = None) -> Tensor:
        shape = self._extended_shape(sample_shape)
        logits, tau = self._params_for(shape)
        # log_exponential is -G in a fresh buffer: subtracting the logits in place gives -(logits + G).
        neg_z = log_exponential(shape, logits.dtype, logits.device, generator).sub_(logits)
        y = tempered_(neg_z, tau, -1).log_softmax(-1)
        # float16 cannot hold y below -65504 (logits [0, -700] at tau 0.01 give -7e4): clamp there, so
        # that every unmasked entry is finite and log_prob of the sample is too; masked ones stay -inf.
        lowest = torch.finfo(self._sample_dtype).min
        return _masked_where(self.logits, y.clamp_min(lowest), float("-inf")).to(self._sample_dtype)

    def log_prob(self, value: Tensor) -> Tensor:
        y, logits, tau, dtype = self._prepare(value)
        return exp_concrete_log_density(logits, tau, y).to(dtype)


class Concrete(Relaxed):
    """The Concrete / Gumbel-Softmax distribution: `x = softmax((logits + G) / temperature)`.

    Args:
        temperature: `lambda > 0`, a float or a tensor (batched: `[B]`, or `[B, 1]`
            with logits `[B, K]`; either gives batch shape `[B]`). A tensor ending in a
            size-1 axis broadcasts against `logits` with the category axis kept, as in
            `gumbel_softmax` (`[B, 1]` with logits `[A, B, K]` gives `[A, B]`).
        probs: `[..., K]` category probabilities; give exactly one of `probs` and `logits`.
            A 0 probability masks a category, as a `-inf` logit does.
        logits: `[..., K]`; `-inf` logits (0 probabilities) mask a category: samples
            put exactly 0 there and `log_prob` is the density over the other categories.
        validate_args: as in `torch.distributions`; default `gumbel_softmax.validation_enabled`.

    `rsample(sample_shape, generator=None)` returns `[*sample_shape, *batch_shape, K]`
    points of the simplex in the dtype of the given `logits`/`probs`, drawn by
    `gumbel_softmax.gumbel_softmax` in the compute dtype and floored at the dtype's
    smallest normal number at unmasked categories (module docstring). `log_prob(x)`
    returns `[*sample_shape, *batch_shape]`, `\\log p_X(x)` of the module
    docstring, computed in float32 or float64 and returned in the input dtype.

    Examples:
        >>> d = Concrete(torch.tensor([[0.1], [1.0]]), logits=torch.zeros(2, 3))
        >>> x = d.rsample((5,), generator=torch.Generator().manual_seed(0))
        >>> d.log_prob(x).shape, bool(d.log_prob(x).isfinite().all())
        (torch.Size([5, 2]), True)
    """

    support: constraints.Constraint = simplex

    def rsample(self, sample_shape: SampleShape = torch.Size(), generator: torch.Generator | None = None) -> Tensor:
        x = self._gumbel_softmax(sample_shape, generator, hard=False).to(self._sample_dtype)
        return _masked_where(self.logits, x.clamp_min(coordinate_floor(x.dtype)), 0.0)

    def _gumbel_softmax(self, sample_shape: SampleShape, generator: torch.Generator | None, hard: bool) -> Tensor:
        """`gumbel_softmax` (soft or straight-through) of the parameters, in the compute dtype.

        Always the reference: a fused kernel draws other noise from the same generator, and the
        families here share the reference's (`Concrete = exp(ExpConcrete)`, `BinaryConcrete` =
        the two-category `Concrete`, for the same generator state).
        """
        logits, tau = self._params_for(self._extended_shape(sample_shape))
        minus_gumbel = log_exponential(logits.shape, logits.dtype, logits.device, generator)
        return relax(logits, minus_gumbel, tau, hard, -1)

    def log_prob(self, value: Tensor) -> Tensor:
        x, logits, tau, dtype = self._prepare(value)
        # A 0 (an underflow, as in torch's float32 samples) is read as the floor; positive values as they are.
        log_x = torch.where(x > 0, x, coordinate_floor(value.dtype)).log()
        log_x = _masked_where(logits, log_x, 0.0)
        log_p = exp_concrete_log_density(logits, tau, log_x) - log_x.sum(-1)
        # Mass on a masked category is outside the support: probability 0.
        outside = (torch.isneginf(logits) & (x > 0)).any(-1)
        log_p = log_p.masked_fill(outside, float("-inf"))
        return self._nan_where_value_is(value, log_p).to(dtype)

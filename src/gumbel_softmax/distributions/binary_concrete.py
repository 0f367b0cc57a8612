r"""The Binary Concrete (relaxed Bernoulli) distribution on (0, 1), and its logit-space twin.

Maddison, Mnih, Teh (ICLR 2017, Section 3.3 "BinConcrete"). With temperature
`\lambda`, logit `\ell` and `L = G_0 - G_1` logistic noise
(the difference of two standard Gumbels), the logit-space sample and the
Binary Concrete sample are

```text
z = (\ell + L) / \lambda, \qquad x = \sigma(z)
```

which is the first coordinate of a two-category Concrete sample with logits
`(\ell, 0)` and Gumbels `(G_0, G_1)`. Since `\lambda z - \ell`
is standard logistic, with `u = \lambda z - \ell`,

```text
\log p_Z(z) = \log\lambda - \operatorname{softplus}(u) - \operatorname{softplus}(-u)
```

```text
\log p_X(x) = \log p_Z(\operatorname{logit} x) - \log x - \log(1 - x)
```

(Maddison et al.'s :math:`\lambda \alpha x^{-\lambda-1}(1-x)^{-\lambda-1} /
(\alpha x^{-\lambda} + (1-x)^{-\lambda})^2` with `\alpha = e^\ell`), all
from log-space quantities. `BinaryConcrete` samples are kept inside
`[smallest normal, 1 - eps/2]` of their dtype, and `log_prob` reads a 0 or a 1
as the nearer end, so densities of its own samples are finite. float32 cannot hold
values between `1 - 6e-8` and 1 (1.3% of the mass at temperature 0.3, logit 0.7):
they arrive at `1 - eps/2`. `LogitBinaryConcrete` has no such limit.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.distributions import constraints

from gumbel_softmax.distributions._base import Relaxed, SampleShape, coordinate_floor, largest_below_one
from gumbel_softmax.noise import log_exponential

__all__ = ["BinaryConcrete", "LogitBinaryConcrete"]


def logistic_logit_density(logits: Tensor, temperature: Tensor, z: Tensor) -> Tensor:
    """`\\log p_Z(z)` of the module docstring, elementwise and broadcast."""
    u = temperature * z - logits
    return temperature.log() - F.softplus(u) - F.softplus(-u)


class _RelaxedBernoulli(Relaxed):
    """Scalar events; `_perturbed` is `logits + L` (unscaled) in the compute dtype."""

    event_dims = 0
    arg_constraints = {"temperature": constraints.positive, "logits": constraints.real}

    def _perturbed(self, sample_shape: SampleShape, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        shape = self._extended_shape(sample_shape)
        logits, tau = self._params_for(shape)
        # log E_1 - log E_0 = G_0 - G_1 (log E_k = -G_k): the two Gumbels of a two-category Concrete
        # with logits (l, 0), so that l + G_0 - G_1 >= 0 exactly when category 0 wins the argmax.
        minus_gumbels = log_exponential((*shape, 2), logits.dtype, logits.device, generator)
        return logits + minus_gumbels[..., 1] - minus_gumbels[..., 0], tau


class LogitBinaryConcrete(_RelaxedBernoulli):
    """The logit of a Binary Concrete sample: `z = (logits + L) / temperature`, on the real line.

    Arguments as `BinaryConcrete`. Its `log_prob` is the one to use in a
    relaxed ELBO with Bernoulli latents (Maddison et al., Appendix C).
    `mean` and `mode` are `logits / temperature`; `variance` is
    `pi^2 / (3 temperature^2)` (the logistic law, scaled).
    """

    support = constraints.real

    def rsample(self, sample_shape: SampleShape = torch.Size(), generator: torch.Generator | None = None) -> Tensor:
        perturbed, tau = self._perturbed(sample_shape, generator)
        # The support is the real line: a quotient that overflows (logits 3e38 at tau 0.1) is the
        # largest finite number of the sample's dtype, not inf.
        largest = torch.finfo(self._sample_dtype).max
        return (perturbed / tau).clamp(-largest, largest).to(self._sample_dtype)

    def log_prob(self, value: Tensor) -> Tensor:
        z, logits, tau, dtype = self._prepare(value)
        return logistic_logit_density(logits, tau, z).to(dtype)

    @property
    def mean(self) -> Tensor:
        return self.logits / self.temperature

    @property
    def mode(self) -> Tensor:
        return self.mean

    @property
    def variance(self) -> Tensor:
        return (torch.pi**2 / 3) / self.temperature**2 * torch.ones_like(self.logits)


class BinaryConcrete(_RelaxedBernoulli):
    """The Binary Concrete / relaxed Bernoulli distribution: `x = sigmoid((logits + L) / temperature)`.

    Args:
        temperature: `lambda > 0`, a float or a tensor broadcastable to `logits`.
        probs: the Bernoulli probability, strictly inside (0, 1); give exactly one of
            `probs` and `logits`.
        logits: the Bernoulli logit, finite.
        validate_args: default `gumbel_softmax.validation_enabled`.

    `rsample` returns `[*sample_shape, *batch_shape]` values in
    `[smallest normal, 1 - eps/2]` of the dtype of `logits`; `log_prob`
    is `\\log p_X` of the module docstring, finite on them.

    Examples:
        >>> d = BinaryConcrete(0.5, probs=torch.tensor([0.2, 0.9]))
        >>> d.rsample((3,), generator=torch.Generator().manual_seed(0)).shape
        torch.Size([3, 2])
    """

    support: constraints.Constraint = constraints.unit_interval

    def rsample(self, sample_shape: SampleShape = torch.Size(), generator: torch.Generator | None = None) -> Tensor:
        perturbed, tau = self._perturbed(sample_shape, generator)
        x = torch.sigmoid(perturbed / tau).to(self._sample_dtype)
        return x.clamp(coordinate_floor(x.dtype), largest_below_one(x.dtype))

    def log_prob(self, value: Tensor) -> Tensor:
        x, logits, tau, dtype = self._prepare(value)
        # 0 and 1 (underflow and rounding) are read as the nearest values rsample returns.
        x = torch.where(x > 0, x, coordinate_floor(value.dtype))
        x = torch.where(x < 1, x, largest_below_one(value.dtype))
        log_x, log_1mx = x.log(), torch.log1p(-x)
        log_p = logistic_logit_density(logits, tau, log_x - log_1mx) - log_x - log_1mx
        return self._nan_where_value_is(value, log_p).to(dtype)

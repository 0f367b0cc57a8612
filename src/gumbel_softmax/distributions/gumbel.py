r"""The Gumbel distribution, sampled through the core's always-finite noise.

Gumbel (1954). With `z = (x - \mu) / \beta`:

```text
\log p(x) = -(z + e^{-z}) - \log\beta, \qquad F(x) = \exp(-e^{-z}),
\qquad F^{-1}(q) = \mu - \beta \log(-\log q)
```

mean `\mu + \gamma\beta` (`\gamma` the Euler-Mascheroni constant),
mode `\mu`, variance `\pi^2\beta^2/6`, entropy `\log\beta + 1 + \gamma`.
`rsample` is `\mu + \beta G` with `G` from `gumbel_softmax.gumbel_noise`,
so every draw is finite (torch's `Gumbel` can return `inf` when its uniform is 0).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.distributions import constraints
from torch.distributions.utils import broadcast_all

from gumbel_softmax.checks import validation_enabled
from gumbel_softmax.distributions._base import GeneratorSampling, SampleShape, work_dtype
from gumbel_softmax.noise import gumbel_noise

__all__ = ["Gumbel"]

EULER_GAMMA = 0.57721566490153286061


class Gumbel(GeneratorSampling):
    """Gumbel(loc, scale) with `log_prob`, `cdf`, `icdf`, `entropy`, moments and a finite `rsample`.

    Args:
        loc: location `\\mu`, a float or tensor.
        scale: scale `\\beta > 0`, a float or tensor; broadcast with `loc`.
        validate_args: default `gumbel_softmax.validation_enabled`.

    Examples:
        >>> d = Gumbel(torch.tensor(0.0), torch.tensor(2.0))
        >>> round(float(d.cdf(d.icdf(torch.tensor(0.3)))), 6)
        0.3
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real

    def __init__(self, loc: float | Tensor, scale: float | Tensor, validate_args: bool | None = None) -> None:
        self.loc, self.scale = broadcast_all(loc, scale)
        validate = validation_enabled() if validate_args is None else bool(validate_args)
        super().__init__(self.loc.shape, torch.Size(), validate_args=validate)

    def expand(self, batch_shape: SampleShape, _instance: Gumbel | None = None) -> Gumbel:
        new = self._get_checked_instance(Gumbel, _instance)
        batch_shape = torch.Size(batch_shape)
        new.loc, new.scale = self.loc.expand(batch_shape), self.scale.expand(batch_shape)
        super(Gumbel, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def rsample(self, sample_shape: SampleShape = torch.Size(), generator: torch.Generator | None = None) -> Tensor:
        shape = self._extended_shape(sample_shape)
        noise = gumbel_noise(shape, dtype=self.loc.dtype, device=self.loc.device, generator=generator)
        return self.loc + self.scale * noise

    def _z(self, value: Tensor | float) -> tuple[Tensor, torch.dtype]:
        """The standardized value in float32 or float64, and the dtype to return (a Python number is read
        in the dtype of `loc`)."""
        if not isinstance(value, Tensor):
            value = torch.as_tensor(value, dtype=self.loc.dtype, device=self.loc.device)
        if self._validate_args:
            self._validate_sample(value)
        work = work_dtype(value, self.loc)
        z = (value.to(work) - self.loc.to(work)) / self.scale.to(work)
        return z, torch.promote_types(value.dtype, self.loc.dtype)

    def log_prob(self, value: Tensor | float) -> Tensor:
        z, dtype = self._z(value)
        log_p = -(z + torch.exp(-z)) - self.scale.to(z.dtype).log()
        # At z = -inf the density's limit is 0 (exp(-z) wins); the formula alone gives -inf + inf = NaN.
        return torch.where(torch.isneginf(z), float("-inf"), log_p).to(dtype)

    def cdf(self, value: Tensor | float) -> Tensor:
        z, dtype = self._z(value)
        return torch.exp(-torch.exp(-z)).to(dtype)

    def icdf(self, value: Tensor) -> Tensor:
        """The quantile `\\mu - \\beta \\log(-\\log q)` of `q` in [0, 1] (`-inf` at 0, `inf` at 1)."""
        value = torch.as_tensor(value, device=self.loc.device)
        if self._validate_args and not bool(constraints.unit_interval.check(value).all()):
            raise ValueError(
                f"Gumbel.icdf needs probabilities in [0, 1] (no NaN); got values from {float(value.min())} "
                f"to {float(value.max())}"
            )
        work = work_dtype(value, self.loc)
        quantile = self.loc.to(work) - self.scale.to(work) * torch.log(-torch.log(value.to(work)))
        return quantile.to(torch.promote_types(value.dtype, self.loc.dtype))

    def entropy(self) -> Tensor:
        return self.scale.log() + (1.0 + EULER_GAMMA)

    @property
    def mean(self) -> Tensor:
        return self.loc + EULER_GAMMA * self.scale

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        return (math.pi**2 / 6) * self.scale.pow(2)

    @property
    def stddev(self) -> Tensor:
        return (math.pi / math.sqrt(6)) * self.scale

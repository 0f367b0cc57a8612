r"""Straight-through Concrete distributions: exact discrete samples, gradients of the relaxed ones.

Jang, Gu, Poole (ICLR 2017, Section 2.2, "Straight-Through Gumbel-Softmax"). The
forward value of `rsample` is the Gumbel-max sample `onehot(argmax(logits + G))`
(Binary: `1[logits + L >= 0]`), distributed exactly as Categorical(softmax(logits))
(Bernoulli(sigmoid(logits))); the backward pass is that of the Concrete
(Binary Concrete) sample drawn with the same noise.

**What `log_prob` returns.** The log-probability *mass* of the discrete value
under the law of the forward value: `log softmax(logits)[argmax value]`
(Bernoulli: `value * log sigmoid(logits) + (1 - value) * log sigmoid(-logits)`).
It reads only the numbers in `value`: no attribute of the tensor, so
`log_prob(sample.clone())` equals `log_prob(sample)` (Pyro's
`RelaxedOneHotCategoricalStraightThrough` returns NaN there because its
`log_prob` looks up the soft sample stored on the tensor). No gradient flows
through `value`; gradients reach `logits` (score-function use). For the
density of the relaxed sample, use `Concrete` / `BinaryConcrete`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.distributions import constraints

from gumbel_softmax.distributions._base import SampleShape
from gumbel_softmax.distributions.binary_concrete import BinaryConcrete
from gumbel_softmax.distributions.concrete import Concrete

__all__ = ["ConcreteStraightThrough", "BinaryConcreteStraightThrough"]


class _MeanIsProbs:
    """The forward value is exactly categorical (Bernoulli), so its mean is `probs`."""

    @property
    def mean(self) -> Tensor:
        return self.probs  # type: ignore[attr-defined]


class ConcreteStraightThrough(_MeanIsProbs, Concrete):
    """One-hot samples with straight-through Gumbel-Softmax gradients; arguments as `Concrete`.

    `rsample` returns exact 0.0/1.0 one-hot tensors `[*sample_shape, *batch_shape, K]`;
    `log_prob` the categorical log-mass (module docstring); `mean` is `probs`,
    `mode` the one-hot argmax of `logits`.

    Examples:
        >>> d = ConcreteStraightThrough(0.5, logits=torch.zeros(3, requires_grad=True))
        >>> s = d.rsample(generator=torch.Generator().manual_seed(0))
        >>> float(s.detach().sum()), bool(d.log_prob(s.clone()) == d.log_prob(s))
        (1.0, True)
    """

    support = constraints.one_hot

    def rsample(self, sample_shape: SampleShape = torch.Size(), generator: torch.Generator | None = None) -> Tensor:
        return self._gumbel_softmax(sample_shape, generator, hard=True).to(self._sample_dtype)

    def log_prob(self, value: Tensor) -> Tensor:
        value, logits, _, dtype = self._prepare(value.detach())
        logits, value = torch.broadcast_tensors(logits, value)
        log_p = logits.log_softmax(-1).gather(-1, value.argmax(-1, keepdim=True)).squeeze(-1)
        return self._nan_where_value_is(value, log_p).to(dtype)

    @property
    def mode(self) -> Tensor:
        index = self.logits.argmax(-1, keepdim=True)
        return torch.zeros(self.logits.shape, dtype=self._sample_dtype, device=self.logits.device).scatter_(
            -1, index, 1.0
        )


class BinaryConcreteStraightThrough(_MeanIsProbs, BinaryConcrete):
    """{0, 1} samples with straight-through Binary Concrete gradients; arguments as `BinaryConcrete`.

    `rsample` returns exact 0.0/1.0 values `[*sample_shape, *batch_shape]`; `log_prob`
    the Bernoulli log-mass (module docstring); `mean` is `probs`, `mode` `1[logits >= 0]`.
    """

    support = constraints.boolean

    def rsample(self, sample_shape: SampleShape = torch.Size(), generator: torch.Generator | None = None) -> Tensor:
        perturbed, tau = self._perturbed(sample_shape, generator)
        soft = torch.sigmoid(perturbed / tau).to(self._sample_dtype)
        # >= matches argmax's first-index rule on ties of the two-category Concrete with logits (l, 0).
        hard = (perturbed >= 0).to(soft.dtype)
        return hard + (soft - soft.detach()) if soft.requires_grad else hard

    def log_prob(self, value: Tensor) -> Tensor:
        value, logits, _, dtype = self._prepare(value.detach())
        logits, value = torch.broadcast_tensors(logits, value)
        log_p = -F.binary_cross_entropy_with_logits(logits, value, reduction="none")
        return self._nan_where_value_is(value, log_p).to(dtype)

    @property
    def mode(self) -> Tensor:
        return (self.logits >= 0).to(self._sample_dtype)

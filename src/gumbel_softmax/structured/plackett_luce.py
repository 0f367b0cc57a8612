r"""The Plackett-Luce distribution over orderings, and its relaxation by NeuralSort.

**Plackett-Luce** (Luce 1959; Plackett 1975). Items `1..n` with scores `theta` are ranked by drawing
the first from `softmax(theta)`, the next from the softmax of the items left, and so on:

```text
P(\sigma) = \prod_{j=1}^{n} \frac{\exp \theta_{\sigma_j}}{\sum_{m=j}^{n} \exp \theta_{\sigma_m}},
\qquad
\log P(\sigma) = \sum_{j=1}^{n} \Big(\theta_{\sigma_j} - \operatorname{logsumexp}_{m \ge j} \theta_{\sigma_m}\Big),
```

where `sigma_j` is the item in position `j`. The log-normalizers of all positions are one reversed
`logcumsumexp`, so `log_prob` is exact and O(n) per ordering after a gather.

**Sampling by Gumbel-top-n.** Sorting `theta + G`, with `G` i.i.d. standard Gumbel, in decreasing order
gives an exact Plackett-Luce sample (Yellott 1977; Kool, van Hoof, Welling, ICML 2019, Sec. 2): the
sampler is `gumbel_softmax.sample_without_replacement` with `k = n`.

**The relaxed sample** of `RelaxedPlackettLuce` is NeuralSort applied to the perturbed scores
(Grover, Wang, Zweig, Ermon, "Stochastic Optimization of Sorting Networks via Continuous Relaxations",
ICLR 2019, Sec. 4, "stochastic NeuralSort"): `neural_sort(theta + G, tau)`, an `n x n` row-stochastic
matrix whose row `j` tends, as `tau -> 0`, to the one-hot of the item in position `j` of the exact
sample drawn with the same noise. It has no density (`log_prob` raises); it is for pathwise gradients.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.distributions import Distribution, constraints

from gumbel_softmax.checks import check_generator, check_tau, validation_enabled
from gumbel_softmax.distributions._base import SampleShape
from gumbel_softmax.functional import perturbed_logits
from gumbel_softmax.noise import compute_dtype
from gumbel_softmax.structured.permutations import neural_sort

__all__ = ["PlackettLuce", "RelaxedPlackettLuce"]



class _Permutation(constraints.Constraint):
    """Integer vectors holding each of `0..n-1` exactly once along the last axis."""

    is_discrete = True
    event_dim = 1

    def check(self, value: Tensor) -> Tensor:
        if value.dtype.is_floating_point or value.dtype.is_complex or value.dtype == torch.bool:
            return torch.zeros(value.shape[:-1], dtype=torch.bool, device=value.device)
        n = value.shape[-1]
        expected = torch.arange(n, device=value.device)
        return (value.sort(-1).values == expected).all(-1)

    def __repr__(self) -> str:
        return "Permutation()"


permutation = _Permutation()


def _parse_logits(logits: object, validate: bool) -> Tensor:
    if not isinstance(logits, Tensor):
        raise TypeError(f"logits must be a torch.Tensor, got {type(logits).__name__}")
    if not logits.dtype.is_floating_point:
        raise TypeError(
            f"logits must be a floating tensor of item scores, got dtype {logits.dtype}; convert with .float()"
        )
    if logits.ndim == 0 or logits.shape[-1] == 0:
        raise ValueError(f"logits must have shape [..., n] with n >= 1 items, got shape {tuple(logits.shape)}")
    if validate and logits.numel() and logits.device.type != "meta" and not bool(torch.isfinite(logits).all()):
        raise ValueError("logits must be finite: every item is ranked, so none can be masked with -inf")
    return logits


def _sample_shape(distribution: Distribution, sample_shape: SampleShape) -> torch.Size:
    return torch.Size(sample_shape) + distribution.batch_shape + distribution.event_shape


class PlackettLuce(Distribution):
    """Random orderings of `n` items: `P(sigma) = prod_j exp(theta[sigma_j]) / sum_{m >= j} exp(theta[sigma_m])`.

    Args:
        logits: the scores `theta`, a finite floating tensor `[..., n]`; the batch shape is
            `logits.shape[:-1]` and the event shape `[n]`. Adding a constant to a row changes nothing.
        validate_args: check parameters and values; default `gumbel_softmax.validation_enabled`.

    A value is an int64 ordering `sigma`: `sigma[..., j]` is the item in position `j` (position 0 is
    the top). `sample(sample_shape, generator=None)` draws exact samples by Gumbel-top-n;
    `log_prob(sigma)` is exact. Not reparameterizable (`has_rsample = False`); for pathwise gradients
    use `RelaxedPlackettLuce`.

    Examples:
        >>> d = PlackettLuce(torch.tensor([2.0, 0.0, 1.0]))
        >>> sigma = d.sample((4,), generator=torch.Generator().manual_seed(0))
        >>> sigma.shape, d.log_prob(sigma).shape
        (torch.Size([4, 3]), torch.Size([4]))
    """

    arg_constraints = {"logits": constraints.real_vector}
    support = permutation
    has_rsample = False

    def __init__(self, logits: Tensor, validate_args: bool | None = None) -> None:
        validate = validation_enabled() if validate_args is None else bool(validate_args)
        logits = _parse_logits(logits, validate)
        self.logits = logits
        # torch's real_vector check cannot reshape an empty batch; _parse_logits has checked the values.
        super().__init__(logits.shape[:-1], logits.shape[-1:], validate_args=validate and logits.numel() > 0)
        self._validate_args = validate

    def expand(self, batch_shape: SampleShape, _instance: Distribution | None = None) -> PlackettLuce:
        new = self._get_checked_instance(PlackettLuce, _instance)
        batch_shape = torch.Size(batch_shape)
        new.logits = self.logits.expand(batch_shape + self.event_shape)
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(self, sample_shape: SampleShape = torch.Size(), generator: torch.Generator | None = None) -> Tensor:
        """Exact orderings `[*sample_shape, *batch_shape, n]` (int64), by sorting `logits + G`."""
        shape = _sample_shape(self, sample_shape)
        check_generator(generator, self.logits.device)
        perturbed = perturbed_logits(self.logits.expand(shape), generator)
        return perturbed.argsort(-1, descending=True)

    def log_prob(self, value: Tensor) -> Tensor:
        """`log P(sigma)` for orderings `value` (int64 `[..., n]`) that broadcast against the batch shape."""
        if self._validate_args:
            self._validate_sample(value)
        logits = self.logits.to(compute_dtype(self.logits.dtype))
        shape = torch.broadcast_shapes(value.shape, logits.shape)
        ordered = logits.expand(shape).gather(-1, value.expand(shape).long())
        normalizers = ordered.flip(-1).logcumsumexp(-1).flip(-1)
        return (ordered - normalizers).sum(-1)

    def _validate_sample(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"value must be a torch.Tensor of orderings, got {type(value).__name__}")
        if value.ndim < 1 or value.shape[-1] != self.event_shape[0]:
            raise ValueError(
                f"value must be orderings of the {self.event_shape[0]} items, shape [..., {self.event_shape[0]}]; "
                f"got shape {tuple(value.shape)}"
            )
        super()._validate_sample(value)

    @property
    def mode(self) -> Tensor:
        """The most probable ordering: the items by decreasing score."""
        return self.logits.argsort(-1, descending=True)


class RelaxedPlackettLuce(Distribution):
    """Relaxed Plackett-Luce samples: NeuralSort matrices of `logits + G` (Grover et al. 2019, Sec. 4).

    Args:
        temperature: a positive float, or a tensor of one value per batch element (shape
            `logits.shape[:-1]`, or that with a trailing 1).
        logits: the scores, as in `PlackettLuce`.
        validate_args: as in `PlackettLuce`.

    `rsample(sample_shape, generator=None)` returns `[*sample_shape, *batch_shape, n, n]` in the dtype of
    `logits`: row `j` is a relaxed one-hot of the item in position `j` of the ordering
    `PlackettLuce(logits).sample` draws with the same generator state (its argmax for small
    `temperature`); `hard=True` gives that exact permutation matrix with the relaxed gradient.
    There is no density: `log_prob` raises `NotImplementedError`.

    Examples:
        >>> d = RelaxedPlackettLuce(0.1, torch.tensor([2.0, 0.0, 1.0]))
        >>> p = d.rsample((2,), generator=torch.Generator().manual_seed(0))
        >>> p.shape
        torch.Size([2, 3, 3])
    """

    arg_constraints = {"logits": constraints.real_vector}
    has_rsample = True

    def __init__(self, temperature: float | Tensor, logits: Tensor, validate_args: bool | None = None) -> None:
        validate = validation_enabled() if validate_args is None else bool(validate_args)
        logits = _parse_logits(logits, validate)
        batch_shape = logits.shape[:-1]
        if isinstance(temperature, Tensor) and temperature.shape == batch_shape:
            temperature = temperature.unsqueeze(-1)
        tau = check_tau(temperature, logits, -1, validate=validate)
        self.logits = logits
        self.temperature = tau
        super().__init__(batch_shape, logits.shape[-1:] * 2, validate_args=validate and logits.numel() > 0)
        self._validate_args = validate

    @property
    def support(self) -> constraints.Constraint:  # type: ignore[override]
        return constraints.independent(constraints.unit_interval, 2)

    def expand(self, batch_shape: SampleShape, _instance: Distribution | None = None) -> RelaxedPlackettLuce:
        new = self._get_checked_instance(RelaxedPlackettLuce, _instance)
        batch_shape = torch.Size(batch_shape)
        n = self.logits.shape[-1]
        new.logits = self.logits.expand(batch_shape + (n,))
        tau = self.temperature
        new.temperature = tau.expand(batch_shape + (1,)) if isinstance(tau, Tensor) else tau
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def rsample(
        self, sample_shape: SampleShape = torch.Size(), generator: torch.Generator | None = None, hard: bool = False
    ) -> Tensor:
        """Relaxed permutation matrices `[*sample_shape, *batch_shape, n, n]`, differentiable in `logits`."""
        n = self.logits.shape[-1]
        shape = torch.Size(sample_shape) + self.batch_shape + (n,)
        check_generator(generator, self.logits.device)
        work = compute_dtype(self.logits.dtype)
        noise = perturbed_logits(torch.zeros(shape, dtype=work, device=self.logits.device), generator)
        scores = self.logits.to(work) + noise
        tau = self.temperature
        if isinstance(tau, Tensor):
            tau = tau.expand(shape[:-1] + (1,))
        return neural_sort(scores, tau, hard=hard).to(self.logits.dtype)

    def sample(
        self, sample_shape: SampleShape = torch.Size(), generator: torch.Generator | None = None, hard: bool = False
    ) -> Tensor:
        """`rsample` without gradients."""
        with torch.no_grad():
            return self.rsample(sample_shape, generator=generator, hard=hard)

    def log_prob(self, value: Tensor) -> Tensor:
        raise NotImplementedError("a relaxed Plackett-Luce sample has no density here; use PlackettLuce.log_prob")

"""What every distribution here shares: parameter parsing, `sample` with a generator, float edges.

Not public; the families import from here so each file holds only its own math.
"""

from __future__ import annotations

import numbers

import torch
from torch import Tensor
from torch.distributions import Distribution, biject_to, constraints, transform_to
from torch.distributions.transforms import SoftmaxTransform, StickBreakingTransform

from gumbel_softmax.checks import check_logits, check_positive_finite, validation_enabled
from gumbel_softmax.noise import compute_dtype

__all__ = ["GeneratorSampling", "Relaxed", "SampleShape", "coordinate_floor", "largest_below_one", "work_dtype"]

# What torch.distributions accepts as a sample or batch shape.
SampleShape = torch.Size | list[int] | tuple[int, ...]


def coordinate_floor(dtype: torch.dtype) -> float:
    """The least value a relaxed sample's coordinate takes: the smallest normal number of `dtype`.

    A sample coordinate below it would be a subnormal or 0, whose log is imprecise or
    `-inf`; and `1 / x` (the gradient of `log x`) overflows for subnormal `x`. float16,
    whose normal range ends at 6e-5, keeps its subnormals down to 6e-8 instead.
    """
    info = torch.finfo(dtype)
    return info.tiny * info.eps if dtype == torch.float16 else info.tiny


def largest_below_one(dtype: torch.dtype) -> float:
    """The largest number of `dtype` below 1, `1 - eps / 2`."""
    return 1.0 - torch.finfo(dtype).eps / 2


def work_dtype(*tensors: Tensor) -> torch.dtype:
    """float32 for half/bfloat16/float32 inputs, float64 if any input is float64."""
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    return compute_dtype(dtype)


class _Simplex(constraints.Constraint):
    """`x >= 0` summing to 1 within the rounding of `K` additions in the dtype of `x`."""

    is_discrete = False
    event_dim = 1

    def check(self, value: Tensor) -> Tensor:
        tolerance = max(1e-6, 4 * value.shape[-1] * torch.finfo(value.dtype).eps)
        total = value.to(compute_dtype(value.dtype)).sum(-1)
        return (value >= 0).all(-1) & ((total - 1).abs() <= tolerance)

    def __repr__(self) -> str:
        return "Simplex()"


simplex = _Simplex()
# As torch does for its own simplex: HMC and Pyro's autoguides find an unconstrained parametrization.
biject_to.register(_Simplex, lambda constraint: StickBreakingTransform())
transform_to.register(_Simplex, lambda constraint: SoftmaxTransform())


class GeneratorSampling(Distribution):
    """`sample(sample_shape, generator=None)`: `rsample` without gradients, from an explicit generator."""

    has_rsample = True

    def rsample(self, sample_shape: SampleShape = torch.Size(), generator: torch.Generator | None = None) -> Tensor:
        raise NotImplementedError

    def sample(self, sample_shape: SampleShape = torch.Size(), generator: torch.Generator | None = None) -> Tensor:
        with torch.no_grad():
            return self.rsample(sample_shape, generator=generator)


class Relaxed(GeneratorSampling):
    """Base of the Concrete families: a `temperature` and `logits` (or `probs`) over `event_dims` axes.

    Args:
        temperature: a positive float or floating tensor. For categorical
            families (`event_dims = 1`) a tensor whose last axis has size 1 is
            the per-row form of `gumbel_softmax`: it broadcasts against
            `logits` with the category axis kept (`[B, 1]` with logits
            `[B, K]` or `[A, B, K]`), so that axis is dropped from the batch
            shape. Any other tensor (`[B]`, a 0-d tensor) broadcasts against
            the batch shape `logits.shape[:-1]`.
        probs / logits: exactly one of them. Categorical logits are normalized
            (`logits - logsumexp`); `-inf` masks a category. Bernoulli
            logits are `log p - log(1 - p)` and must be finite.
        validate_args: check parameters and values; default
            `gumbel_softmax.validation_enabled`.

    The attributes `temperature` and `logits` are held in the compute dtype
    (`gumbel_softmax.noise.compute_dtype` of the promoted dtype of
    `logits` and a tensor `temperature`: float32, or float64 if either is
    float64), so float16/bfloat16 inputs do not round the parameters
    (`tau = 0.3` stays 0.3, not bfloat16's 0.30078). Samples are returned
    in the dtype of the given `logits`/`probs`, `log_prob` in the
    promoted dtype of that and the value.
    """

    event_dims = 1
    arg_constraints = {"temperature": constraints.positive, "logits": constraints.real_vector}

    def __init__(
        self,
        temperature: float | Tensor,
        probs: Tensor | None = None,
        logits: Tensor | None = None,
        validate_args: bool | None = None,
    ) -> None:
        validate = validation_enabled() if validate_args is None else bool(validate_args)
        name, given = self._given(probs, logits)
        tau = _parse_temperature(temperature, given, self.event_dims, validate)
        work = work_dtype(given, tau)
        logits = self._to_logits(name, given.to(work), probs is not None, validate)
        event_shape = logits.shape[logits.ndim - self.event_dims :]
        try:
            batch_shape = torch.broadcast_shapes(tau.shape, logits.shape[: logits.ndim - self.event_dims])
        except RuntimeError as error:
            given_shape = tuple(temperature.shape) if isinstance(temperature, Tensor) else ()
            per_row = " (its trailing size-1 axis read as the category axis)" if tau.ndim < len(given_shape) else ""
            raise ValueError(
                f"temperature of shape {given_shape}{per_row} does not broadcast with "
                f"logits {tuple(logits.shape)}; give one value per batch element, of shape "
                f"{tuple(logits.shape[: logits.ndim - self.event_dims])} or broadcastable to it"
            ) from error
        self.temperature = tau.to(work).expand(batch_shape)
        self.logits = logits.expand(batch_shape + event_shape)
        self._sample_dtype = given.dtype
        # An empty batch has no parameter to check (torch's constraint check cannot reshape 0 elements).
        super().__init__(batch_shape, event_shape, validate_args=validate and batch_shape.numel() > 0)
        self._validate_args = validate

    def _given(self, probs: Tensor | None, logits: Tensor | None) -> tuple[str, Tensor]:
        """The name and tensor of the one parameter given, after type and shape checks."""
        if (probs is None) == (logits is None):
            got = "both" if probs is not None else "neither"
            raise ValueError(f"{type(self).__name__} needs exactly one of `probs` or `logits`, got {got}")
        name = "probs" if probs is not None else "logits"
        given = probs if probs is not None else logits
        if isinstance(given, numbers.Real) and not isinstance(given, bool):  # as torch.distributions accepts
            given = torch.tensor(float(given), dtype=torch.get_default_dtype())
        if not isinstance(given, Tensor) or not given.dtype.is_floating_point:
            raise TypeError(f"{name} must be a floating torch.Tensor, got {type(given).__name__}"
                            + (f" of dtype {given.dtype}" if isinstance(given, Tensor) else ""))
        if given.ndim < self.event_dims:
            raise ValueError(f"{name} needs at least {self.event_dims} dim(s) (the categories), got a 0-d tensor")
        if self.event_dims and given.shape[-1] == 0:
            raise ValueError(f"{type(self).__name__} needs at least one category; {name} has shape "
                             f"{tuple(given.shape)}, with 0 along the last (category) axis")
        return name, given

    def _to_logits(self, name: str, given: Tensor, is_probs: bool, validate: bool) -> Tensor:
        """(Normalized) logits from `given`, computed in its dtype."""
        if self.event_dims == 0:
            logits = torch.logit(given) if is_probs else given
            if validate and not bool(torch.isfinite(logits).all()):
                raise ValueError(f"{type(self).__name__}: {name} must give finite logits (probabilities strictly "
                                 "between 0 and 1, no NaN or inf)")
            return logits
        logits = given.log() if is_probs else given
        check_logits(logits, -1, name="log(probs)" if is_probs else "logits", validate=validate)
        return logits - logits.logsumexp(-1, keepdim=True)

    @property
    def probs(self) -> Tensor:
        return self.logits.softmax(-1) if self.event_dims else self.logits.sigmoid()

    def expand(self, batch_shape: SampleShape, _instance: Distribution | None = None) -> Distribution:
        new = self._get_checked_instance(type(self), _instance)
        batch_shape = torch.Size(batch_shape)
        new.temperature = self.temperature.expand(batch_shape)
        new.logits = self.logits.expand(batch_shape + self.event_shape)
        new._sample_dtype = self._sample_dtype
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _prepare(self, value: Tensor) -> tuple[Tensor, Tensor, Tensor, torch.dtype]:
        """Validate `value`; return it, `logits`, `temperature` in the compute dtype, and the dtype to return.

        The compute dtype is that of the parameters (which already include the
        temperature's dtype), promoted with `value`'s; the dtype to return is
        the promoted dtype of `value` and the given logits.
        """
        if self._validate_args:
            self._validate_sample(value)
        work = work_dtype(value, self.logits)
        out = torch.promote_types(value.dtype, self._sample_dtype)
        return value.to(work), self.logits.to(work), self.temperature.to(work), out

    def _nan_where_value_is(self, value: Tensor, log_prob: Tensor) -> Tensor:
        """`log_prob` with NaN wherever an event of `value` holds a NaN (what an unvalidated NaN must give:
        the densities read a 0 as the dtype's floor, which would otherwise turn a NaN into a number)."""
        nan = torch.isnan(value)
        if self.event_dims:
            nan = nan.any(-1)
        return torch.where(nan, float("nan"), log_prob)

    def _params_for(self, shape: torch.Size) -> tuple[Tensor, Tensor]:
        """Logits and temperature (compute dtype) for a sample of `shape`; tau keeps a size-1 event axis."""
        tau = self.temperature
        if self.event_dims:
            tau = tau.unsqueeze(-1)
        tau_shape = shape[: len(shape) - self.event_dims] + (1,) * self.event_dims
        return self.logits.expand(shape), tau.expand(tau_shape)


def _parse_temperature(temperature: float | Tensor, like: Tensor, event_dims: int, validate: bool) -> Tensor:
    """The temperature as a tensor on the device of `like`: a tensor keeps its dtype, a float takes the
    compute dtype of `like`. A categorical temperature's trailing size-1 axis (the category axis) is dropped."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float, Tensor)):
        raise TypeError(f"temperature must be a float or a tensor, got {type(temperature).__name__}")
    if isinstance(temperature, Tensor):
        if not temperature.dtype.is_floating_point:
            raise TypeError(f"temperature must be a floating tensor, got dtype {temperature.dtype}")
        tau = temperature.to(like.device)
        if event_dims and tau.ndim and tau.shape[-1] == 1:
            tau = tau.squeeze(-1)
    else:
        value = check_positive_finite("temperature", temperature)
        tau = torch.tensor(value, dtype=compute_dtype(like.dtype), device=like.device)
    if validate and tau.numel() and not bool((torch.isfinite(tau) & (tau > 0)).all()):
        raise ValueError(f"temperature must be finite and > 0 everywhere; got {tau.detach().flatten()[:8].tolist()}...")
    return tau

"""What every distribution here shares: parameter parsing, ``sample`` with a generator, float edges.

Not public; the families import from here so each file holds only its own math.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.distributions import Distribution, constraints

from gumbel_softmax.noise import compute_dtype
from gumbel_softmax.validation import check_logits, validation, validation_enabled

__all__ = ["GeneratorSampling", "Relaxed", "coordinate_floor", "largest_below_one", "work_dtype"]


def coordinate_floor(dtype: torch.dtype) -> float:
    """The least value a relaxed sample's coordinate takes: the smallest normal number of ``dtype``.

    A sample coordinate below it would be a subnormal or 0, whose log is imprecise or
    ``-inf``; and ``1 / x`` (the gradient of ``log x``) overflows for subnormal ``x``. float16,
    whose normal range ends at 6e-5, keeps its subnormals down to 6e-8 instead.
    """
    info = torch.finfo(dtype)
    return info.tiny * info.eps if dtype == torch.float16 else info.tiny


def largest_below_one(dtype: torch.dtype) -> float:
    """The largest number of ``dtype`` below 1, ``1 - eps / 2``."""
    return 1.0 - torch.finfo(dtype).eps / 2


def work_dtype(*tensors: Tensor) -> torch.dtype:
    """float32 for half/bfloat16/float32 inputs, float64 if any input is float64."""
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    return compute_dtype(dtype)


class _Simplex(constraints.Constraint):
    """``x >= 0`` summing to 1 within the rounding of ``K`` additions in the dtype of ``x``."""

    is_discrete = False
    event_dim = 1

    def check(self, value: Tensor) -> Tensor:
        tolerance = max(1e-6, 4 * value.shape[-1] * torch.finfo(value.dtype).eps)
        total = value.to(compute_dtype(value.dtype)).sum(-1)
        return (value >= 0).all(-1) & ((total - 1).abs() <= tolerance)

    def __repr__(self) -> str:
        return "Simplex()"


simplex = _Simplex()


class GeneratorSampling(Distribution):
    """``sample(sample_shape, generator=None)``: ``rsample`` without gradients, from an explicit generator."""

    has_rsample = True

    def rsample(self, sample_shape: torch.Size = torch.Size(), generator: torch.Generator | None = None) -> Tensor:
        raise NotImplementedError

    def sample(self, sample_shape: torch.Size = torch.Size(), generator: torch.Generator | None = None) -> Tensor:
        with torch.no_grad():
            return self.rsample(sample_shape, generator=generator)


class Relaxed(GeneratorSampling):
    """Base of the Concrete families: a ``temperature`` and ``logits`` (or ``probs``) over ``event_dims`` axes.

    **Arguments:**
        temperature: a positive float or tensor broadcastable to the batch shape.
            For categorical families (``event_dims = 1``) a tensor with as many
            dims as ``logits`` and a trailing size-1 axis (``[B, 1]`` for
            logits ``[B, K]``, the per-row form of :func:`gumbel_softmax`) has
            that axis dropped, so its batch shape is ``[B]``.
        probs / logits: exactly one of them. Categorical logits are normalized
            (``logits - logsumexp``); ``-inf`` masks a category. Bernoulli
            logits are ``log p - log(1 - p)`` and must be finite.
        validate_args: check parameters and values; default
            :func:`gumbel_softmax.validation_enabled`.
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
        logits = self._parse_logits(probs, logits, validate)
        tau = _parse_temperature(temperature, logits, self.event_dims, validate)
        event_shape = logits.shape[logits.ndim - self.event_dims :]
        try:
            batch_shape = torch.broadcast_shapes(tau.shape, logits.shape[: logits.ndim - self.event_dims])
        except RuntimeError as error:
            raise ValueError(
                f"temperature of shape {tuple(tau.shape)} does not broadcast with the batch shape "
                f"{tuple(logits.shape[: logits.ndim - self.event_dims])} of logits {tuple(logits.shape)}"
            ) from error
        self.temperature = tau.expand(batch_shape)
        self.logits = logits.expand(batch_shape + event_shape)
        super().__init__(batch_shape, event_shape, validate_args=validate)

    def _parse_logits(self, probs: Tensor | None, logits: Tensor | None, validate: bool) -> Tensor:
        if (probs is None) == (logits is None):
            raise ValueError(f"{type(self).__name__} needs exactly one of `probs` or `logits`, got {'both' if probs is not None else 'neither'}")
        name = "probs" if probs is not None else "logits"
        given = probs if probs is not None else logits
        if not isinstance(given, Tensor) or not given.dtype.is_floating_point:
            raise TypeError(f"{name} must be a floating torch.Tensor, got {type(given).__name__}"
                            + (f" of dtype {given.dtype}" if isinstance(given, Tensor) else ""))
        if given.ndim < self.event_dims:
            raise ValueError(f"{name} needs at least {self.event_dims} dim(s) (the categories), got a 0-d tensor")
        if self.event_dims == 0:
            logits = torch.logit(given) if probs is not None else given
            if validate and not bool(torch.isfinite(logits).all()):
                raise ValueError(f"{type(self).__name__}: {name} must give finite logits (probabilities strictly "
                                 "between 0 and 1, no NaN or inf)")
            return logits
        logits = given.log() if probs is not None else given
        with validation(validate):
            check_logits(logits, -1, name="log(probs)" if probs is not None else "logits")
        return logits - logits.logsumexp(-1, keepdim=True)

    @property
    def probs(self) -> Tensor:
        return self.logits.softmax(-1) if self.event_dims else self.logits.sigmoid()

    def expand(self, batch_shape: torch.Size, _instance: Distribution | None = None) -> Distribution:
        new = self._get_checked_instance(type(self), _instance)
        batch_shape = torch.Size(batch_shape)
        new.temperature = self.temperature.expand(batch_shape)
        new.logits = self.logits.expand(batch_shape + self.event_shape)
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _noise_shape(self, sample_shape: torch.Size) -> torch.Size:
        return self._extended_shape(sample_shape)

    def _params_for(self, shape: torch.Size, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        """Logits and temperature in ``dtype``, broadcast for a sample of ``shape`` (temperature with a size-1 event axis)."""
        tau = self.temperature.to(dtype)
        if self.event_dims:
            tau = tau.unsqueeze(-1)
        return self.logits.to(dtype).expand(shape), tau.expand(shape[: len(shape) - self.event_dims] + (1,) * self.event_dims)


def _parse_temperature(temperature: float | Tensor, logits: Tensor, event_dims: int, validate: bool) -> Tensor:
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float, Tensor)):
        raise TypeError(f"temperature must be a float or a tensor, got {type(temperature).__name__}")
    if isinstance(temperature, Tensor):
        if not temperature.dtype.is_floating_point:
            raise TypeError(f"temperature must be a floating tensor, got dtype {temperature.dtype}")
        tau = temperature.to(logits.device)
        if event_dims and tau.ndim == logits.ndim and tau.shape[-1] == 1:
            tau = tau.squeeze(-1)
    else:
        if not (math.isfinite(temperature) and temperature > 0):
            raise ValueError(f"temperature must be finite and > 0, got {temperature}")
        tau = torch.tensor(float(temperature), dtype=logits.dtype, device=logits.device)
    if validate and tau.numel() and not bool((torch.isfinite(tau) & (tau > 0)).all()):
        raise ValueError(f"temperature must be finite and > 0 everywhere; got {tau.detach().flatten()[:8].tolist()}...")
    return tau

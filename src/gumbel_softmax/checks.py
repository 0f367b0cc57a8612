"""Argument and value checks for the public functions, and the switch that skips them.

Checks of types, shapes and Python numbers are free and always run. Checks of
tensor *values* (NaN, `+inf`, rows with every category masked, non-positive
temperatures inside a tensor) need one reduction and a host-device sync, so they
follow a switch that is on by default, like
`torch.distributions.Distribution.set_default_validate_args`:

```python
gumbel_softmax.set_validation(False)      # for speed: the process-wide default
with gumbel_softmax.validation(False): ...  # for one block, in this thread or task only
```

Inside `torch.compile` the tensor value checks are skipped (they are data-dependent
branches that a full graph cannot hold): a row with every category masked then gives
NaN, as in torch; run the function eagerly to check. A float temperature is still
checked: compiled code guards on `0 < tau < inf`, so `tau = 0`, negative or NaN
raises. One gap: once Dynamo traces a changing float `tau` as a symbol, it assumes
that symbol is finite, so `tau = inf` then passes (the output is uniform, or NaN at
masked categories).
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import numbers
import operator
from collections.abc import Iterator

import torch
from torch import Tensor

from gumbel_softmax._compile import read_once_when_compiled

__all__ = [
    "check_sample_count",
    "set_validation",
    "validation_enabled",
    "validation",
    "DimensionError",
    "check_dim",
    "check_generator",
    "check_logits",
    "check_noise",
    "check_positive_finite",
    "check_sample_size",
    "check_tau",
    "values_checked",
]

_default = True
# None: follow the process-wide default; True/False: a `validation()` block of this thread or task.
_override: contextvars.ContextVar[bool | None] = contextvars.ContextVar("gumbel_softmax_validation", default=None)


def set_validation(enabled: bool) -> None:
    """Set the process-wide default for the value checks (those that need a device sync).

    Args:
        enabled: `True` (the default at import) runs them, `False` skips them.

    A `validation` block in a thread or task takes precedence over this default there.
    """
    global _default
    _default = bool(enabled)


def validation_enabled() -> bool:
    """Whether value checks run here: the innermost `validation` block of this thread or task,
    else the process-wide default of `set_validation` (`True` unless changed)."""
    return _current()


@read_once_when_compiled
def _current() -> bool:
    # Dynamo cannot trace ContextVar.get: compiled code reads the setting once, at compile time.
    override = _override.get()
    return _default if override is None else override


def values_checked(validate: bool | None = None) -> bool:
    """Whether a value check runs now: `validate` if given, else `validation_enabled`.

    Never inside `torch.compile`: a value check is a data-dependent branch, which a full
    graph cannot hold, so compiled code skips them (validate eagerly).
    """
    if torch.compiler.is_compiling():
        return False
    return validation_enabled() if validate is None else validate


@contextlib.contextmanager
def validation(enabled: bool) -> Iterator[None]:
    """Run or skip the value checks for a block, in the current thread or asyncio task only.

    Compiled code (`torch.compile`) skips the value checks whatever this says; it still checks float
    temperatures.

    Args:
        enabled: whether the checks run inside the block.

    Example:
        >>> import torch, gumbel_softmax as gs
        >>> with gs.validation(False):
        ...     gs.validation_enabled()
        False
    """
    token = _override.set(bool(enabled))
    try:
        yield
    finally:
        _override.reset(token)


class DimensionError(ValueError, IndexError):
    """`dim` is out of range. A `ValueError`, and an `IndexError` as torch raises."""


def check_dim(tensor: Tensor, dim: int, name: str = "logits") -> int:
    """Normalize `dim` to `0 <= dim < tensor.ndim` or raise `DimensionError`."""
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"dim must be an int, got {type(dim).__name__}")
    if tensor.ndim == 0:
        raise DimensionError(f"{name} must have at least one dimension (the categories); got a 0-d tensor")
    if not -tensor.ndim <= dim < tensor.ndim:
        raise DimensionError(
            f"dim={dim} is out of range for {name} with {tensor.ndim} dimension(s) "
            f"(shape {tuple(tensor.shape)}); use a value in [{-tensor.ndim}, {tensor.ndim - 1}]"
        )
    return dim % tensor.ndim


def check_logits(logits: Tensor, dim: int, name: str = "logits", *, validate: bool | None = None) -> int:
    """Check type and `dim` always, and values when validation is on; return the normalized dim.

    `-inf` marks a masked category and is allowed, as long as every row (slice
    along `dim`) keeps at least one finite entry. NaN and `+inf` are refused.
    `validate` overrides `validation_enabled` for the value checks.
    """
    if not isinstance(logits, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(logits).__name__}")
    if not logits.dtype.is_floating_point:
        raise TypeError(
            f"{name} must be a floating tensor of unnormalized log-probabilities, got dtype {logits.dtype}; "
            f"convert with {name}.float()"
        )
    dim = check_dim(logits, dim, name)
    if values_checked(validate) and logits.numel() > 0 and logits.device.type != "meta":
        # One cheap reduction covers all three faults: the row max is NaN if the
        # row holds a NaN, +inf if it holds +inf, and -inf if every entry is masked.
        row_max = logits.detach().amax(dim)
        if not bool(torch.isfinite(row_max).all()):
            raise ValueError(_describe_bad_logits(logits.detach(), dim, row_max, name))
    return dim


def _describe_bad_logits(logits: Tensor, dim: int, row_max: Tensor, name: str) -> str:
    rows = row_max.numel()
    parts = []
    nan_rows = int(torch.isnan(logits).any(dim).sum())
    if nan_rows:
        parts.append(f"{nan_rows} of {rows} row(s) contain NaN")
    inf_rows = int(torch.isposinf(logits).any(dim).sum())
    if inf_rows:
        parts.append(f"{inf_rows} of {rows} row(s) contain +inf")
    masked_rows = int(torch.isneginf(row_max).sum())
    if masked_rows:
        parts.append(f"{masked_rows} of {rows} row(s) have every category masked (all -inf)")
    return (
        f"{name} along dim={dim}: " + "; ".join(parts) + ". Logits must be finite, with -inf only for "
        "masked categories and at least one unmasked category per row "
        "(gumbel_softmax.set_validation(False) skips this check)."
    )


def check_sample_size(logits: Tensor, k: int, dim: int, *, validate: bool | None = None) -> int:
    """Check `k` for drawing without replacement along the normalized `dim` and return it as an int.

    An integer (a NumPy integer or a 0-d integer tensor is fine; a bool is not) from 1 to the number of
    categories, and, when validation is on, no more than the unmasked (finite) categories of any row.
    """
    try:
        if isinstance(k, bool):
            raise TypeError
        k = operator.index(k)
    except TypeError:
        raise TypeError(f"k must be an int, got {type(k).__name__}") from None
    categories = logits.shape[dim]
    if not 1 <= k <= categories:
        raise ValueError(
            f"k={k} categories cannot be drawn without replacement from {categories} (the size of logits "
            f"along dim={dim}); use 1 <= k <= {categories}"
        )
    if values_checked(validate) and logits.numel() > 0 and logits.device.type != "meta":
        unmasked = torch.isfinite(logits.detach()).sum(dim)
        short = unmasked < k
        if bool(short.any()):
            raise ValueError(
                f"{int(short.sum())} of {unmasked.numel()} row(s) of logits along dim={dim} have fewer than "
                f"k={k} unmasked categories (the fewest: {int(unmasked.min())}); -inf categories are never drawn"
            )
    return k


def check_tau(tau: float | Tensor, logits: Tensor, dim: int, *, validate: bool | None = None) -> float | Tensor:
    """Check a temperature: a positive finite number, or a tensor of them, one per row.

    The rule of every entry point: a temperature tensor broadcasts against `logits` without growing
    it and keeps the category axis `dim` with size 1 (per-row temperatures: shape `[B, 1]` for logits
    `[B, K]`). A tensor that varies along the categories (shape `[K]`, say) is refused, so that no
    shape means per-category temperatures to one function and per-row ones to another.
    Returns a float, or the tensor on the device of `logits` with as many dims as `logits` (size-1 dims
    put in front), so that callers may move its axes as they move the logits'.
    """
    if isinstance(tau, Tensor):
        try:
            shape = torch.broadcast_shapes(tau.shape, logits.shape)
        except RuntimeError:
            shape = None
        if shape != logits.shape:
            raise ValueError(
                f"tau of shape {tuple(tau.shape)} does not broadcast to logits of shape {tuple(logits.shape)}; "
                "per-row temperatures keep the category dim with size 1"
            )
        if tau.ndim > 0:
            axis = dim % logits.ndim - (logits.ndim - tau.ndim)
            if axis >= 0 and tau.shape[axis] != 1:
                raise ValueError(
                    f"tau of shape {tuple(tau.shape)} varies along the category axis (dim={dim}) of logits "
                    f"{tuple(logits.shape)}; a temperature is one value per row: keep that axis with size 1 "
                    "(for example tau.unsqueeze(-1))"
                )
        if tau.dtype == torch.bool or tau.is_complex():
            raise TypeError(f"tau must be a real tensor, got dtype {tau.dtype}")
        if values_checked(validate) and tau.numel() > 0 and tau.device.type != "meta":
            bad = ~(torch.isfinite(tau) & (tau > 0))
            if bool(bad.any()):
                first = tau.detach()[bad].flatten()[0].item()
                raise ValueError(
                    f"tau must be finite and > 0 everywhere; {int(bad.sum())} of {tau.numel()} "
                    f"element(s) are not (for example {first})"
                )
        return tau.reshape((1,) * (logits.ndim - tau.ndim) + tuple(tau.shape)).to(logits.device)
    if isinstance(tau, bool) or not isinstance(tau, numbers.Real):
        raise TypeError(f"tau must be a float or a tensor, got {type(tau).__name__}")
    if not isinstance(tau, (int, float)):  # a NumPy scalar, say
        tau = float(tau)
    # Comparisons only: torch.compile traces a float that changes between calls as a symbol, and guards
    # on comparisons (it cannot call math.isfinite on one). NaN fails both comparisons.
    if not (0 < tau < math.inf):
        if torch.compiler.is_compiling():  # a traced symbol cannot be formatted into the message
            raise ValueError("tau must be finite and > 0 (a float tau inside torch.compile)")
        raise ValueError(f"tau must be finite and > 0, got tau={tau}")
    return tau if torch.compiler.is_compiling() else float(tau)


def check_noise(noise: object, logits: Tensor, *, validate: bool | None = None) -> None:
    """Check given Gumbel noise: a floating tensor on the device of `logits` that broadcasts to its shape
    (without growing it) and, when validation is on, holds no NaN.

    Raises:
        TypeError: `noise` is not a floating tensor.
        ValueError: its shape or device does not fit `logits`, or it holds NaN.
    """
    if not isinstance(noise, Tensor) or not noise.dtype.is_floating_point:
        got = f"a tensor of dtype {noise.dtype}" if isinstance(noise, Tensor) else type(noise).__name__
        raise TypeError(f"the Gumbel noise must be a floating tensor, got {got}")
    try:
        fits = torch.broadcast_shapes(noise.shape, logits.shape) == logits.shape
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(
            f"gumbels of shape {tuple(noise.shape)} do not broadcast to logits of shape {tuple(logits.shape)}"
        )
    if noise.device != logits.device:
        raise ValueError(f"gumbels are on {noise.device} but logits on {logits.device}; move one of them")
    if values_checked(validate) and noise.numel() > 0 and noise.device.type != "meta":
        nan = torch.isnan(noise.detach())
        if bool(nan.any()):
            raise ValueError(f"gumbels contain NaN ({int(nan.sum())} of {noise.numel()} values)")


def check_sample_count(owner: str, samples: object, minimum: int, maximum: int | None = None) -> int:
    """`samples` if it is an int (not a bool) from `minimum` to `maximum` (no upper bound when `None`), else
    `ValueError` naming `owner`: the one check of a number of draws (RLOO, IndeCateR, ARMS, double control
    variates, the unordered set estimator, perturbed optimizers, I-MLE)."""
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < minimum or (
        maximum is not None and samples > maximum
    ):
        bound = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
        raise ValueError(f"{owner} needs samples {bound} (an int), got {samples!r}")
    return samples


def check_positive_finite(name: str, value: object, *, zero_ok: bool = False) -> float:
    """`value` as a float if it is a real number that is finite and `> 0` (`>= 0` with `zero_ok`).

    The one check of a positive Python number (temperatures, rates, learning rates). A bool is refused;
    NumPy scalars and other `numbers.Real` are accepted.

    Raises:
        TypeError: `value` is not a real number.
        ValueError: it is NaN, infinite, or out of range; the message names `name`.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    number = float(value)
    if not (math.isfinite(number) and (number >= 0 if zero_ok else number > 0)):
        raise ValueError(f"{name} must be finite and {'>= 0' if zero_ok else '> 0'}, got {number}")
    return number


def check_generator(generator: object, device: torch.device) -> None:
    """Refuse a `generator` that is not a `torch.Generator` on the device type of the tensor.

    Raises:
        TypeError: `generator` is neither `None` nor a `torch.Generator` (an int seed, a NumPy RNG).
        ValueError: it lives on another device type than `device`.
    """
    if generator is None:
        return
    if not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator or None, got {type(generator).__name__}; "
            "for a seed, pass torch.Generator().manual_seed(seed)"
        )
    if torch.device(generator.device).type != device.type:
        raise ValueError(
            f"the generator lives on {generator.device} but the tensor is on {device}; "
            f"pass torch.Generator(device={str(device)!r}) instead"
        )

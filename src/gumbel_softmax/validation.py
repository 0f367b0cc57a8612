"""Argument and value checks for the public functions, and the switch that skips them.

Checks of types, shapes and Python numbers are free and always run. Checks of
tensor *values* (NaN, ``+inf``, rows with every category masked, non-positive
temperatures inside a tensor) need one reduction and a host-device sync, so they
follow a switch that is on by default, like
``torch.distributions.Distribution.set_default_validate_args``::

    gumbel_softmax.set_validation(False)        # for speed, everywhere
    with gumbel_softmax.validation(False): ...  # for one block

Inside ``torch.compile`` the tensor value checks are skipped (they are data-dependent
branches that a full graph cannot hold): a row with every category masked then gives
NaN, as in torch; run the function eagerly to check. A float temperature is still
checked: compiled code guards on ``0 < tau < inf``, so ``tau = 0``, negative or NaN
raises. One gap: once Dynamo traces a changing float ``tau`` as a symbol, it assumes
that symbol is finite, so ``tau = inf`` then passes (the output is uniform, or NaN at
masked categories).
"""

from __future__ import annotations

import contextlib
import math
import operator
from collections.abc import Iterator

import torch
from torch import Tensor

__all__ = ["set_validation", "validation_enabled", "validation", "DimensionError"]

_enabled = True


def set_validation(enabled: bool) -> None:
    """Turn the value checks (those that need a device sync) on or off globally."""
    global _enabled
    _enabled = bool(enabled)


def validation_enabled() -> bool:
    """Whether value checks run (default ``True``)."""
    return _enabled


def _check_values() -> bool:
    # A value check is a data-dependent branch, which torch.compile(fullgraph=True)
    # cannot trace: while compiling, the checks are skipped (validate eagerly).
    return _enabled and not torch.compiler.is_compiling()


@contextlib.contextmanager
def validation(enabled: bool) -> Iterator[None]:
    """Context manager that sets the validation switch for a block and restores it."""
    previous = _enabled
    set_validation(enabled)
    try:
        yield
    finally:
        set_validation(previous)


class DimensionError(ValueError, IndexError):
    """``dim`` is out of range. A ``ValueError``, and an ``IndexError`` as torch raises."""


def check_dim(tensor: Tensor, dim: int, name: str = "logits") -> int:
    """Normalize ``dim`` to ``0 <= dim < tensor.ndim`` or raise :class:`DimensionError`."""
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


def check_logits(logits: Tensor, dim: int, name: str = "logits") -> int:
    """Check type and ``dim`` always, and values when validation is on; return the normalized dim.

    ``-inf`` marks a masked category and is allowed, as long as every row (slice
    along ``dim``) keeps at least one finite entry. NaN and ``+inf`` are refused.
    """
    if not isinstance(logits, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(logits).__name__}")
    if not logits.dtype.is_floating_point:
        raise TypeError(
            f"{name} must be a floating tensor of unnormalized log-probabilities, got dtype {logits.dtype}; "
            f"convert with {name}.float()"
        )
    dim = check_dim(logits, dim, name)
    if _check_values() and logits.numel() > 0:
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


def check_sample_size(logits: Tensor, k: int, dim: int) -> int:
    """Check ``k`` for drawing without replacement along the normalized ``dim`` and return it as an int.

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
    if _check_values() and logits.numel() > 0:
        unmasked = torch.isfinite(logits.detach()).sum(dim)
        short = unmasked < k
        if bool(short.any()):
            raise ValueError(
                f"{int(short.sum())} of {unmasked.numel()} row(s) of logits along dim={dim} have fewer than "
                f"k={k} unmasked categories (the fewest: {int(unmasked.min())}); -inf categories are never drawn"
            )
    return k


def check_tau(tau: float | Tensor, logits: Tensor) -> float | Tensor:
    """Check a temperature: a positive finite number, or a tensor of them broadcastable to ``logits``.

    A tensor must broadcast against ``logits`` without growing it (per-row
    temperatures keep the category axis with size 1, e.g. shape ``[B, 1]``).
    Returns a float, or the tensor on the device of ``logits``.
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
        if tau.dtype == torch.bool or tau.is_complex():
            raise TypeError(f"tau must be a real tensor, got dtype {tau.dtype}")
        if _check_values() and tau.numel() > 0:
            bad = ~(torch.isfinite(tau) & (tau > 0))
            if bool(bad.any()):
                first = tau.detach()[bad].flatten()[0].item()
                raise ValueError(
                    f"tau must be finite and > 0 everywhere; {int(bad.sum())} of {tau.numel()} "
                    f"element(s) are not (for example {first})"
                )
        return tau.to(logits.device)
    if isinstance(tau, bool) or not isinstance(tau, (int, float)):
        raise TypeError(f"tau must be a float or a tensor, got {type(tau).__name__}")
    # Comparisons only: torch.compile traces a float that changes between calls as a symbol, and guards
    # on comparisons (it cannot call math.isfinite on one). NaN fails both comparisons.
    if not (0 < tau < math.inf):
        if torch.compiler.is_compiling():  # a traced symbol cannot be formatted into the message
            raise ValueError("tau must be finite and > 0 (a float tau inside torch.compile)")
        raise ValueError(f"tau must be finite and > 0, got tau={tau}")
    return tau if torch.compiler.is_compiling() else float(tau)

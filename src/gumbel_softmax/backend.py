"""Which implementation runs: the pure-PyTorch reference or a fused kernel. One place.

The functions in `gumbel_softmax.functional` are the definitions. Faster
implementations of them are looked up here: the fused Triton kernels of
`gumbel_softmax.kernels` (loaded on first use, where Triton is installed), and any
kernel registered with `register` (for example a fake one in a test). Each public
function asks `kernel_for` whether one applies to its input.

Choices:

- `"auto"` (the default) uses a kernel for CUDA tensors where one is registered;
- `"torch"` always uses the reference;
- `"triton"` uses a kernel wherever one is registered for the tensor's device, and
  raises where none is (for debugging and benchmarking).

`set_backend` sets the process-wide default; `use_backend` overrides it for a
block in the current thread or asyncio task only (a `contextvars` variable), so a
block in one thread never changes what another thread runs.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

from torch import Tensor

from gumbel_softmax._compile import read_once_when_compiled

__all__ = ["set_backend", "get_backend", "use_backend", "register", "unregister", "kernel_for", "BACKENDS"]

BACKENDS = ("auto", "torch", "triton")

_default = "auto"
_override: contextvars.ContextVar[str | None] = contextvars.ContextVar("gumbel_softmax_backend", default=None)
Entry = tuple[Callable[..., Any], Callable[[Tensor], bool]]
# op name -> (implementation, predicate saying whether it can run on a tensor)
_registered: dict[str, Entry] = {}  # by `register`; these take precedence
_kernels: dict[str, Entry] = {}  # the fused kernels of gumbel_softmax.kernels, loaded on first use
_loaded = False
_loading = threading.Lock()


def _checked(name: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
    return name


def set_backend(name: str) -> None:
    """Set the process-wide default: `"auto"`, `"torch"` or `"triton"`.

    A `use_backend` block in a thread or task takes precedence over it there.
    """
    global _default
    _default = _checked(name)


def get_backend() -> str:
    """The backend in force here: the innermost `use_backend` block of this thread or task, else the default."""
    return _current()


@read_once_when_compiled
def _current() -> str:
    # Dynamo cannot trace ContextVar.get: compiled code reads the choice once, at compile time.
    override = _override.get()
    return _default if override is None else override


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Use `name` for a block, in the current thread or asyncio task only.

    `torch.compile` reads the choice once, while compiling: a compiled function keeps the backend it was
    compiled under (until `torch._dynamo.reset()` or a recompile), whatever block later calls it.

    Example:
        >>> import gumbel_softmax as gs
        >>> with gs.use_backend("torch"):
        ...     gs.get_backend()
        'torch'
    """
    token = _override.set(_checked(name))
    try:
        yield
    finally:
        _override.reset(token)


def register(op: str, impl: Callable[..., Any], supports: Callable[[Tensor], bool]) -> None:
    """Register `impl` as the kernel for `op` (`"gumbel_softmax"` or `"sample"`), used where `supports(tensor)`.

    `impl` takes the arguments of the reference after validation, with `dim` normalized:
    `impl(logits, tau, hard, dim, generator)` for `"gumbel_softmax"` and
    `impl(logits, dim, generator)` for `"sample"`. It takes precedence over the fused kernels.
    """
    if op not in ("gumbel_softmax", "sample"):
        raise ValueError(f"op must be 'gumbel_softmax' or 'sample', got {op!r}")
    _registered[op] = (impl, supports)


def unregister(op: str) -> None:
    """Remove what `register` added for `op` (the fused kernels, where installed, apply again)."""
    _registered.pop(op, None)


def _load_kernels() -> None:
    """Read the fused kernels of `gumbel_softmax.kernels` once, where Triton imports.

    Under a lock, and marked loaded only once the table is filled: a second thread arriving meanwhile waits
    instead of seeing no kernel (which would run the reference, or fail a forced `"triton"`).
    """
    global _loaded
    with _loading:
        if _loaded:
            return
        try:
            kernels = importlib.import_module("gumbel_softmax.kernels")
        except ImportError:
            pass
        else:
            _kernels.update(kernels.KERNELS)
        _loaded = True


def kernel_for(op: str, tensor: Tensor) -> Callable[..., Any] | None:
    """The kernel to run `op` on `tensor`, or `None` to run the reference."""
    choice = get_backend()
    if choice == "torch":
        return None
    if choice == "auto" and tensor.device.type != "cuda":
        return None
    entry = _registered.get(op)
    if entry is None:
        if not _loaded:
            _load_kernels()
        entry = _kernels.get(op)
    if entry is None or not entry[1](tensor):
        if choice == "triton":
            raise RuntimeError(
                f"backend 'triton' was forced but no kernel for {op!r} runs on {tensor.device} "
                f"tensors of dtype {tensor.dtype}; use set_backend('auto')"
            )
        return None
    return entry[0]

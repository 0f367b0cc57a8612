"""Which implementation runs: the pure-PyTorch reference or a fused kernel. One place.

The functions in :mod:`gumbel_softmax.functional` are the definitions. A kernel
module registers faster implementations of them with :func:`register`; each
public function asks :func:`kernel_for` whether one applies to its input.

``set_backend("auto")`` (default) uses a registered kernel for CUDA tensors,
``"torch"`` always uses the reference, and ``"triton"`` uses a kernel wherever
one is registered for the tensor's device (for debugging and benchmarking).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from torch import Tensor

__all__ = ["set_backend", "get_backend", "use_backend", "register", "kernel_for", "BACKENDS"]

BACKENDS = ("auto", "torch", "triton")

_choice = "auto"
# op name -> (implementation, predicate saying whether it can run on a tensor)
_kernels: dict[str, tuple[Callable[..., Any], Callable[[Tensor], bool]]] = {}
_loaded = False


def set_backend(name: str) -> None:
    """Choose ``"auto"``, ``"torch"`` or ``"triton"`` for every later call."""
    global _choice
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
    _choice = name


def get_backend() -> str:
    """The current backend choice."""
    return _choice


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Context manager: use ``name`` for a block, then restore the previous choice."""
    previous = _choice
    set_backend(name)
    try:
        yield
    finally:
        set_backend(previous)


def register(op: str, impl: Callable[..., Any], supports: Callable[[Tensor], bool]) -> None:
    """Register ``impl`` as the kernel for ``op``, used where ``supports(tensor)`` holds."""
    _kernels[op] = (impl, supports)


def _load_kernels() -> None:
    global _loaded
    _loaded = True
    try:
        import gumbel_softmax.kernels  # noqa: F401  (registers itself)
    except ImportError:
        pass


def kernel_for(op: str, tensor: Tensor) -> Callable[..., Any] | None:
    """The kernel to run ``op`` on ``tensor``, or ``None`` to run the reference."""
    if _choice == "torch":
        return None
    if _choice == "auto" and tensor.device.type != "cuda":
        return None
    if not _loaded:
        _load_kernels()
    entry = _kernels.get(op)
    if entry is None or not entry[1](tensor):
        if _choice == "triton":
            raise RuntimeError(
                f"backend 'triton' was forced but no kernel for {op!r} runs on {tensor.device} "
                f"tensors of dtype {tensor.dtype}; use set_backend('auto')"
            )
        return None
    return entry[0]

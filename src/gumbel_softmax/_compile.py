"""What the library needs from `torch.compile`, without importing `torch._dynamo` at import time.

Private: `checks` and `backend` read their thread- and task-local switches through functions that
`torch.compile` cannot trace (`ContextVar.get`); marked here, compiled code reads them once, while compiling.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

__all__ = ["read_once_when_compiled"]

F = TypeVar("F", bound=Callable[..., object])


def read_once_when_compiled(fn: F) -> F:
    """Mark `fn` as `torch.compiler.assume_constant_result` does: compiled code calls it while tracing and
    keeps the result as a constant (a graph compiled inside `use_backend("triton")` keeps the kernels).

    That decorator imports `torch._dynamo` (seconds) to set one attribute; setting the attribute here keeps
    `import gumbel_softmax` fast. `tests/test_compile.py` checks that torch still reads this attribute.
    """
    fn._dynamo_marked_constant = True  # type: ignore[attr-defined]
    return fn

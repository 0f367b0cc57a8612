"""The examples in the docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

import gumbel_softmax.functional
import gumbel_softmax.noise
import gumbel_softmax.subset


@pytest.mark.parametrize("module", [gumbel_softmax.noise, gumbel_softmax.functional, gumbel_softmax.subset])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_kernel_docstring_examples():
    tiles = pytest.importorskip("gumbel_softmax.kernels.tiles", reason="needs triton (the kernels extra)")
    result = doctest.testmod(tiles, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize(
    "module",
    [
        "gumbel_softmax",
        "gumbel_softmax.distributions",
        "gumbel_softmax.estimators",
        "gumbel_softmax.anneal",
        "gumbel_softmax.structured",
    ],
)
def test_star_import_gives_every_name_in_all(module):
    """``from M import *`` works and binds every name of ``M.__all__`` (relaxit's fails on a missing comma)."""
    namespace: dict[str, object] = {}
    exec(f"from {module} import *", namespace)
    exported = importlib.import_module(module).__all__
    assert len(set(exported)) == len(exported), "a name is listed twice"
    assert set(exported) <= set(namespace)

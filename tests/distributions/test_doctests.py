"""The examples in the docstrings of the distributions run."""

from __future__ import annotations

import doctest

import pytest

from gumbel_softmax.distributions import binary_concrete, concrete, gumbel, straight_through


@pytest.mark.parametrize("module", [gumbel, concrete, binary_concrete, straight_through])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0

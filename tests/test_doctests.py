"""The examples in the docstrings run."""

from __future__ import annotations

import doctest

import pytest

import gumbel_softmax.functional
import gumbel_softmax.noise


@pytest.mark.parametrize("module", [gumbel_softmax.noise, gumbel_softmax.functional])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0

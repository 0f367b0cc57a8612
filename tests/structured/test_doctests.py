"""The examples in the docstrings of the structured modules run, and the package exports what it lists."""

from __future__ import annotations

import doctest

import pytest

from gumbel_softmax.structured import arborescences, permutations, plackett_luce, spanning_trees, subsets


@pytest.mark.parametrize("module", [arborescences, permutations, plackett_luce, spanning_trees, subsets])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0

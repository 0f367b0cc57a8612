"""The examples in the docstrings of the structured modules run, and the package exports what it lists."""

from __future__ import annotations

import doctest

import pytest

from gumbel_softmax.structured import (
    arborescences,
    implicit_mle,
    permutations,
    perturbed,
    plackett_luce,
    relaxations,
    solvers,
    spanning_trees,
    subsets,
)

MODULES = [permutations, plackett_luce, subsets, spanning_trees, arborescences, solvers, implicit_mle, perturbed,
           relaxations]


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0

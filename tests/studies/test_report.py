"""The one chi-square test (the demo, the explorer and the suite's goodness-of-fit helpers use it) and the tables."""

from __future__ import annotations

import pytest
import scipy.stats

from gumbel_softmax.studies.report import chi_square, chi_square_pvalue, format_table


@pytest.mark.parametrize(("counts", "probs"), [
    ([480, 520], [0.5, 0.5]),
    ([100, 230, 670], [0.1, 0.2, 0.7]),
    ([9000, 11000, 80000], [0.1, 0.1, 0.8]),  # p about 1e-45: the tail is accurate far out
])
def test_p_value_is_scipys(counts, probs):
    n = sum(counts)
    statistic = sum((c - n * p) ** 2 / (n * p) for c, p in zip(counts, probs))
    expected = scipy.stats.chi2.sf(statistic, df=len(counts) - 1)
    test = chi_square(counts, probs)
    assert (test.statistic, test.df) == (pytest.approx(statistic, rel=1e-12), len(counts) - 1)
    assert test.p_value == pytest.approx(expected, rel=1e-9) and chi_square_pvalue(counts, probs) == test.p_value


def test_rare_categories_are_pooled_unless_asked_not_to():
    counts, probs = [500, 499, 1, 0], [0.4995, 0.4995, 0.0005, 0.0005]
    pooled, raw = chi_square(counts, probs), chi_square(counts, probs, pool=False)
    assert pooled.df == 2 and raw.df == 3 and not raw.reliable
    # pooled bins: 500, 499, 1 against 499.5, 499.5, 1.0
    assert pooled.statistic == pytest.approx(2 * 0.25 / 499.5)


def test_a_draw_of_a_zero_probability_class_rejects_and_masked_classes_are_left_out():
    assert chi_square([10, 0, 1], [0.5, 0.5, 0.0]).p_value == 0.0
    assert chi_square([10, 12, 0], [0.5, 0.5, 0.0]).df == 1
    with pytest.raises(ValueError, match="differ in shape"):
        chi_square([1, 2, 3], [0.5, 0.5])


def test_format_table_aligns_columns():
    lines = format_table(["a", "bb"], [[1, 2.5]], floatfmt=".1f").splitlines()
    assert lines == ["| a |  bb |", "|--:|----:|", "| 1 | 2.5 |"]

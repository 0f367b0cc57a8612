"""Launch settings: a pure function, checked without running a kernel."""

from __future__ import annotations

import pytest

from gumbel_softmax.kernels.tiles import (
    LONG_ROW_BLOCK,
    MAX_SINGLE_BLOCK,
    MAX_WARPS,
    TARGET_PROGRAMS,
    TARGET_TILE,
    launch_settings,
    rows_and_inner,
)
from tests.kernels.kernel_support import DEVICE  # noqa: F401  (its importorskip; tests/kernels/conftest.py also skips)


@pytest.mark.parametrize("n_rows", [1, 3, 1000, 1048576])
@pytest.mark.parametrize("n_cols", [1, 2, 3, 10, 1024, 8192, 8193, 16384, 16385, 32000, 128256, 262144])
def test_settings_cover_the_problem(n_rows, n_cols):
    s = launch_settings(n_rows, n_cols)
    assert s.block >= 4 and s.block & (s.block - 1) == 0
    assert s.rows_per_program & (s.rows_per_program - 1) == 0
    assert s.block * s.num_tiles >= n_cols
    assert (s.block * (s.num_tiles - 1) < n_cols) or s.num_tiles == 1
    assert s.grid * s.rows_per_program >= n_rows > (s.grid - 1) * s.rows_per_program
    assert s.num_tiles == 1 or s.block == LONG_ROW_BLOCK
    assert (s.num_tiles == 1) == (n_cols <= MAX_SINGLE_BLOCK)
    assert s.rows_per_program * s.block <= max(TARGET_TILE, s.block)
    assert 1 <= s.num_warps <= MAX_WARPS and s.num_warps & (s.num_warps - 1) == 0
    # At most 32 elements per thread per tile: a whole row in registers must not spill.
    assert s.rows_per_program * s.block <= 32 * 32 * s.num_warps
    # Runs of tiles: every tile in exactly one run, no empty run; rows long enough get split only when few.
    assert s.splits * s.tiles_per_split >= s.num_tiles > (s.splits - 1) * s.tiles_per_split
    assert s.splits == 1 or s.grid * s.splits <= TARGET_PROGRAMS
    assert (s.splits > 1) == (s.num_tiles > 1 and s.grid * 2 <= TARGET_PROGRAMS)


def test_few_long_rows_are_split_across_programs():
    assert launch_settings(2, 262144).splits == 64
    assert launch_settings(512, 128256).splits == 2
    assert launch_settings(4096, 32000).splits == 1
    s = launch_settings(2, 20000, max_programs=16)
    assert (s.grid, s.splits, s.tiles_per_split) == (2, 5, 1)


def test_rows_up_to_16384_stay_in_registers():
    """16 elements per thread at 32 warps: no spills for sm_90 (benchmarks/kernels_ptx.py)."""
    s = launch_settings(4096, 16384)
    assert (s.num_tiles, s.block, s.num_warps) == (1, 16384, 32)
    assert launch_settings(4096, 16385).num_tiles > 1


def test_max_programs_packs_rows_for_the_interpreter():
    assert launch_settings(20000, 10).grid > 16
    s = launch_settings(20000, 10, max_programs=16)
    assert s.grid <= 16 and s.grid * s.rows_per_program >= 20000


def test_long_rows_use_tiles():
    s = launch_settings(2, 262144)
    assert (s.block, s.num_tiles, s.rows_per_program) == (LONG_ROW_BLOCK, 262144 // LONG_ROW_BLOCK, 1)


def test_bad_problem_is_refused():
    with pytest.raises(ValueError, match="at least one row"):
        launch_settings(0, 10)


@pytest.mark.parametrize(
    ("shape", "dim", "expected"),
    [((6, 10), 1, (6, 1)), ((6, 10), 0, (10, 10)), ((2, 3, 4), 1, (8, 4)), ((5,), 0, (1, 1))],
)
def test_rows_and_inner(shape, dim, expected):
    assert rows_and_inner(shape, dim) == expected

"""How a kernel program covers a tensor: launch settings (pure Python) and tile addressing (Triton).

Every kernel here treats `logits` (contiguous) as `[outer, K, inner]`, where
`K` is the size of the category axis `dim`, `outer` the product of the sizes
before it and `inner` the product after it. Row `r` (one categorical
distribution) is `(r // inner, r % inner)`; its column `c` lives at
`(r // inner) * K * inner + r % inner + c * inner`. So any `dim` is handled
through strides, with no copy (for `dim` other than the last, loads are less
coalesced).

A program handles `rows_per_program` rows and walks along them in tiles of
`[rows, block]`; each run of four columns shares one Philox call
(`gumbel_softmax.kernels.noise`).

* `num_tiles == 1` (`K <= MAX_SINGLE_BLOCK` = 16384): the whole row stays
  in registers, one pass over memory. Wide rows get up to 32 warps, about 16
  elements per thread. `benchmarks/kernels_ptx.py` counts registers and spills
  for sm_90: at 16384 columns with 32 warps the kernels use 51-55 registers and
  do not spill; a 32768-column tile spills at 16 warps (128 registers, 52-59
  local loads/stores in the code) and at 32 warps (64 registers, 37-107), so
  rows of 16385 to 32768 (K = 32000 among them) take the tiled path.
* `num_tiles > 1` (long rows, up to 262,144 and beyond): an online reduction
  over tiles of `LONG_ROW_BLOCK` in two launches
  (`gumbel_softmax.kernels.online`); see each operation for how many
  passes that costs. When there are few rows (fewer than `TARGET_PROGRAMS / 2`
  programs), each row is split into `splits` runs of tiles, one program each:
  2 rows of 262,144 run 128 programs instead of 2, 512 rows of 128,256 run
  1024 instead of 512. The split costs no extra pass over memory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import triton
import triton.language as tl

__all__ = ["LaunchSettings", "launch_settings", "INTERPRETING", "MAX_SINGLE_BLOCK", "LONG_ROW_BLOCK", "MAX_WARPS",
           "TARGET_PROGRAMS"]

# Set when Triton runs kernels on CPU tensors through its interpreter (read at import, as triton.jit does).
INTERPRETING = os.environ.get("TRITON_INTERPRET", "0") == "1"

# Rows up to this many categories are kept whole in registers (one pass).
MAX_SINGLE_BLOCK = 16384
# Tile width for longer rows (online reduction).
LONG_ROW_BLOCK = 4096
# Elements per program a GPU launch aims at (rows of short categoricals are packed together).
TARGET_TILE = 4096
# Elements per thread a program aims at (more warps for wider tiles), and the most warps per program.
ELEMENTS_PER_THREAD = 16
MAX_WARPS = 32
# Long rows are split across programs until about this many run (a few waves of an H100's 132 SMs).
TARGET_PROGRAMS = 1024
# Under the interpreter each program instance costs milliseconds: cap the grid instead.
INTERPRETER_MAX_PROGRAMS = 16


@dataclass(frozen=True)
class LaunchSettings:
    """Tiling of an `[n_rows, n_cols]` problem.

    Attributes:
        rows_per_program: rows one program handles (a power of two).
        block: columns per tile (a power of two, at least 4).
        num_tiles: tiles per row; 1 means the row is reduced in registers.
        num_warps: warps per program (up to `MAX_WARPS`, about `ELEMENTS_PER_THREAD`
            elements per thread).
        grid: number of programs along the rows.
        splits: programs along each row (long rows only): each walks
            `tiles_per_split` consecutive tiles, and a second stage combines them.
        tiles_per_split: tiles each of those programs walks.
    """

    rows_per_program: int
    block: int
    num_tiles: int
    num_warps: int
    grid: int
    splits: int = 1
    tiles_per_split: int = 1


def launch_settings(
    n_rows: int,
    n_cols: int,
    *,
    max_programs: int | None = None,
    max_single_block: int = MAX_SINGLE_BLOCK,
    long_row_block: int = LONG_ROW_BLOCK,
) -> LaunchSettings:
    """Choose the tiling for `n_rows` rows of `n_cols` categories. A pure function.

    Args:
        n_rows: rows of the problem, at least 1.
        n_cols: categories per row, at least 1.
        max_programs: if given, pack more rows per program so that at most about
            this many programs run (for the interpreter, whose cost is per program).
            Long rows are split across programs until about this many (or
            `TARGET_PROGRAMS`) run.
        max_single_block: rows of at most this many columns stay in registers.
        long_row_block: tile width for longer rows.

    Returns:
        a `LaunchSettings`.

    Examples:
        >>> launch_settings(65536, 1024)  # doctest: +ELLIPSIS
        LaunchSettings(rows_per_program=4, block=1024, num_tiles=1, num_warps=8, grid=16384, ...)
        >>> launch_settings(4096, 16384)  # doctest: +ELLIPSIS
        LaunchSettings(rows_per_program=1, block=16384, num_tiles=1, num_warps=32, grid=4096, ...)
        >>> import dataclasses  # a long row: split in 2 runs of 16 tiles
        >>> dataclasses.astuple(launch_settings(512, 128256))
        (1, 4096, 32, 8, 512, 2, 16)
    """
    if n_rows < 1 or n_cols < 1:
        raise ValueError(f"need at least one row and one column, got {n_rows} x {n_cols}")
    padded = max(4, triton.next_power_of_2(n_cols))
    if padded <= max_single_block:
        block, num_tiles = padded, 1
    else:
        block, num_tiles = long_row_block, triton.cdiv(n_cols, long_row_block)
    rows = max(1, min(TARGET_TILE // block, triton.next_power_of_2(n_rows)))
    if max_programs is not None:
        rows = max(rows, triton.next_power_of_2(triton.cdiv(n_rows, max_programs)))
    num_warps = min(MAX_WARPS, max(1, rows * block // (32 * ELEMENTS_PER_THREAD)))
    grid = triton.cdiv(n_rows, rows)
    splits = min(num_tiles, max(1, (max_programs or TARGET_PROGRAMS) // grid))
    tiles_per_split = triton.cdiv(num_tiles, splits)
    return LaunchSettings(rows, block, num_tiles, num_warps, grid, triton.cdiv(num_tiles, tiles_per_split),
                          tiles_per_split)  # fmt: skip


def settings_for(n_rows: int, n_cols: int) -> LaunchSettings:
    """`launch_settings` for this process: a small grid under the interpreter."""
    return launch_settings(n_rows, n_cols, max_programs=INTERPRETER_MAX_PROGRAMS if INTERPRETING else None)


def rows_and_inner(shape: tuple[int, ...], dim: int) -> tuple[int, int]:
    """`(n_rows, inner)` for a contiguous tensor of `shape` reduced along `dim`."""
    inner = 1
    for size in shape[dim + 1 :]:
        inner *= size
    n_rows = 1
    for i, size in enumerate(shape):
        if i != dim:
            n_rows *= size
    return n_rows, inner


@triton.jit
def row_tile(n_rows, n_cols, inner, ROWS: tl.constexpr):
    """This program's rows `[ROWS, 1]` (int32), their memory bases (int64), and row mask."""
    rows = tl.program_id(0) * ROWS + tl.arange(0, ROWS)[:, None]
    base = (rows // inner).to(tl.int64) * n_cols * inner + (rows % inner)
    return rows, base, rows < n_rows


@triton.jit
def column_tile(col0, n_cols, inner, base, row_mask, BLOCK: tl.constexpr):
    """Columns `col0 .. col0 + BLOCK`: Philox groups `[1, BLOCK // 4]`, columns `[1, BLOCK]`, offsets, mask."""
    groups = col0 // 4 + tl.arange(0, BLOCK // 4)[None, :]
    cols = col0 + tl.arange(0, BLOCK)[None, :]
    offsets = base + cols.to(tl.int64) * inner
    return groups, cols, offsets, row_mask & (cols < n_cols)


@triton.jit
def row_max(x):
    """Maximum along the columns of a `[ROWS, BLOCK]` tile, kept as `[ROWS, 1]`."""
    return tl.max(x, axis=1)[:, None]


@triton.jit
def row_sum(x):
    """Sum along the columns of a `[ROWS, BLOCK]` tile, kept as `[ROWS, 1]`."""
    return tl.sum(x, axis=1)[:, None]


@triton.jit
def first_index_of(x, value, cols, n_cols):
    """Smallest column where `x == value` (`[ROWS, 1]`).

    Clamped to `n_cols - 1` where there is none (a NaN row, possible only with
    validation off), so no index ever points outside the row.
    """
    hit = tl.where(x == value, cols, n_cols - 1)
    return tl.min(hit, axis=1)[:, None]

"""The online reduction over the tiles of long rows, shared by the kernels, split across programs.

For a row longer than one tile, a program walks a run of its tiles once and
keeps, per row, the running maximum `m` of `z = l + G`, the first index
where it occurs, and sums of `w = 2^((z - m) c)` that are rescaled by
`2^((m_old - m_new) c)` whenever the maximum grows (Milakov and Gimelshein,
"Online normalizer calculation for softmax", 2018); `c = log2(e) / tau`.

A long row is split into `splits` runs of consecutive tiles, one program each
(stage 1, `launch_partials`: partial statistics in a small
`[splits, n_rows]` buffer); the programs of stage 2 then `combine` the
partials (the largest maximum, its first index, sums rescaled to it) and write
their own run. Both stages read the tensor, so a split costs no extra pass: it
only lets a few long rows keep many SMs busy.
"""

import torch
import triton
import triton.language as tl
from torch import Tensor

from gumbel_softmax.kernels.noise import LOG2E, PHILOX_ROUNDS, perturbed
from gumbel_softmax.kernels.tiles import LaunchSettings, column_tile, first_index_of, row_max, row_sum, row_tile

__all__ = ["finite_or_zero", "row_statistics", "combine", "launch_partials", "inverse_tau"]


@triton.jit
def finite_or_zero(top):
    """The shift for exponentials: rows past the end (and fully masked ones) have `top = -inf`: 0, not NaN."""
    return tl.where(top == float("-inf"), 0.0, top)


@triton.jit
def inverse_tau(tau_ptr, tau, rows, n_rows, PER_ROW_TAU: tl.constexpr):
    """`1 / tau` per row `[ROWS, 1]`: from `tau_ptr` (one float32 per row) or the scalar `tau`."""
    if PER_ROW_TAU:
        return 1.0 / tl.load(tau_ptr + rows, mask=rows < n_rows, other=1.0)
    else:
        return 1.0 / tau


@triton.jit
def row_statistics(values_ptr, noise_ptr, key, grad_ptr, rows, base, row_mask, n_cols, inner, scale, first_tile,
                   BLOCK: tl.constexpr, TILES: tl.constexpr, ARGMAX: tl.constexpr, SUM: tl.constexpr,
                   GRAD_DOT: tl.constexpr, FROM_SOFT: tl.constexpr, FROM_NOISE: tl.constexpr,
                   N_ROUNDS: tl.constexpr):
    """One online pass over `TILES` tiles from `first_tile`: `(m, S, <g, w>, argmax)`, each `[ROWS, 1]`.

    `values_ptr` holds the logits: `m = max z`, `w = 2^((z - m) scale)`,
    `S = sum w` (if `SUM`), `<g, w>` with the incoming gradient (if
    `GRAD_DOT`), the first index of `m` (if `ARGMAX`). With `FROM_SOFT`
    it holds the soft sample `y` instead, and only `<g, y>` is summed.
    Tiles past the row's end are masked (they add nothing).
    """
    top = tl.full((row_mask.shape[0], 1), float("-inf"), tl.float32)
    total = tl.zeros((row_mask.shape[0], 1), tl.float32)
    grad_dot = tl.zeros((row_mask.shape[0], 1), tl.float32)
    index = tl.zeros((row_mask.shape[0], 1), tl.int32)
    for t in range(TILES):
        groups, cols, offsets, mask = column_tile((first_tile + t) * BLOCK, n_cols, inner, base, row_mask, BLOCK)
        if FROM_SOFT:
            g = tl.load(grad_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
            grad_dot += row_sum(g * tl.load(values_ptr + offsets, mask=mask, other=0.0).to(tl.float32))
        else:
            z = perturbed(values_ptr, noise_ptr, key, rows, groups, offsets, mask, FROM_NOISE, N_ROUNDS)
            tile_top = row_max(z)
            if ARGMAX:
                index = tl.where(tile_top > top, first_index_of(z, tile_top, cols, n_cols), index)
            new_top = tl.maximum(top, tile_top)
            if SUM:
                shift = finite_or_zero(new_top)
                rescale = tl.exp2((top - shift) * scale)
                weights = tl.exp2((z - shift) * scale)
                total = total * rescale + row_sum(weights)
                if GRAD_DOT:
                    g = tl.load(grad_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
                    grad_dot = grad_dot * rescale + row_sum(g * weights)
            top = new_top
    return top, total, grad_dot, index


@triton.jit
def _partials_kernel(values_ptr, noise_ptr, key_ptr, grad_ptr, tau_ptr, top_ptr, total_ptr, dot_ptr, index_ptr, tau,
                     n_rows, n_cols, inner, ROWS: tl.constexpr, BLOCK: tl.constexpr, TILES_PER_SPLIT: tl.constexpr,
                     ARGMAX: tl.constexpr, SUM: tl.constexpr, GRAD_DOT: tl.constexpr, FROM_SOFT: tl.constexpr,
                     PER_ROW_TAU: tl.constexpr, FROM_NOISE: tl.constexpr, N_ROUNDS: tl.constexpr):
    rows, base, row_mask = row_tile(n_rows, n_cols, inner, ROWS)
    split = tl.program_id(1)
    scale = inverse_tau(tau_ptr, tau, rows, n_rows, PER_ROW_TAU) * LOG2E
    top, total, grad_dot, index = row_statistics(
        values_ptr, noise_ptr, tl.load(key_ptr), grad_ptr, rows, base, row_mask, n_cols, inner, scale,
        split * TILES_PER_SPLIT, BLOCK, TILES_PER_SPLIT, ARGMAX, SUM, GRAD_DOT, FROM_SOFT, FROM_NOISE, N_ROUNDS,
    )  # fmt: skip
    at = split * n_rows + rows
    tl.store(top_ptr + at, top, mask=row_mask)
    tl.store(total_ptr + at, total, mask=row_mask)
    tl.store(dot_ptr + at, grad_dot, mask=row_mask)
    tl.store(index_ptr + at, index, mask=row_mask)


@triton.jit
def combine(top_ptr, total_ptr, dot_ptr, index_ptr, rows, n_rows, n_cols, scale, n_splits, SPLITS: tl.constexpr,
            FROM_SOFT: tl.constexpr):
    """The row's `(m, S, <g, w>, argmax)` from the partials of its `n_splits` runs, each `[ROWS, 1]`.

    `SPLITS`: a power of two at least `n_splits`.

    The first maximum is the smallest index among the runs that reach `m`
    (runs are in column order). `FROM_SOFT`: the partial `<g, y>` just add up.
    """
    splits = tl.arange(0, SPLITS)[None, :]
    at = splits * n_rows + rows
    mask = (splits < n_splits) & (rows < n_rows)
    grad_dots = tl.load(dot_ptr + at, mask=mask, other=0.0)
    if FROM_SOFT:
        return tl.zeros_like(rows.to(tl.float32)), tl.zeros_like(rows.to(tl.float32)), row_sum(grad_dots), rows * 0
    else:
        tops = tl.load(top_ptr + at, mask=mask, other=float("-inf"))
        top = row_max(tops)
        rescale = tl.exp2((tops - finite_or_zero(top)) * scale)
        total = row_sum(tl.load(total_ptr + at, mask=mask, other=0.0) * rescale)
        indices = tl.where(tops == top, tl.load(index_ptr + at, mask=mask, other=0), n_cols - 1)
        return top, total, row_sum(grad_dots * rescale), tl.min(indices, axis=1)[:, None]


def launch_partials(
    s: LaunchSettings,
    values: Tensor,
    noise: Tensor | None,
    key: Tensor,
    grad: Tensor | None,
    tau_rows: Tensor | None,
    tau: float,
    n_rows: int,
    n_cols: int,
    inner: int,
    *,
    argmax: bool = False,
    total: bool = False,
    grad_dot: bool = False,
    from_soft: bool = False,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Stage 1 for long rows: the partial `(m, S, <g, w>, argmax)` of each run, `[splits, n_rows]` each."""
    tops, totals, dots = (values.new_empty((s.splits, n_rows), dtype=torch.float32) for _ in range(3))
    indices = values.new_empty((s.splits, n_rows), dtype=torch.int32)
    _partials_kernel[(s.grid, s.splits)](
        values, noise, key, grad, tau_rows, tops, totals, dots, indices, tau, n_rows, n_cols, inner,
        ROWS=s.rows_per_program, BLOCK=s.block, TILES_PER_SPLIT=s.tiles_per_split, ARGMAX=argmax, SUM=total,
        GRAD_DOT=grad_dot, FROM_SOFT=from_soft, PER_ROW_TAU=tau_rows is not None, FROM_NOISE=noise is not None,
        N_ROUNDS=PHILOX_ROUNDS, num_warps=s.num_warps,
    )  # fmt: skip
    return tops, totals, dots, indices

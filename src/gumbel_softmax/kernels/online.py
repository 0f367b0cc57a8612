"""The online reduction over the tiles of long rows, shared by the kernels.

For a row longer than one tile, a program walks its tiles once and keeps, per
row, the running maximum ``m`` of ``z = l + G``, the first index where it
occurs, and sums of ``w = 2^((z - m) c)`` that are rescaled by ``2^((m_old -
m_new) c)`` whenever the maximum grows (Milakov and Gimelshein, "Online
normalizer calculation for softmax", 2018). ``c = log2(e) / tau``.
"""

import triton
import triton.language as tl

from gumbel_softmax.kernels.noise import perturbed
from gumbel_softmax.kernels.tiles import column_tile, first_index_of, row_max, row_sum

__all__ = ["finite_or_zero", "row_statistics"]


@triton.jit
def finite_or_zero(top):
    """The shift for exponentials: rows past the end (and fully masked ones) have ``top = -inf``: 0, not NaN."""
    return tl.where(top == float("-inf"), 0.0, top)


@triton.jit
def row_statistics(logits_ptr, noise_ptr, key, grad_ptr, rows, base, row_mask, n_cols, inner, scale,
                   BLOCK: tl.constexpr, NUM_TILES: tl.constexpr, ARGMAX: tl.constexpr, SUM: tl.constexpr,
                   GRAD_DOT: tl.constexpr, FROM_NOISE: tl.constexpr, N_ROUNDS: tl.constexpr):
    """One online pass over the tiles of long rows: ``(m, S, <g, w>, argmax)``, each ``[ROWS, 1]``.

    ``m = max z``, ``w = 2^((z - m) scale)``, ``S = sum w`` (if ``SUM``), ``<g, w>``
    with the incoming gradient (if ``GRAD_DOT``), and the first index of ``m``
    (if ``ARGMAX``); partial sums are rescaled whenever the running maximum grows.
    """
    top = tl.full((row_mask.shape[0], 1), float("-inf"), tl.float32)
    total = tl.zeros((row_mask.shape[0], 1), tl.float32)
    grad_dot = tl.zeros((row_mask.shape[0], 1), tl.float32)
    index = tl.zeros((row_mask.shape[0], 1), tl.int32)
    for t in range(NUM_TILES):
        groups, cols, offsets, mask = column_tile(t * BLOCK, n_cols, inner, base, row_mask, BLOCK)
        z = perturbed(logits_ptr, noise_ptr, key, rows, groups, offsets, mask, FROM_NOISE, N_ROUNDS)
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

"""Fused Gumbel-max sampling: read the logits once, write one int64 per row.

The function is `gumbel_softmax.functional.sample`: `argmax_k (l_k + G_k)`
is an exact draw from `Categorical(softmax(l))` (Gumbel 1954; Maddison,
Tarlow, Minka 2014), with the kernels' Philox noise
(`gumbel_softmax.kernels.noise`). Masked (`-inf`) categories are never
drawn; ties go to the first index.

Any row length takes one pass: a program keeps a running maximum and its first
index over tiles of columns (for `K <= 16384` a single tile). No host sync, no
`torch.multinomial`. Registered as the custom operator
`torch.ops.gumbel_softmax.sample` with a fake-tensor implementation.
"""

import torch
import triton
import triton.language as tl
from torch import Tensor

from gumbel_softmax.kernels.noise import PHILOX_ROUNDS, key_and_noise
from gumbel_softmax.kernels.online import combine, launch_partials, row_statistics
from gumbel_softmax.kernels.tiles import row_tile, rows_and_inner, settings_for

__all__ = ["sample"]


@triton.jit
def _sample_kernel(logits_ptr, noise_ptr, key_ptr, out_ptr, top_ptr, index_ptr, n_rows, n_cols, inner, n_splits,
                   ROWS: tl.constexpr, BLOCK: tl.constexpr, NUM_TILES: tl.constexpr, SPLITS: tl.constexpr,
                   FROM_NOISE: tl.constexpr, N_ROUNDS: tl.constexpr):
    """Long rows (`NUM_TILES > 1`): combines the runs of `launch_partials`."""
    rows, base, row_mask = row_tile(n_rows, n_cols, inner, ROWS)
    if NUM_TILES == 1:
        _, _, _, index = row_statistics(logits_ptr, noise_ptr, tl.load(key_ptr), logits_ptr, rows, base, row_mask,
                                        n_cols, inner, 1.0, 0, BLOCK, 1, True, False, False, False, FROM_NOISE,
                                        N_ROUNDS)  # fmt: skip
    else:
        _, _, _, index = combine(top_ptr, top_ptr, top_ptr, index_ptr, rows, n_rows, n_cols, 1.0, n_splits, SPLITS,
                                 False)  # fmt: skip
    tl.store(out_ptr + rows, index.to(tl.int64), mask=row_mask)


@torch.library.custom_op("gumbel_softmax::sample", mutates_args=())
def _sample(logits: Tensor, key: Tensor, noise: Tensor | None, dim: int) -> Tensor:
    """int64 indices (`logits`' shape without `dim`) for contiguous, non-empty `logits`."""
    n_rows, inner = rows_and_inner(tuple(logits.shape), dim)
    n_cols = logits.shape[dim]
    out = torch.empty(logits.shape[:dim] + logits.shape[dim + 1 :], dtype=torch.int64, device=logits.device)
    s = settings_for(n_rows, n_cols)
    top = index = None
    if s.num_tiles > 1:
        top, _, _, index = launch_partials(s, logits, noise, key, None, None, 1.0, n_rows, n_cols, inner, argmax=True)
    _sample_kernel[(s.grid,)](
        logits, noise, key, out, top, index, n_rows, n_cols, inner, s.splits, ROWS=s.rows_per_program,
        BLOCK=s.block, NUM_TILES=s.num_tiles, SPLITS=triton.next_power_of_2(s.splits),
        FROM_NOISE=noise is not None, N_ROUNDS=PHILOX_ROUNDS, num_warps=s.num_warps,
    )  # fmt: skip
    return out


@_sample.register_fake
def _(logits, key, noise, dim):
    return logits.new_empty(logits.shape[:dim] + logits.shape[dim + 1 :], dtype=torch.int64)


def sample(logits: Tensor, dim: int, generator: torch.Generator | None, *, noise: Tensor | None = None) -> Tensor:
    """The kernel behind `gumbel_softmax.sample` (`logits` non-empty and checked, `dim` normalized).

    `noise` (tests only): Gumbel noise of the shape of `logits` to use
    instead of the kernel's Philox draw.
    """
    key, noise = key_and_noise(logits, generator, noise)
    return _sample(logits.detach().contiguous(), key, noise, dim)

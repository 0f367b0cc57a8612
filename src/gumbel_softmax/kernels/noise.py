"""Gumbel noise inside the kernels: counter-based Philox keyed by (row, column).

The reference (`gumbel_softmax.noise`) draws `U` with `Tensor.uniform_`; a
fused kernel cannot afford a pass over a noise tensor, so it makes its noise
from a counter-based generator instead: Philox4x32-10 (Salmon, Moraes, Dror,
Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC 2011), one call per
four columns of a row:

    (b0, b1, b2, b3) = Philox_key(c0 = column // 4, c1 = row, c2 = 0, c3 = 0)

and column `c` takes word `b_{c mod 4}`. The counter depends on (row,
column) only, never on the program or the tiling, so the noise is the same for
every launch configuration, in the interpreter and on a GPU. Counters are
32-bit: rows and column groups below 2^32 each.

The 64-bit key is drawn from the `generator` argument (or torch's default
generator for the device) with `torch.randint`: the generator's state
advances, two calls differ, and re-seeding reproduces a run. The key stays on
the device (no host sync), so CUDA graphs and `torch.compile` can capture it.

From the 32-bit word `b` the top 23 bits give `U = (n + 1/2) / 2^23`,
`n = b >> 9`: every value is exact in float32 and lies in
`[2^-24, 1 - 2^-24]`, so `E = -log U` lies in `[5.96e-8, 16.6]` and
`G = -log E` in `[-2.81, 16.6]`, finite, the same range as the reference.
(24 bits would not do: `(2^24 - 1/2) / 2^24` rounds to 1.0 in float32, making
`E = 0` and the output NaN.) The grid of `U` has 2^23 points, so the
distribution of `G` is off from Gumbel(0, 1) by at most 2^-23 in probability
for any interval.

`E = -log U` uses the accurate `log` (`U` near 1 needs it: an
approximate log's absolute error would swamp `E`); `G = -ln 2 * log2 E`
uses the hardware's approximate `log2` on a GPU (absolute error about 2^-22,
i.e. noise error below 1e-6), the exact one in the interpreter.

The kernels perturb in natural units, `z = fl(l + G)`, exactly as the
reference does, so the argmax (first index on ties) is the reference's for the
same noise, and finite logits up to the float32 maximum stay finite (scaling
`l` by `log2 e` first would overflow above about 2.36e38). The factor
`log2(e) / tau` of the softmax goes into the `exp2` argument after the row
maximum is subtracted.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from gumbel_softmax.checks import check_generator
from gumbel_softmax.kernels.tiles import INTERPRETING, column_tile, row_tile, settings_for

__all__ = ["draw_key", "key_and_noise", "kernel_gumbel_noise", "PHILOX_ROUNDS", "LOG2E"]

# Rounds of Philox per call. Salmon et al. (2011) found 7 the fewest that pass TestU01's BigCrush and
# recommend 10 for a safety margin; fewer are a speed knob only if the statistical tests still pass.
PHILOX_ROUNDS = 10
# log2(e) and ln(2), for exp2 and log2.
LOG2E: tl.constexpr = tl.constexpr(1.4426950408889634)
LN2: tl.constexpr = tl.constexpr(0.6931471805599453)

@triton.jit
def _log2_interpreted(x):
    return tl.log2(x)


if INTERPRETING:
    fast_log2 = _log2_interpreted
else:
    from triton.language.extra.cuda import libdevice

    fast_log2 = libdevice.fast_log2f


def draw_key(generator: torch.Generator | None, device: torch.device) -> Tensor:
    """A fresh 64-bit Philox key on `device` (int64 `[1]`), drawn from `generator`."""
    check_generator(generator, device)
    return torch.randint(0, 2**63 - 1, (1,), dtype=torch.int64, device=device, generator=generator)


def key_and_noise(
    logits: Tensor, generator: torch.Generator | None, noise: Tensor | None
) -> tuple[Tensor, Tensor | None]:
    """The kernel inputs for randomness: a fresh key, or (test hook) given noise as contiguous float32.

    With `noise` the generator is not used (its state does not advance).
    """
    if noise is None:
        return draw_key(generator, logits.device), None
    key = torch.zeros(1, dtype=torch.int64, device=logits.device)
    return key, noise.to(torch.float32).expand(logits.shape).contiguous()


@triton.jit
def gumbel(key, rows, groups, N_ROUNDS: tl.constexpr):
    """Gumbel noise `G` for a `[ROWS, 4 G]` tile; `rows` is `[ROWS, 1]`, `groups` `[1, G]` (int32)."""
    c0 = (groups + rows * 0).to(tl.uint32, bitcast=True)
    c1 = (rows + groups * 0).to(tl.uint32, bitcast=True)
    zero = c0 * 0
    b0, b1, b2, b3 = tl.random.philox(key, c0, c1, zero, zero, N_ROUNDS)
    # [ROWS, G, 2, 2] -> [ROWS, 4 G]: column 4 g + w takes word w; join keeps the four words in one thread.
    words = tl.join(tl.join(b0, b2), tl.join(b1, b3))
    bits = tl.reshape(words, (words.shape[0], 4 * words.shape[1]))
    uniform = ((bits >> 9).to(tl.float32) + 0.5) * (1.0 / 8388608.0)
    return fast_log2(-tl.log(uniform)) * -LN2


@triton.jit
def perturbed(logits_ptr, noise_ptr, key, rows, groups, offsets, mask, FROM_NOISE: tl.constexpr,
              N_ROUNDS: tl.constexpr):
    """`z = logits + G` in float32 for a tile, rounded once as in the reference.

    `-inf` outside the tensor and at masked logits.

    `FROM_NOISE` (a test hook) reads `G` from `noise_ptr` instead of drawing it.
    """
    x = tl.load(logits_ptr + offsets, mask=mask, other=float("-inf")).to(tl.float32)
    if FROM_NOISE:
        g = tl.load(noise_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
    else:
        g = gumbel(key, rows, groups, N_ROUNDS)
    return x + g


@triton.jit
def _noise_kernel(out_ptr, key_ptr, n_rows, n_cols, ROWS: tl.constexpr, BLOCK: tl.constexpr,
                  NUM_TILES: tl.constexpr, N_ROUNDS: tl.constexpr):
    rows, base, row_mask = row_tile(n_rows, n_cols, 1, ROWS)
    key = tl.load(key_ptr)
    for t in range(NUM_TILES):
        groups, _, offsets, mask = column_tile(t * BLOCK, n_cols, 1, base, row_mask, BLOCK)
        tl.store(out_ptr + offsets, gumbel(key, rows, groups, N_ROUNDS), mask=mask)


def kernel_gumbel_noise(n_rows: int, n_cols: int, key: Tensor) -> Tensor:
    """The Gumbel noise the kernels add for `key`: float32 `[n_rows, n_cols]`, element (row, column).

    For tests: its law is checked against Gumbel(0, 1), and a kernel fed this
    noise through its `noise` hook must give what it gives from `key`.
    """
    out = torch.empty(n_rows, n_cols, dtype=torch.float32, device=key.device)
    s = settings_for(n_rows, n_cols)
    _noise_kernel[(s.grid,)](out, key, n_rows, n_cols, s.rows_per_program, s.block, s.num_tiles, PHILOX_ROUNDS,
                             num_warps=s.num_warps)
    return out

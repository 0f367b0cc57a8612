"""Fused Gumbel-Softmax: forward (soft and hard) and backward, each one pass over memory.

The function is `gumbel_softmax.functional.gumbel_softmax` (Jang, Gu, Poole
2017; Maddison, Mnih, Teh 2017), with the kernels' own Philox noise
(`gumbel_softmax.kernels.noise`) in place of `torch.rand`:

```text
y = \\mathrm{softmax}((\\ell + G) / \\tau), \\qquad
\\text{hard: } \\mathrm{onehot}(\\arg\\max_k (\\ell_k + G_k)) \\text{ forward, } y \\text{ backward.}
```

Forward, per row, with `z = fl(l + G)` (the reference's rounding) and
`c = log2(e) / tau`: `m = max z`, `y = 2^((z - m) c) / sum 2^((z - m) c)`;
hard writes the one-hot of the first maximum of `z`.

Backward, with `g` the incoming gradient (for hard, the straight-through
gradient of `y`): `dl = y (g - <g, y>) / tau`, and for a per-row `tau`

```text
\\frac{\\partial L}{\\partial \\tau}
= -\\frac1\\tau \\sum_k y_k (g_k - \\langle g, y\\rangle) \\log y_k.
```

What the backward reads (the memory/arithmetic trade-off):

* soft: the output `y` itself, which the caller holds anyway. In float16 and
  bfloat16 that is the rounded `y` (relative error 2^-11 and 2^-8), so the
  gradient carries that rounding.
* hard: nothing but the key (and the logits, which autograd keeps alive anyway):
  the backward draws the same Philox noise again and recomputes `y` in
  float32. That costs one more Philox pass and two logarithms per element in
  the backward, but no extra tensor: forward + backward at (65536, 1024)
  float32 holds the one-hot output and the gradient (2 x 256 MiB), where
  saving `y` would add a third. The gradient is the float32 one in every
  dtype.

Passes over memory (`K` = row length; see `gumbel_softmax.kernels.tiles`):

==================  ==============================  ==================================
regime              forward                         backward
==================  ==============================  ==================================
K <= 16384          read logits, write output       soft: read grad and y, write grad;
                                                    hard: read grad and logits (noise
                                                    drawn again), write grad; per-row
                                                    tau grad in the same pass
K > 16384           soft: read logits twice         soft: read grad and y twice;
                    (online max/sum, then write),   hard: read grad and logits twice
                    noise drawn twice; hard: read   (online max/sum/<g, y>, then
                    logits once (online max and     write), noise drawn twice
                    argmax), then write the one-hot
==================  ==============================  ==================================

For `K > 16384` the first read is stage 1 of `gumbel_softmax.kernels.online`
(partial statistics per run of tiles; few rows are split across programs) and
the rest is this module's kernels, which combine the partials first.

Registered as PyTorch custom operators (`torch.ops.gumbel_softmax.forward` and
`.backward`) with fake-tensor implementations and autograd, so
`torch.compile(fullgraph=True)` traces through them (with validation off:
value checks sync with the host) and CUDA graphs can capture them.
"""

import torch
import triton
import triton.language as tl
from torch import Tensor

from gumbel_softmax.kernels.noise import LOG2E, PHILOX_ROUNDS, key_and_noise, perturbed
from gumbel_softmax.kernels.online import combine, finite_or_zero, inverse_tau, launch_partials
from gumbel_softmax.kernels.tiles import (
    column_tile,
    first_index_of,
    row_max,
    row_sum,
    row_tile,
    rows_and_inner,
    settings_for,
)

__all__ = ["gumbel_softmax"]


@triton.jit
def _softmax_of_row(z, scale):
    """`softmax(z * scale / log2 e)` of whole rows in registers (`scale` = log2(e) / tau)."""
    weights = tl.exp2((z - finite_or_zero(row_max(z))) * scale)
    return weights * (1.0 / row_sum(weights))  # one reciprocal per row, not a division per element


@triton.jit
def _forward_kernel(logits_ptr, noise_ptr, key_ptr, tau_ptr, out_ptr, top_ptr, total_ptr, dot_ptr, index_ptr, tau,
                    n_rows, n_cols, inner, n_splits, ROWS: tl.constexpr, BLOCK: tl.constexpr,
                    NUM_TILES: tl.constexpr, TILES_PER_SPLIT: tl.constexpr, SPLITS: tl.constexpr,
                    HARD: tl.constexpr, PER_ROW_TAU: tl.constexpr, FROM_NOISE: tl.constexpr,
                    N_ROUNDS: tl.constexpr):
    """Long rows (`NUM_TILES > 1`): stage 2, after `launch_partials`; program `(i, s)` writes run `s`."""
    rows, base, row_mask = row_tile(n_rows, n_cols, inner, ROWS)
    key = tl.load(key_ptr)
    scale = inverse_tau(tau_ptr, tau, rows, n_rows, PER_ROW_TAU) * LOG2E
    if NUM_TILES == 1:
        groups, cols, offsets, mask = column_tile(0, n_cols, inner, base, row_mask, BLOCK)
        z = perturbed(logits_ptr, noise_ptr, key, rows, groups, offsets, mask, FROM_NOISE, N_ROUNDS)
        if HARD:
            index = first_index_of(z, row_max(z), cols, n_cols)
            tl.store(out_ptr + offsets, tl.where(cols == index, 1.0, 0.0), mask=mask)
        else:
            tl.store(out_ptr + offsets, _softmax_of_row(z, scale), mask=mask)
    else:
        # The row's maximum and first argmax (hard), or maximum and sum of exponentials (soft), from stage 1.
        top, total, _, index = combine(top_ptr, total_ptr, dot_ptr, index_ptr, rows, n_rows, n_cols, scale, n_splits,
                                       SPLITS, False)  # fmt: skip
        # Write this run; soft draws the noise again (same counters) instead of storing it.
        inv_total = 1.0 / total
        for t in range(TILES_PER_SPLIT):
            col0 = (tl.program_id(1) * TILES_PER_SPLIT + t) * BLOCK
            groups, cols, offsets, mask = column_tile(col0, n_cols, inner, base, row_mask, BLOCK)
            if HARD:
                tl.store(out_ptr + offsets, tl.where(cols == index, 1.0, 0.0), mask=mask)
            else:
                z = perturbed(logits_ptr, noise_ptr, key, rows, groups, offsets, mask, FROM_NOISE, N_ROUNDS)
                tl.store(out_ptr + offsets, tl.exp2((z - top) * scale) * inv_total, mask=mask)


@triton.jit
def _write_grad_tile(grad_ptr, dlogits_ptr, offsets, mask, y, dot, inv_tau, TAU_GRAD: tl.constexpr):
    """Store `y (g - dot) / tau` for a tile; return this tile's `sum y (g - dot) log y` (0 without `TAU_GRAD`)."""
    g = tl.load(grad_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
    weighted = y * (g - dot)
    tl.store(dlogits_ptr + offsets, weighted * inv_tau, mask=mask)
    if TAU_GRAD:
        return row_sum(tl.where(y > 0, weighted * tl.log(y), 0.0))
    else:
        return tl.zeros_like(dot)


@triton.jit
def _backward_kernel(grad_ptr, saved_ptr, noise_ptr, key_ptr, tau_ptr, dlogits_ptr, dtau_ptr, top_ptr, total_ptr,
                     dot_ptr, index_ptr, tau, n_rows, n_cols, inner, n_splits, ROWS: tl.constexpr,
                     BLOCK: tl.constexpr, NUM_TILES: tl.constexpr, TILES_PER_SPLIT: tl.constexpr,
                     SPLITS: tl.constexpr, RECOMPUTE: tl.constexpr, PER_ROW_TAU: tl.constexpr,
                     TAU_GRAD: tl.constexpr, FROM_NOISE: tl.constexpr, N_ROUNDS: tl.constexpr):
    """`saved_ptr`: the soft sample `y`, or (`RECOMPUTE`) the logits, from which `y` is drawn again.

    Long rows: stage 2, after `launch_partials`; program `(i, s)` writes run `s` and its part of
    the tau gradient (`dtau_ptr` is `[splits, n_rows]`, summed by the caller).
    """
    rows, base, row_mask = row_tile(n_rows, n_cols, inner, ROWS)
    inv_tau = inverse_tau(tau_ptr, tau, rows, n_rows, PER_ROW_TAU)
    scale = inv_tau * LOG2E
    key = tl.load(key_ptr)
    if NUM_TILES == 1:
        groups, _, offsets, mask = column_tile(0, n_cols, inner, base, row_mask, BLOCK)
        if RECOMPUTE:
            z = perturbed(saved_ptr, noise_ptr, key, rows, groups, offsets, mask, FROM_NOISE, N_ROUNDS)
            y = _softmax_of_row(z, scale)
        else:
            y = tl.load(saved_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
        g = tl.load(grad_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
        tau_term = _write_grad_tile(grad_ptr, dlogits_ptr, offsets, mask, y, row_sum(g * y), inv_tau, TAU_GRAD)
    else:
        # <g, y> (and, recomputing, the row's max and sum of exponentials), from stage 1.
        top, total, grad_dot, _ = combine(top_ptr, total_ptr, dot_ptr, index_ptr, rows, n_rows, n_cols, scale,
                                          n_splits, SPLITS, not RECOMPUTE)  # fmt: skip
        inv_total = 1.0 / total
        dot = grad_dot * inv_total if RECOMPUTE else grad_dot
        # Write this run of the gradient.
        tau_term = tl.zeros((ROWS, 1), tl.float32)
        for t in range(TILES_PER_SPLIT):
            col0 = (tl.program_id(1) * TILES_PER_SPLIT + t) * BLOCK
            groups, _, offsets, mask = column_tile(col0, n_cols, inner, base, row_mask, BLOCK)
            if RECOMPUTE:
                z = perturbed(saved_ptr, noise_ptr, key, rows, groups, offsets, mask, FROM_NOISE, N_ROUNDS)
                y = tl.exp2((z - top) * scale) * inv_total
            else:
                y = tl.load(saved_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
            tau_term += _write_grad_tile(grad_ptr, dlogits_ptr, offsets, mask, y, dot, inv_tau, TAU_GRAD)
    if TAU_GRAD:
        tl.store(dtau_ptr + tl.program_id(1) * n_rows + rows, -inv_tau * tau_term, mask=row_mask)


@torch.library.custom_op("gumbel_softmax::forward", mutates_args=())
def _forward(
    logits: Tensor, key: Tensor, noise: Tensor | None, tau_rows: Tensor | None, tau: float, dim: int, hard: bool
) -> Tensor:
    """The soft or hard sample; `noise` is the test hook (float32, the shape of `logits`)."""
    logits = logits.contiguous()
    noise = None if noise is None else noise.contiguous()
    n_rows, inner = rows_and_inner(tuple(logits.shape), dim)
    n_cols = logits.shape[dim]
    out = logits.new_empty(logits.shape)  # contiguous, whatever the strides of logits
    s = settings_for(n_rows, n_cols)
    partials: tuple[Tensor | None, ...] = (None,) * 4
    if s.num_tiles > 1:
        partials = launch_partials(s, logits, noise, key, None, tau_rows, tau, n_rows, n_cols, inner, argmax=hard,
                                   total=not hard)  # fmt: skip
    _forward_kernel[(s.grid, s.splits)](
        logits, noise, key, tau_rows, out, *partials, tau, n_rows, n_cols, inner, s.splits,
        ROWS=s.rows_per_program, BLOCK=s.block, NUM_TILES=s.num_tiles, TILES_PER_SPLIT=s.tiles_per_split,
        SPLITS=triton.next_power_of_2(s.splits), HARD=hard, PER_ROW_TAU=tau_rows is not None,
        FROM_NOISE=noise is not None, N_ROUNDS=PHILOX_ROUNDS, num_warps=s.num_warps,
    )  # fmt: skip
    return out


@_forward.register_fake
def _(logits, key, noise, tau_rows, tau, dim, hard):
    return logits.new_empty(logits.shape)


@torch.library.custom_op("gumbel_softmax::backward", mutates_args=())
def _backward(
    grad: Tensor,
    saved: Tensor,
    key: Tensor,
    noise: Tensor | None,
    tau_rows: Tensor | None,
    tau: float,
    dim: int,
    recompute: bool,
    tau_grad: bool,
) -> tuple[Tensor, Tensor]:
    """(gradient for the logits, per-row gradient for tau or an empty tensor).

    `saved` is the soft sample, or with `recompute` the logits: the soft
    sample is then drawn again from `key` (or `noise`).
    """
    grad, saved = grad.contiguous(), saved.contiguous()
    noise = None if noise is None else noise.contiguous()
    n_rows, inner = rows_and_inner(tuple(saved.shape), dim)
    n_cols = saved.shape[dim]
    dlogits = saved.new_empty(saved.shape)
    s = settings_for(n_rows, n_cols)
    dtau = saved.new_empty(s.splits * n_rows if tau_grad else 0, dtype=torch.float32)
    partials: tuple[Tensor | None, ...] = (None,) * 4
    if s.num_tiles > 1:
        partials = launch_partials(s, saved, noise, key, grad, tau_rows, tau, n_rows, n_cols, inner,
                                   total=recompute, grad_dot=True, from_soft=not recompute)  # fmt: skip
    _backward_kernel[(s.grid, s.splits)](
        grad, saved, noise, key, tau_rows, dlogits, dtau, *partials, tau, n_rows, n_cols, inner, s.splits,
        ROWS=s.rows_per_program, BLOCK=s.block, NUM_TILES=s.num_tiles, TILES_PER_SPLIT=s.tiles_per_split,
        SPLITS=triton.next_power_of_2(s.splits), RECOMPUTE=recompute, PER_ROW_TAU=tau_rows is not None,
        TAU_GRAD=tau_grad, FROM_NOISE=noise is not None, N_ROUNDS=PHILOX_ROUNDS, num_warps=s.num_warps,
    )  # fmt: skip
    if tau_grad and s.splits > 1:
        dtau = dtau.view(s.splits, n_rows).sum(0)
    return dlogits, dtau


@_backward.register_fake
def _(grad, saved, key, noise, tau_rows, tau, dim, recompute, tau_grad):
    n_rows = saved.numel() // saved.shape[dim]
    return saved.new_empty(saved.shape), saved.new_empty(n_rows if tau_grad else 0, dtype=torch.float32)


def _setup_context(ctx, inputs, output):
    logits, key, noise, tau_rows, tau, dim, hard = inputs
    # Hard: keep the key and the logits (alive anyway) and recompute y; soft: y is the output itself.
    ctx.save_for_backward(logits if hard else output, key, noise, tau_rows)
    ctx.tau, ctx.dim, ctx.hard = tau, dim, hard


def _autograd_backward(ctx, grad_out):
    saved, key, noise, tau_rows = ctx.saved_tensors
    tau_grad = tau_rows is not None and ctx.needs_input_grad[3]
    dlogits, dtau = _backward(grad_out, saved, key, noise, tau_rows, ctx.tau, ctx.dim, ctx.hard, tau_grad)
    return dlogits, None, None, (dtau if tau_grad else None), None, None, None


_forward.register_autograd(_autograd_backward, setup_context=_setup_context)
def _per_row_tau(tau: Tensor, logits: Tensor, dim: int) -> Tensor:
    """`tau` (size 1 along `dim`, as `checks.check_tau` ensures) as one float32 value per row, in the row
    order of `tiles`."""
    aligned = tau.reshape((1,) * (logits.ndim - tau.ndim) + tuple(tau.shape))
    row_shape = logits.shape[:dim] + (1,) + logits.shape[dim + 1 :]
    return aligned.expand(row_shape).reshape(-1).to(torch.float32).contiguous()


def gumbel_softmax(
    logits: Tensor,
    tau: float | Tensor,
    hard: bool,
    dim: int,
    generator: torch.Generator | None,
    *,
    noise: Tensor | None = None,
) -> Tensor:
    """The kernel behind `gumbel_softmax.gumbel_softmax` (arguments already validated, `dim` normalized).

    Arguments are as there, plus `noise` (tests only): Gumbel noise of the
    shape of `logits` to use instead of the kernel's Philox draw.

    Returns:
        a tensor of the shape and dtype of `logits`, contiguous in
        the layout of `logits` (a non-contiguous input is copied once).

    A `tau` tensor is a per-row temperature (size 1 along `dim`); the public functions refuse others.
    """
    if logits.numel() == 0:
        return logits.softmax(dim)
    tau_rows = None
    if isinstance(tau, Tensor):
        tau_rows = _per_row_tau(tau, logits, dim)
    key, noise = key_and_noise(logits, generator, noise)
    scalar_tau = 1.0 if tau_rows is not None else float(tau)
    return _forward(logits.contiguous(), key, noise, tau_rows, scalar_tau, dim, hard)

"""Fused Gumbel-Softmax: forward (soft and hard) and backward, each one pass over memory.

The function is :func:`gumbel_softmax.functional.gumbel_softmax` (Jang, Gu, Poole
2017; Maddison, Mnih, Teh 2017), with the kernels' own Philox noise
(:mod:`gumbel_softmax.kernels.noise`) in place of ``torch.rand``:

.. math:: y = \\mathrm{softmax}((\\ell + G) / \\tau), \\qquad
          \\text{hard: } \\mathrm{onehot}(\\arg\\max_k (\\ell_k + G_k)) \\text{ forward, } y \\text{ backward.}

Forward, per row (in base 2, ``z = (l + G) log2 e``): ``m = max z``,
``y = 2^((z - m)/tau) / sum 2^((z - m)/tau)``; hard writes the one-hot of the
first maximum of ``z`` (unscaled, as the reference does). For training it also
writes ``y``, the only thing the backward needs.

Backward, with ``g`` the incoming gradient (for hard, the straight-through
gradient of ``y``): ``dl = y (g - <g, y>) / tau``, and for a per-row ``tau``

.. math:: \\frac{\\partial L}{\\partial \\tau} = -\\frac1\\tau \\sum_k y_k (g_k - \\langle g, y\\rangle) \\log y_k
          = -\\frac1\\tau \\big(\\langle g, y \\log y\\rangle
            - \\langle g, y\\rangle \\langle 1, y \\log y\\rangle\\big),

(``s = z / tau`` equals ``log y`` up to a per-row constant that the weights
``y (g - <g, y>)`` sum to zero against), so ``z`` and the noise are not needed.

Passes over memory (``K`` = row length; see :mod:`gumbel_softmax.kernels.tiles`):

==================  ===========================  ===================================
regime              forward                      backward
==================  ===========================  ===================================
K <= 8192           read logits, write output    read grad and y, write grad
                    (+ write y when training     (per-row tau grad: same pass)
                    hard)
K > 8192            read logits twice (online    read grad and y twice, write grad
                    max/sum, then write), noise
                    drawn twice; hard without
                    grad: second pass only
                    writes the one-hot
==================  ===========================  ===================================

Registered as PyTorch custom operators (``torch.ops.gumbel_softmax.forward`` and
``.backward``) with fake-tensor implementations and autograd, so
``torch.compile(fullgraph=True)`` traces through them (with validation off:
value checks sync with the host) and CUDA graphs can capture them.
"""

from typing import Optional

import torch
import triton
import triton.language as tl
from torch import Tensor

from gumbel_softmax.kernels.noise import PHILOX_ROUNDS, key_and_noise, perturbed_log2
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
def _inverse_tau(tau_ptr, tau, rows, n_rows, PER_ROW_TAU: tl.constexpr):
    if PER_ROW_TAU:
        return 1.0 / tl.load(tau_ptr + rows, mask=rows < n_rows, other=1.0)
    else:
        return 1.0 / tau


@triton.jit
def _forward_kernel(logits_ptr, noise_ptr, key_ptr, tau_ptr, out_ptr, soft_ptr, tau, n_rows, n_cols, inner,
                    ROWS: tl.constexpr, BLOCK: tl.constexpr, NUM_TILES: tl.constexpr, HARD: tl.constexpr,
                    SAVE_SOFT: tl.constexpr, PER_ROW_TAU: tl.constexpr, FROM_NOISE: tl.constexpr,
                    N_ROUNDS: tl.constexpr):
    rows, base, row_mask = row_tile(n_rows, n_cols, inner, ROWS)
    key = tl.load(key_ptr)
    inv_tau = _inverse_tau(tau_ptr, tau, rows, n_rows, PER_ROW_TAU)
    if NUM_TILES == 1:
        groups, cols, offsets, mask = column_tile(0, n_cols, inner, base, row_mask, BLOCK)
        z = perturbed_log2(logits_ptr, noise_ptr, key, rows, groups, offsets, mask, FROM_NOISE, N_ROUNDS)
        top = row_max(z)
        if HARD:
            index = first_index_of(z, top, cols, n_cols)
            tl.store(out_ptr + offsets, tl.where(cols == index, 1.0, 0.0), mask=mask)
        if SAVE_SOFT or not HARD:  # SAVE_SOFT implies HARD
            # Rows past the end (and fully masked ones) have top = -inf: shift by 0 there, not NaN.
            weights = tl.exp2((z - tl.where(top == float("-inf"), 0.0, top)) * inv_tau)
            y = weights * (1.0 / row_sum(weights))  # one reciprocal per row, not a division per element
            if HARD:
                tl.store(soft_ptr + offsets, y, mask=mask)
            else:
                tl.store(out_ptr + offsets, y, mask=mask)
    else:
        # Pass 1: online maximum, sum of exponentials, and first argmax over the tiles.
        top = tl.full((ROWS, 1), float("-inf"), tl.float32)
        total = tl.zeros((ROWS, 1), tl.float32)
        index = tl.zeros((ROWS, 1), tl.int32)
        for t in range(NUM_TILES):
            groups, cols, offsets, mask = column_tile(t * BLOCK, n_cols, inner, base, row_mask, BLOCK)
            z = perturbed_log2(logits_ptr, noise_ptr, key, rows, groups, offsets, mask, FROM_NOISE, N_ROUNDS)
            tile_top = row_max(z)
            if HARD:
                index = tl.where(tile_top > top, first_index_of(z, tile_top, cols, n_cols), index)
            new_top = tl.maximum(top, tile_top)
            shift = tl.where(new_top == float("-inf"), 0.0, new_top)
            total = total * tl.exp2((top - shift) * inv_tau) + row_sum(tl.exp2((z - shift) * inv_tau))
            top = new_top
        # Pass 2: write; the noise is drawn again (same counters), not stored.
        inv_total = 1.0 / total
        for t in range(NUM_TILES):
            groups, cols, offsets, mask = column_tile(t * BLOCK, n_cols, inner, base, row_mask, BLOCK)
            if HARD:
                tl.store(out_ptr + offsets, tl.where(cols == index, 1.0, 0.0), mask=mask)
            if SAVE_SOFT or not HARD:
                z = perturbed_log2(logits_ptr, noise_ptr, key, rows, groups, offsets, mask, FROM_NOISE, N_ROUNDS)
                y = tl.exp2((z - top) * inv_tau) * inv_total
                if HARD:
                    tl.store(soft_ptr + offsets, y, mask=mask)
                else:
                    tl.store(out_ptr + offsets, y, mask=mask)


@triton.jit
def _backward_kernel(grad_ptr, soft_ptr, tau_ptr, dlogits_ptr, dtau_ptr, tau, n_rows, n_cols, inner,
                     ROWS: tl.constexpr, BLOCK: tl.constexpr, NUM_TILES: tl.constexpr, PER_ROW_TAU: tl.constexpr,
                     TAU_GRAD: tl.constexpr):
    rows, base, row_mask = row_tile(n_rows, n_cols, inner, ROWS)
    inv_tau = _inverse_tau(tau_ptr, tau, rows, n_rows, PER_ROW_TAU)
    dot = tl.zeros((ROWS, 1), tl.float32)  # <g, y>
    g_ylogy = tl.zeros((ROWS, 1), tl.float32)  # <g, y log y>
    ylogy = tl.zeros((ROWS, 1), tl.float32)  # <1, y log y>
    for t in range(NUM_TILES):
        groups, cols, offsets, mask = column_tile(t * BLOCK, n_cols, inner, base, row_mask, BLOCK)
        g = tl.load(grad_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
        y = tl.load(soft_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
        dot += row_sum(g * y)
        if TAU_GRAD:
            entropy_terms = tl.where(y > 0, y * tl.log(y), 0.0)
            g_ylogy += row_sum(g * entropy_terms)
            ylogy += row_sum(entropy_terms)
        if NUM_TILES == 1:
            tl.store(dlogits_ptr + offsets, y * (g - dot) * inv_tau, mask=mask)
    if NUM_TILES > 1:
        for t in range(NUM_TILES):
            groups, cols, offsets, mask = column_tile(t * BLOCK, n_cols, inner, base, row_mask, BLOCK)
            g = tl.load(grad_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
            y = tl.load(soft_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
            tl.store(dlogits_ptr + offsets, y * (g - dot) * inv_tau, mask=mask)
    if TAU_GRAD:
        tl.store(dtau_ptr + rows, -inv_tau * (g_ylogy - dot * ylogy), mask=row_mask)


@torch.library.custom_op("gumbel_softmax::forward", mutates_args=())
def _forward(
    logits: Tensor,
    key: Tensor,
    noise: Optional[Tensor],
    tau_rows: Optional[Tensor],
    tau: float,
    dim: int,
    hard: bool,
    save_soft: bool,
) -> tuple[Tensor, Tensor]:
    """(output, soft sample or an empty tensor) for contiguous ``logits``; ``noise`` is the test hook.

    ``save_soft`` (hard only): also write the soft sample, for the backward pass.
    A soft output is itself what the backward pass reads.
    """
    n_rows, inner = rows_and_inner(tuple(logits.shape), dim)
    n_cols = logits.shape[dim]
    out = torch.empty_like(logits)
    soft = torch.empty_like(logits) if save_soft else logits.new_empty(0)
    s = settings_for(n_rows, n_cols)
    _forward_kernel[(s.grid,)](
        logits, noise, key, tau_rows, out, soft, tau, n_rows, n_cols, inner,
        ROWS=s.rows_per_program, BLOCK=s.block, NUM_TILES=s.num_tiles, HARD=hard, SAVE_SOFT=save_soft,
        PER_ROW_TAU=tau_rows is not None, FROM_NOISE=noise is not None, N_ROUNDS=PHILOX_ROUNDS,
        num_warps=s.num_warps,
    )  # fmt: skip
    return out, soft


@_forward.register_fake
def _(logits, key, noise, tau_rows, tau, dim, hard, save_soft):
    return torch.empty_like(logits), (torch.empty_like(logits) if save_soft else logits.new_empty(0))


@torch.library.custom_op("gumbel_softmax::backward", mutates_args=())
def _backward(
    grad: Tensor, soft: Tensor, tau_rows: Optional[Tensor], tau: float, dim: int, tau_grad: bool
) -> tuple[Tensor, Tensor]:
    """(gradient for the logits, per-row gradient for tau or an empty tensor); tensors contiguous."""
    n_rows, inner = rows_and_inner(tuple(soft.shape), dim)
    n_cols = soft.shape[dim]
    dlogits = torch.empty_like(soft)
    dtau = soft.new_empty(n_rows if tau_grad else 0, dtype=torch.float32)
    s = settings_for(n_rows, n_cols)
    _backward_kernel[(s.grid,)](
        grad, soft, tau_rows, dlogits, dtau, tau, n_rows, n_cols, inner,
        ROWS=s.rows_per_program, BLOCK=s.block, NUM_TILES=s.num_tiles, PER_ROW_TAU=tau_rows is not None,
        TAU_GRAD=tau_grad, num_warps=s.num_warps,
    )  # fmt: skip
    return dlogits, dtau


@_backward.register_fake
def _(grad, soft, tau_rows, tau, dim, tau_grad):
    n_rows = soft.numel() // soft.shape[dim]
    return torch.empty_like(soft), soft.new_empty(n_rows if tau_grad else 0, dtype=torch.float32)


def _setup_context(ctx, inputs, output):
    _, _, _, tau_rows, tau, dim, hard, _ = inputs
    ctx.save_for_backward(output[1] if hard else output[0], tau_rows)
    ctx.tau, ctx.dim = tau, dim


def _autograd_backward(ctx, grad_out, _grad_soft):
    soft, tau_rows = ctx.saved_tensors
    tau_grad = tau_rows is not None and ctx.needs_input_grad[3]
    dlogits, dtau = _backward(grad_out.contiguous(), soft, tau_rows, ctx.tau, ctx.dim, tau_grad)
    return dlogits, None, None, (dtau if tau_grad else None), None, None, None, None


_forward.register_autograd(_autograd_backward, setup_context=_setup_context)


def _per_row_tau(tau: Tensor, logits: Tensor, dim: int) -> Tensor | None:
    """``tau`` as one float32 value per row (row order of :mod:`~gumbel_softmax.kernels.tiles`), or ``None``
    if it varies along ``dim``."""
    aligned = tau.reshape((1,) * (logits.ndim - tau.ndim) + tuple(tau.shape))
    if aligned.shape[dim] != 1:
        return None
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
    """The kernel behind :func:`gumbel_softmax.gumbel_softmax` (arguments already validated, ``dim`` normalized).

    **Arguments:** as there, plus ``noise`` (tests only): Gumbel noise of the
    shape of ``logits`` to use instead of the kernel's Philox draw.

    **Returns:** a tensor of the shape and dtype of ``logits``, contiguous in
    the layout of ``logits`` (a non-contiguous input is copied once).

    A ``tau`` tensor that varies along ``dim`` is not a per-row temperature; it
    runs through the reference.
    """
    if logits.numel() == 0:
        return logits.softmax(dim)
    tau_rows = None
    if isinstance(tau, Tensor):
        tau_rows = _per_row_tau(tau, logits, dim)
        if tau_rows is None:
            from gumbel_softmax.functional import gumbel_softmax_from_noise
            from gumbel_softmax.noise import compute_dtype, gumbel_noise

            gumbels = gumbel_noise(logits.shape, dtype=compute_dtype(logits.dtype), device=logits.device,
                                   generator=generator) if noise is None else noise  # fmt: skip
            return gumbel_softmax_from_noise(logits, gumbels, tau, hard, dim)
    needs_grad = torch.is_grad_enabled() and (
        logits.requires_grad or (tau_rows is not None and tau_rows.requires_grad)
    )
    key, noise = key_and_noise(logits, generator, noise)
    scalar_tau = 1.0 if tau_rows is not None else float(tau)
    out, _ = _forward(logits.contiguous(), key, noise, tau_rows, scalar_tau, dim, hard, hard and needs_grad)
    return out

"""The relaxation step that the reference functions share: tempered softmax of perturbed logits.

Private: `gumbel_softmax.functional` (Gumbel-Softmax), `gumbel_softmax.subset`
(the relaxed k-subset) and `gumbel_softmax.distributions` call these on already-validated
arguments. Users call the public functions.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["StraightThrough", "log1m_softmax", "one_hot_like", "relax", "temper_", "tempered_"]


def relax(logits: Tensor, minus_gumbel: Tensor, tau: float | Tensor, hard: bool, dim: int, k: int = 1) -> Tensor:
    """softmax((logits - minus_gumbel) / tau), hard or soft; `minus_gumbel` is in the compute dtype.

    `minus_gumbel` must be a fresh buffer: it is overwritten in place with
    `-(logits + G)`, then divided by `-tau`, which saves passes over memory and
    allocations (autograd records the in-place ops; none needs the old values).

    `k > 1` is the relaxed k-subset of `gumbel_softmax.gumbel_softmax_top_k`: the sum of
    `k` softmaxes, each after taking the previous one's mass out, `alpha += log(1 - a)`;
    hard, the exact k-hot vector of the top `k` of `logits + G`.
    """
    x = logits.to(minus_gumbel.dtype)
    tau_grad = isinstance(tau, Tensor) and tau.requires_grad
    needs_grad = torch.is_grad_enabled() and (x.requires_grad or minus_gumbel.requires_grad or tau_grad)
    if isinstance(tau, Tensor):
        tau = tau.to(minus_gumbel.dtype)
    neg_z = minus_gumbel.sub_(x)
    # argmin of -(logits + G) is the exact Gumbel-max sample (negation is exact, so ties
    # resolve to the first index, as in `sample`); scaling by tau first could create ties.
    index = None
    if hard:
        index = neg_z.argmin(dim, keepdim=True) if k == 1 else neg_z.topk(k, dim, largest=False).indices
    if index is not None and not needs_grad:
        return one_hot_like(index, logits, dim)
    z = tempered_(neg_z, tau, dim)
    y = a = torch.softmax(z, dim)
    for _ in range(k - 1):
        z = z + log1m_softmax(z, a, dim) / tau
        a = torch.softmax(z, dim)
        y = y + a
    if y.dtype != logits.dtype:
        y = y.to(logits.dtype)
    return y if index is None else StraightThrough.apply(y, index, dim)


def log1m_softmax(z: Tensor, p: Tensor, dim: int) -> Tensor:
    """`log(1 - p)` for `p = softmax(z)`, finite and accurate where `p` rounds to 1.

    Off each row's top entry `p <= 1/2` and `log1p(-p)` is accurate. At the top it is computed as
    `logsumexp` of the other entries minus `logsumexp` of all, so a top entry with `p == 1.0` gets a
    finite value and a finite gradient (the row needs a second finite entry: `k` <= unmasked categories).
    """
    top = z.argmax(dim, keepdim=True)
    is_top = torch.zeros_like(z, dtype=torch.bool).scatter_(dim, top, True)
    rest = torch.log1p(-p.masked_fill(is_top, 0.0))
    at_top = z.masked_fill(is_top, float("-inf")).logsumexp(dim, keepdim=True) - z.logsumexp(dim, keepdim=True)
    return torch.where(is_top, at_top, rest)


def tempered_(neg_z: Tensor, tau: float | Tensor, dim: int) -> Tensor:
    """`(logits + G - max) / tau` from a fresh buffer `neg_z = -(logits + G)`, in place when it can be.

    Each row is shifted so that its largest perturbed logit is 0 (a softmax is shift-invariant): every
    entry is then `<= 0`, and at worst `-inf`, never NaN, for any finite logits and `tau` (logits
    of `3e38` at `tau = 0.5`, or `tau = 1e-45`, which overflow unshifted).
    """
    if neg_z.numel():
        neg_z = neg_z.sub_(neg_z.detach().amin(dim, keepdim=True))
    return temper_(neg_z, tau)


def temper_(neg_z: Tensor, tau: float | Tensor) -> Tensor:
    """`-neg_z / tau` for `neg_z = -(logits + G)` (`+inf` at masked categories), in place when it can be.

    `neg_z` must be a fresh buffer. When `tau` needs a gradient the infinities
    are kept out of the product, so that d/dtau at masked entries is 0, not NaN, and `neg_z` is
    multiplied by `1 / tau`: d/dtau then never forms `neg_z / tau**2`, which overflows where a
    shifted logit is huge although its softmax weight, and so its share of the gradient, is 0.
    """
    if isinstance(tau, Tensor) and tau.requires_grad:
        masked = torch.isposinf(neg_z)
        return (neg_z.masked_fill(masked, 0.0) * -tau.reciprocal()).masked_fill(masked, float("-inf"))
    return neg_z.div_(-tau)


def one_hot_like(index: Tensor, like: Tensor, dim: int) -> Tensor:
    """Exact one-hot (0.0 and 1.0) in the shape and dtype of `like`, with `index` (keepdim) along `dim`."""
    return torch.zeros(like.shape, dtype=like.dtype, device=like.device).scatter_(dim, index, 1.0)


class StraightThrough(torch.autograd.Function):
    """Forward: the exact one-hot of `index`. Backward: the incoming gradient, unchanged, to `soft`.

    The straight-through estimator (Bengio, Leonard, Courville 2013) as one node,
    which saves the two passes over memory of `hard - soft.detach() + soft`
    and keeps the forward value exactly 0.0/1.0.
    """

    @staticmethod
    def forward(ctx: object, soft: Tensor, index: Tensor, dim: int) -> Tensor:  # type: ignore[override]
        return one_hot_like(index, soft, dim)

    @staticmethod
    def backward(ctx: object, grad: Tensor) -> tuple[Tensor, None, None]:  # type: ignore[override]
        return grad, None, None

"""The reference definitions: Gumbel-Softmax, and exact sampling by the Gumbel-max trick.

With ``G_k`` independent standard Gumbel noise (:mod:`gumbel_softmax.noise`):

* Gumbel-max (Gumbel 1954; Maddison, Tarlow, Minka 2014):
  ``argmax_k (logits_k + G_k) ~ Categorical(softmax(logits))`` exactly.
* Gumbel-Softmax / Concrete (Jang, Gu, Poole, ICLR 2017; Maddison, Mnih, Teh,
  ICLR 2017): ``y = softmax((logits + G) / tau)``, a differentiable point on the
  simplex that tends to the Gumbel-max one-hot sample as ``tau -> 0``.
* Straight-through Gumbel-Softmax (Jang et al. 2017, Section 2.2): the forward
  value is the exact one-hot ``onehot(argmax_k (logits_k + G_k))``; the backward
  pass is the gradient of the soft ``y`` drawn with the same noise.

These pure-PyTorch functions are the definitions. A fused kernel, where
:mod:`gumbel_softmax.backend` selects one, computes the same function.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

from gumbel_softmax.backend import kernel_for
from gumbel_softmax.noise import compute_dtype, log_exponential
from gumbel_softmax.validation import check_logits, check_tau

__all__ = ["gumbel_softmax", "gumbel_softmax_from_noise", "sample", "sample_one_hot"]


def gumbel_softmax(
    logits: Tensor,
    tau: float | Tensor = 1.0,
    hard: bool = False,
    eps: float = 1e-10,
    dim: int = -1,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Draw a Gumbel-Softmax sample; a drop-in for ``torch.nn.functional.gumbel_softmax``.

    .. math:: y_k = \frac{\exp((\ell_k + G_k)/\tau)}{\sum_j \exp((\ell_j + G_j)/\tau)},
              \qquad G_k \sim \mathrm{Gumbel}(0, 1)

    (Jang, Gu, Poole 2017, eq. 1; Maddison, Mnih, Teh 2017.)

    **Arguments:**
        logits: ``[..., K, ...]`` unnormalized log-probabilities, floating dtype.
            ``-inf`` masks a category: it gets exactly 0 in the output and
            exactly 0 gradient. Every row needs one unmasked category.
        tau: temperature > 0: a float, or a tensor broadcastable to ``logits``
            with the ``dim`` axis kept (e.g. ``[B, 1]`` for per-row values).
            A tensor that requires grad receives a gradient.
        hard: if ``True``, the forward value is exactly one-hot (entries 0.0
            and 1.0, one 1 per row, ties included) and the backward pass is the
            straight-through gradient of the soft sample.
        eps: deprecated and ignored, as in torch.
        dim: the category axis.
        generator: a ``torch.Generator`` on the device of ``logits``.

    **Returns:** a tensor of the shape and dtype of ``logits``. float16 and
    bfloat16 inputs are computed in float32 and rounded at the end, so tiny
    temperatures (down to 1e-4 and below) stay finite in value and gradient.

    Raises ``ValueError`` for a temperature that is not finite and positive,
    for NaN or ``+inf`` logits and for fully masked rows (value checks can be
    switched off with :func:`gumbel_softmax.set_validation`), and for an
    out-of-range ``dim``; ``TypeError`` for non-floating logits.

    >>> g = torch.Generator().manual_seed(0)
    >>> y = gumbel_softmax(torch.zeros(2, 3), tau=0.5, hard=True, generator=g)
    >>> y.sum(-1)
    tensor([1., 1.])
    """
    if eps != 1e-10:
        warnings.warn("`eps` is deprecated and has no effect", DeprecationWarning, stacklevel=2)
    dim = check_logits(logits, dim)
    tau = check_tau(tau, logits)
    kernel = kernel_for("gumbel_softmax", logits)
    if kernel is not None:
        return kernel(logits, tau, hard, dim, generator)
    if logits.numel() == 0:
        return logits.softmax(dim)
    minus_gumbel = log_exponential(logits.shape, compute_dtype(logits.dtype), logits.device, generator)
    return _relax(logits, minus_gumbel, tau, hard, dim)


def gumbel_softmax_from_noise(
    logits: Tensor,
    gumbels: Tensor,
    tau: float | Tensor = 1.0,
    hard: bool = False,
    dim: int = -1,
) -> Tensor:
    """:func:`gumbel_softmax` with the Gumbel noise given instead of drawn.

    ``gumbels`` must broadcast to the shape of ``logits``. Useful to reuse one
    draw of noise (common random numbers), to feed conditional noise (Gumbel-Rao),
    and to compare with other implementations given the same noise.
    """
    dim = check_logits(logits, dim)
    tau = check_tau(tau, logits)
    if torch.broadcast_shapes(gumbels.shape, logits.shape) != logits.shape:
        raise ValueError(
            f"gumbels of shape {tuple(gumbels.shape)} do not broadcast to logits of shape {tuple(logits.shape)}"
        )
    minus_gumbel = gumbels.to(compute_dtype(logits.dtype)).expand(logits.shape).neg()
    return _relax(logits, minus_gumbel, tau, hard, dim)


def _relax(logits: Tensor, minus_gumbel: Tensor, tau: float | Tensor, hard: bool, dim: int, k: int = 1) -> Tensor:
    """softmax((logits - minus_gumbel) / tau), hard or soft; ``minus_gumbel`` is in the compute dtype.

    ``minus_gumbel`` must be a fresh buffer: it is overwritten in place with
    ``-(logits + G)``, then divided by ``-tau``, which saves passes over memory and
    allocations (autograd records the in-place ops; none needs the old values).

    ``k > 1`` is the relaxed k-subset of :func:`gumbel_softmax.gumbel_softmax_top_k`: the sum of
    ``k`` softmaxes, each after taking the previous one's mass out, ``alpha += log(1 - a)``;
    hard, the exact k-hot vector of the top ``k`` of ``logits + G``.
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
    z = temper_(neg_z, tau)  # (logits + G) / tau
    y = a = torch.softmax(z, dim)
    for _ in range(k - 1):
        z = z + _log1m_softmax(z, a, dim) / tau
        a = torch.softmax(z, dim)
        y = y + a
    if y.dtype != logits.dtype:
        y = y.to(logits.dtype)
    return y if index is None else _StraightThrough.apply(y, index, dim)


def _log1m_softmax(z: Tensor, p: Tensor, dim: int) -> Tensor:
    """``log(1 - p)`` for ``p = softmax(z)``, finite and accurate where ``p`` rounds to 1.

    Off each row's top entry ``p <= 1/2`` and ``log1p(-p)`` is accurate. At the top it is computed as
    ``logsumexp`` of the other entries minus ``logsumexp`` of all, so a top entry with ``p == 1.0`` gets a
    finite value and a finite gradient (the row needs a second finite entry: ``k`` <= unmasked categories).
    """
    top = z.argmax(dim, keepdim=True)
    is_top = torch.zeros_like(z, dtype=torch.bool).scatter_(dim, top, True)
    rest = torch.log1p(-p.masked_fill(is_top, 0.0))
    at_top = z.masked_fill(is_top, float("-inf")).logsumexp(dim, keepdim=True) - z.logsumexp(dim, keepdim=True)
    return torch.where(is_top, at_top, rest)


def temper_(neg_z: Tensor, tau: float | Tensor) -> Tensor:
    """``-neg_z / tau`` for ``neg_z = -(logits + G)`` (``+inf`` at masked categories), in place when it can be.

    ``neg_z`` must be a fresh buffer. When ``tau`` needs a gradient the infinities
    are kept out of the quotient, so that d/dtau at masked entries is 0, not NaN.
    """
    if isinstance(tau, Tensor) and tau.requires_grad:
        masked = torch.isposinf(neg_z)
        return (neg_z.masked_fill(masked, 0.0) / -tau).masked_fill(masked, float("-inf"))
    return neg_z.div_(-tau)


def one_hot_like(index: Tensor, like: Tensor, dim: int) -> Tensor:
    """Exact one-hot (0.0 and 1.0) in the shape and dtype of ``like``, with ``index`` (keepdim) along ``dim``."""
    return torch.zeros(like.shape, dtype=like.dtype, device=like.device).scatter_(dim, index, 1.0)


class _StraightThrough(torch.autograd.Function):
    """Forward: the exact one-hot of ``index``. Backward: the incoming gradient, unchanged, to ``soft``.

    The straight-through estimator (Bengio, Leonard, Courville 2013) as one node,
    which saves the two passes over memory of ``hard - soft.detach() + soft``
    and keeps the forward value exactly 0.0/1.0.
    """

    @staticmethod
    def forward(ctx: object, soft: Tensor, index: Tensor, dim: int) -> Tensor:  # type: ignore[override]
        return one_hot_like(index, soft, dim)

    @staticmethod
    def backward(ctx: object, grad: Tensor) -> tuple[Tensor, None, None]:  # type: ignore[override]
        return grad, None, None


def sample(logits: Tensor, dim: int = -1, *, generator: torch.Generator | None = None) -> Tensor:
    """Exact categorical samples by the Gumbel-max trick: ``argmax(logits + G, dim)``.

    **Arguments:** as in :func:`gumbel_softmax`; ``-inf`` categories are never drawn.

    **Returns:** int64 indices, the shape of ``logits`` with ``dim`` removed.
    Not differentiable; use ``gumbel_softmax(..., hard=True)`` for gradients.

    >>> g = torch.Generator().manual_seed(0)
    >>> sample(torch.tensor([[0.0, float("-inf")]]), generator=g)
    tensor([0])
    """
    dim = check_logits(logits, dim)
    out_shape = logits.shape[:dim] + logits.shape[dim + 1 :]
    if logits.numel() == 0:
        if logits.shape[dim] == 0 and out_shape.numel() > 0:
            raise ValueError(f"cannot sample from 0 categories: logits has size 0 along dim={dim}")
        return torch.empty(out_shape, dtype=torch.int64, device=logits.device)
    kernel = kernel_for("sample", logits)
    if kernel is not None:
        return kernel(logits, dim, generator)
    return perturbed_logits(logits, generator).argmax(dim)


def perturbed_logits(logits: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """``logits + G`` with standard Gumbel ``G``, in the compute dtype (float32 or float64), without gradient.

    The ranking of these values is what the exact samplers read: the argmax (:func:`sample`) or the top k
    (:func:`gumbel_softmax.sample_without_replacement`).
    """
    with torch.no_grad():
        minus_gumbel = log_exponential(logits.shape, compute_dtype(logits.dtype), logits.device, generator)
        return torch.sub(logits.to(minus_gumbel.dtype), minus_gumbel, out=minus_gumbel)


def sample_one_hot(logits: Tensor, dim: int = -1, *, generator: torch.Generator | None = None) -> Tensor:
    """:func:`sample` in one-hot form: exact 0.0/1.0 in the dtype and shape of ``logits``.

    Not differentiable; use ``gumbel_softmax(..., hard=True)`` for gradients.
    """
    index = sample(logits, dim, generator=generator)
    dim = dim % logits.ndim
    return one_hot_like(index.unsqueeze(dim), logits, dim)

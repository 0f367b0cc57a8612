"""Sampling ``k`` categories without replacement: the Gumbel-top-k trick.

Perturb the logits with independent standard Gumbel noise and keep the ``k`` largest:

.. math:: (I_1, \\dots, I_k) = \\operatorname{top-}k\\,(\\ell + G), \\qquad G_i \\sim \\mathrm{Gumbel}(0, 1),

in decreasing order of ``l + G``. ``I_1`` is a Gumbel-max sample, and the whole tuple is a draw of ``k``
categories one after another without replacement, each from the softmax of the categories still left
(the Plackett-Luce law):

.. math:: P(I_1 = i_1, \\dots, I_k = i_k) = \\prod_{j=1}^{k} \\frac{p_{i_j}}{1 - \\sum_{l<j} p_{i_l}},
          \\qquad p = \\mathrm{softmax}(\\ell).

Yellott (1977), "The relationship between Luce's choice axiom, Thurstone's theory of comparative judgment,
and the double exponential distribution", J. Math. Psychology 15; Kool, van Hoof, Welling (ICML 2019),
"Stochastic Beams and Where to Find Them: The Gumbel-Top-k Trick for Sampling Sequences Without
Replacement", Sec. 2. One noise draw and one ``topk``; no loop over the ``k`` draws.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gumbel_softmax.functional import perturbed_logits
from gumbel_softmax.validation import check_logits, check_sample_size

__all__ = ["sample_without_replacement"]


def sample_without_replacement(
    logits: Tensor, k: int, dim: int = -1, *, generator: torch.Generator | None = None
) -> Tensor:
    """``k`` distinct categories per row, drawn one after another without replacement.

    **Arguments:** ``logits`` and ``dim`` as in :func:`gumbel_softmax.sample`; ``k``, an int from 1 to the
    number of categories. ``-inf`` categories are never drawn, so every row needs at least ``k`` finite
    logits (a ``ValueError`` says which rows have fewer, while validation is on).

    **Returns:** int64 indices, the shape of ``logits`` with size ``k`` along ``dim``; position ``j`` holds
    the ``j``-th draw. ``k = 1`` is :func:`gumbel_softmax.sample` with ``dim`` kept. For a k-hot mask
    (a random subset of size ``k``) scatter ones: ``torch.zeros_like(logits).scatter_(dim, index, 1.0)``.
    Not differentiable.

    >>> g = torch.Generator().manual_seed(0)
    >>> index = sample_without_replacement(torch.tensor([[0.0, 1.0, float("-inf"), 2.0]]), k=3, generator=g)
    >>> sorted(index[0].tolist())
    [0, 1, 3]
    """
    dim = check_logits(logits, dim)
    check_sample_size(logits, k, dim)
    if logits.numel() == 0:
        return torch.empty(logits.shape[:dim] + (k,) + logits.shape[dim + 1 :], dtype=torch.int64, device=logits.device)
    return perturbed_logits(logits, generator).topk(k, dim, sorted=True).indices

"""The DARN estimator: REINFORCE with a Taylor-expansion learning signal around the centre.

Gregor, Danihelka, Mnih, Blundell, Wierstra, "Deep AutoRegressive Networks", ICML 2014,
Section 4; written as MuProp's special case by Gu et al. (2016, Section 5): the learning
signal is the first-order expansion of ``f`` at the *sample* ``z``, taken towards the
fixed point ``bar z`` (``1/2`` for Bernoulli units; the centre of the simplex, ``1/K`` on
unmasked categories, for categorical ones), and the correction term is dropped:

.. math:: \\hat g = f'(z)^T (z - \\bar z)\\, \\nabla_l \\log p(z).

Exact when ``f`` is linear, biased otherwise (Jang et al. 2017 list it as "DARN" in
Table 1). Needs ``f`` differentiable in its input; the two-class form of a Bernoulli
variable gives exactly ``f'(b) (b - 1/2) grad log p(b)``.
"""

from __future__ import annotations

import torch

from gumbel_softmax.estimators.base import Estimator, draw, input_gradient, score_term, sum_to

__all__ = ["DARN"]


class DARN(Estimator):
    """The DARN estimator (Gregor et al. 2014)."""

    name = "darn"
    family = "score_function"

    def estimate(self, logits, f, tau, generator, baseline):
        index, z = draw(logits, generator)
        loss = f(z)
        _, slope = input_gradient(f, z)
        unmasked = torch.isfinite(logits.detach()).to(z.dtype)
        centre = unmasked / unmasked.sum(-1, keepdim=True)
        signal = sum_to(slope * (z - centre), loss.ndim)
        return loss + score_term(signal, logits, index), loss, z

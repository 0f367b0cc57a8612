"""MuProp: REINFORCE with a first-order Taylor control variate around the mean-field point.

Gu, Levine, Sutskever, Mnih, "MuProp: Unbiased Backpropagation for Stochastic Neural
Networks", ICLR 2016, eq. (4)-(5). With the mean-field point `mu = E[z] = softmax(l)`
and the linearization `h(z) = f(mu) + f'(mu)^T (z - mu)` (whose expectation is
`f(mu)`, with gradient `f'(mu)^T dmu/dl`):

```text
\\hat g = \\big(f(z) - f(\\mu) - f'(\\mu)^T (z - \\mu)\\big)\\, \\nabla_l \\log p(z)
+ f'(\\mu)^T \\nabla_l \\mu .
```

Unbiased for any differentiable `f`: the control variate's mean is added back exactly.
`f` is evaluated once more at `mu` (a relaxed input), so it must accept points of the
simplex (any decoder does). `f'(mu)` is taken with respect to the input only; `f`'s
parameters get their gradient from `f(z)` alone. In a network of several stochastic layers
`f(mu)` is the forward pass of the mean-field network, in which every lower layer passes
its mean on (the "mean-field propagation" of MuProp's name); the SBN of
`gumbel_softmax.experiments` does so when an estimator sets `mean_field`.
"""

from __future__ import annotations

import torch

from gumbel_softmax.estimators.base import Estimator, draw, input_gradient, linear_in, score_term, sum_to

__all__ = ["MuProp"]


class MuProp(Estimator):
    """The MuProp estimator (Gu et al. 2016)."""

    name = "muprop"
    family = "score_function"
    mean_field = True

    def estimate(self, logits, f, tau, generator, baseline):
        mean = torch.softmax(logits, -1)
        f_mean, slope = input_gradient(f, mean.detach())
        index, z = draw(logits, generator)
        loss = f(z)
        signal = loss.detach() - f_mean - sum_to(slope * (z - mean.detach()), loss.ndim)
        surrogate = loss + score_term(signal, logits, index) + linear_in(mean, slope, loss.ndim)
        return surrogate, loss, z

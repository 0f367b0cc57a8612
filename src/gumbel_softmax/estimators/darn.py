"""The DARN estimator: REINFORCE with a Taylor-expansion learning signal around the centre.

Gregor, Danihelka, Mnih, Blundell, Wierstra, "Deep AutoRegressive Networks", ICML 2014;
defined as we use it by Gu, Levine, Sutskever, Mnih, "MuProp", ICLR 2016, Section 4.2
(their "1/2" estimator): the baseline is the first-order expansion of `f` at the
*sample* `z`, evaluated at a fixed point `bar z`, so `f(z)` cancels and the learning
signal is the Taylor term alone (their Eq. 5). The expansion point is `1/2` for Bernoulli
units and the centre of the simplex, `1/K` on unmasked categories, for categorical ones
(their Eq. 7, with `bar z = 1/K` as in their Section 5.2).

Every variable is treated "as the sole unit" (Gu et al., Section 4.2): variable `v`'s
logits get their own signal, its own slice of the Taylor term,

```text
\\hat g_v = f'_v(z)^T (z_v - \\bar z)\\, \\nabla_{l_v} \\log p(z_v),
```

not the whole vector's `f'(z)^T (z - bar z)` (that global form is exact for linear `f`
too, but every variable's gradient then carries the noise of all the others' terms). For a
Bernoulli unit `b` with `p = sigmoid(l)` this is Gu et al.'s Eq. 6: the gradient for
`l` is `f'(b) (b (1 - p) + (1 - b) p) / 2`. Exact when `f` is linear, biased
otherwise (Jang et al. 2017 list it as "DARN" in Table 1; Gu et al. note it is biased for
non-quadratic `f`). Needs `f` differentiable in its input. In a network of several
stochastic layers the slope `f'` of an upper layer is backpropagated through the lower
layers' DARN surrogates, which is how Gu et al. apply it to multi-layer models.

`f` is called once, on the sample with `requires_grad`: `f'(z)` comes from the same
forward pass that gives the loss (so dropout masks or batch statistics are shared).
"""

from __future__ import annotations

import torch

from gumbel_softmax.estimators.base import Estimator, draw, score_term, sum_to

__all__ = ["DARN"]


class DARN(Estimator):
    """The DARN estimator (Gregor et al. 2014)."""

    name = "darn"
    family = "score_function"

    def estimate(self, logits, f, tau, generator, baseline):
        index, z = draw(logits, generator)
        loss = f(z.requires_grad_())
        slope = None
        if loss.requires_grad:
            (slope,) = torch.autograd.grad(loss.sum(), z, retain_graph=True, allow_unused=True)
        slope, z = torch.zeros_like(z) if slope is None else slope, z.detach()
        unmasked = torch.isfinite(logits.detach()).to(z.dtype)
        centre = unmasked / unmasked.sum(-1, keepdim=True)
        signal = (slope * (z - centre)).sum(-1)  # one signal per variable: Gu et al.'s Eq. 6 / 7
        return loss + sum_to(score_term(signal, logits, index), loss.ndim), loss, z

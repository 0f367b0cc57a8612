"""DisARM: an antithetic, unbiased gradient estimator for binary variables.

Dong, Mnih, Tucker, "DisARM: An Antithetic Gradient Estimator for Binary Latent
Variables", NeurIPS 2020, eq. (6), applied coordinate-wise to independent Bernoulli
variables as in their Section 3.2. For `b_i ~ Bernoulli(sigmoid(alpha_i))` drawn from
uniforms `u_i` as `b_i = 1[u_i < sigmoid(alpha_i)]`, the antithetic sample is
`\\tilde b_i = 1[1 - u_i < sigmoid(alpha_i)]`, and

```text
\\hat g_i = \\tfrac12 \\big(f(b) - f(\\tilde b)\\big)\\,
(-1)^{\\tilde b_i}\\, \\mathbb{1}[b_i \\ne \\tilde b_i]\\, \\sigma(|\\alpha_i|).
```

It is ARM (Yin and Zhou 2019) with the continuous augmentation integrated out given the
two discrete samples, so it is unbiased and never has a larger variance than ARM. A
coordinate on which `b` and `\\tilde b` agree gets 0.

`f` is called twice, at `b` and at `\\tilde b`; both are exact Bernoulli samples, so the
surrogate's value (and the gradient `f`'s own parameters get) is the mean of the two,
and `sample` is `b`. The uniforms are drawn as logistic noise `L = G_1 - G_0` with
`u = sigmoid(-L)`, so `1 - u = sigmoid(L)`, `b = 1[alpha + L > 0]` (the sample every
other estimator of this library draws at the same generator state) and
`\\tilde b = 1[alpha - L > 0]`.

Binary variables only (`bernoulli=True`); the categorical extension (Dong, Mnih, Tucker
2021) is a different estimator, and a categorical call is refused.
"""

from __future__ import annotations

import torch

from gumbel_softmax.estimators.base import Estimator, expand_to, linear_in
from gumbel_softmax.noise import gumbel_noise

__all__ = ["DisARM"]


class DisARM(Estimator):
    """The DisARM estimator for Bernoulli variables (Dong et al. 2020).

    Attributes:
        samples: `f` is evaluated at 2 samples, `b` and its antithetic partner.
    """

    name = "disarm"
    family = "score_function"
    supports_categorical = False
    samples = 2

    def estimate(self, logits, f, tau, generator, baseline):
        alpha = logits[..., 1] - logits[..., 0]  # the two-class form (0, l) of Bernoulli logits l
        noise = gumbel_noise(logits.shape, dtype=logits.dtype, device=logits.device, generator=generator)
        logistic = noise[..., 1] - noise[..., 0]
        b = (alpha.detach() + logistic > 0).to(logits.dtype)
        antithetic = (alpha.detach() - logistic > 0).to(logits.dtype)
        losses = [f(torch.stack([1 - x, x], -1)) for x in (b, antithetic)]
        loss = (losses[0] + losses[1]) / 2
        half_difference = expand_to((losses[0] - losses[1]).detach() / 2, alpha)
        sign = 1 - 2 * antithetic  # (-1)^{b~}
        weight = sign * (b != antithetic) * torch.sigmoid(alpha.detach().abs())
        surrogate = loss + linear_in(alpha, half_difference * weight, loss.ndim)
        return surrogate, loss, torch.stack([1 - b, b], -1)

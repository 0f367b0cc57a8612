"""DisARM: an antithetic, unbiased gradient estimator, for binary and (stick-breaking) categorical variables.

**Binary** (Dong, Mnih, Tucker, "DisARM: An Antithetic Gradient Estimator for Binary Latent
Variables", NeurIPS 2020, eq. (6), coordinate-wise for independent Bernoulli variables as in
their Section 3.2). For `b_i ~ Bernoulli(sigmoid(alpha_i))` drawn from uniforms `u_i` as
`b_i = 1[u_i < sigmoid(alpha_i)]`, the antithetic sample is `\\tilde b_i = 1[1 - u_i < sigmoid(alpha_i)]`, and

```text
\\hat g_i = \\tfrac12 \\big(f(b) - f(\\tilde b)\\big)\\,
(-1)^{\\tilde b_i}\\, \\mathbb{1}[b_i \\ne \\tilde b_i]\\, \\sigma(|\\alpha_i|).
```

It is ARM (Yin and Zhou 2019) with the continuous augmentation integrated out given the two
discrete samples, so it is unbiased and never has a larger variance than ARM.

**Categorical** (Dong, Mnih, Tucker, "Coupled Gradient Estimators for Discrete Latent
Variables", NeurIPS 2021, the stick-breaking estimator; authors' code: google-research,
`grad_type='disarm'` with `stick_breaking=True`). A categorical `z` over `K` classes is written
as `K - 1` binary variables, `z = min{i : b_i = 1}` (with `b_{K-1} = 1`),
`b_i ~ Bernoulli(sigmoid(phi_i))` and the stick-breaking logits

```text
\\phi_i = l_i - \\log \\textstyle\\sum_{j > i} e^{l_j}, \\qquad
\\sigma(\\phi_i) = p_i / \\textstyle\\sum_{j \\ge i} p_j .
```

The pair `(z, \\tilde z)` comes from `u` and `1 - u` as above. Binary variable `i` is *used* by
`z` when `i <= z`. With `\\Delta = (f(z) - f(\\tilde z)) / 2`, the estimate for `phi_i` is

```text
\\hat g_{\\phi_i} =
  \\Delta\\, (-1)^{\\tilde b_i}\\, \\mathbb{1}[b_i \\ne \\tilde b_i]\\, \\sigma(|\\phi_i|)   if i <= min(z, \\tilde z)
  \\Delta\\, (b_i - \\sigma(\\phi_i))                                                      if \\tilde z < i <= z
  -\\Delta\\, (\\tilde b_i - \\sigma(\\phi_i))                                               if z < i <= \\tilde z
  0                                                                                  otherwise
```

(binary DisARM where both samples use `b_i`; REINFORCE with the other sample's `f` as baseline
where only one does: the Rao-Blackwellized stick-breaking estimator). Given `u_{<i}` the two
samples use `b_i` both or one or none: both gives the full DisARM gradient, one gives half the
REINFORCE gradient of that sample, none gives 0, which averages to the gradient of `E[f]`, so it
is unbiased for any logits. The gradient for `l` is `J^T \\hat g_\\phi` with
`\\partial \\phi_i / \\partial l_j = \\mathbb{1}[i = j] - \\mathbb{1}[j > i]\\, p_j / \\sum_{k > i} p_k`.
For `K = 2` this is exactly the binary estimator (`phi_0 = l_0 - l_1`), so one estimator
handles both. The categories are taken in the order given; the authors also try sorting them
by the logits (`logits_sorting_order`), which is not done here.

`f` is called twice, at `z` and at `\\tilde z`; both are exact samples, so the surrogate's value
(and the gradient `f`'s own parameters get) is the mean of the two, and `sample` is `z`. The
uniforms come as logistic noise `L_i = G_{i,1} - G_{i,0}` (two Gumbels per binary variable, drawn
as one `gumbel_noise` tensor of shape `logits.shape[:-1] + (K - 1, 2)`), `u_i = sigmoid(L_i)`:
`b_i = 1[L_i < phi_i]` and `\\tilde b_i = 1[-L_i < phi_i]`. For Bernoulli logits this draws
the sample that every other estimator of this library draws at the same generator state.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gumbel_softmax.estimators.base import Estimator, expand_to, linear_in, one_hot
from gumbel_softmax.noise import gumbel_noise

__all__ = ["DisARM", "stick_breaking_logits"]


def stick_breaking_logits(logits: Tensor) -> Tensor:
    """`phi_i = l_i - logsumexp_{j > i} l_j` for `i < K - 1` (categories last), detached.

    A masked category (`-inf`) gets `-inf` (never chosen); a category after which every one is
    masked gets `+inf` (always chosen once reached).
    """
    theta = logits.detach()
    tail = torch.logcumsumexp(theta.flip(-1), -1).flip(-1)[..., 1:]  # logsumexp over j > i
    phi = theta[..., :-1] - tail
    return torch.where(torch.isneginf(theta[..., :-1]), torch.full_like(phi, -torch.inf), phi)


def first_one(bits: Tensor) -> Tensor:
    """`min{i : bits_i}` over the last axis, `K - 1` (the length) where none is set."""
    padded = torch.cat([bits, torch.ones_like(bits[..., :1])], -1)
    return padded.to(torch.uint8).argmax(-1)


def to_category_logits(grad_phi: Tensor, logits: Tensor) -> Tensor:
    """`J^T grad_phi`: a gradient for the stick-breaking logits `phi` mapped to the logits `l`.

    `d phi_i / d l_j = [i = j] - [j > i] softmax(l_{>i})_j`; rows whose categories are all masked are 0.
    """
    theta = logits.detach()
    k = theta.shape[-1]
    later = torch.ones(k - 1, k, dtype=torch.bool, device=theta.device).triu(1)  # j > i
    masked = theta.unsqueeze(-2).masked_fill(~later, -torch.inf)  # [..., K-1, K]
    weights = torch.softmax(masked, -1).nan_to_num(0.0)
    spread = (grad_phi.unsqueeze(-1) * weights).sum(-2)
    return torch.cat([grad_phi, torch.zeros_like(grad_phi[..., :1])], -1) - spread


class DisARM(Estimator):
    """The DisARM estimator: Dong et al. 2020 for Bernoulli, the stick-breaking form of Dong et al. 2021.

    Attributes:
        samples: `f` is evaluated at 2 samples, `z` and its antithetic partner.
    """

    name = "disarm"
    family = "score_function"
    samples = 2

    def estimate(self, logits, f, tau, generator, baseline):
        phi = stick_breaking_logits(logits)
        noise = gumbel_noise(phi.shape + (2,), dtype=logits.dtype, device=logits.device, generator=generator)
        logistic = noise[..., 1] - noise[..., 0]
        bits = [logistic < phi, -logistic < phi]  # b and its antithetic partner b~
        index = [first_one(b) for b in bits]
        samples = [one_hot(i, logits) for i in index]
        losses = [f(z) for z in samples]
        loss = (losses[0] + losses[1]) / 2
        half = expand_to((losses[0] - losses[1]).detach() / 2, phi)
        position = torch.arange(phi.shape[-1], device=phi.device)
        used = [position <= i.unsqueeze(-1) for i in index]  # binary variable i is read by the sample
        b, anti = (x.to(phi.dtype) for x in bits)
        sign = 1 - 2 * anti  # (-1)^{b~}
        both = used[0] & used[1]
        disarm = both * sign * (b != anti) * torch.sigmoid(phi.abs())
        p = torch.sigmoid(phi)
        only = (used[0] & ~used[1]) * (b - p) - (used[1] & ~used[0]) * (anti - p)
        grad_phi = half * (disarm + only)
        surrogate = loss + linear_in(logits, to_category_logits(grad_phi, logits), loss.ndim)
        return surrogate, loss, samples[0]

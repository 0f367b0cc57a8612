"""IndeCateR: REINFORCE Rao-Blackwellized over each variable's categories (the CatLog-derivative trick).

De Smet, Sansone, Zuidberg Dos Martires, "Differentiable Sampling of Categorical Distributions Using
the CatLog-Derivative Trick", NeurIPS 2023, Sec. 4 (the estimator for independent variables). For
independent categorical variables `X_1, ..., X_V` with probabilities `p_d = softmax(l_d)`, the
gradient splits into one sum over the categories per variable,

```text
\\nabla_l \\mathbb{E}[f(X)] = \\sum_{d=1}^{V} \\mathbb{E}_{X}\\Big[\\sum_{k=1}^{K}
\\nabla_l\\, p_d(k)\\; f(X_{\\ne d}, X_d = k)\\Big],
```

and IndeCateR estimates the outer expectation with `N` samples `x^{(1..N)}`:

```text
\\hat g = \\frac{1}{N} \\sum_{n=1}^{N} \\sum_{d=1}^{V} \\sum_{k=1}^{K}
\\nabla_l\\, p_d(k)\\; f\\big(x^{(n)}_{\\ne d}, x^{(n)}_d = k\\big).
```

Unbiased. The sum over `k` is exact for each variable, and `sum_k grad p_d(k) = 0` makes it carry
its own baseline, so no control variate is needed. `f` is called `N (1 + V K)` times: at each sample
and at each sample with one variable set to one category (the authors' `indecater_grads` in
ML-KULeuven/catlog, `synthetic/jointcategorical.py`, builds the same `V x K x N` table of values
and differentiates `sum sg(value) * softmax(logits)`). A Bernoulli variable is a two-class one
(`K = 2`). Masked (`-inf`) categories have `p_d(k) = 0` and a zero gradient, so `f` is not used there.

The surrogate's value is the mean of `f` over the `N` samples, and `sample` is the first of them.
"""

from __future__ import annotations

import math

import torch

from gumbel_softmax.checks import check_sample_count
from gumbel_softmax.estimators.base import Estimator, draw, one_hot, sum_to, zero_valued

__all__ = ["IndeCateR"]


class IndeCateR(Estimator):
    """The IndeCateR estimator (De Smet et al. 2023) with `samples` draws.

    Args:
        samples: number of samples `N >= 1`; `f` is called `N (1 + V K)` times for `V` variables of
            `K` categories per example.
    """

    name = "indecater"
    family = "score_function"

    def __init__(self, samples: int = 1) -> None:
        self.samples = check_sample_count("IndeCateR", samples, 1)

    def estimate(self, logits, f, tau, generator, baseline):
        draws = [draw(logits, generator) for _ in range(self.samples)]
        losses = torch.stack([f(z) for _, z in draws])
        batch_ndim = losses.ndim - 1
        k = logits.shape[-1]
        variables = logits.shape[batch_ndim:-1]
        available = torch.isfinite(logits.detach())
        # values[..., d, k]: the mean over the draws of f with variable d set to category k
        values = torch.zeros(logits.shape[:batch_ndim] + (math.prod(variables), k), dtype=logits.dtype,
                             device=logits.device)  # fmt: skip
        for d in range(math.prod(variables)):
            position = (...,) + tuple(int(i) for i in torch.unravel_index(torch.tensor(d), variables))
            for category in range(k):
                if not bool(available[position + (category,)].any()):
                    continue
                total = torch.zeros_like(losses[0])
                for index, _ in draws:
                    changed = index.clone()
                    changed[position] = category
                    total = total + f(one_hot(changed, logits)).detach()
                values[..., d, category] = total / self.samples
        values = values.reshape(logits.shape).masked_fill(~available, 0.0)
        probs = torch.softmax(logits, -1)
        loss = losses.mean(0)
        return loss + zero_valued(sum_to(values * probs, batch_ndim)), loss, draws[0][1]

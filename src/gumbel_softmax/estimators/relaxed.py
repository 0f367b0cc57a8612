"""The Gumbel-Softmax estimators: soft (relaxed) and straight-through.

Jang, Gu, Poole, "Categorical Reparameterization with Gumbel-Softmax", ICLR 2017;
Maddison, Mnih, Teh, "The Concrete Distribution", ICLR 2017.

* `gumbel_softmax`: `f` sees `y = softmax((l + G) / tau)` and the gradient is the
  pathwise one, `dy/dl = (diag(y) - y y^T) / tau`; it is unbiased for the relaxed
  objective `E[f(y)]`, biased for `E[f(D)]`.
* `st_gumbel_softmax`: `f` sees `D = onehot(argmax(l + G))` and the backward pass
  is that of `y` with the same noise (Jang et al. 2017, Section 2.2).

Both are `gumbel_softmax.functional.gumbel_softmax` (`hard=False` / `True`);
this module only registers them as estimators. The Bernoulli form is the binary
Concrete `sigmoid((l + L) / tau)`, `L` logistic (see `.base`).
"""

from __future__ import annotations

from gumbel_softmax.estimators.base import PathwiseEstimator
from gumbel_softmax.functional import gumbel_softmax

__all__ = ["soft_estimator", "straight_through_gumbel_estimator"]


def soft_estimator() -> PathwiseEstimator:
    """The relaxed Gumbel-Softmax estimator (`f` sees the soft sample)."""
    return PathwiseEstimator("gumbel_softmax", gumbel_softmax, relaxed=True, hard=False)


def straight_through_gumbel_estimator() -> PathwiseEstimator:
    """Straight-through Gumbel-Softmax (`f` sees the exact one-hot sample)."""
    return PathwiseEstimator("st_gumbel_softmax", gumbel_softmax, relaxed=False, hard=True)

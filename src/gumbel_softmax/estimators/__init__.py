"""Gradient estimators for discrete variables behind one interface.

`names()` and `get(name, **options)` select an estimator by name (`.registry`);
every estimator is called as ``est(logits, f, tau=..., dim=..., bernoulli=..., generator=...,
baseline=...)`` (`.base`). The pathwise ones are also plain functions returning a
sample whose backward pass is the estimator: `straight_through`, `gumbel_rao`,
`reinmax`, `gapped_straight_through`, `zgr`, `decoupled_straight_through` (and
`gumbel_softmax.gumbel_softmax` for the Gumbel-Softmax pair).
`exact_gradient` computes `grad E[f(z)]` by enumeration on small problems.
"""

from gumbel_softmax.estimators._conditional_gumbel import conditional_gumbel as conditional_gumbel
from gumbel_softmax.estimators._conditional_gumbel import truncated_gumbel as truncated_gumbel
from gumbel_softmax.estimators._decoupled_straight_through import (
    decoupled_straight_through as decoupled_straight_through,
)
from gumbel_softmax.estimators._gapped_straight_through import gapped_straight_through as gapped_straight_through
from gumbel_softmax.estimators._gapped_straight_through import (
    gapped_straight_through_from_sample as gapped_straight_through_from_sample,
)
from gumbel_softmax.estimators._gumbel_rao import gumbel_rao as gumbel_rao
from gumbel_softmax.estimators._reinmax import reinmax as reinmax
from gumbel_softmax.estimators._reinmax import reinmax_from_sample as reinmax_from_sample
from gumbel_softmax.estimators._straight_through import straight_through as straight_through
from gumbel_softmax.estimators._zgr import zgr as zgr
from gumbel_softmax.estimators.base import Estimator as Estimator
from gumbel_softmax.estimators.base import EstimatorOutput as EstimatorOutput
from gumbel_softmax.estimators.exact import exact_gradient as exact_gradient
from gumbel_softmax.estimators.registry import get as get
from gumbel_softmax.estimators.registry import names as names

__all__ = [
    "Estimator",
    "EstimatorOutput",
    "conditional_gumbel",
    "decoupled_straight_through",
    "exact_gradient",
    "gapped_straight_through",
    "gapped_straight_through_from_sample",
    "get",
    "gumbel_rao",
    "names",
    "reinmax",
    "reinmax_from_sample",
    "straight_through",
    "truncated_gumbel",
    "zgr",
]

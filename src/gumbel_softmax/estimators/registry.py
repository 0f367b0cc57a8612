"""Every estimator by name: `names()` lists them, `get(name, **options)` builds a fresh one.

================== ============== ======= ================== ===================================================
name               family         relaxed variables          options (defaults)
================== ============== ======= ================== ===================================================
gumbel_softmax     pathwise       yes     both
st_gumbel_softmax  pathwise       no      both
straight_through   pathwise       no      both
gumbel_rao         pathwise       no      both               `k=10`
reinmax            pathwise       no      both
gst                pathwise       no      both               `gap=1.0` (GST-1.0; any number >= 0)
gst_p              pathwise       no      both
reinforce          score_function no      both
reinforce_ema      score_function no      both               `decay=0.9`
nvil               score_function no      both               `decay=0.9, normalize=False` (needs `baseline`)
rloo               score_function no      both               `samples=4`
muprop             score_function no      both
darn               score_function no      both
rebar              score_function no      both               `eta=1.0`
relax              score_function no      both               `hidden=32, lr=1e-3`
disarm             score_function no      both
zgr                pathwise       no      both               (no temperature: `tau` is ignored)
decoupled_st       pathwise       no      both               `forward_tau=1.0` (`tau` is the backward one)
indecater          score_function no      both               `samples=1`
unordered_set      score_function no      both               `samples=4` (2 to 8; joint over the variables)
arms               score_function no      binary only        `samples=4, copula="dirichlet"` (or `"gaussian"`)
double_cv          score_function no      binary only        `samples=4, alpha=0.0, lr=1e-3`
================== ============== ======= ================== ===================================================

"variables": "both" takes categorical logits and, with `bernoulli=True`, Bernoulli logits
(as two-class categoricals, see `.base`); "binary only" refuses `bernoulli=False` with a
`ValueError`. Unbiased for `E[f(z)]`: every score_function estimator except `darn`. `disarm` is
Dong et al. 2020 for Bernoulli logits and its stick-breaking extension (Dong et al. 2021) for
categorical ones, which equals it at `K = 2`.

`decoupled_st` (Shah et al. 2024) draws its sample from `softmax(logits / forward_tau)`, so only
`forward_tau=1` samples the model (see `._decoupled_straight_through` for where its form was
confirmed). `unordered_set` draws distinct *joint* configurations of each example's variables
(at most 100,000 of them per example; see `.unordered_set`). `indecater` calls `f`
`samples * (1 + V K)` times for `V` variables of `K` categories.
"""

from __future__ import annotations

from collections.abc import Callable

from gumbel_softmax.checks import check_positive_finite
from gumbel_softmax.estimators._decoupled_straight_through import decoupled_straight_through
from gumbel_softmax.estimators._gapped_straight_through import check_gap, gapped_straight_through
from gumbel_softmax.estimators._gumbel_rao import check_draws, gumbel_rao
from gumbel_softmax.estimators._reinmax import reinmax
from gumbel_softmax.estimators._straight_through import straight_through
from gumbel_softmax.estimators._zgr import zgr
from gumbel_softmax.estimators.arms import ARMS
from gumbel_softmax.estimators.base import Estimator, PathwiseEstimator
from gumbel_softmax.estimators.darn import DARN
from gumbel_softmax.estimators.disarm import DisARM
from gumbel_softmax.estimators.double_cv import DoubleCV
from gumbel_softmax.estimators.indecater import IndeCateR
from gumbel_softmax.estimators.muprop import MuProp
from gumbel_softmax.estimators.rebar import rebar, relax
from gumbel_softmax.estimators.reinforce import RLOO, Reinforce
from gumbel_softmax.estimators.relaxed import soft_estimator, straight_through_gumbel_estimator
from gumbel_softmax.estimators.unordered_set import UnorderedSet

__all__ = ["names", "get", "register"]

_FACTORIES: dict[str, Callable[..., Estimator]] = {}


def register(name: str, factory: Callable[..., Estimator]) -> None:
    """Add `factory(**options) -> Estimator` under `name` (replacing any previous one)."""
    _FACTORIES[name] = factory


def names() -> list[str]:
    """The registered estimator names, in registration order."""
    return list(_FACTORIES)


def get(name: str, **options) -> Estimator:
    """A fresh estimator `name` built with `options` (see the table in this module's docstring).

    Raises:
        ValueError: for an unknown name.
        TypeError: for an option the estimator does not take.
    """
    if name not in _FACTORIES:
        raise ValueError(f"unknown estimator {name!r}; choose one of {', '.join(names())}")
    try:
        return _FACTORIES[name](**options)
    except TypeError as error:
        raise TypeError(f"estimator {name!r} does not take options {sorted(options)}: {error}") from None


register("gumbel_softmax", soft_estimator)
register("st_gumbel_softmax", straight_through_gumbel_estimator)
register("straight_through", lambda: PathwiseEstimator("straight_through", straight_through))
register("gumbel_rao", lambda k=10: PathwiseEstimator("gumbel_rao", gumbel_rao, k=check_draws(k)))
register("reinmax", lambda: PathwiseEstimator("reinmax", reinmax))
register("gst", lambda gap=1.0: PathwiseEstimator("gst", gapped_straight_through, gap=check_gap(gap)))
register("gst_p", lambda: PathwiseEstimator("gst_p", gapped_straight_through, gap="p"))
register("reinforce", lambda: Reinforce("none"))
register("reinforce_ema", lambda decay=0.9: Reinforce("ema", decay=decay))
register("nvil", lambda decay=0.9, normalize=False: Reinforce("nvil", decay=decay, normalize=normalize))
register("rloo", lambda samples=4: RLOO(samples))
register("muprop", MuProp)
register("darn", DARN)
register("rebar", rebar)
register("relax", relax)
register("disarm", DisARM)
register(
    "zgr", lambda: PathwiseEstimator("zgr", lambda logits, tau, dim, generator: zgr(logits, dim, generator=generator))
)
register(
    "decoupled_st",
    lambda forward_tau=1.0: PathwiseEstimator(
        "decoupled_st", decoupled_straight_through, forward_tau=check_positive_finite("forward_tau", forward_tau)
    ),
)
register("indecater", IndeCateR)
register("unordered_set", UnorderedSet)
register("arms", lambda samples=4, copula="dirichlet": ARMS(samples, copula))
register("double_cv", lambda samples=4, alpha=0.0, lr=1e-3: DoubleCV(samples, alpha, lr))

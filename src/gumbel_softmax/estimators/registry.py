"""Every estimator by name: `names()` lists them, `get(name, **options)` builds a fresh one.

================== ============== ======= =========================================================
name               family         relaxed options (defaults)
================== ============== ======= =========================================================
gumbel_softmax     pathwise       yes
st_gumbel_softmax  pathwise       no
straight_through   pathwise       no
gumbel_rao         pathwise       no      `k=10`
reinmax            pathwise       no
reinforce          score_function no
reinforce_ema      score_function no      `decay=0.9`
nvil               score_function no      `decay=0.9, normalize=False` (needs `baseline`)
rloo               score_function no      `samples=4`
muprop             score_function no
darn               score_function no
rebar              score_function no      `eta=1.0`
relax              score_function no      `hidden=32, lr=1e-3`
================== ============== ======= =========================================================

Gapped straight-through (Fan et al. 2022) is not included: its construction could not
be confirmed from the paper here, and a guessed variant would not be the published one.
"""

from __future__ import annotations

from collections.abc import Callable

from gumbel_softmax.estimators._gumbel_rao import check_draws, gumbel_rao
from gumbel_softmax.estimators._reinmax import reinmax
from gumbel_softmax.estimators._straight_through import straight_through
from gumbel_softmax.estimators.base import Estimator, PathwiseEstimator
from gumbel_softmax.estimators.darn import DARN
from gumbel_softmax.estimators.muprop import MuProp
from gumbel_softmax.estimators.rebar import rebar, relax
from gumbel_softmax.estimators.reinforce import RLOO, Reinforce
from gumbel_softmax.estimators.relaxed import soft_estimator, straight_through_gumbel_estimator

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
register("reinforce", lambda: Reinforce("none"))
register("reinforce_ema", lambda decay=0.9: Reinforce("ema", decay=decay))
register("nvil", lambda decay=0.9, normalize=False: Reinforce("nvil", decay=decay, normalize=normalize))
register("rloo", lambda samples=4: RLOO(samples))
register("muprop", MuProp)
register("darn", DARN)
register("rebar", rebar)
register("relax", relax)

"""What each kind of bad input gets, for every public function and distribution: a named clear error, or a
correct value. Never a silent NaN, never an error from deep inside torch.

Each row is (public name, case, call, outcome). An outcome is either ``Raises(type, pattern)`` (the error and
the words of its message that say what to pass) or ``Value(check)`` (a correct result, with the property that
makes it correct). `test_every_public_name_has_rows` fails when a public name is added without rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

import gumbel_softmax as gs
from gumbel_softmax import anneal, distributions, estimators, structured
from gumbel_softmax.distributions import (
    BinaryConcrete,
    BinaryConcreteStraightThrough,
    Concrete,
    ConcreteStraightThrough,
    ExpConcrete,
    Gumbel,
    LogitBinaryConcrete,
)

INF, NAN = math.inf, math.nan


@dataclass(frozen=True)
class Raises:
    error: type[BaseException]
    match: str


@dataclass(frozen=True)
class Value:
    check: Callable[[object], bool]
    says: str


def finite(x) -> bool:
    return bool(torch.isfinite(torch.as_tensor(x)).all())


def is_nan(x) -> bool:
    return bool(torch.isnan(torch.as_tensor(x)).all())


FINITE = Value(finite, "finite")
NAN_OUT = Value(is_nan, "NaN, as the NaN input")
ONE_HOT = Value(lambda y: bool(((y == 0) | (y == 1)).all() and (y.sum(-1) == 1).all()), "one-hot rows")


def g() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def grad_of(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    x = x.clone().requires_grad_()
    (fn(x) * torch.arange(1.0, x.shape[-1] + 1)).sum().backward()
    return x.grad


def symmetric_scores(scale: float) -> torch.Tensor:
    """Four symmetric 6 x 6 matrices of edge scores of size about `scale`."""
    x = torch.randn(4, 6, 6, generator=g()) * scale
    return (x + x.mT) / 2


Z = torch.zeros(2, 3)
MASKED_ROW = torch.tensor([[0.0, 1.0], [-INF, -INF]])
WITH_NAN = torch.tensor([[0.0, NAN, 1.0]])
LINEAR = lambda z: (z * torch.tensor([1.0, 2.0, 3.0])).sum(-1)  # noqa: E731

ROWS: list[tuple[str, str, Callable[[], object], Raises | Value]] = [
    # the core functions
    ("gumbel_softmax", "NaN in logits", lambda: gs.gumbel_softmax(WITH_NAN), Raises(ValueError, "contain NaN")),
    ("gumbel_softmax", "+inf in logits", lambda: gs.gumbel_softmax(torch.tensor([[INF, 0.0]])),
     Raises(ValueError, r"contain \+inf")),
    ("gumbel_softmax", "a row entirely masked", lambda: gs.gumbel_softmax(MASKED_ROW),
     Raises(ValueError, "every category masked")),
    ("gumbel_softmax", "tau = 0", lambda: gs.gumbel_softmax(Z, tau=0.0), Raises(ValueError, "finite and > 0")),
    ("gumbel_softmax", "tau NaN", lambda: gs.gumbel_softmax(Z, tau=NAN), Raises(ValueError, "finite and > 0")),
    ("gumbel_softmax", "tau = inf", lambda: gs.gumbel_softmax(Z, tau=INF), Raises(ValueError, "finite and > 0")),
    ("gumbel_softmax", "tau a string", lambda: gs.gumbel_softmax(Z, tau="1"), Raises(TypeError, "float or a tensor")),
    ("gumbel_softmax", "tau a bool", lambda: gs.gumbel_softmax(Z, tau=True), Raises(TypeError, "float or a tensor")),
    ("gumbel_softmax", "tau a NumPy float32", lambda: gs.gumbel_softmax(Z, tau=np.float32(0.5), generator=g()),
     Value(lambda y: torch.allclose(y.sum(-1), torch.ones(2)), "rows on the simplex")),
    ("gumbel_softmax", "tau tensor with a zero", lambda: gs.gumbel_softmax(Z, tau=torch.tensor([[0.0], [1.0]])),
     Raises(ValueError, "finite and > 0 everywhere")),
    ("gumbel_softmax", "tau tensor too large a shape", lambda: gs.gumbel_softmax(Z, tau=torch.ones(4, 1)),
     Raises(ValueError, "does not broadcast")),
    ("gumbel_softmax", "tau varying along the categories (shape [K])",
     lambda: gs.gumbel_softmax(torch.zeros(3, 3), tau=torch.tensor([0.5, 1.0, 2.0])),
     Raises(ValueError, "one value per row")),
    ("gumbel_softmax", "per-row tau [B, 1]",
     lambda: gs.gumbel_softmax(torch.zeros(3, 3), tau=torch.tensor([[0.5], [1.0], [2.0]]), generator=g()),
     Value(lambda y: torch.allclose(y.sum(-1), torch.ones(3)), "rows on the simplex")),
    ("gumbel_softmax", "tau = 1e-45", lambda: gs.gumbel_softmax(Z, tau=1e-45, generator=g()), ONE_HOT),
    ("gumbel_softmax", "tau = 1e-45, gradient",
     lambda: grad_of(lambda x: gs.gumbel_softmax(x, tau=1e-45, generator=g()), Z), FINITE),
    ("gumbel_softmax", "logits 3e38 at tau 0.5", lambda: gs.gumbel_softmax(torch.tensor([[3e38, 0.0]]), 0.5,
                                                                            generator=g()), ONE_HOT),
    ("gumbel_softmax", "logits 3e38 at tau 0.5, gradient",
     lambda: grad_of(lambda x: gs.gumbel_softmax(x, 0.5, generator=g()), torch.tensor([[3e38, 0.0]])), FINITE),
    ("gumbel_softmax", "logits 1e30 at tau 1e-9", lambda: gs.gumbel_softmax(torch.tensor([[1e30, 0.0, 1.0]]), 1e-9,
                                                                             generator=g()), ONE_HOT),
    ("gumbel_softmax", "integer logits", lambda: gs.gumbel_softmax(torch.zeros(2, 3, dtype=torch.long)),
     Raises(TypeError, r"floating tensor .* convert with")),
    ("gumbel_softmax", "a list for logits", lambda: gs.gumbel_softmax([[0.0, 1.0]]), Raises(TypeError, "torch.Tensor")),
    ("gumbel_softmax", "dim out of range", lambda: gs.gumbel_softmax(Z, dim=2),
     Raises(gs.DimensionError, "use a value")),
    ("gumbel_softmax", "a 0-d tensor", lambda: gs.gumbel_softmax(torch.tensor(1.0)),
     Raises(gs.DimensionError, "at least one dimension")),
    ("gumbel_softmax", "an int generator", lambda: gs.gumbel_softmax(Z, generator=3),
     Raises(TypeError, r"torch.Generator\(\).manual_seed")),
    ("gumbel_softmax", "a NumPy generator", lambda: gs.gumbel_softmax(Z, generator=np.random.default_rng(0)),
     Raises(TypeError, "torch.Generator")),
    ("gumbel_softmax", "an empty batch", lambda: gs.gumbel_softmax(torch.zeros(0, 3)),
     Value(lambda y: y.shape == (0, 3), "an empty result")),
    ("gumbel_softmax", "meta tensors, validation on", lambda: gs.gumbel_softmax(torch.zeros(2, 3, device="meta")),
     Value(lambda y: y.shape == (2, 3) and y.device.type == "meta", "a meta tensor of the shape")),
    ("gumbel_softmax_from_noise", "NaN noise", lambda: gs.gumbel_softmax_from_noise(Z, torch.full((2, 3), NAN)),
     Raises(ValueError, "gumbels contain NaN")),
    ("gumbel_softmax_from_noise", "noise of another shape", lambda: gs.gumbel_softmax_from_noise(Z, torch.zeros(4, 3)),
     Raises(ValueError, "do not broadcast")),
    ("gumbel_softmax_from_noise", "noise not a tensor", lambda: gs.gumbel_softmax_from_noise(Z, 0.5),
     Raises(TypeError, "floating tensor")),
    ("sample", "a row entirely masked", lambda: gs.sample(MASKED_ROW), Raises(ValueError, "every category masked")),
    ("sample", "a NumPy generator", lambda: gs.sample(Z, generator=np.random.default_rng(0)),
     Raises(TypeError, "torch.Generator")),
    ("sample", "zero categories", lambda: gs.sample(torch.zeros(2, 0)), Raises(ValueError, "0 categories")),
    ("sample_one_hot", "NaN in logits", lambda: gs.sample_one_hot(WITH_NAN), Raises(ValueError, "contain NaN")),
    ("sample_without_replacement", "k too large", lambda: gs.sample_without_replacement(Z, k=4),
     Raises(ValueError, "use 1 <= k <= 3")),
    ("sample_without_replacement", "k a float", lambda: gs.sample_without_replacement(Z, k=1.5),
     Raises(TypeError, "k must be an int")),
    ("sample_without_replacement", "fewer unmasked than k",
     lambda: gs.sample_without_replacement(torch.tensor([[0.0, -INF, 1.0]]), k=3),
     Raises(ValueError, "fewer than k=3 unmasked")),
    ("gumbel_softmax_top_k", "tau = 0", lambda: gs.gumbel_softmax_top_k(Z, k=2, tau=0.0),
     Raises(ValueError, "finite and > 0")),
    ("gumbel_softmax_top_k", "k = 0", lambda: gs.gumbel_softmax_top_k(Z, k=0), Raises(ValueError, "use 1 <= k")),
    ("gumbel_noise", "an int generator", lambda: gs.gumbel_noise((2,), generator=3),
     Raises(TypeError, "torch.Generator")),
    ("gumbel_noise", "an integer dtype", lambda: gs.gumbel_noise((2,), dtype=torch.long),
     Raises(TypeError, "floating dtype")),
    ("gumbel_like", "an int generator", lambda: gs.gumbel_like(Z, generator=3), Raises(TypeError, "torch.Generator")),
    ("noise_range", "float16", lambda: gs.noise_range(torch.float16), Value(finite, "finite ends")),
    ("set_backend", "an unknown name", lambda: gs.set_backend("cuda"), Raises(ValueError, "must be one of")),
    ("use_backend", "an unknown name", lambda: gs.use_backend("gpu").__enter__(), Raises(ValueError, "must be one of")),
    ("get_backend", "no argument", gs.get_backend, Value(lambda b: b in ("auto", "torch", "triton"), "a backend")),
    ("set_validation", "a truthy value", lambda: gs.set_validation(1), Value(lambda r: r is None, "accepted")),
    ("validation", "nested blocks", lambda: gs.validation(False).__enter__(), Value(lambda r: r is None, "accepted")),
    ("validation_enabled", "no argument", gs.validation_enabled, Value(lambda r: isinstance(r, bool), "a bool")),
    ("DimensionError", "is a ValueError and an IndexError",
     lambda: issubclass(gs.DimensionError, ValueError) and issubclass(gs.DimensionError, IndexError),
     Value(lambda r: r is True, "both")),
    # distributions
    ("Concrete", "tau 1e-40", lambda: Concrete(1e-40, logits=torch.zeros(3)).rsample(generator=g()), FINITE),
    ("Concrete", "a batch-shaped temperature [B], as torch.distributions",
     lambda: Concrete(torch.tensor([0.5, 1.0, 2.0]), logits=torch.zeros(3, 4)).temperature,
     Value(lambda t: t.tolist() == [0.5, 1.0, 2.0], "one temperature per row")),
    ("Concrete", "a temperature that fits no batch shape",
     lambda: Concrete(torch.ones(4), logits=torch.zeros(3, 4)), Raises(ValueError, "one value per batch element")),
    ("Concrete", "zero categories", lambda: Concrete(0.5, logits=torch.zeros(3, 0)),
     Raises(ValueError, "at least one category")),
    ("Concrete", "zero rows", lambda: Concrete(0.5, logits=torch.zeros(0, 3)).rsample(generator=g()),
     Value(lambda x: x.shape == (0, 3), "an empty sample")),
    ("Concrete", "mass on a masked category", lambda: Concrete(0.5, logits=torch.tensor([0.0, 0.0, -INF]))
     .log_prob(torch.tensor([0.0, 0.0, 1.0])), Value(lambda v: float(v) == -INF, "-inf (outside the support)")),
    ("Concrete", "a NaN value, validation off", lambda: Concrete(0.5, logits=torch.zeros(2), validate_args=False)
     .log_prob(torch.tensor([NAN, 0.5])), NAN_OUT),
    ("Concrete", "a NaN value, validation on", lambda: Concrete(0.5, logits=torch.zeros(2))
     .log_prob(torch.tensor([NAN, 0.5])), Raises(ValueError, "within the support")),
    ("Concrete", "both probs and logits", lambda: Concrete(0.5, probs=torch.ones(2) / 2, logits=torch.zeros(2)),
     Raises(ValueError, "exactly one of")),
    ("Concrete", "temperature 0", lambda: Concrete(0.0, logits=torch.zeros(2)), Raises(ValueError, "finite and > 0")),
    ("Concrete", "temperature a string", lambda: Concrete("1", logits=torch.zeros(2)),
     Raises(TypeError, "float or a tensor")),
    ("ExpConcrete", "tau 1e-40", lambda: ExpConcrete(1e-40, logits=torch.zeros(3)).rsample(generator=g()),
     Value(lambda y: not bool(torch.isnan(y).any()), "no NaN")),
    ("ExpConcrete", "one unmasked category", lambda: (lambda d: d.log_prob(d.rsample(generator=g())))(
        ExpConcrete(0.5, logits=torch.tensor([0.0, -INF, -INF]))), Value(lambda v: not is_nan(v), "not NaN")),
    ("ExpConcrete", "zero categories", lambda: ExpConcrete(0.5, logits=torch.zeros(3, 0)),
     Raises(ValueError, "at least one category")),
    ("BinaryConcrete", "Python float probs", lambda: BinaryConcrete(0.5, 0.3).rsample(generator=g()),
     Value(lambda x: 0 < float(x) < 1, "a value in (0, 1)")),
    ("BinaryConcrete", "a NaN value, validation off",
     lambda: BinaryConcrete(0.5, logits=torch.zeros(1), validate_args=False).log_prob(torch.tensor([NAN])), NAN_OUT),
    ("BinaryConcrete", "infinite logits", lambda: BinaryConcrete(0.5, logits=torch.tensor([INF])),
     Raises(ValueError, "must give finite logits")),
    ("LogitBinaryConcrete", "logits 3e38 at tau 0.1",
     lambda: LogitBinaryConcrete(0.1, logits=torch.tensor([3e38])).rsample(generator=g()), FINITE),
    ("ConcreteStraightThrough", "a NaN value, validation off",
     lambda: ConcreteStraightThrough(0.5, logits=torch.zeros(2), validate_args=False)
     .log_prob(torch.tensor([NAN, 1.0])), NAN_OUT),
    ("BinaryConcreteStraightThrough", "a NaN value, validation off",
     lambda: BinaryConcreteStraightThrough(0.5, logits=torch.zeros(1), validate_args=False)
     .log_prob(torch.tensor([NAN])), NAN_OUT),
    ("Gumbel", "log_prob(-inf)", lambda: Gumbel(0.0, 1.0).log_prob(torch.tensor(-INF)),
     Value(lambda v: float(v) == -INF, "-inf")),
    ("Gumbel", "cdf of a Python float, validation off", lambda: Gumbel(0.0, 1.0, validate_args=False).cdf(20.0),
     Value(lambda v: abs(float(v) - math.exp(-math.exp(-20.0))) < 1e-7, "the cdf")),
    ("Gumbel", "log_prob of a Python float, validation off",
     lambda: Gumbel(0.0, 1.0, validate_args=False).log_prob(20.0), FINITE),
    ("Gumbel", "scale 0", lambda: Gumbel(0.0, 0.0), Raises(ValueError, "constraint GreaterThan")),
    # estimators
    ("get", "an unknown name", lambda: estimators.get("gumbel"), Raises(ValueError, "choose one of")),
    ("names", "no argument", estimators.names, Value(lambda n: "reinmax" in n and len(n) >= 13, "the names")),
    ("Estimator", "rebar with a masked category: the surrogate equals f",
     lambda: estimators.get("rebar")(torch.tensor([[0.0, 1.0, -INF]], requires_grad=True), LINEAR,
                                     generator=g()).surrogate, FINITE),
    ("Estimator", "relax with a masked category: the surrogate equals f",
     lambda: estimators.get("relax")(torch.tensor([[0.0, 1.0, -INF]], requires_grad=True), LINEAR,
                                     generator=g()).surrogate, FINITE),
    ("Estimator", "nvil without a baseline", lambda: estimators.get("nvil")(Z, LINEAR),
     Raises(ValueError, "needs baseline=")),
    ("Estimator", "nvil with a wrong-shaped baseline",
     lambda: estimators.get("nvil")(Z.requires_grad_(), LINEAR, baseline=torch.zeros(5)),
     Raises(ValueError, "one prediction per example")),
    ("Estimator", "a baseline given to a pathwise estimator",
     lambda: estimators.get("reinmax")(Z, LINEAR, baseline=torch.zeros(2)), Raises(ValueError, "does not use")),
    ("EstimatorOutput", "its fields", lambda: estimators.EstimatorOutput(Z, Z, Z).loss.shape,
     Value(lambda s: s == (2, 3), "the given tensors")),
    ("straight_through", "tau = 0", lambda: estimators.straight_through(Z, 0.0), Raises(ValueError, "finite and > 0")),
    ("reinmax", "NaN logits", lambda: estimators.reinmax(WITH_NAN), Raises(ValueError, "contain NaN")),
    ("reinmax_from_sample", "a sample of another shape",
     lambda: estimators.reinmax_from_sample(Z, torch.zeros(3, 3)), Raises(ValueError, "shaped like logits")),
    ("gapped_straight_through", "a negative gap", lambda: estimators.gapped_straight_through(Z, gap=-1.0),
     Raises(ValueError, "gap must be finite and >= 0")),
    ("gapped_straight_through", "an unknown gap name", lambda: estimators.gapped_straight_through(Z, gap="q"),
     Raises(ValueError, "or 'p' \\(GST-p\\)")),
    ("gapped_straight_through_from_sample", "a sample of another shape",
     lambda: estimators.gapped_straight_through_from_sample(Z, torch.zeros(3, 3)),
     Raises(ValueError, "shaped like logits")),
    ("Estimator", "arms on categorical logits", lambda: estimators.get("arms")(Z, LINEAR),
     Raises(ValueError, "binary variables only; pass Bernoulli logits with bernoulli=True")),
    ("Estimator", "double_cv on categorical logits", lambda: estimators.get("double_cv")(Z, LINEAR),
     Raises(ValueError, "binary variables only; pass Bernoulli logits with bernoulli=True")),
    ("gumbel_rao", "zero draws", lambda: estimators.gumbel_rao(Z, 0.5, 0), Raises(ValueError, "int >= 1")),
    ("conditional_gumbel", "an index out of range",
     lambda: estimators.conditional_gumbel(Z, torch.tensor([5, 0])), Raises(ValueError, r"in \[0, 2\]")),
    ("conditional_gumbel", "a masked index",
     lambda: estimators.conditional_gumbel(torch.tensor([[0.0, -INF]]), torch.tensor([1])),
     Raises(ValueError, "masked")),
    ("conditional_gumbel", "an index of the wrong shape",
     lambda: estimators.conditional_gumbel(Z, torch.tensor([0])), Raises(ValueError, "one category per row")),
    ("truncated_gumbel", "finite inputs", lambda: estimators.truncated_gumbel(torch.zeros(3), torch.ones(3),
                                                                              generator=g()), FINITE),
    ("zgr", "NaN logits", lambda: estimators.zgr(WITH_NAN), Raises(ValueError, "contain NaN")),
    ("zgr", "a fully masked row", lambda: estimators.zgr(torch.tensor([[-INF, -INF]])),
     Raises(ValueError, "masked")),
    ("decoupled_straight_through", "forward_tau = 0",
     lambda: estimators.decoupled_straight_through(Z, 1.0, forward_tau=0.0),
     Raises(ValueError, "forward_tau must be finite and > 0")),
    ("decoupled_straight_through", "backward tau = -1", lambda: estimators.decoupled_straight_through(Z, -1.0),
     Raises(ValueError, "finite and > 0")),
    ("get", "decoupled_st with forward_tau = inf", lambda: estimators.get("decoupled_st", forward_tau=INF),
     Raises(ValueError, "forward_tau must be finite and > 0")),
    ("get", "indecater with zero samples", lambda: estimators.get("indecater", samples=0),
     Raises(ValueError, "samples >= 1")),
    ("get", "unordered_set with one sample", lambda: estimators.get("unordered_set", samples=1),
     Raises(ValueError, "from 2 to 8")),
    ("Estimator", "unordered_set with more samples than configurations",
     lambda: estimators.get("unordered_set", samples=4)(torch.zeros(2, 3, requires_grad=True), LINEAR,
                                                        generator=g()),
     Raises(ValueError, "only 3 of positive probability")),
    ("Estimator", "unordered_set over too many joint configurations",
     lambda: estimators.get("unordered_set")(torch.zeros(2, 6, 10, requires_grad=True),
                                             lambda z: z.sum((-1, -2)), generator=g()),
     Raises(ValueError, "10\\^6 is more than 100000")),
    ("exact_gradient", "too many configurations", lambda: estimators.exact_gradient(torch.zeros(30, 10), LINEAR),
     Raises(ValueError, "configurations to enumerate")),
    # structured
    ("sinkhorn", "a non-square matrix", lambda: structured.sinkhorn(torch.zeros(2, 3)),
     Raises(ValueError, r"square matrices, shape \[..., n, n\]")),
    ("sinkhorn", "NaN scores", lambda: structured.sinkhorn(torch.tensor([[0.0, NAN], [0.0, 0.0]])),
     Raises(ValueError, "contain NaN")),
    ("sinkhorn", "a column entirely -inf", lambda: structured.sinkhorn(torch.tensor([[0.0, -INF], [0.0, -INF]])),
     Raises(ValueError, "column with every entry -inf")),
    ("sinkhorn", "n_iters = 0", lambda: structured.sinkhorn(torch.zeros(3, 3), n_iters=0),
     Raises(ValueError, "int >= 1")),
    ("sinkhorn", "tau varying within a matrix",
     lambda: structured.sinkhorn(torch.zeros(2, 3, 3), tau=torch.ones(2, 3, 1)),
     Raises(ValueError, "one value per row")),
    ("sinkhorn", "tau = 1e-30 and scores 1e30", lambda: structured.sinkhorn(torch.tensor([[1e30, 0.0], [0.0, 1.0]]),
                                                                         tau=1e-30), FINITE),
    ("gumbel_sinkhorn", "tau = 0", lambda: structured.gumbel_sinkhorn(torch.zeros(3, 3), tau=0.0),
     Raises(ValueError, "finite and > 0")),
    ("gumbel_sinkhorn", "a negative noise factor",
     lambda: structured.gumbel_sinkhorn(torch.zeros(3, 3), noise_factor=-1.0),
     Raises(ValueError, "noise_factor must be finite and >= 0")),
    ("gumbel_sinkhorn", "an int generator", lambda: structured.gumbel_sinkhorn(torch.zeros(3, 3), generator=3),
     Raises(TypeError, r"torch.Generator\(\).manual_seed")),
    ("gumbel_sinkhorn", "tau = 0.01 in float32, hard", lambda: structured.gumbel_sinkhorn(
        torch.randn(4, 5, 5, generator=g()), tau=0.01, hard=True, generator=g()),
     Value(lambda y: bool((y.sum(-1) == 1).all() and (y.sum(-2) == 1).all()), "permutation matrices")),
    ("gumbel_sinkhorn", "an empty batch", lambda: structured.gumbel_sinkhorn(torch.zeros(0, 3, 3), hard=True),
     Value(lambda y: y.shape == (0, 3, 3), "an empty result")),
    ("best_permutation", "an unknown solver", lambda: structured.best_permutation(torch.zeros(3, 3), solver="lap"),
     Raises(ValueError, "one of 'auto', 'torch', 'scipy'")),
    ("best_permutation", "integer scores", lambda: structured.best_permutation(torch.zeros(3, 3, dtype=torch.long)),
     Raises(TypeError, "convert with")),
    ("best_permutation", "-inf entries, torch solver",
     lambda: structured.best_permutation(torch.tensor([[-INF, 0.0], [0.0, 5.0]]), solver="torch"),
     Value(lambda s: s.tolist() == [1, 0], "the matching that avoids them")),
    ("neural_sort", "-inf in scores", lambda: structured.neural_sort(torch.tensor([0.0, -INF])),
     Raises(ValueError, "scores must be finite")),
    ("neural_sort", "tau NaN", lambda: structured.neural_sort(torch.zeros(3), tau=NAN),
     Raises(ValueError, "finite and > 0")),
    ("k_subset_marginals", "k too large", lambda: structured.k_subset_marginals(Z, k=4),
     Raises(ValueError, "use 1 <= k <= 3")),
    ("k_subset_marginals", "fewer unmasked than k",
     lambda: structured.k_subset_marginals(torch.tensor([[0.0, -INF, 1.0]]), k=3),
     Raises(ValueError, "fewer than k=3 unmasked")),
    ("k_subset_marginals", "tau = 1e-30, logits 1e30",
     lambda: structured.k_subset_marginals(torch.tensor([[1e30, 0.0, -1e30], [1e30, 1e30, 0.0]]), k=2, tau=1e-30),
     Value(lambda y: torch.allclose(y, torch.tensor([[1.0, 1.0, 0.0]] * 2), atol=1e-20), "the top-k masks")),
    ("relaxed_k_subset", "k a float", lambda: structured.relaxed_k_subset(Z, k=1.5),
     Raises(TypeError, "k must be an int")),
    ("relaxed_k_subset", "tau a string", lambda: structured.relaxed_k_subset(Z, k=1, tau="1"),
     Raises(TypeError, "float or a tensor")),
    ("PlackettLuce", "-inf logits", lambda: structured.PlackettLuce(torch.tensor([0.0, -INF])),
     Raises(ValueError, "must be finite")),
    ("PlackettLuce", "zero items", lambda: structured.PlackettLuce(torch.zeros(2, 0)), Raises(ValueError, "n >= 1")),
    ("PlackettLuce", "integer logits", lambda: structured.PlackettLuce(torch.zeros(3, dtype=torch.long)),
     Raises(TypeError, "convert with")),
    ("PlackettLuce", "a value that is not an ordering",
     lambda: structured.PlackettLuce(torch.zeros(3), validate_args=True).log_prob(torch.tensor([0, 0, 2])),
     Raises(ValueError, "within the support")),
    ("PlackettLuce", "a NumPy generator", lambda: structured.PlackettLuce(torch.zeros(3)).sample(
        generator=np.random.default_rng(0)), Raises(TypeError, "torch.Generator")),
    ("RelaxedPlackettLuce", "temperature 0", lambda: structured.RelaxedPlackettLuce(0.0, torch.zeros(3)),
     Raises(ValueError, "finite and > 0")),
    ("RelaxedPlackettLuce", "temperature 1e-30", lambda: structured.RelaxedPlackettLuce(1e-30, torch.zeros(4))
     .rsample(generator=g()), FINITE),
    # structured: black-box solvers
    ("top_k_argmax", "k too large", lambda: structured.top_k_argmax(Z, k=4), Raises(ValueError, "use 1 <= k <= 3")),
    ("top_k_argmax", "-inf masks an item", lambda: structured.top_k_argmax(torch.tensor([5.0, -INF, 1.0]), k=2),
     Value(lambda y: y.tolist() == [1.0, 0.0, 1.0], "the unmasked items")),
    ("matching_argmax", "a non-square matrix", lambda: structured.matching_argmax(torch.zeros(2, 3)),
     Raises(ValueError, r"square matrices")),
    ("grid_path_argmax", "a vector, not a grid", lambda: structured.grid_path_argmax(torch.zeros(3)),
     Raises(ValueError, r"shape \[..., H, W\]")),
    ("grid_path_argmax", "an infinite cost", lambda: structured.grid_path_argmax(torch.tensor([[0.0, -INF]])),
     Raises(ValueError, "must be finite")),
    ("sum_of_gamma_noise", "k = 0", lambda: structured.sum_of_gamma_noise((3,), k=0), Raises(ValueError, "k must be")),
    ("sum_of_gamma_noise", "s = 0", lambda: structured.sum_of_gamma_noise((3,), s=0), Raises(ValueError, "s must be")),
    ("sum_of_gamma_noise", "an integer dtype", lambda: structured.sum_of_gamma_noise((3,), dtype=torch.long),
     Raises(TypeError, "floating dtype")),
    ("sum_of_gamma_noise", "k = 1000, float32", lambda: structured.sum_of_gamma_noise((100,), k=1000, generator=g()),
     FINITE),
    ("imle", "a solver that is not callable", lambda: structured.imle(Z, solver="top_k"),
     Raises(TypeError, "solver must be a callable")),
    ("imle", "a solver of the wrong shape", lambda: structured.imle(Z, lambda s: s.sum(-1)),
     Raises(ValueError, "in the shape of the scores")),
    ("imle", "lam = 0", lambda: structured.imle(Z, structured.matching_argmax, lam=0.0),
     Raises(ValueError, "lam must be finite and > 0")),
    ("imle", "an unknown noise", lambda: structured.imle(Z, structured.matching_argmax, noise="uniform"),
     Raises(ValueError, "noise must be one of")),
    ("imle", "samples = 0", lambda: structured.imle(Z, structured.matching_argmax, samples=0),
     Raises(ValueError, "imle needs samples >= 1")),
    ("imle", "NaN scores", lambda: structured.imle(WITH_NAN, structured.matching_argmax), Raises(ValueError, "NaN")),
    ("perturbed_argmax", "sigma = 0", lambda: structured.perturbed_argmax(Z, structured.top_k_argmax, sigma=0.0),
     Raises(ValueError, "sigma must be finite and > 0")),
    ("perturbed_argmax", "event_dims too large",
     lambda: structured.perturbed_argmax(Z, structured.matching_argmax, event_dims=3),
     Raises(ValueError, "event_dims must be an int from 1 to 2")),
    ("perturbed_argmax", "sigma = 0.01 in float32", lambda: grad_of(lambda x: structured.perturbed_argmax(
        x, lambda s: structured.top_k_argmax(s, 1), sigma=0.01, generator=g()), torch.randn(4, 3, generator=g())),
     FINITE),
    ("fenchel_young_loss", "an integer target",
     lambda: structured.fenchel_young_loss(Z, torch.zeros(2, 3, dtype=torch.long), structured.matching_argmax),
     Raises(TypeError, "y must be a floating tensor")),
    ("fenchel_young_loss", "a target of the wrong shape",
     lambda: structured.fenchel_young_loss(Z, torch.zeros(4), structured.matching_argmax),
     Raises(ValueError, "does not broadcast")),
    ("relaxation", "an unknown name", lambda: structured.relaxation("sparsemax"), Raises(ValueError, "choose one of")),
    ("relaxation", "an unknown option", lambda: structured.relaxation("k_subset", k=2, temperature=1.0),
     Raises(ValueError, "takes no option temperature")),
    ("relaxation", "I-MLE without a solver", lambda: structured.relaxation("imle"), Raises(ValueError, "needs solver")),
    ("Relaxation", "a bad option found at the call", lambda: structured.Relaxation("k_subset", {"k": 9})(Z),
     Raises(ValueError, "use 1 <= k <= 3")),
    ("RELAXATIONS", "the names", lambda: structured.RELAXATIONS,
     Value(lambda names: "imle" in names and "gumbel_sinkhorn" in names, "every method's name")),
    ("spanning_tree_marginals", "a non-square matrix", lambda: structured.spanning_tree_marginals(torch.zeros(3, 4)),
     Raises(ValueError, r"square matrices of edge scores")),
    ("spanning_tree_marginals", "one node", lambda: structured.spanning_tree_marginals(torch.zeros(1, 1)),
     Raises(ValueError, "n >= 2")),
    ("spanning_tree_marginals", "asymmetric scores",
     lambda: structured.spanning_tree_marginals(torch.tensor([[0.0, 1.0], [2.0, 0.0]])),
     Raises(ValueError, r"symmetrize with \(scores \+ scores.mT\) / 2")),
    ("spanning_tree_marginals", "NaN scores",
     lambda: structured.spanning_tree_marginals(torch.tensor([[0.0, NAN], [NAN, 0.0]])), Raises(ValueError, "NaN")),
    ("spanning_tree_marginals", "a disconnected graph", lambda: structured.spanning_tree_marginals(
        torch.tensor([[0.0, 1.0, -INF], [1.0, 0.0, -INF], [-INF, -INF, 0.0]])),
     Raises(ValueError, "not connected")),
    ("spanning_tree_marginals", "tau = 0.01 in float32, scores up to 300",
     lambda: structured.spanning_tree_marginals(symmetric_scores(100.0), tau=0.01),
     Value(lambda y: bool(torch.isfinite(y).all()) and abs(float(y.triu(1).sum((-2, -1)).mean()) - 5.0) < 1e-4,
           "finite marginals, n - 1 = 5 per graph")),
    ("max_spanning_tree", "integer scores", lambda: structured.max_spanning_tree(torch.zeros(3, 3, dtype=torch.long)),
     Raises(TypeError, "convert with")),
    ("max_spanning_tree", "+inf scores", lambda: structured.max_spanning_tree(torch.tensor([[0.0, INF], [INF, 0.0]])),
     Raises(ValueError, r"\+inf")),
    ("relaxed_spanning_tree", "an int generator",
     lambda: structured.relaxed_spanning_tree(torch.zeros(3, 3), generator=3), Raises(TypeError, "manual_seed")),
    ("relaxed_spanning_tree", "tau = 0", lambda: structured.relaxed_spanning_tree(torch.zeros(3, 3), tau=0.0),
     Raises(ValueError, "finite and > 0")),
    ("relaxed_spanning_tree", "tau = 1e-30 and scores 1e30, hard",
     lambda: structured.relaxed_spanning_tree(symmetric_scores(1e30), tau=1e-30, hard=True, generator=g()),
     Value(lambda y: bool((y.triu(1).sum((-2, -1)) == 5).all()), "spanning trees (5 edges)")),
    ("arborescence_marginals", "a root that is not a node",
     lambda: structured.arborescence_marginals(torch.zeros(3, 3), root=3), Raises(ValueError, "0 <= root < 3")),
    ("arborescence_marginals", "a float root", lambda: structured.arborescence_marginals(torch.zeros(3, 3), root=1.0),
     Raises(TypeError, "root must be an int")),
    ("arborescence_marginals", "a node the root cannot reach", lambda: structured.arborescence_marginals(
        torch.tensor([[0.0, 1.0, -INF], [0.0, 0.0, -INF], [0.0, 0.0, 0.0]]), root=0),
     Raises(ValueError, "cannot be reached from the root 0")),
    ("arborescence_marginals", "tau = 0.01 in float32, any root",
     lambda: structured.arborescence_marginals(symmetric_scores(100.0), tau=0.01, root=None),
     Value(lambda y: bool(torch.isfinite(y).all()) and torch.allclose(y.sum(-2), torch.ones(4, 6), atol=1e-5),
           "finite marginals, each column summing to 1")),
    ("max_arborescence", "no root score finite, any root",
     lambda: structured.max_arborescence(torch.zeros(3, 3).fill_diagonal_(-INF), root=None),
     Raises(ValueError, "no node with a finite root score")),
    ("max_arborescence", "a 3-d tensor of one node", lambda: structured.max_arborescence(torch.zeros(2, 1, 1)),
     Raises(ValueError, "n >= 2")),
    ("relaxed_arborescence", "NaN scores", lambda: structured.relaxed_arborescence(torch.full((3, 3), NAN)),
     Raises(ValueError, "NaN")),
    ("relaxed_arborescence", "tau varying within a graph",
     lambda: structured.relaxed_arborescence(torch.zeros(2, 3, 3), tau=torch.ones(2, 3, 1)),
     Raises(ValueError, "one value per row")),
    # schedules
    ("Schedule", "the base class", lambda: anneal.Constant(0.5)(0), Value(lambda t: t == 0.5, "the temperature")),
    ("Constant", "tau 0", lambda: anneal.Constant(0.0), Raises(ValueError, "finite and > 0")),
    ("Constant", "tau a NumPy float", lambda: anneal.Constant(np.float32(0.5))(3), Value(lambda t: t == 0.5, "0.5")),
    ("Exponential", "a negative rate", lambda: anneal.Exponential(1.0, -1.0), Raises(ValueError, ">= 0")),
    ("Linear", "an infinite end", lambda: anneal.Linear(1.0, INF, 10), Raises(ValueError, "finite")),
    ("Cosine", "a NaN start", lambda: anneal.Cosine(NAN, 0.5, 10), Raises(ValueError, "finite")),
    ("parse", "an unknown schedule", lambda: anneal.parse("bogus", 1.0, 100), Raises(ValueError, "use constant")),
    ("parse", "a value that is not a number", lambda: anneal.parse("exponential:rate=abc", 1.0, 100),
     Raises(ValueError, "NAME:key=value")),
    ("parse", "a fractional every", lambda: anneal.parse("exponential:every=1.7", 1.0, 100),
     Raises(ValueError, "whole number of steps")),
    ("parse", "an end of 0", lambda: anneal.parse("linear:end=0", 1.0, 100), Raises(ValueError, "finite and > 0")),
    ("Lambda", "a function returning 0", lambda: anneal.Lambda(lambda step: 0.0)(1), Raises(ValueError, "> 0")),
]


@pytest.mark.parametrize(("name", "case", "call", "outcome"), ROWS, ids=[f"{n}: {c}" for n, c, _, _ in ROWS])
def test_bad_input(name, case, call, outcome):
    if isinstance(outcome, Raises):
        with pytest.raises(outcome.error, match=outcome.match) as caught:
            call()
        assert str(caught.value).strip(), "the error says what is wrong"
    else:
        result = call()
        assert outcome.check(result), f"{name} ({case}) should give {outcome.says}, got {result!r}"


def public_names() -> set[str]:
    return (
        set(gs.__all__)
        | set(distributions.__all__)
        | set(estimators.__all__)
        | set(anneal.__all__)
        | set(structured.__all__)
    )


def test_every_public_name_has_rows():
    covered = {name for name, _, _, _ in ROWS}
    missing = public_names() - covered
    assert not missing, f"public names without bad-input rows: {sorted(missing)}"
    assert covered <= public_names(), f"rows name things that are not public: {sorted(covered - public_names())}"


DOCS_PAGE = Path(__file__).resolve().parents[1] / "docs" / "guide" / "bad-input.md"
BEGIN, END = "<!-- rows of tests/test_bad_input.py: begin -->", "<!-- rows of tests/test_bad_input.py: end -->"


def outcome_text(call: Callable[[], object], outcome: Raises | Value) -> str:
    """What the row's call gets, as the docs show it: the error and its message, or the correct value."""
    if isinstance(outcome, Value):
        return f"a correct value: {outcome.says}"
    try:
        call()
    except outcome.error as error:
        message = " ".join(str(error).split())
        message = message if len(message) <= 160 else message[:157] + "..."
        return f"`{type(error).__name__}`: {message.replace('|', '/')}"
    raise AssertionError("the call did not raise")


def markdown_rows() -> str:
    lines = ["| name | input | what it gets |", "|---|---|---|"]
    lines += [f"| `{name}` | {case} | {outcome_text(call, outcome)} |" for name, case, call, outcome in ROWS]
    return "\n".join(lines)


def test_the_docs_table_is_this_table():
    """docs/guide/bad-input.md shows these rows with the messages the code gives today."""
    page = DOCS_PAGE.read_text()
    shown = page.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert shown == markdown_rows(), "regenerate it: python -m tests.test_bad_input"


if __name__ == "__main__":
    text = DOCS_PAGE.read_text()
    head, rest = text.split(BEGIN, 1)
    DOCS_PAGE.write_text(f"{head}{BEGIN}\n{markdown_rows()}\n{END}{rest.split(END, 1)[1]}")

"""The one interface every gradient estimator shares.

An estimator of `\\nabla_\\theta \\mathbb{E}_{z \\sim p_\\theta}[f(z)]` is called as:

```python
out = est(logits, f, tau=1.0, dim=-1, bernoulli=False, generator=None, baseline=None)
out.surrogate.sum().backward()
```

`out.surrogate` has the value of `f` at the drawn sample (its mean over the draws
for multi-sample estimators); its gradient is the estimator for `logits` and the
ordinary pathwise gradient for any parameter `f` uses. Extra gradient terms are
attached as `x - x.detach()`, which is exactly zero in value.

With gradients disabled (`torch.no_grad()`, `torch.inference_mode()`) a call only evaluates
`f` once at one sample (surrogate = loss): no control variate, no state update. Stateful
estimators (moving-average baselines, RELAX) save and restore their state with
`state_dict()` / `load_state_dict()`, like a model, so a resumed run continues exactly.

Bernoulli variables are handled as two-class categoricals with logits `(0, l)`:
`softmax((0, l))[1] = sigmoid(l)`, and the relaxation
`softmax((G_0, l + G_1) / tau)[1] = sigmoid((l + G_1 - G_0) / tau)` is the binary
Concrete with logistic noise `G_1 - G_0` (Maddison et al. 2017, Section 3.3).
Every binary form below (ST, ST-GS, REINFORCE, REBAR, RELAX) is therefore the
categorical one at `K = 2`, exactly and in distribution.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from gumbel_softmax._relaxation import one_hot_like
from gumbel_softmax.checks import check_logits, check_tau
from gumbel_softmax.functional import sample

__all__ = ["Estimator", "EstimatorOutput", "Loss"]

Loss = Callable[[Tensor], Tensor]


@dataclass
class EstimatorOutput:
    """What an estimator returns.

    Args:
        surrogate: per-example tensor (the shape of `f`'s output); backpropagate its sum.
        loss: `f` at the sample drawn, detached, for logging (RLOO: the mean over its draws;
            with gradients disabled every estimator draws one sample).
        sample: the sample `f` saw (one-hot, `{0, 1}` or relaxed), in the layout of `logits`
            (RLOO: the first of its draws).
    """

    surrogate: Tensor
    loss: Tensor
    sample: Tensor


def zero_valued(x: Tensor) -> Tensor:
    """`x - x.detach()`: value exactly 0, gradient that of `x`."""
    return x - x.detach()


def sum_to(x: Tensor, ndim: int) -> Tensor:
    """Sum `x` over every dimension after the first `ndim` (the batch dims)."""
    return x.sum(dim=tuple(range(ndim, x.ndim))) if x.ndim > ndim else x


def expand_to(coef: Tensor, like: Tensor) -> Tensor:
    """View a per-example `coef` with trailing singleton dims so it broadcasts against `like`."""
    return coef.reshape(coef.shape + (1,) * (like.ndim - coef.ndim))


def linear_in(logits: Tensor, grad: Tensor, batch_ndim: int) -> Tensor:
    """Per-example zero-valued term whose gradient with respect to `logits` is `grad`.

    Masked (`-inf`) logits, where every estimator's gradient is 0, enter as 0: `0 * -inf` would make
    the value NaN.
    """
    finite = logits.masked_fill(~torch.isfinite(logits.detach()), 0.0)
    return zero_valued(sum_to(grad.detach() * finite, batch_ndim))


def log_prob(logits: Tensor, index: Tensor, batch_ndim: int) -> Tensor:
    """Per-example `sum log p(index)` over the variable dims (categories on the last axis)."""
    logp = torch.log_softmax(logits, -1).gather(-1, index.unsqueeze(-1)).squeeze(-1)
    return sum_to(logp, batch_ndim)


def score_term(signal: Tensor, logits: Tensor, index: Tensor) -> Tensor:
    """Zero-valued per-example term with gradient `signal * grad log p(index)` (`signal` is detached)."""
    return zero_valued(signal.detach() * log_prob(logits, index, signal.ndim))


def check_baseline(baseline: Tensor, loss: Tensor) -> None:
    """Refuse a `baseline` whose shape is not that of the per-example `loss`."""
    if baseline.shape != loss.shape:
        raise ValueError(
            f"baseline has shape {tuple(baseline.shape)}; f's per-example loss has {tuple(loss.shape)}; "
            "give one prediction per example"
        )


def one_hot(index: Tensor, like: Tensor) -> Tensor:
    """One-hot of `index` along the last axis, in the dtype and shape of `like`."""
    return one_hot_like(index.unsqueeze(-1), like, -1)


def input_gradient(f: Loss, point: Tensor) -> tuple[Tensor, Tensor]:
    """`(f(point), df/dpoint)`, both detached; the gradient is for the input only, not `f`'s parameters."""
    x = point.detach().requires_grad_()
    with torch.enable_grad():
        value = f(x)
        (grad,) = torch.autograd.grad(value.sum(), x, allow_unused=True)
    return value.detach(), torch.zeros_like(x) if grad is None else grad


def categories_last(logits: Tensor, tau: float | Tensor, dim: int) -> tuple[Tensor, float | Tensor, int]:
    """Check `logits` and `tau` and move the category axis `dim` of both to the end.

    Returns:
        `(moved logits, tau, dim)` with `dim` normalized to a non-negative axis; a `tau` tensor
        (given `check_tau` as many dims as `logits`) is moved too.
    """
    dim = check_logits(logits, dim)
    tau = check_tau(tau, logits, dim)
    if isinstance(tau, Tensor):
        tau = tau.movedim(dim, -1)
    return logits.movedim(dim, -1), tau, dim


def draw(logits: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
    """An exact categorical sample of `logits` (categories last): `(index, one_hot)`."""
    index = sample(logits.detach(), generator=generator)
    return index, one_hot(index, logits)


class Estimator:
    """Base class: normalizes the call, then runs `estimate` on categorical logits `[..., K]`.

    Subclasses set the class attributes and implement `estimate`.

    Attributes:
        name: the registry name.
        family: `"pathwise"` or `"score_function"`.
        relaxed: `True` when `f` sees a relaxed (non-discrete) sample.
        supports_bernoulli: accepts `bernoulli=True`.
        supports_categorical: accepts `bernoulli=False` (`False` for the binary-only estimators,
            such as DisARM).
        uses_baseline: `True` when the estimator subtracts the caller's `baseline` from its
            learning signal (the REINFORCE family); the others refuse one.
        needs_baseline: `True` when a `baseline` argument is required (NVIL).
        mean_field: `True` when the control variate evaluates `f` at the mean `E[z]`
            (MuProp); a network of stochastic layers then feeds the lower layers their means
            too in that evaluation (Gu et al.'s mean-field network).
        max_joint: the most joint configurations (`K ** variables`) of one example the estimator
            accepts, for those that enumerate them (the unordered set estimator); `None`: any.
    """

    name: str = "estimator"
    family: str = "pathwise"
    relaxed: bool = False
    supports_bernoulli: bool = True
    supports_categorical: bool = True
    uses_baseline: bool = False
    needs_baseline: bool = False
    mean_field: bool = False
    max_joint: int | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    def __call__(
        self,
        logits: Tensor,
        f: Loss,
        *,
        tau: float | Tensor = 1.0,
        dim: int = -1,
        bernoulli: bool = False,
        generator: torch.Generator | None = None,
        baseline: Tensor | None = None,
    ) -> EstimatorOutput:
        """Estimate `grad E[f(z)]` for `z ~ Categorical(softmax(logits, dim))` (or `Bernoulli(sigmoid)`).

        Args:
            logits: `[*batch, *variables]` with the category axis at `dim` (categorical),
                or Bernoulli logits of any shape (`bernoulli=True`).
            f: `f(sample) -> per-example loss` of shape `batch` (the leading dims of `logits`);
                called on tensors of the shape of `logits`.
            tau: temperature of the relaxation, where the estimator has one.
            dim: the category axis (ignored for Bernoulli).
            bernoulli: `logits` are Bernoulli logits; samples are in `{0, 1}`.
            generator: the source of all randomness.
            baseline: per-example prediction of `f` by the caller's network (a tensor of the
                loss's shape, e.g. the output of a small MLP of the input), for the estimators with
                `uses_baseline` (reinforce, reinforce_ema, nvil): they subtract it from `f`, and the
                surrogate trains it by squared error. NVIL requires it; the other estimators refuse it.

        Returns:
            an `EstimatorOutput`.
        """
        if not bernoulli and not self.supports_categorical:
            raise ValueError(
                f"estimator {self.name!r} is for binary variables only; pass Bernoulli logits with bernoulli=True"
            )
        if bernoulli:
            if not self.supports_bernoulli:
                raise ValueError(f"estimator {self.name!r} has no Bernoulli form; use bernoulli=False")
            if not isinstance(logits, Tensor):
                raise TypeError(f"logits must be a torch.Tensor of Bernoulli logits, got {type(logits).__name__}")
            check_logits(logits.unsqueeze(-1), -1)
            cat = torch.stack([torch.zeros_like(logits), logits], -1)
            if isinstance(tau, Tensor) and tau.ndim <= logits.ndim:  # one per variable: add the category axis
                tau = tau.reshape((1,) * (logits.ndim - tau.ndim) + tuple(tau.shape)).unsqueeze(-1)
            tau = check_tau(tau, cat, -1)

            def to_user(s: Tensor) -> Tensor:
                return s[..., 1]

        else:
            cat, tau, dim = categories_last(logits, tau, dim)

            def to_user(s: Tensor) -> Tensor:
                return s.movedim(-1, dim)

        if self.needs_baseline and baseline is None:
            raise ValueError(
                f"estimator {self.name!r} needs baseline=<per-example tensor predicted by your network>"
            )
        if baseline is not None:
            if not self.uses_baseline:
                raise ValueError(
                    f"estimator {self.name!r} does not use a baseline; drop baseline= (the estimators that "
                    "subtract one are reinforce, reinforce_ema and nvil)"
                )
            if not isinstance(baseline, Tensor):
                raise TypeError(f"baseline must be a tensor of per-example predictions, got {type(baseline).__name__}")

        def loss_fn(s: Tensor) -> Tensor:
            loss = f(to_user(s))
            if not isinstance(loss, Tensor) or loss.shape != s.shape[: loss.ndim] or loss.ndim >= s.ndim:
                shape = tuple(loss.shape) if isinstance(loss, Tensor) else type(loss).__name__
                raise ValueError(
                    f"f must return a per-example loss whose shape is the leading (batch) dims of logits; "
                    f"got {shape} for a sample of shape {tuple(to_user(s).shape)}"
                )
            return loss

        if torch.is_grad_enabled():
            surrogate, loss, sample = self.estimate(cat, loss_fn, tau, generator, baseline)
        else:  # evaluation (no_grad / inference_mode): no gradient to estimate, no state to update
            surrogate, loss, sample = self.evaluate(cat, loss_fn, tau, generator)
        if baseline is not None:
            check_baseline(baseline, loss)
            surrogate = surrogate + zero_valued((loss.detach() - baseline) ** 2)
        return EstimatorOutput(surrogate=surrogate, loss=loss.detach(), sample=to_user(sample))

    def estimate(
        self,
        logits: Tensor,
        f: Loss,
        tau: float | Tensor,
        generator: torch.Generator | None,
        baseline: Tensor | None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Return `(surrogate, loss, sample)` for categorical `logits` with categories last."""
        raise NotImplementedError

    def evaluate(
        self, logits: Tensor, f: Loss, tau: float | Tensor, generator: torch.Generator | None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """`(f(z), f(z), z)` for one exact sample `z`: the call when gradients are disabled.

        Under `torch.no_grad()` or `torch.inference_mode()` there is nothing to estimate:
        `f` is called once, no control variate is computed and no state is updated.
        """
        _, z = draw(logits, generator)
        loss = f(z)
        return loss, loss, z

    def state_dict(self) -> dict:
        """The estimator's learned state (moving averages, RELAX's network and optimizer); `{}` if none.

        Saving it with a model checkpoint and passing it to `load_state_dict` of a fresh
        estimator (`estimators.get` with the same options) resumes training exactly.
        """
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what `state_dict` returned."""
        if state:
            raise ValueError(f"estimator {self.name!r} has no state, got keys {sorted(state)}")


class PathwiseEstimator(Estimator):
    """An estimator given by a sampler whose backward pass is the estimator: `f(sampler(logits))`."""

    family = "pathwise"

    def __init__(self, name: str, sampler: Callable[..., Tensor], relaxed: bool = False, **options) -> None:
        self.name, self.sampler, self.relaxed, self.options = name, sampler, relaxed, options

    def estimate(self, logits, f, tau, generator, baseline):
        z = self.sampler(logits, tau=tau, dim=-1, generator=generator, **self.options)
        loss = f(z)
        return loss, loss, z.detach()

    def evaluate(self, logits, f, tau, generator):
        """A relaxed estimator's `f` sees the relaxed sample; the others' forward value is an exact sample."""
        if self.relaxed:
            return self.estimate(logits, f, tau, generator, None)
        return super().evaluate(logits, f, tau, generator)

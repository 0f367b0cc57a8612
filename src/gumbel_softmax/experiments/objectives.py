"""Training objectives (through a gradient estimator) and evaluation bounds of the two models.

Which objective an estimator trains (Jang et al. 2017, Section 4; their notebook):

* `est.relaxed` (soft Gumbel-Softmax): the *relaxed* objective
  `E_G[-log p(x | y_tau)] + KL(q(z|x) || p(z))`: the decoder sees the relaxed
  sample `y_tau = softmax((logits + G) / tau)` and the KL is the discrete,
  closed-form one, as in the authors' notebook. It is not a bound on
  `-log p(x)`; it tends to the negative ELBO as `tau -> 0`.
* every other estimator (straight-through variants, score-function estimators,
  Gumbel-Rao, ReinMax, REBAR/RELAX, ...): the *discrete* negative ELBO
  `E_{z~q}[-log p(x | z)] + KL(q || p)`: the decoder sees exact one-hot or
  binary samples, and the estimator supplies the gradient of the expectation.

In both, the KL to the uniform prior is computed in closed form and
differentiated exactly; only the reconstruction term goes through the
estimator. A KL warm-up (linear, as in Sønderby et al. 2016, "Ladder
Variational Autoencoders"; Bowman et al. 2016 anneal the weight along a
sigmoid) scales the KL's *gradient* by `kl_weight` in `[0, 1]`; the
reported loss keeps the full KL, so it stays the objective above.

The SBN (Section 4.1) trains `E_h[-log p(lower | h)]`, the
importance-sampled bound with `m = 1`; its stochastic layers are chained: the
loss seen by layer `l`'s estimator runs layer `l + 1`'s estimator (once per step: see
`sbn_objective`).

Evaluation always uses exact discrete samples (the paper discretizes
Gumbel-Softmax samples at test time):

* negative ELBO `= mean_k [-log p(x | z_k)] + KL`, `z_k ~ q(z | x)`;
* `-log p(x) ~= -log (1/k) sum_k p(x | z_k) p(z_k) / q(z_k | x)` (Burda et al. 2016),
  an upper bound on `-log p(x)` that tightens as `k` grows;
* for the SBN, `-log p(lower | upper) ~= -log (1/m) sum_m p(lower | h_m)`, `h_m`
  drawn from the network.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from gumbel_softmax.estimators import get as get_estimator
from gumbel_softmax.estimators.base import EstimatorOutput
from gumbel_softmax.experiments.models import DiscreteVAE, StructuredOutputNetwork

__all__ = ["StepLoss", "vae_objective", "sbn_objective", "vae_bounds", "sbn_bounds", "objective_name"]

BaselineFn = Callable[[int, Tensor], "Tensor | None"]


@dataclass
class StepLoss:
    """`surrogate.mean().backward()` gives the estimated gradient; `loss` is the objective's value."""

    surrogate: Tensor
    loss: Tensor


def objective_name(estimator: object) -> str:
    """`"relaxed"` for estimators whose loss sees relaxed samples, else `"discrete"`."""
    return "relaxed" if getattr(estimator, "relaxed", False) else "discrete"


def _no_baseline(layer: int, below: Tensor) -> None:
    return None


def vae_objective(
    model: DiscreteVAE,
    x: Tensor,
    estimator: Callable,
    *,
    tau: float,
    generator: torch.Generator | None = None,
    baseline: BaselineFn = _no_baseline,
    kl_weight: float = 1.0,
) -> StepLoss:
    """The VAE's per-example objective (module docstring) with the estimator's gradient; `x` is `[B, D]`.

    `kl_weight` multiplies the KL term of the surrogate only (warm-up); `loss` has the full KL.
    """
    logits = model.encode(x)
    out = estimator(
        logits,
        lambda z: model.reconstruction_nll(x, z),
        tau=tau,
        bernoulli=model.latent.bernoulli,
        generator=generator,
        baseline=baseline(0, x),
    )
    kl = model.latent.kl_to_uniform(logits)
    return StepLoss(out.surrogate + kl_weight * kl, (out.loss + kl).detach())


def _as_loss(out: object) -> Tensor:
    """The value of `out.loss` with the gradient of `out.surrogate`: what an upper layer's estimator sees."""
    surrogate = out.surrogate  # type: ignore[attr-defined]
    return out.loss.detach() + (surrogate - surrogate.detach())  # type: ignore[attr-defined]


def _is_discrete(h: Tensor) -> bool:
    """`True` for a `{0, 1}`-valued sample (one-hot or bits; straight-through forward values carry
    ~1 ulp of rounding, hence the 1e-6), `False` for a relaxed or mean-field input."""
    return bool((torch.minimum(h.abs(), (h - 1).abs()) <= 1e-6).all())


def _mean_field(logits: Tensor, f: Callable, *, bernoulli: bool, **_: object) -> EstimatorOutput:
    """A stochastic layer of the mean-field network: it passes its mean `E[z]` on, deterministically."""
    mean = torch.sigmoid(logits) if bernoulli else torch.softmax(logits, -1)
    loss = f(mean)
    return EstimatorOutput(loss, loss.detach(), mean)


def sbn_objective(
    model: StructuredOutputNetwork,
    upper: Tensor,
    lower: Tensor,
    estimators: Sequence[Callable],
    *,
    tau: float,
    generator: torch.Generator | None = None,
    baseline: BaselineFn = _no_baseline,
) -> StepLoss:
    """`E_h[-log p(lower | h)]` through one estimator per stochastic layer (module docstring).

    Control-variate estimators (REBAR, RELAX, MuProp) of an upper layer also call their loss on
    relaxed or mean-field inputs besides the exact sample. Those auxiliary calls must not run the
    lower layers' estimators (which would update their state: RELAX's Adam steps, EMA baselines).
    On a non-exact input the lower layers run instead:

    * for an estimator with `mean_field` (MuProp, whose control variate is `f` at the mean):
      the mean-field network, every lower layer passing its mean on (Gu et al. 2016);
    * for the others: the stateless relaxed Gumbel-Softmax with fresh noise, as REBAR relaxes
      every layer in its control variate (Tucker et al. 2017).

    Either way the control variate is a differentiable function of the input and of noise
    independent of the parameters, so REBAR's, RELAX's and MuProp's identities still hold
    (unbiased). A relaxed estimator (soft Gumbel-Softmax) trains the relaxed objective, so all
    its calls are main calls.
    """
    last = len(model.maps) - 1
    if len(estimators) != last + 1:
        raise ValueError(f"need one estimator per stochastic layer ({last + 1}), got {len(estimators)}")
    relaxed_layer = get_estimator("gumbel_softmax")

    def layer(index: int, below: Tensor, auxiliary: Callable | None) -> object:
        """Layer `index` run by its estimator (`auxiliary is None`) or by `auxiliary`."""
        estimator = estimators[index]
        if index == last:
            f = lambda h: model.output_nll(lower, h)  # noqa: E731
        else:

            def f(h: Tensor) -> Tensor:
                below_aux = auxiliary
                if auxiliary is None and not (getattr(estimator, "relaxed", False) or _is_discrete(h)):
                    below_aux = _mean_field if getattr(estimator, "mean_field", False) else relaxed_layer
                return _as_loss(layer(index + 1, h, below_aux))

        return (estimator if auxiliary is None else auxiliary)(
            model.layer_logits(index, below),
            f,
            tau=tau,
            bernoulli=model.latent.bernoulli,
            generator=generator,
            baseline=baseline(index, below) if auxiliary is None else None,
        )

    out = layer(0, upper, None)
    return StepLoss(out.surrogate, out.loss.detach())  # type: ignore[attr-defined]


def _chunks(total: int, size: int) -> list[int]:
    return [min(size, total - start) for start in range(0, total, size)]


@torch.no_grad()
def vae_bounds(
    model: DiscreteVAE, x: Tensor, samples: int, generator: torch.Generator | None = None, chunk: int = 100
) -> tuple[Tensor, Tensor]:
    """Per-example negative ELBO and importance-weighted `-log p(x)` from `samples` draws of `q(z|x)`.

    Returns:
        two tensors of shape `[B]` (nats).
    """
    latent = model.latent
    logits = model.encode(x)
    log_weights, nll = [], []
    for size in _chunks(samples, chunk):
        z = latent.sample(logits.expand(size, *logits.shape), generator)
        rec = model.reconstruction_nll(x, z)
        nll.append(rec)
        log_weights.append(-rec + latent.uniform_log_prob() - latent.log_prob(logits, z))
    neg_elbo = torch.cat(nll).mean(0) + latent.kl_to_uniform(logits)
    bound = math.log(samples) - torch.cat(log_weights).logsumexp(0)
    return neg_elbo, bound


@torch.no_grad()
def sbn_bounds(
    model: StructuredOutputNetwork,
    upper: Tensor,
    lower: Tensor,
    samples: int,
    generator: torch.Generator | None = None,
    chunk: int = 100,
) -> tuple[Tensor, Tensor]:
    """Per-example `E_h[-log p(lower | h)]` (the `m = 1` bound) and the `m = samples` bound on `-log p`."""
    nll = []
    for size in _chunks(samples, chunk):
        h = upper.expand(size, *upper.shape)
        for index in range(len(model.maps)):
            h = model.latent.sample(model.layer_logits(index, h), generator)
        nll.append(model.output_nll(lower, h))
    nll_all = torch.cat(nll)
    return nll_all.mean(0), math.log(samples) - (-nll_all).logsumexp(0)

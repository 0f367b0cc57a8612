"""The unordered set estimator: REINFORCE over `k` samples drawn without replacement, with its built-in baseline.

Kool, van Hoof, Welling, "Estimating Gradients for Discrete Random Variables by Sampling without
Replacement", ICLR 2020, Sec. 3-4. Draw an ordered sample of `k` distinct configurations by the
Gumbel-top-k trick and keep the unordered set `S`. With `P^{D'}(S')` the probability that `k'`
draws without replacement from the domain `D'` give the set `S'` (in any order) and the leave-one-out
and leave-two-out ratios

```text
R(S, s) = \\frac{P^{D \\setminus \\{s\\}}(S \\setminus \\{s\\})}{P^{D}(S)}, \\qquad
R^{D \\setminus \\{s\\}}(S, s') = \\frac{P^{D \\setminus \\{s, s'\\}}(S \\setminus \\{s, s'\\})}
{P^{D \\setminus \\{s\\}}(S \\setminus \\{s\\})} \\quad (R^{D \\setminus \\{s\\}}(S, s) = 1),
```

the estimator with the built-in baseline (their eq. 14-16) is

```text
\\hat g = \\sum_{s \\in S} \\nabla p(s)\\, R(S, s)\\,\\Big(f(s) - \\sum_{s' \\in S} p(s')\\,
R^{D \\setminus \\{s\\}}(S, s')\\, f(s')\\Big).
```

`p(s) R(S, s)` is the probability that `s` came first given the set, so `sum_s p(s) R(S, s) = 1`, and
`sum_s p(s) R(S, s) f(s)` is an unbiased estimate of `E[f]`; the baseline for `s` is that estimate
built from the other `k - 1` samples in the domain without `s` (plus the term `p(s) f(s)`), whose
expectation does not depend on `s`, so it changes nothing in expectation. Unbiased for `k >= 2`
(with `k = 1` there is nothing to build the baseline from, so `samples` must be at least 2); exact
when `S` is the whole support. Written from the paper's equations, then read against the authors'
`compute_log_R_O_nfac` and the `rf_unord` loss in wouterkool/estimating-gradients-without-replacement
(`vae/lib/gumbel.py`, `vae/vae.py`), which enumerate the permutations of each set as here. Their
code also replaces `R` by 1 when `S` holds more than `1 - 1e-5` of the mass; here every probability
is computed in log space from the masses of `S`'s members and of its complement (never as
`1 - sum`), so no such switch is needed.

**Several variables.** The estimator is for one categorical distribution. For `V` independent
variables per example (the contract's `[*batch, *variables, K]`) it is applied, as the authors do in
their VAE, to their *joint* distribution: a sample is a joint configuration of all `V` variables,
`p(s) = prod_d p_d(s_d)`, and the `k` configurations are distinct as wholes. Here the joint
distribution is enumerated (`K^V` configurations, at most 100,000 per example: about
`log(100000) / log K` variables), which is exact; per-variable sets would not be, because a set drawn
without replacement from one variable does not have the law `p_d` in its later members. (The
authors reach larger joint spaces with stochastic beam search, Kool et al. 2019, not implemented here.)
The first configuration is drawn variable by variable (the sample every other estimator of this
library draws at the same generator state, and the Gumbel-max of the joint); the other `k - 1` are the
Gumbel-top-(k - 1) of the joint logits with the first removed, which is the Plackett-Luce law of
draws two to `k` given the first. `f` is called `k` times.

The surrogate's value is the unbiased estimate `sum_s p(s) R(S, s) f(s)` (so `f`'s own parameters get
the matching unbiased gradient), and `sample` is the first draw.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor

from gumbel_softmax.checks import check_sample_count
from gumbel_softmax.estimators.base import Estimator, draw, log_prob, one_hot, zero_valued
from gumbel_softmax.estimators.exact import MAX_CONFIGURATIONS
from gumbel_softmax.subset import sample_without_replacement

__all__ = ["UnorderedSet", "log_set_probability"]

MAX_SAMPLES = 8  # the sets' probabilities enumerate up to (k - 1)! orders of k members


def log_set_probability(log_p: Tensor, log_rest: Tensor) -> Tensor:
    """`log P(S)` for draws without replacement that give the set `S` in any order.

    Args:
        log_p: `[..., m]` log-probabilities of the `m` members of `S` (any order; `m = 0` gives 0).
        log_rest: `[...]` log of the probability mass of the domain outside `S`.

    Returns:
        `[...]`: `log sum_{orders} prod_t p_{s_t} / (p(s_t, ..., s_m) + p(rest))`. The mass left
        before draw `t` is the mass of the members not drawn yet plus the rest, so no `1 - sum`
        is ever formed.
    """
    m = log_p.shape[-1]
    if m == 0:
        return torch.zeros_like(log_rest)
    orders = torch.tensor(list(itertools.permutations(range(m))), device=log_p.device)  # [m!, m]
    ordered = log_p[..., orders]  # [..., m!, m]
    left = torch.logcumsumexp(ordered.flip(-1), -1).flip(-1)  # mass of draws t..m
    left = torch.logaddexp(left, log_rest[..., None, None])
    return torch.logsumexp((ordered - left).sum(-1), -1)


def joint_log_probs(logits: Tensor, batch_ndim: int) -> Tensor:
    """`[*batch, K^V]` log-probabilities of every joint configuration (row-major over the variables)."""
    k = logits.shape[-1]
    count = math.prod(logits.shape[batch_ndim:-1])
    if k**count > MAX_CONFIGURATIONS:
        raise ValueError(
            f"the unordered set estimator enumerates the joint configurations of each example's variables: "
            f"{k}^{count} is more than {MAX_CONFIGURATIONS}; use fewer variables per example"
        )
    per_variable = torch.log_softmax(logits.detach(), -1).reshape(logits.shape[:batch_ndim] + (count, k))
    joint = torch.zeros(logits.shape[:batch_ndim] + (1,), dtype=logits.dtype, device=logits.device)
    for d in range(count):
        joint = (joint[..., :, None] + per_variable[..., d, None, :]).flatten(-2)
    return joint


def place_values(k: int, count: int, device: torch.device) -> Tensor:
    """`k^(count - 1), ..., k, 1`: the weight of each variable's category in a configuration's number."""
    return k ** torch.arange(count - 1, -1, -1, device=device)


def ravel(index: Tensor, k: int, batch_ndim: int) -> Tensor:
    """Per-variable categories `[*batch, *variables]` to joint configuration numbers `[*batch]`."""
    flat = index.reshape(index.shape[:batch_ndim] + (math.prod(index.shape[batch_ndim:]),))  # -1 fails at batch 0
    return (flat * place_values(k, flat.shape[-1], index.device)).sum(-1)


def unravel(flat: Tensor, k: int, variables: torch.Size) -> Tensor:
    """Joint configuration numbers `[...]` to per-variable categories `[..., *variables]`."""
    place = place_values(k, math.prod(variables), flat.device)
    return ((flat[..., None] // place) % k).reshape(flat.shape + tuple(variables))


class UnorderedSet(Estimator):
    """The unordered set estimator with its built-in baseline (Kool et al. 2020), `samples` draws.

    Args:
        samples: the set size `k`, from 2 to 8; `f` is called `k` times.
    """

    name = "unordered_set"
    family = "score_function"
    max_joint = MAX_CONFIGURATIONS

    def __init__(self, samples: int = 4) -> None:
        self.samples = check_sample_count("the unordered set estimator", samples, 2, MAX_SAMPLES)

    def estimate(self, logits, f, tau, generator, baseline):
        k, classes = self.samples, logits.shape[-1]
        first, first_hot = draw(logits, generator)
        first_loss = f(first_hot)
        batch_ndim = first_loss.ndim
        variables = logits.shape[batch_ndim:-1]
        joint = joint_log_probs(logits, batch_ndim)
        first_flat = ravel(first, classes, batch_ndim)
        support = torch.isfinite(joint).sum(-1)
        if bool((support < k).any()):
            raise ValueError(
                f"samples={k} configurations without replacement, but an example has only "
                f"{int(support.min())} of positive probability; use fewer samples"
            )
        rest = joint.scatter(-1, first_flat[..., None], float("-inf"))
        others = sample_without_replacement(rest, k - 1, generator=generator)
        chosen = torch.cat([first_flat[..., None], others], -1)  # [*batch, k]
        indices = unravel(chosen, classes, variables)  # [*batch, k, *variables]
        losses = [first_loss] + [f(one_hot(indices.select(batch_ndim, j), logits)) for j in range(1, k)]
        values = torch.stack(losses, -1)  # [*batch, k]
        weight, signal = self.weights(joint, chosen, values.detach())
        log_p = torch.stack([log_prob(logits, indices.select(batch_ndim, j), batch_ndim) for j in range(k)], -1)
        loss = (weight * values).sum(-1)
        score = zero_valued((signal * log_p.exp()).sum(-1))
        return loss + score, loss.detach(), first_hot

    @staticmethod
    def weights(joint: Tensor, chosen: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
        """`(p(s) R(S, s), R(S, s) (f(s) - baseline_s))` per member, from the joint log-probabilities."""
        k = chosen.shape[-1]
        log_p = joint.gather(-1, chosen)
        log_rest = torch.logsumexp(joint.scatter(-1, chosen, float("-inf")), -1)
        keep = [[j for j in range(k) if j != i] for i in range(k)]
        log_p1 = torch.stack([log_set_probability(log_p[..., keep[i]], log_rest) for i in range(k)], -1)
        log_set = torch.logsumexp(log_p + log_p1, -1, keepdim=True)
        log_r1 = log_p1 - log_set
        log_r2 = torch.zeros(log_p.shape + (k,), dtype=log_p.dtype, device=log_p.device)
        for i, j in itertools.combinations(range(k), 2):
            both = log_set_probability(log_p[..., [m for m in range(k) if m not in (i, j)]], log_rest)
            log_r2[..., i, j] = both - log_p1[..., i]
            log_r2[..., j, i] = both - log_p1[..., j]
        baselines = ((log_p[..., None, :] + log_r2).exp() * values[..., None, :]).sum(-1)
        return (log_p + log_r1).exp(), log_r1.exp() * (values - baselines)

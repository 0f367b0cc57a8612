"""REINFORCE (the score-function estimator) and its baselines.

Williams, "Simple statistical gradient-following algorithms for connectionist
reinforcement learning", Machine Learning 1992:

```text
\\nabla_l \\mathbb{E}[f(z)] = \\mathbb{E}\\left[(f(z) - b)\\, \\nabla_l \\log p_l(z)\\right]
```

for any baseline `b` independent of `z`. Baselines here:

* `reinforce`: `b = 0` (or the caller's `baseline` when one is passed).
* `reinforce_ema`: `b` = bias-corrected exponential moving average of past batch
  means of `f` (updated after use, so it never depends on the current sample).
* `nvil`: Mnih & Gregor, "Neural Variational Inference and Learning in Belief
  Networks", ICML 2014, Section 3: `b = b_psi(x) + c` with `b_psi(x)` the caller's
  network output (`baseline=`, trained by the squared error the surrogate adds) and
  `c` a moving average of `f - b_psi(x)`. With `normalize=True` the learning signal
  is also divided by `max(1, running std)` as in the paper (a positive per-step scale:
  the direction stays unbiased, the length does not).
* `rloo`: Kool, van Hoof, Welling, "Buy 4 REINFORCE Samples, Get a Baseline for Free!",
  ICLR 2019 workshop: `n` samples, each with the mean of the other `n - 1` as baseline,

  ```text
  \\hat g = \\frac{1}{n} \\sum_i \\Big(f(z_i) - \\frac{1}{n-1}\\sum_{j \\ne i} f(z_j)\\Big)
  \\nabla \\log p(z_i).
  ```

The moving averages change only in calls with gradients enabled (the base class only
evaluates `f` under `torch.no_grad()`); `state_dict()` saves them for a resumed run.

The surrogate's value is `f` at the sample (the mean over the `n` samples for RLOO);
`f`'s own parameters get their ordinary gradient from it.
"""

from __future__ import annotations

import torch

from gumbel_softmax.checks import check_sample_count
from gumbel_softmax.estimators.base import Estimator, check_baseline, draw, log_prob, score_term, zero_valued

__all__ = ["Reinforce", "RLOO"]


class _MovingAverage:
    """Bias-corrected exponential moving average of a scalar (Kingma & Ba 2015, Section 3)."""

    def __init__(self, decay: float) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay}")
        self.decay, self.total, self.steps = decay, 0.0, 0

    def value(self) -> float:
        return self.total / (1.0 - self.decay**self.steps) if self.steps else 0.0

    def update(self, x: float) -> None:
        self.total = self.decay * self.total + (1.0 - self.decay) * x
        self.steps += 1

    def state_dict(self) -> dict:
        return {"total": self.total, "steps": self.steps}

    def load_state_dict(self, state: dict) -> None:
        self.total, self.steps = float(state["total"]), int(state["steps"])


class Reinforce(Estimator):
    """Single-sample REINFORCE with baseline `"none"`, `"ema"` or `"nvil"`.

    Args:
        baseline: which baseline (see the module docstring).
        decay: moving-average decay for `"ema"` and `"nvil"`.
        normalize: NVIL's variance normalization (`"nvil"` only).
    """

    family = "score_function"
    uses_baseline = True

    def __init__(self, baseline: str = "none", decay: float = 0.9, normalize: bool = False) -> None:
        names = {"none": "reinforce", "ema": "reinforce_ema", "nvil": "nvil"}
        if baseline not in names:
            raise ValueError(f"baseline must be one of {sorted(names)}, got {baseline!r}")
        if normalize and baseline != "nvil":
            raise ValueError("normalize=True is NVIL's variance normalization; use baseline='nvil'")
        self.kind, self.name, self.normalize = baseline, names[baseline], normalize
        self.needs_baseline = baseline == "nvil"
        self.mean = _MovingAverage(decay)
        self.square = _MovingAverage(decay)

    def estimate(self, logits, f, tau, generator, baseline):
        index, z = draw(logits, generator)
        loss = f(z)
        if baseline is not None:
            check_baseline(baseline, loss)
        signal = loss.detach() - (0.0 if baseline is None else baseline.detach())
        if self.kind != "none":
            centre, scale = self.mean.value(), 1.0
            if self.normalize:
                scale = max(1.0, max(0.0, self.square.value() - centre**2) ** 0.5)
            self.mean.update(float(signal.mean()))
            self.square.update(float((signal**2).mean()))
            signal = (signal - centre) / scale
        surrogate = loss + score_term(signal, logits, index)
        return surrogate, loss, z

    def state_dict(self) -> dict:
        """The moving averages (`{}` for plain REINFORCE); updated only when gradients are enabled."""
        if self.kind == "none":
            return {}
        return {"mean": self.mean.state_dict(), "square": self.square.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        """Restore what `state_dict` returned."""
        if self.kind == "none":
            super().load_state_dict(state)
            return
        self.mean.load_state_dict(state["mean"])
        self.square.load_state_dict(state["square"])


class RLOO(Estimator):
    """REINFORCE with the leave-one-out baseline over `samples` draws (Kool et al. 2019).

    Args:
        samples: number of draws `n >= 2`; `f` is called `n` times.
    """

    name = "rloo"
    family = "score_function"

    def __init__(self, samples: int = 4) -> None:
        self.samples = check_sample_count("RLOO", samples, 2)

    def estimate(self, logits, f, tau, generator, baseline):
        draws = [draw(logits, generator) for _ in range(self.samples)]
        losses = torch.stack([f(z) for _, z in draws])
        n = self.samples
        advantage = (losses - (losses.sum(0, keepdim=True) - losses) / (n - 1)).detach()
        logps = torch.stack([log_prob(logits, index, losses.ndim - 1) for index, _ in draws])
        loss = losses.mean(0)
        return loss + zero_valued((advantage * logps).mean(0)), loss, draws[0][1]


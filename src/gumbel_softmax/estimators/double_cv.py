"""Double control variates: RLOO plus a Taylor control variate and its global correction, for binary variables.

Titsias and Shi, "Double Control Variates for Gradient Estimation in Discrete Latent Variable
Models", AISTATS 2022 (authors' code: thjashin/double-cv, `grad_type='double_cv'`). The paper
builds it for binary latent variables, `b ~ Bernoulli(p)`, `p = sigmoid(alpha)`, on top of
REINFORCE leave-one-out over `n` independent samples `b_1..b_n`. Each sample's learning signal
gets a second, local control variate: the first-order Taylor term of `f` around the mean,
with the slope taken from the *other* samples so that it does not depend on `b_k`,

```text
c_k = a\\, \\bar g_{-k}^T (b_k - p), \\qquad
\\bar g_{-k} = \\frac{1}{n - 1} \\sum_{j \\ne k} \\nabla_b f(b_j),
```

and the expectation it adds is removed in closed form (the global control variate):

```text
\\hat g = \\frac1n \\sum_k \\Big(f(b_k) + c_k - \\frac{1}{n-1} \\sum_{j \\ne k} (f(b_j) + c_j)\\Big)(b_k - p)
\\;-\\; a\\, \\bar g \\odot p (1 - p), \\qquad \\bar g = \\frac1n \\sum_k \\nabla_b f(b_k).
```

`E[c_k (b_k - p)] = a E[\\bar g] \\odot p(1 - p)` and every other cross term has mean 0, so the
estimate is unbiased for any scalar `a`. `a` starts at `alpha` (0: plain RLOO) and is trained
inside each call, after it is used, by one Adam step down the gradient of the mean squared
estimate (the authors' variance proxy, `hyper_lr = 1e-3`); `state_dict()` holds `a` and Adam's
state. `f` must be differentiable in its input: `\\nabla_b f(b_k)` comes from the same call that
gives `f(b_k)`.

Binary variables only (`bernoulli=True`). `f` is called `n` times; the surrogate's value (and
the gradient of `f`'s own parameters) is the mean over the samples, and `sample` is the first.
The samples are drawn one after the other as the other estimators draw one (Gumbel-max on `(0, l)`).
"""

from __future__ import annotations

import math

import torch

from gumbel_softmax.checks import check_positive_finite, check_sample_count
from gumbel_softmax.estimators.base import Estimator, draw, expand_to, linear_in, sum_to

__all__ = ["DoubleCV"]


class DoubleCV(Estimator):
    """The double control variate estimator for Bernoulli variables (Titsias and Shi 2022).

    Args:
        samples: number of independent samples `n >= 2`; `f` is called `n` times.
        alpha: the initial weight `a` of the Taylor control variate.
        lr: Adam's learning rate for `a`.
    """

    name = "double_cv"
    family = "score_function"
    supports_categorical = False

    def __init__(self, samples: int = 4, alpha: float = 0.0, lr: float = 1e-3) -> None:
        check_sample_count("double_cv", samples, 2)
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not math.isfinite(alpha):
            raise ValueError(f"alpha (the control variate's initial weight) must be a finite number, got {alpha!r}")
        self.samples = samples
        self.lr = check_positive_finite("lr (Adam's learning rate)", lr)
        self.alpha = torch.tensor(float(alpha), dtype=torch.float64, requires_grad=True)
        self.optimizer = torch.optim.Adam([self.alpha], lr=self.lr)

    def estimate(self, logits, f, tau, generator, baseline):
        logit = logits[..., 1] - logits[..., 0]  # the two-class form (0, l) of Bernoulli logits l
        p = torch.sigmoid(logit.detach())
        self.follow(p.device)
        bits, losses, slopes = [], [], []
        for _ in range(self.samples):
            b = draw(logits, generator)[1][..., 1].requires_grad_()
            loss = f(torch.stack([1 - b, b], -1))
            slope = None
            if loss.requires_grad:
                (slope,) = torch.autograd.grad(loss.sum(), b, retain_graph=True, allow_unused=True)
            bits.append(b.detach())
            losses.append(loss)
            slopes.append(torch.zeros_like(b) if slope is None else slope.detach())
        n, batch = self.samples, losses[0].ndim
        b, values, g = torch.stack(bits), torch.stack(losses), torch.stack(slopes)
        loss = values.mean(0)
        score = b - p
        others = (g.sum(0, keepdim=True) - g) / (n - 1)  # slope averaged over the other samples
        taylor = sum_to(others * score, batch + 1)  # c_k / a, per sample and example
        rloo = self.leave_one_out(values.detach(), score)
        local = self.leave_one_out(taylor, score) - g.mean(0) * p * (1 - p)  # d estimate / d a
        a = self.alpha.detach().to(p.dtype)
        grad = rloo + a * local
        self.step(rloo, local)
        return loss + linear_in(logit, grad, batch), loss, torch.stack([1 - b[0], b[0]], -1)

    @staticmethod
    def leave_one_out(signal: torch.Tensor, score: torch.Tensor) -> torch.Tensor:
        """`1/n sum_k (s_k - mean_{j != k} s_j) score_k` for per-example signals `s` `[n, *batch]`."""
        n = signal.shape[0]
        centred = signal - (signal.sum(0, keepdim=True) - signal) / (n - 1)
        return (expand_to(centred, score) * score).mean(0)

    def follow(self, device: torch.device) -> None:
        """Move `a` and Adam's state to `device`, where the estimates are (Adam casts its state on load)."""
        if self.alpha.device != device:
            state = self.optimizer.state_dict()
            self.alpha = self.alpha.detach().to(device).requires_grad_()
            self.optimizer = torch.optim.Adam([self.alpha], lr=self.lr)
            self.optimizer.load_state_dict(state)

    def step(self, rloo: torch.Tensor, local: torch.Tensor) -> None:
        """One Adam step on `a` down `d/da mean((rloo + a local)^2) = 2 mean((rloo + a local) local)`."""
        a = self.alpha.detach().to(rloo.dtype)
        self.alpha.grad = (2 * ((rloo + a * local) * local).mean()).to(self.alpha.dtype).reshape(())
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def state_dict(self) -> dict:
        """`a` and Adam's state."""
        return {"alpha": self.alpha.detach().clone(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        """Restore what `state_dict` returned."""
        with torch.no_grad():
            self.alpha.copy_(torch.as_tensor(state["alpha"], dtype=self.alpha.dtype))
        self.optimizer.load_state_dict(state["optimizer"])

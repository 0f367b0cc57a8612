"""REBAR and RELAX: REINFORCE with a relaxed, reparameterized control variate.

Tucker, Mnih, Maddison, Lawson, Sohl-Dickstein, "REBAR: Low-variance, unbiased gradient
estimates for discrete latent variable models", NeurIPS 2017, eq. (5); Grathwohl, Choi,
Wu, Roeder, Duvenaud, "Backpropagation through the Void", ICLR 2018, eq. (8)-(9).

With `z = l + G` (Gumbel-perturbed logits), `b = onehot(argmax z)` the exact sample,
`tilde z ~ p(z | b)` reparameterized by the conditional Gumbel draws of
`.conditional_gumbel`, and a control variate `c`:

```text
\\hat g = \\big(f(b) - c(\\tilde z)\\big) \\nabla_l \\log p(b) + \\nabla_l c(z) - \\nabla_l c(\\tilde z).
```

Unbiased for every `c` (the last two terms cancel the first one's bias; Grathwohl et
al. 2018, Section 3.3). Here `b` comes from `gumbel_softmax.functional.sample`
and `z` from noise drawn given `b`, which is the same joint law as `(argmax, G)`.

* `rebar`: `c(z) = eta * f(softmax(z / tau))` (the Concrete relaxation of `f`),
  `eta` and `tau` fixed (Tucker et al. also tune both online; not done here).
* `relax`: `c(z) = eta * f(y) + r_phi(y)` with `y = softmax(z / tau)` and `r_phi` a
  small MLP on the flattened `y` of each example (last layer zero-initialized, so RELAX
  starts as REBAR). `eta` and `phi` are trained inside each call, after the estimate
  is taken, by Adam on the single-sample variance proxy `mean ||hat g||^2`, whose
  gradient is that of the variance since `E[hat g]` does not depend on `c`.
  The temperature is *not* learned: it is the call's `tau` (Grathwohl et al. also tune
  `log tau` by the same variance gradient; here the caller's schedule owns `tau`).

Under `torch.no_grad()` / `torch.inference_mode()` the base class only evaluates `f`
at a sample (no control variate, no training). `state_dict()` holds `eta`, `r_phi` and
Adam's state, so a resumed run continues exactly.

`f` must accept relaxed inputs and be twice differentiable for RELAX (any decoder is).
`c`'s terms reach only `logits`: `f`'s parameters get their gradient from `f(b)`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from gumbel_softmax.checks import check_positive_finite
from gumbel_softmax.estimators._conditional_gumbel import conditional_gumbel
from gumbel_softmax.estimators.base import Estimator, expand_to, linear_in, one_hot
from gumbel_softmax.functional import gumbel_softmax_from_noise, sample

__all__ = ["ControlVariateEstimator", "rebar", "relax"]


class ControlVariateEstimator(Estimator):
    """REBAR (`learn=False`) or RELAX (`learn=True`); see the module docstring.

    Args:
        name: the registry name.
        eta: the initial weight of the relaxed control variate `f(softmax(z / tau))`.
        learn: train `eta` and the network `r_phi` to reduce the variance (RELAX).
        hidden: width of `r_phi`'s hidden layer.
        lr: Adam's learning rate for `eta` and `phi`.
    """

    family = "score_function"

    def __init__(self, name: str, eta: float = 1.0, learn: bool = False, hidden: int = 32, lr: float = 1e-3) -> None:
        if not math.isfinite(eta):
            raise ValueError(f"eta must be finite, got {eta}")
        if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1:
            raise ValueError(f"hidden (the width of RELAX's network) must be an int >= 1, got {hidden!r}")
        lr = check_positive_finite("lr (Adam's learning rate)", lr)
        self.name, self.learn, self.hidden, self.lr = name, learn, hidden, lr
        # float64, so that the control variate's eta is exact in the problem's dtype (float32 or float64).
        self.eta = torch.tensor(float(eta), dtype=torch.float64)
        self.network: nn.Sequential | None = None
        self.optimizer: torch.optim.Optimizer | None = None

    def _build(self, inputs: int, like: Tensor, generator: torch.Generator | None) -> None:
        """Create `r_phi` and the optimizer on first use, when the input size is known.

        The first layer is drawn from `generator` (torch's default `Linear` law,
        `U(-1/sqrt(inputs), 1/sqrt(inputs))`); the last layer starts at zero.
        """
        self.eta = self.eta.to(dtype=like.dtype, device=like.device).requires_grad_()
        self.network = nn.Sequential(nn.Linear(inputs, self.hidden), nn.Tanh(), nn.Linear(self.hidden, 1))
        self.network.to(dtype=like.dtype, device=like.device)
        with torch.no_grad():
            bound = 1.0 / math.sqrt(inputs)
            for p in self.network[0].parameters():
                p.uniform_(-bound, bound, generator=generator)
            for p in self.network[2].parameters():
                p.zero_()
        self.optimizer = torch.optim.Adam([self.eta, *self.network.parameters()], lr=self.lr)

    def control(self, logits: Tensor, noise: Tensor, tau, f, batch_ndim: int) -> Tensor:
        """`c(logits + noise)` per example."""
        relaxed = gumbel_softmax_from_noise(logits, noise, tau)
        value = self.eta.to(relaxed.dtype) * f(relaxed)
        if self.network is not None:
            value = value + self.network(relaxed.flatten(batch_ndim)).squeeze(-1)
        return value

    def estimate(self, logits, f, tau, generator, baseline):
        theta = logits.detach().requires_grad_()
        index = sample(theta.detach(), generator=generator)
        b = one_hot(index, theta)
        loss = f(b)
        batch = loss.ndim
        inputs = math.prod(theta.shape[batch:])
        if self.learn and self.network is None:
            self._build(inputs, theta, generator)
        if self.network is not None and self.network[0].in_features != inputs:
            raise ValueError(
                f"{self.name}'s control-variate network takes {self.network[0].in_features} inputs per example, "
                f"but these logits have {inputs}; use a fresh estimator (estimators.get) for each problem shape"
            )
        noise = conditional_gumbel(theta, index, generator=generator).detach()
        tilde = conditional_gumbel(theta, index, generator=generator)
        c_z = self.control(theta, noise, tau, f, batch)
        c_tilde = self.control(theta, tilde, tau, f, batch)
        (pathwise,) = torch.autograd.grad((c_z - c_tilde).sum(), theta, create_graph=self.learn)
        score = b - torch.softmax(theta, -1)
        estimate = expand_to(loss.detach() - c_tilde, theta) * score + pathwise
        if self.learn:
            self._step((estimate**2).sum() / max(1, loss.numel()))
        return loss + linear_in(logits, estimate.detach(), batch), loss, b

    def _parts(self) -> tuple[nn.Sequential, torch.optim.Optimizer]:
        """RELAX's network and optimizer, which the first call builds."""
        if self.network is None or self.optimizer is None:
            raise RuntimeError(f"{self.name}'s control-variate network is built on its first call")
        return self.network, self.optimizer

    def _step(self, variance: Tensor) -> None:
        """One Adam step on `eta` and `phi` down the gradient of the variance proxy."""
        network, optimizer = self._parts()
        params = [self.eta, *network.parameters()]
        grads = torch.autograd.grad(variance, params, allow_unused=True)
        for p, g in zip(params, grads):
            p.grad = None if g is None else g.detach()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def state_dict(self) -> dict:
        """`eta`, and for RELAX once it has run: the network's input size, its weights and Adam's state."""
        state: dict[str, object] = {"eta": self.eta.detach().clone()}
        if self.network is not None:
            network, optimizer = self._parts()
            first = network[0]
            assert isinstance(first, nn.Linear)
            state.update(inputs=first.in_features, network=network.state_dict(), optimizer=optimizer.state_dict())
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore `state_dict`'s output into an estimator built with the same options."""
        eta = torch.as_tensor(state["eta"])
        if "network" not in state:
            self.eta = eta.detach().clone()
            return
        if not self.learn:
            raise ValueError(f"{self.name} has no control-variate network; this state is RELAX's")
        self._build(int(state["inputs"]), eta, torch.Generator(eta.device))  # weights overwritten below
        with torch.no_grad():
            self.eta.copy_(eta)
        network, optimizer = self._parts()
        network.load_state_dict(state["network"])
        optimizer.load_state_dict(state["optimizer"])


def rebar(eta: float = 1.0) -> ControlVariateEstimator:
    """REBAR (Tucker et al. 2017) with fixed `eta`; the temperature is the call's `tau`."""
    return ControlVariateEstimator("rebar", eta=eta)


def relax(eta: float = 1.0, hidden: int = 32, lr: float = 1e-3) -> ControlVariateEstimator:
    """RELAX (Grathwohl et al. 2018): REBAR's control variate plus a learned network, tuned online."""
    return ControlVariateEstimator("relax", eta=eta, learn=True, hidden=hidden, lr=lr)

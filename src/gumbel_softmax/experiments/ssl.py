"""Kingma et al.'s M2 model for semi-supervised classification, as Jang et al. (2017, Section 4.3) train it.

Kingma, Rezende, Mohamed, Welling, "Semi-Supervised Learning with Deep Generative Models", NeurIPS 2014;
Jang, Gu, Poole, "Categorical Reparameterization with Gumbel-Softmax", ICLR 2017, Section 4.3.

M2 has a class `y` (categorical, `k` classes, uniform prior `p(y) = 1/k`) and a style `z` (Gaussian,
`p(z) = N(0, I)`), with three networks:

* the classifier `q(y | x)`,
* the style encoder `q(z | x, y) = N(mu(x, y), diag sigma^2(x, y))`,
* the decoder `p(x | y, z)`, Bernoulli over binary pixels.

For an image with its label, the negative ELBO is (Kingma et al., eq. 6)

`-L(x, y) = E_{q(z|x,y)}[-log p(x | y, z)] + KL(q(z | x, y) || N(0, I)) - log p(y)`,

with the Gaussian KL in closed form and one reparameterized draw `z = mu + sigma * eps`. For an image
without one, `y` is latent too (eq. 7):

`U(x) = E_{q(y|x)}[-L(x, y)] - H(q(y | x))`,

with the entropy in closed form and differentiated exactly. When `q(y | x)` puts all its mass on one
class, `U(x)` is that class's `-L(x, y)`. The expectation over `y` is what Jang et al. change:

* `marginalize`: the exact sum `sum_y q(y | x) (-L(x, y))`, one encoder-and-decoder pass per class, cost
  `O(D + k (I + G))` per image (their notation: `D` the classifier, `I` the style encoder, `G` the
  decoder);
* any estimator of the registry (`gumbel_softmax.estimators.get`): one draw of `y`, one pass, cost
  `O(D + I + G)`, and the estimator's gradient for `q(y | x)`. Soft Gumbel-Softmax feeds the relaxed
  `y` to both networks (the relaxed objective), the others an exact one-hot `y`.

The classifier learns from the labels only through the extra term `alpha * E_labeled[-log q(y | x)]`
(Kingma et al., eq. 9). Per step, with minibatch means over the labeled and the unlabeled examples,

`J = mean_l[-L(x, y)] + alpha * mean_l[-log q(y | x)] + mean_u[U(x)]`.

Kingma et al. weight the classification term by `alpha = 0.1 N` against a sum over all `N` images; with
the means above (the labeled mean given the weight of a whole unlabeled minibatch) their weighting
corresponds to a smaller `alpha`, and Jang et al. report trying `alpha` in {0.1, 0.2, 0.3, 0.8, 1.0}.

The networks: Jang et al. use 3-layer convolutional networks for `q(y | x)` and `q(z | x, y)` and a
4-layer transposed convolutional network for `p(x | y, z)`, with ReLU (Section 4.3, Figure 5). The
channel widths are not given in the paper; `net="cnn"` uses 32-64-128 channels (ours). For 8x8 digits
`net="mlp"` uses two hidden layers of `hidden` units in each network.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from gumbel_softmax.estimators.base import Estimator
from gumbel_softmax.experiments.models import bernoulli_nll, mlp
from gumbel_softmax.experiments.ssl_config import MARGINALIZE, NETS

__all__ = [
    "M2",
    "MARGINALIZE",
    "SSLLoss",
    "NETS",
    "neg_elbo_given_class",
    "class_neg_entropy",
    "labeled_loss",
    "unlabeled_loss",
    "ssl_objective",
    "marginal_neg_elbo",
    "labeled_subset",
    "random_labels",
]


def _conv_stack() -> nn.Sequential:
    """Three stride-2 convolutions, 28x28 -> 14x14 -> 7x7 -> 4x4, ReLU after each; 2048 features out."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 4, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(32, 64, 4, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(64, 128, 3, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(),
    )


class M2(nn.Module):
    """The M2 model's three networks (module docstring): `classify`, `encode`, `decode`.

    Args:
        shape: the image's `(H, W)`; `net="cnn"` needs `(28, 28)`.
        classes: `k`, the number of classes of `y`.
        latent: the size of the Gaussian style `z`.
        net: `"mlp"` (two hidden layers of `hidden` units per network) or `"cnn"` (Jang et al.'s
            3-layer convolutional encoders and 4-layer transposed convolutional decoder).
        hidden: the MLP's hidden width (unused by `"cnn"`).

    Raises:
        ValueError: an unknown `net`, `"cnn"` on another image size, fewer than 2 classes, a latent < 1.

    Examples:
        >>> model = M2((8, 8), classes=10, latent=4, net="mlp", hidden=16)
        >>> model.classify(torch.zeros(3, 64)).shape
        torch.Size([3, 10])
    """

    def __init__(
        self, shape: tuple[int, int], classes: int, latent: int = 32, net: str = "mlp", hidden: int = 256
    ) -> None:
        super().__init__()
        if net not in NETS:
            raise ValueError(f"net must be one of {', '.join(NETS)}, got {net!r}")
        if net == "cnn" and tuple(shape) != (28, 28):
            raise ValueError(f"net 'cnn' is built for 28x28 images (MNIST), got {shape}; use net 'mlp'")
        if classes < 2 or latent < 1 or hidden < 1:
            raise ValueError(f"need >= 2 classes, latent >= 1 and hidden >= 1, got {classes}, {latent}, {hidden}")
        self.shape, self.classes, self.latent, self.net = tuple(shape), classes, latent, net
        pixels = shape[0] * shape[1]
        if net == "mlp":
            self.classifier = mlp([pixels, hidden, hidden, classes])
            self.style_features: nn.Module = nn.Identity()
            self.style_head: nn.Module = mlp([pixels + classes, hidden, hidden, 2 * latent])
            self.decoder = mlp([classes + latent, hidden, hidden, pixels])
        else:
            self.classifier = nn.Sequential(_conv_stack(), nn.Linear(2048, classes))
            self.style_features = _conv_stack()
            self.style_head = nn.Linear(2048 + classes, 2 * latent)
            self.decoder = nn.Sequential(
                nn.Linear(classes + latent, 2048), nn.ReLU(), nn.Unflatten(-1, (128, 4, 4)),
                nn.ConvTranspose2d(128, 64, 3, stride=2, padding=1), nn.ReLU(),  # 7x7
                nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1), nn.ReLU(),  # 14x14
                nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1), nn.ReLU(),  # 28x28
                nn.ConvTranspose2d(16, 1, 3, stride=1, padding=1), nn.Flatten(),
            )

    def _image(self, x: Tensor) -> Tensor:
        return x.reshape(-1, 1, *self.shape) if self.net == "cnn" else x.reshape(-1, x.shape[-1])

    def classify(self, x: Tensor) -> Tensor:
        """Logits of `q(y | x)`: `[B, k]` for images `[B, H*W]`."""
        return self.classifier(self._image(x)).reshape(*x.shape[:-1], self.classes)

    def features(self, x: Tensor) -> Tensor:
        """The style encoder's features of `x`, computed once and shared by every class (`[B, F]`)."""
        return self.style_features(self._image(x)).reshape(*x.shape[:-1], -1)

    def encode(self, features: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and log-variance of `q(z | x, y)` from `features(x)` and a one-hot or relaxed `y`.

        `features` `[B, F]` broadcasts against `y` `[..., B, k]`; both outputs are `[..., B, latent]`.
        """
        features = features.expand(*y.shape[:-1], features.shape[-1])
        mean, log_var = self.style_head(torch.cat([features, y], -1)).chunk(2, -1)
        return mean, log_var

    def decode(self, y: Tensor, z: Tensor) -> Tensor:
        """Pixel logits of `p(x | y, z)`, `[..., B, H*W]`."""
        joint = torch.cat([y, z], -1)
        return self.decoder(joint.reshape(-1, joint.shape[-1])).reshape(*joint.shape[:-1], -1)


def class_neg_entropy(logits: Tensor) -> Tensor:
    """`-H(q(y | x)) = sum_y q log q`, per example (`[B]`), from finite logits."""
    log_q = logits.log_softmax(-1)
    return (log_q.exp() * log_q).sum(-1)


def neg_elbo_given_class(model: M2, x: Tensor, features: Tensor, y: Tensor, noise: Tensor) -> Tensor:
    """`-L(x, y)` (module docstring) with the style drawn as `z = mu + sigma * noise`.

    Args:
        model: the M2 model.
        x: binary images `[B, D]`.
        features: `model.features(x)`.
        y: one-hot or relaxed classes `[..., B, k]` (leading dims: several classes per image).
        noise: standard normal `[B, latent]` (or broadcastable to `[..., B, latent]`).

    Returns:
        `[..., B]` nats.
    """
    mean, log_var = model.encode(features, y)
    z = mean + (0.5 * log_var).exp() * noise
    reconstruction = bernoulli_nll(model.decode(y, z), x)
    kl_z = 0.5 * (mean.pow(2) + log_var.exp() - 1.0 - log_var).sum(-1)
    return reconstruction + kl_z + math.log(model.classes)


@dataclass
class SSLLoss:
    """One step's terms: `surrogate.backward()` gives the gradient; the rest are per-example values."""

    surrogate: Tensor
    labeled_neg_elbo: Tensor
    cross_entropy: Tensor
    unlabeled: Tensor


def labeled_loss(model: M2, x: Tensor, labels: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
    """`(-L(x, y), -log q(y | x))` per labeled example, `y` the given class indices `[B]`."""
    y = F.one_hot(labels, model.classes).to(x.dtype)
    noise = torch.randn(x.shape[0], model.latent, generator=generator, device=x.device, dtype=x.dtype)
    neg_elbo = neg_elbo_given_class(model, x, model.features(x), y, noise)
    cross_entropy = F.cross_entropy(model.classify(x), labels, reduction="none")
    return neg_elbo, cross_entropy


def unlabeled_loss(
    model: M2, x: Tensor, method: str | Estimator, tau: float, generator: torch.Generator | None
) -> tuple[Tensor, Tensor]:
    """`U(x)` per unlabeled example: `(surrogate, value)`; the surrogate's gradient is the method's.

    Args:
        model: the M2 model.
        x: binary images `[B, D]`.
        method: `"marginalize"` (the exact sum over the `k` classes, one batched pass of `k B` images)
            or an estimator (`gumbel_softmax.estimators.get(name)`), which draws one `y` per image.
        tau: the temperature, for the estimators that have one.
        generator: the source of the style noise and of the estimator's draws.

    Returns:
        Two `[B]` tensors: the surrogate to back-propagate and `U(x)` at the draw (exact for `marginalize`).
    """
    logits = model.classify(x)
    features = model.features(x)
    noise = torch.randn(x.shape[0], model.latent, generator=generator, device=x.device, dtype=x.dtype)
    neg_entropy = class_neg_entropy(logits)
    if isinstance(method, str):
        if method != MARGINALIZE:
            raise ValueError(f"method must be {MARGINALIZE!r} or an estimator, got {method!r}")
        every = torch.eye(model.classes, dtype=x.dtype, device=x.device)[:, None, :].expand(-1, x.shape[0], -1)
        per_class = neg_elbo_given_class(model, x, features, every, noise)  # [k, B]
        value = (logits.softmax(-1) * per_class.transpose(0, 1)).sum(-1) + neg_entropy
        return value, value.detach()
    f: Callable[[Tensor], Tensor] = lambda y: neg_elbo_given_class(model, x, features, y, noise)  # noqa: E731
    out = method(logits, f, tau=tau, generator=generator)
    return out.surrogate + neg_entropy, (out.loss + neg_entropy).detach()


def ssl_objective(
    model: M2,
    labeled_x: Tensor,
    labels: Tensor,
    unlabeled_x: Tensor,
    method: str | Estimator,
    *,
    alpha: float,
    tau: float,
    generator: torch.Generator | None = None,
) -> SSLLoss:
    """`J = mean_l[-L(x, y)] + alpha * mean_l[-log q(y | x)] + mean_u[U(x)]` (module docstring), a scalar
    surrogate with the per-example terms for logging.

    An empty unlabeled batch (`[0, D]`: every label observed) leaves M2's labeled objective
    `mean_l[-L(x, y)] + alpha * mean_l[-log q(y | x)]`.
    """
    neg_elbo, cross_entropy = labeled_loss(model, labeled_x, labels, generator)
    total = neg_elbo.mean() + alpha * cross_entropy.mean()
    if len(unlabeled_x) == 0:
        return SSLLoss(total, neg_elbo.detach(), cross_entropy.detach(), unlabeled_x.new_zeros(0))
    surrogate, unlabeled = unlabeled_loss(model, unlabeled_x, method, tau, generator)
    total = total + surrogate.mean()
    return SSLLoss(total, neg_elbo.detach(), cross_entropy.detach(), unlabeled)


@torch.no_grad()
def marginal_neg_elbo(model: M2, x: Tensor, generator: torch.Generator | None, samples: int = 1) -> Tensor:
    """`U(x)`, the bound on `-log p(x)` with the exact sum over classes and `samples` style draws per class
    (their mean), per example: the test ELBO Jang et al. report is `-mean U(x)`."""
    logits, features = model.classify(x), model.features(x)
    every = torch.eye(model.classes, dtype=x.dtype, device=x.device)[:, None, :].expand(-1, x.shape[0], -1)
    total = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    for _ in range(samples):
        noise = torch.randn(x.shape[0], model.latent, generator=generator, device=x.device, dtype=x.dtype)
        total += (logits.softmax(-1) * neg_elbo_given_class(model, x, features, every, noise).T).sum(-1)
    return total / samples + class_neg_entropy(logits)


def labeled_subset(labels: Tensor, count: int, classes: int, seed: int) -> Tensor:
    """Indices of `count // classes` images of each class, drawn without replacement by `seed`; sorted.

    Raises:
        ValueError: `count` is not a positive multiple of `classes`, or a class has too few images.

    Examples:
        >>> labels = torch.arange(40) % 4
        >>> labeled_subset(labels, 8, 4, seed=0).shape
        torch.Size([8])
    """
    if count < classes or count % classes:
        raise ValueError(f"--labels must be a positive multiple of --classes ({classes}) so that every class has "
                         f"as many, got {count}")
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for c in range(classes):
        members = (labels == c).nonzero().squeeze(-1)
        if len(members) < count // classes:
            raise ValueError(f"class {c} has {len(members)} training images, fewer than {count // classes}")
        chosen.append(members[torch.randperm(len(members), generator=generator)[: count // classes]])
    return torch.cat(chosen).sort().values


def random_labels(n: int, classes: int, seed: int) -> Tensor:
    """`n` labels with `classes` classes as evenly as possible (`arange(n) % classes`, shuffled by `seed`):
    every class occurs when `n >= classes`. Jang et al. vary `k` this way for their speed measurement.

    Raises:
        ValueError: `n < classes` (some class could not occur) or `classes < 2`.
    """
    if classes < 2 or n < classes:
        raise ValueError(f"need >= 2 classes and at least one image per class, got {classes} classes, {n} images")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return torch.arange(n)[order] % classes

"""The two models of Jang, Gu, Poole (2017, Section 4): a discrete-latent VAE and a stochastic binary network.

Both have a layer of discrete latent units, categorical (`V` variables of `K`
classes, one-hot) or Bernoulli (`V` bits), described by `Latent`:

* `DiscreteVAE` (their Section 4.2): encoder MLP `x -> logits of q(z|x)`
  (784-512-256 on MNIST), decoder MLP `z -> logits of p(x|z)` (256-512-784),
  a uniform prior `p(z)`, a Bernoulli likelihood over binarized pixels.
* `StructuredOutputNetwork` (their Section 4.1): predicts the lower half of an
  image from its upper half through stochastic layers, 392-200-200-392 for
  Bernoulli units or 392-(20x10)-(20x10)-392 for categorical ones, with affine
  maps between layers.

The modules only compute logits and log-densities; how gradients are estimated
is the trainer's business (`gumbel_softmax.experiments.objectives`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from gumbel_softmax.functional import sample_one_hot

__all__ = ["Latent", "mlp", "DiscreteVAE", "StructuredOutputNetwork"]


@dataclass(frozen=True)
class Latent:
    """A layer of `variables` discrete units: categorical with `classes` classes, or Bernoulli.

    Logits have shape `[B, variables, classes]` (categorical, the last axis is the
    category axis) or `[B, variables]` (Bernoulli). `size` is the width of the
    flattened sample fed to the next layer.
    """

    kind: str = "categorical"
    variables: int = 20
    classes: int = 10

    def __post_init__(self) -> None:
        if self.kind not in ("categorical", "bernoulli"):
            raise ValueError(f"latent kind must be 'categorical' or 'bernoulli', got {self.kind!r}")
        if self.variables < 1 or (self.bernoulli is False and self.classes < 2):
            raise ValueError(f"need >= 1 variable and >= 2 classes, got {self.variables} x {self.classes}")

    @property
    def bernoulli(self) -> bool:
        return self.kind == "bernoulli"

    @property
    def size(self) -> int:
        return self.variables if self.bernoulli else self.variables * self.classes

    def shape(self, flat: Tensor) -> Tensor:
        """Reshape `[..., size]` network outputs into logits of this layer."""
        return flat if self.bernoulli else flat.unflatten(-1, (self.variables, self.classes))

    def log_prob(self, logits: Tensor, z: Tensor) -> Tensor:
        """`log q(z)` of discrete samples, summed over the units: shape `logits.shape[:-1 or -2]`."""
        if self.bernoulli:
            return -F.binary_cross_entropy_with_logits(logits.expand_as(z), z, reduction="none").sum(-1)
        return (z * logits.log_softmax(-1)).sum((-1, -2))

    def kl_to_uniform(self, logits: Tensor) -> Tensor:
        """`KL(q || uniform) = sum_units [ sum_k q_k log q_k + log K ]` in closed form (K = 2 for Bernoulli)."""
        if self.bernoulli:
            p, log_p, log_1mp = torch.sigmoid(logits), F.logsigmoid(logits), F.logsigmoid(-logits)
            return (p * log_p + (1 - p) * log_1mp + math.log(2)).sum(-1)
        log_q = logits.log_softmax(-1)
        return (log_q.exp() * log_q).sum((-1, -2)) + self.variables * math.log(self.classes)

    def uniform_log_prob(self) -> float:
        """`log p(z)` of every configuration under the uniform prior."""
        return -self.variables * math.log(2 if self.bernoulli else self.classes)

    def sample(self, logits: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Exact discrete samples (one-hot or {0, 1}) in the dtype of `logits`; no gradient."""
        with torch.no_grad():
            if self.bernoulli:
                return torch.bernoulli(torch.sigmoid(logits), generator=generator)
            return sample_one_hot(logits, generator=generator)

    def uniform_logits(self, n: int, like: Tensor) -> Tensor:
        """Logits of the uniform prior for `n` examples (zeros)."""
        shape = (n, self.variables) if self.bernoulli else (n, self.variables, self.classes)
        return like.new_zeros(shape)


def mlp(sizes: Sequence[int]) -> nn.Sequential:
    """Affine layers between consecutive `sizes` with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        if i:
            layers.append(nn.ReLU())
        layers.append(nn.Linear(fan_in, fan_out))
    return nn.Sequential(*layers)


def bernoulli_nll(pixel_logits: Tensor, x: Tensor) -> Tensor:
    """`-log p(x | logits)` of binary pixels, summed over the last axis."""
    target = x.expand_as(pixel_logits) if x.shape != pixel_logits.shape else x
    return F.binary_cross_entropy_with_logits(pixel_logits, target, reduction="none").sum(-1)


class DiscreteVAE(nn.Module):
    """VAE with discrete latents, a uniform prior and a Bernoulli likelihood (Jang et al. 2017, Section 4.2).

    Args:
        pixels: input size (784 for MNIST, 64 for 8x8 digits).
        latent: the latent layer (default 20 categorical variables of 10 classes).
        hidden: encoder hidden sizes (default 512, 256); the decoder mirrors them.
    """

    def __init__(self, pixels: int, latent: Latent = Latent(), hidden: Sequence[int] = (512, 256)) -> None:
        super().__init__()
        self.latent = latent
        self.encoder = mlp([pixels, *hidden, latent.size])
        self.decoder = mlp([latent.size, *reversed(hidden), pixels])

    def encode(self, x: Tensor) -> Tensor:
        """Logits of `q(z | x)`: `[B, V, K]` or `[B, V]`."""
        return self.latent.shape(self.encoder(x))

    def decode(self, z: Tensor) -> Tensor:
        """Pixel logits of `p(x | z)` for a (one-hot, binary or relaxed) latent `z`."""
        return self.decoder(z.flatten(-2) if not self.latent.bernoulli else z)

    def reconstruction_nll(self, x: Tensor, z: Tensor) -> Tensor:
        """`-log p(x | z)` per example."""
        return bernoulli_nll(self.decode(z), x)


class StructuredOutputNetwork(nn.Module):
    """Stochastic network predicting the lower half of an image from its upper half (Jang et al. 2017, 4.1).

    `upper -> h_1 -> ... -> h_L -> lower` with affine maps, each `h_l` a
    `Latent` layer drawn given the previous one; `p(lower | h_L)` is Bernoulli.

    Args:
        pixels_in, pixels_out: sizes of the two halves (392 and 392 on MNIST).
        latent: each stochastic layer (default 200 Bernoulli units).
        layers: the number of stochastic layers (default 2).
    """

    def __init__(self, pixels_in: int, pixels_out: int, latent: Latent, layers: int = 2) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"need at least one stochastic layer, got {layers}")
        self.latent = latent
        sizes = [pixels_in] + [latent.size] * layers
        self.maps = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(sizes))
        self.output = nn.Linear(latent.size, pixels_out)

    def layer_logits(self, layer: int, below: Tensor) -> Tensor:
        """Logits of stochastic layer `layer` given the input (layer 0) or the previous layer's sample."""
        flat = below.flatten(-2) if layer > 0 and not self.latent.bernoulli else below
        return self.latent.shape(self.maps[layer](flat))

    def output_nll(self, lower: Tensor, h: Tensor) -> Tensor:
        """`-log p(lower | h_L)` per example."""
        return bernoulli_nll(self.output(h if self.latent.bernoulli else h.flatten(-2)), lower)

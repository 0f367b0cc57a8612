"""Train the discrete-latent VAE of Jang et al. (2017) with any gradient estimator.

Categorical (20 x 10, default) or Bernoulli (200) latents, uniform prior,
Bernoulli likelihood, 784-512-256 encoder and 256-512-784 decoder on MNIST
(the digits default uses 64 inputs). Soft Gumbel-Softmax trains the relaxed
objective; every other estimator trains the discrete negative ELBO
(see gumbel_softmax.experiments.objectives). Final report: test negative ELBO
and the importance-weighted bound on -log p(x) with --eval-samples draws.

Multi-process: torchrun --nproc_per_node N -m gumbel_softmax train vae ...
"""

from __future__ import annotations

import argparse

from gumbel_softmax.experiments.train import add_arguments as _add
from gumbel_softmax.experiments.train import run_command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _add(parser, "vae")


def run(args: argparse.Namespace) -> int:
    return run_command(args, "vae")

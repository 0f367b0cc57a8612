"""Train the stochastic binary network of Jang et al. (2017, 4.1): predict an image's lower half from its upper half.

Stochastic layers of 200 Bernoulli (default) or 20 x 10 categorical units with
affine maps between them (392-200-200-392 on MNIST); trained on the m = 1
bound E_h[-log p(lower | h)], evaluated with m = --eval-samples. tau is fixed
(--anneal constant) by default, as in the paper.

Multi-process: torchrun --nproc_per_node N -m gumbel_softmax train sbn ...
"""

from __future__ import annotations

import argparse

from gumbel_softmax.experiments.train import add_arguments as _add
from gumbel_softmax.experiments.train import run_command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _add(parser, "sbn")


def run(args: argparse.Namespace) -> int:
    return run_command(args, "sbn")

"""The options of `gumbel-softmax reproduce sorting`. Importing it loads no model or training code."""

from __future__ import annotations

import argparse

from gumbel_softmax.cli import comma_separated, folder, non_negative_float, positive_float, positive_int, seed, whole
from gumbel_softmax.experiments.config import MAX_SIZE

__all__ = ["add_sorting", "MAX_N"]

# The longest sequence (the paper stops at 120). Sizes are bounded so that a typo is an error, not an
# allocation failure; `sorting.check_sizes` bounds their product.
MAX_N = 1000
_SIZE = whole(1, MAX_SIZE)


def add_sorting(parser: argparse.ArgumentParser) -> None:
    """The options of `reproduce sorting`; the defaults are those of google/gumbel_sinkhorn's sorting code."""
    parser.add_argument("--ns", type=comma_separated(whole(2, MAX_N), f"sequence lengths from 2 to {MAX_N}"),
                        default="5,10,15,80,100,120",
                        metavar="NS", help="sequence lengths n, comma-separated: one run each")
    parser.add_argument("--steps", type=positive_int, default=500, help="training steps per n (the authors' 500)")
    parser.add_argument("--batch-size", type=_SIZE, default=10, help="sequences per training step")
    parser.add_argument("--lr", type=positive_float, default=0.1, help="Adam learning rate")
    parser.add_argument("--tau", type=positive_float, default=1.0, help="Gumbel-Sinkhorn temperature")
    parser.add_argument("--sinkhorn-iters", type=whole(1, 10_000), default=10, help="Sinkhorn iterations L")
    parser.add_argument("--samples", type=_SIZE, default=5,
                        help="Gumbel-Sinkhorn samples per sequence in training")
    parser.add_argument("--hidden", type=_SIZE, default=32, help="hidden units of the per-number network")
    parser.add_argument("--noise-factor", type=non_negative_float, default=1.0,
                        help="scale of the Gumbel noise in training (0: plain Sinkhorn)")
    parser.add_argument("--test-size", type=_SIZE, default=1000, help="test sequences per n")
    parser.add_argument("--seed", type=seed, default=0, help="seed of the weights, the data and the noise")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--out", type=folder, default="runs/sorting",
                        help="folder of results.json and table.md")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help="show no progress bar (no tqdm needed)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the results.json and table.md of an earlier run in --out")

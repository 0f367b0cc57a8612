"""The options of `gumbel-softmax train ssl`, `reproduce ssl` and `reproduce ssl-speed`.

The options shared with `train vae` come from `gumbel_softmax.experiments.options` (each defined once
there); this module adds the semi-supervised ones. Importing it loads no model, data or training code.
"""

from __future__ import annotations

import argparse

from gumbel_softmax.cli import comma_separated, non_negative_float, seed, whole
from gumbel_softmax.experiments import options as shared
from gumbel_softmax.experiments.config import MAX_SIZE
from gumbel_softmax.experiments.ssl_config import NETS, SSLConfig

__all__ = ["add_train_ssl", "add_ssl_speed", "add_reproduce_ssl", "SSL_ROWS"]

_SHARED = ["--dataset", "--data-dir", "--data-seed", "--tau", "--anneal", "--steps", "--batch-size", "--lr", "--seed",
           "--device", "--out", "--checkpoint-every", "--log-every", "--eval-every", "--resume", "--overwrite",
           "--no-progress", "--no-figures"]


def add_train_ssl(parser: argparse.ArgumentParser) -> None:
    """The options of `train ssl`: its own, then the shared ones (`gumbel_softmax.experiments.options`)."""
    d = SSLConfig()
    parser.add_argument("--unlabeled", default=d.unlabeled, metavar="METHOD",
                        help="how the unlabeled term treats the class y: marginalize (the exact sum over the "
                             "classes, one decoder pass each) or an estimator name such as gumbel_softmax, "
                             "st_gumbel_softmax, gumbel_rao, reinmax or reinforce (one pass)")
    parser.add_argument("--labels", type=whole(1, MAX_SIZE), default=d.labels,
                        help="labeled training images, the same number per class, picked by --data-seed")
    parser.add_argument("--alpha", type=non_negative_float, default=d.alpha,
                        help="weight of the classification loss -log q(y|x) on the labeled minibatch (Jang et al. "
                             "tried 0.1, 0.2, 0.3, 0.8 and 1.0)")
    parser.add_argument("--net", choices=["auto", *NETS], default=d.net,
                        help="auto: the paper's convolutional networks on MNIST, MLPs on digits")
    parser.add_argument("--width", type=whole(1, MAX_SIZE), default=d.width, help="hidden width of the MLP networks")
    parser.add_argument("--z-size", type=whole(1, MAX_SIZE), default=d.z_size,
                        help="size of the Gaussian style variable z")
    parser.add_argument("--eval-samples", type=whole(1, MAX_SIZE), default=d.eval_samples,
                        help="style draws per class in the test ELBO (the class is summed exactly)")
    shared.add(parser, ["--classes"], classes={
        "default": d.classes,
        "help": "number of classes k; other than 10, every image gets a random label of k (Jang et al.'s "
                "speed-up measurement; the accuracy is then meaningless)"})
    # The validation and test splits are binarized once by `load` (the same draws in every run).
    shared.add(parser, _SHARED, steps={"default": d.steps, "help": "optimizer steps (Jang et al. give no length for "
                                       "this experiment)"}, out={"default": d.out},
               anneal={"default": d.anneal, "help": "temperature schedule; the default is Jang et al.'s "
                       "max(0.5, exp(-3e-5 t)) recomputed every 2000 steps (Section 4.3)"},
               eval_every={"default": d.eval_every,
                           "help": "steps between validation accuracy and ELBO evaluations (0: none)"})


def add_ssl_speed(parser: argparse.ArgumentParser) -> None:
    """The options of `reproduce ssl-speed`."""
    parser.add_argument("--ks", type=comma_separated(int, "numbers of classes"), default="10,25,50,100",
                        metavar="KS", help="numbers of classes k, comma-separated (random labels)")
    parser.add_argument("--net", choices=list(NETS), default="cnn",
                        help="cnn: the paper's convolutional networks; mlp: two hidden layers of 256")
    parser.add_argument("--image", type=int, default=28, help="side of the random square images (28: MNIST)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="timed steps of each method per k, the two alternating")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps of each method per k first")
    shared.add(parser, ["--batch-size", "--seed", "--device", "--out", "--no-progress", "--no-figures"],
               batch_size={"help": "unlabeled images per step (and as many labeled ones)"},
               out={"default": "runs/ssl-speed", "help": "folder of speed.json, table.md and speed.png"},
               progress={"help": "print no line per k while measuring"})


# The rows of `reproduce ssl` by default: Jang et al.'s Table 2 (marginalization, Gumbel, ST Gumbel-Softmax),
# then Gumbel-Rao and ReinMax. Any `--unlabeled` value of `train ssl` may be a row.
SSL_ROWS = ("marginalize", "gumbel_softmax", "st_gumbel_softmax", "gumbel_rao", "reinmax")


def add_reproduce_ssl(parser: argparse.ArgumentParser) -> None:
    """The options of `reproduce ssl`: rows, seeds and a few of `train ssl`'s; every other option is its default."""
    d = SSLConfig()
    parser.add_argument("--rows", type=comma_separated(str, "rows"), default=", ".join(SSL_ROWS), metavar="ROWS",
                        help="the table's rows, comma-separated: each a value of train ssl --unlabeled "
                             "(marginalize or an estimator name)")
    parser.add_argument("--seeds", type=comma_separated(seed, "seeds"), default="0,1,2", metavar="SEEDS",
                        help="seeds, comma-separated: one run per row and seed, the table shows mean and spread")
    parser.add_argument("--eval-samples", type=whole(1, MAX_SIZE), default=d.eval_samples,
                        help="style draws per class in each run's test ELBO (the class is summed exactly)")
    shared.add(parser, ["--dataset", "--data-dir", "--steps", "--device", "--checkpoint-every", "--out", "--resume",
                        "--overwrite", "--no-progress", "--no-figures"],
               steps={"default": d.steps, "help": "optimizer steps of each run (Jang et al. give no length for "
                      "this experiment)"}, checkpoint_every={"default": d.checkpoint_every},
               out={"default": "runs/reproduce-ssl", "help": "folder of the runs (OUT/<row>/seed<S>) and the table"},
               resume={"help": "read back finished runs and continue interrupted ones"},
               overwrite={"help": "train again the runs whose folders hold other runs' files"})
    parser.add_argument("--report", action="store_true",
                        help="train nothing: print the table of the finished runs in --out")

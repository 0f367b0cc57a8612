"""`gumbel-softmax train ssl`: the M2 model (`gumbel_softmax.experiments.ssl`) trained on a few labels.

Data (Jang et al. 2017, Section 4.3): the training images, dynamically binarized (each minibatch redrawn
from the grey levels), all used as unlabeled images, and `labels` of them (`labels / classes` per class,
picked by `data_seed`) also with their label. Each step takes a minibatch of `batch_size` unlabeled
images and one of `min(batch_size, labels)` labeled ones, each in a fixed-seed order (`BatchOrder`).

`classes` other than the data set's 10 is the random-label mode of Jang et al.'s speed measurement:
every image gets one of `classes` labels at random (`random_labels`), so the accuracy means nothing
there; it only varies `k`.

The run writes what `train vae` writes (`config.json`, `metrics.jsonl`/`metrics.csv`, `checkpoint.pt`
through `RunState`, `final.json`, figures), and `resume` continues exactly: the data order is a function
of `(seed, step)`, the noise comes from one checkpointed generator, evaluations draw from generators
seeded by `(seed, step)`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import torch
from torch import Tensor, nn

from gumbel_softmax import anneal, estimators
from gumbel_softmax.estimators.base import Estimator
from gumbel_softmax.experiments import checkpoint as ckpt
from gumbel_softmax.experiments.config import MAX_SIZE, RUN_FILES, check_out, check_same_run
from gumbel_softmax.experiments.data import BatchOrder, ImageData, binarize, load
from gumbel_softmax.experiments.distributed import World, check_device
from gumbel_softmax.experiments.metrics import MetricsLog, remove_stale_temporaries, write_atomic
from gumbel_softmax.experiments.options import config_values
from gumbel_softmax.experiments.progress import progress_bar
from gumbel_softmax.experiments.ssl import (
    M2,
    MARGINALIZE,
    labeled_subset,
    marginal_neg_elbo,
    random_labels,
    ssl_objective,
)
from gumbel_softmax.experiments.ssl_config import NETS, SSLConfig
from gumbel_softmax.experiments.ssl_figures import SSL_FIGURES

__all__ = ["SSLData", "train_ssl", "run", "prepare_data", "unlabeled_method", "check_ssl_config", "evaluate",
           "classification_scores", "config_from_args"]


def unlabeled_method(name: str) -> str | Estimator:
    """`"marginalize"`, or the registry's estimator `name`; refuse (`ValueError`) the ones M2 cannot use."""
    if name == MARGINALIZE:
        return name
    try:
        estimator = estimators.get(name)
    except ValueError:
        raise ValueError(f"--unlabeled must be {MARGINALIZE} or an estimator: {', '.join(estimators.names())}; "
                         f"got {name!r}") from None
    if not estimator.supports_categorical:
        raise ValueError(f"--unlabeled {name} takes binary variables only; the class y has --classes categories")
    if estimator.needs_baseline:
        raise ValueError(f"--unlabeled {name} needs an input-dependent baseline network, which train ssl does not "
                         "build; use reinforce_ema or rloo")
    return estimator


def check_ssl_config(config: SSLConfig) -> anneal.Schedule:
    """Refuse (`ValueError`, naming the option) a configuration no run can have; return its schedule."""
    if config.steps < 1 or config.batch_size < 1 or config.lr <= 0 or config.eval_samples < 1:
        raise ValueError("--steps, --batch-size and --eval-samples must be >= 1 and --lr > 0")
    if not config.alpha >= 0 or config.alpha == float("inf"):
        raise ValueError(f"--alpha must be a finite number >= 0, got {config.alpha}")
    if config.classes < 2 or config.labels < config.classes or config.labels % config.classes:
        raise ValueError(f"--classes must be >= 2 and --labels a positive multiple of it (every class as many "
                         f"labels), got --classes {config.classes} --labels {config.labels}")
    if config.net not in ("auto", *NETS):
        raise ValueError(f"--net must be auto, {' or '.join(NETS)}, got {config.net!r}")
    if config.network() == "cnn" and config.dataset != "mnist":
        raise ValueError("--net cnn is built for 28x28 MNIST images; use --net mlp (or auto) with --dataset digits")
    for name, value in (("--labels", config.labels), ("--width", config.width), ("--z-size", config.z_size),
                        ("--eval-samples", config.eval_samples), ("--classes", config.classes)):
        if not 1 <= value <= MAX_SIZE:
            raise ValueError(f"{name} takes a whole number from 1 to {MAX_SIZE}, got {value}")
    if config.data_dir is not None and config.dataset != "mnist":
        raise ValueError(f"--data-dir is read for --dataset mnist only, not {config.dataset!r}: drop it, or add "
                         "--dataset mnist")
    if min(config.checkpoint_every, config.eval_every) < 0 or config.log_every < 1:
        raise ValueError("--checkpoint-every and --eval-every must be >= 0 (0: none), --log-every >= 1")
    if config.resume and config.overwrite:
        raise ValueError("--resume continues the run in --out and --overwrite replaces it: give one of them")
    unlabeled_method(config.unlabeled)
    try:
        return anneal.parse(config.anneal, config.tau, config.steps)
    except ValueError as error:
        raise ValueError(f"--anneal: {error}") from None


@dataclass
class SSLData:
    """Grey-level images (binarized per minibatch) with the labels of the run (true or random)."""

    images: ImageData
    train_labels: Tensor
    valid_labels: Tensor
    test_labels: Tensor
    labeled: Tensor  # indices into images.train


def prepare_data(config: SSLConfig) -> SSLData:
    """Load the data set (dynamic binarization), give it labels and pick the labeled subset."""
    data = load(config.dataset, config.data_dir, "dynamic", config.data_seed)
    if data.train_labels is None or data.valid_labels is None or data.test_labels is None:
        raise ValueError(f"the {config.dataset} source found has no labels; give MNIST as mnist.pkl.gz or with "
                         "its label IDX files")
    labels = [data.train_labels, data.valid_labels, data.test_labels]
    if config.classes != 10:  # random-label mode: only k varies
        labels = [random_labels(len(y), config.classes, config.data_seed + i) for i, y in enumerate(labels)]
    subset = labeled_subset(labels[0], config.labels, config.classes, config.data_seed)
    return SSLData(data, labels[0], labels[1], labels[2], labeled=subset)


class _Parts:
    """What `RunState` saves: the model, no baselines, the estimator's state."""

    def __init__(self, model: M2, method: str | Estimator) -> None:
        self.model, self.method, self.baselines = model, method, nn.ModuleList()

    def estimator_state(self) -> list[dict]:
        return [] if isinstance(self.method, str) else [self.method.state_dict()]

    def load_estimator_state(self, states: list[dict]) -> None:
        if not isinstance(self.method, str):
            self.method.load_state_dict(states[0])


def _eval_generator(config: SSLConfig, device: torch.device, step: int) -> torch.Generator:
    return torch.Generator(device).manual_seed(config.seed * 1_000_003 + 7 + step)


@torch.no_grad()
def classification_scores(model: M2, images: Tensor, labels: Tensor, batch: int = 500) -> tuple[float, Tensor]:
    """Accuracy of `argmax q(y | x)` on `images` and the confusion matrix (rows: true class, columns:
    predicted); no noise is drawn."""
    device = next(model.parameters()).device
    confusion = torch.zeros(model.classes, model.classes, dtype=torch.int64)
    for start in range(0, len(images), batch):
        predicted = model.classify(images[start : start + batch].to(device)).argmax(-1).cpu()
        confusion += torch.bincount(labels[start : start + batch] * model.classes + predicted,
                                    minlength=model.classes**2).reshape(model.classes, model.classes)
    return int(confusion.trace()) / len(images), confusion


@torch.no_grad()
def evaluate(
    model: M2, images: Tensor, labels: Tensor, samples: int, generator: torch.Generator, batch: int = 500
) -> dict[str, Any]:
    """Accuracy of `argmax q(y | x)`, the ELBO `-mean U(x)` (exact sum over classes) and the confusion matrix
    (rows: true class, columns: predicted)."""
    device = next(model.parameters()).device
    accuracy, confusion = classification_scores(model, images, labels, batch)
    elbo = 0.0
    for start in range(0, len(images), batch):
        elbo -= float(marginal_neg_elbo(model, images[start : start + batch].to(device), generator, samples)
                      .double().sum())
    return {"accuracy": accuracy, "elbo": elbo / len(images), "confusion": confusion.tolist()}


def _validate(model: M2, data: SSLData, config: SSLConfig, device: torch.device, step: int) -> dict[str, Any]:
    scores = evaluate(model, data.images.valid, data.valid_labels, config.eval_samples,
                      _eval_generator(config, device, step))
    return {"kind": "eval", "split": "valid", "step": step, **{k: v for k, v in scores.items() if k != "confusion"}}


def _continue_log(log: MetricsLog, config: SSLConfig, model: M2, data: SSLData, device: torch.device,
                  start: int) -> None:
    """Make the log of a run resumed at `start` read as one run: drop the test record of a run that ended at
    `start`, and add the validation record an uninterrupted run has there (same model, same seeded noise)."""
    records = [r for r in log.records() if r.get("split") != "test"]
    if config.eval_every and start % config.eval_every == 0 and 0 < start < config.steps:
        if not any(r["kind"] == "eval" and r["step"] == start for r in records):
            records.append(_validate(model, data, config, device, start))
    write_atomic(log.jsonl, "".join(json.dumps(r) + "\n" for r in records))


def train_ssl(config: SSLConfig) -> dict[str, Any]:
    """Run (or resume) one `train ssl` run; return the final metrics (also in `OUT/final.json`).

    Raises:
        ValueError: a bad option, or a folder holding another run.
        FileNotFoundError: the data set cannot be found (`MissingDataError`: the message says how to get it).
    """
    schedule = check_ssl_config(config)
    check_out(config)
    device = check_device(config.device)
    out = Path(config.out)
    data = prepare_data(config)
    torch.manual_seed(config.seed)
    model = M2(data.images.shape, config.classes, config.z_size, config.network(), config.width).to(device)
    method = unlabeled_method(config.unlabeled)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator = torch.Generator(device).manual_seed(config.seed)
    unlabeled_order = BatchOrder(len(data.images.train), config.batch_size, config.seed)
    labeled_order = BatchOrder(len(data.labeled), min(config.batch_size, len(data.labeled)), config.seed + 1)
    labeled_x, labeled_y = data.images.train[data.labeled], data.train_labels[data.labeled]
    log = MetricsLog(out)
    run = ckpt.RunState(_Parts(model, method), optimizer, schedule, unlabeled_order, generator, World())
    remove_stale_temporaries(out, RUN_FILES)  # what writes killed by SIGKILL left
    start, running = 0, list[list[float]]()
    if config.resume and (out / ckpt.CHECKPOINT).exists():
        check_same_run(out, config)
        start, saved = run.restore(out, device)
        running = cast(list[list[float]], saved)
        ckpt.check_resume_step(out, start, config.steps)
        log.truncate_after(start)
        _continue_log(log, config, model, data, device, start)
    else:
        ckpt.start_fresh(out, log, asdict(config), "gumbel-softmax train ssl", config.resume, SSL_FIGURES)

    bar, clock = progress_bar(config.progress, config.steps, start, f"ssl {config.unlabeled}"), time.perf_counter()
    for step in range(start, config.steps):
        tau = schedule.value(step)
        x_u = binarize(data.images.train[unlabeled_order(step)].to(device), generator)
        index = labeled_order(step)
        x_l = binarize(labeled_x[index].to(device), generator)
        result = ssl_objective(model, x_l, labeled_y[index].to(device), x_u, method, alpha=config.alpha, tau=tau,
                               generator=generator)
        optimizer.zero_grad(set_to_none=True)
        result.surrogate.backward()
        optimizer.step()
        running.append([float(result.labeled_neg_elbo.mean()), float(result.cross_entropy.mean()),
                        float(result.unlabeled.mean())])
        done = step + 1
        if done % config.log_every == 0 or done == config.steps:
            means = [sum(column) / len(running) for column in zip(*running, strict=True)]
            log.append({"kind": "train", "step": done, "labeled_neg_elbo": means[0], "cross_entropy": means[1],
                        "unlabeled": means[2], "tau": tau})
            bar.set_postfix(unlabeled=f"{means[2]:.1f}", ce=f"{means[1]:.3f}", tau=f"{tau:.3f}")
            if done % config.log_every == 0:
                running = []
        if config.eval_every and done % config.eval_every == 0 and done < config.steps:
            log.append(_validate(model, data, config, device, done))
        if config.checkpoint_every and done % config.checkpoint_every == 0:
            run.save(out, done, cast(list[float], running))
            log.write_csv()
        bar.update(1)
    bar.close()
    seconds = time.perf_counter() - clock
    scores = evaluate(model, data.images.test, data.test_labels, config.eval_samples,
                      _eval_generator(config, device, config.steps))
    final = {"step": config.steps, "unlabeled": config.unlabeled, "classes": config.classes,
             "labels": config.labels, "eval_samples": config.eval_samples, "test_accuracy": scores["accuracy"],
             "test_elbo": scores["elbo"], "train_seconds_this_process": seconds, "test_confusion": scores["confusion"]}
    log.append({"kind": "eval", "split": "test", "step": config.steps, "accuracy": scores["accuracy"],
                "elbo": scores["elbo"]})
    log.write_csv()
    write_atomic(out / "final.json", json.dumps(final, indent=2) + "\n")
    if config.figures:
        from gumbel_softmax.experiments.ssl_figures import save_ssl_figures

        save_ssl_figures(out, model, data.images.shape, log.records(), scores["confusion"])
    return final


def config_from_args(args: argparse.Namespace) -> SSLConfig:
    """An `SSLConfig` from parsed options named as its fields."""
    return SSLConfig(**config_values(SSLConfig, args))


def run(args: argparse.Namespace) -> int:
    """`gumbel-softmax train ssl`: train and print the final metrics; 2 with one line on bad options or data."""
    try:
        final = train_ssl(config_from_args(args))
    except (ValueError, FileNotFoundError) as error:
        print(f"gumbel-softmax train ssl: error: {error}", file=sys.stderr)
        return 2
    print(json.dumps({k: v for k, v in final.items() if k != "test_confusion"}, indent=2))
    return 0

"""The training loop behind ``gumbel-softmax train vae`` and ``gumbel-softmax train sbn``.

One step: take minibatch ``step`` of a fixed-seed order
(:class:`~gumbel_softmax.experiments.data.BatchOrder`), read the temperature from
the schedule, compute the objective through the estimator (relaxed for
``est.relaxed``, the discrete negative ELBO otherwise; see
:mod:`~gumbel_softmax.experiments.objectives`), back-propagate, average the
gradients over ranks (torchrun), take an Adam step.

A run in ``OUT`` writes ``config.json``, ``metrics.jsonl``/``metrics.csv``,
``checkpoint.pt`` (every ``checkpoint_every`` steps, atomically: model, optimizer,
schedule, estimator state, RNG states, data order, step), ``final.json`` and PNG
figures. ``resume=True`` continues from ``OUT/checkpoint.pt``; since the data
order is a function of ``(seed, step)``, the noise comes from one checkpointed
generator and evaluation draws from generators seeded by ``(seed, step)``, a run
killed and resumed ends with the same numbers as an uninterrupted one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from gumbel_softmax import anneal, estimators
from gumbel_softmax.backend import BACKENDS, kernel_for, use_backend
from gumbel_softmax.experiments import checkpoint as ckpt
from gumbel_softmax.experiments.data import BatchOrder, ImageData, binarize, load
from gumbel_softmax.experiments.distributed import (
    World,
    average_gradients,
    check_device,
    disagreement,
    gather_objects,
    mean_over_ranks,
    setup,
    teardown,
)
from gumbel_softmax.experiments.metrics import MetricsLog, write_atomic
from gumbel_softmax.experiments.models import DiscreteVAE, Latent, StructuredOutputNetwork, mlp
from gumbel_softmax.experiments.objectives import (
    StepLoss,
    objective_name,
    sbn_bounds,
    sbn_objective,
    vae_bounds,
    vae_objective,
)

__all__ = ["TrainConfig", "train", "check_same_run", "make_schedule", "learning_rate", "kl_weight"]


@dataclass
class TrainConfig:
    """Everything a run depends on (the CLI options of ``gumbel-softmax train``)."""

    model: str = "vae"
    estimator: str = "gumbel_softmax"
    latent: str = "categorical"
    variables: int | None = None
    classes: int = 10
    hidden: tuple[int, ...] = (512, 256)
    layers: int = 2
    dataset: str = "digits"
    data_dir: str | None = None
    binarization: str = "fixed"
    data_seed: int = 0
    tau: float = 1.0
    anneal: str = "exponential"
    steps: int = 50_000
    batch_size: int = 100
    lr: float = 1e-3
    lr_decay: float = 1.0
    lr_decay_every: int = 1000
    kl_warmup: int = 0
    seed: int = 0
    device: str = "cpu"
    backend: str = "auto"
    out: str = "runs/train"
    checkpoint_every: int = 1000
    log_every: int = 100
    eval_every: int = 5000
    eval_samples: int = 1000
    eval_samples_during: int = 10
    resume: bool = False
    progress: bool = True
    figures: bool = True
    estimator_options: dict[str, Any] = field(default_factory=dict)

    def latent_layer(self) -> Latent:
        default = 200 if self.latent == "bernoulli" else 20
        return Latent(self.latent, self.variables or default, self.classes)


def learning_rate(config: TrainConfig, step: int) -> float:
    """``lr * lr_decay ** (step // lr_decay_every)``: the authors' notebook multiplies it by 0.9 every 1000 steps."""
    return config.lr * config.lr_decay ** (step // config.lr_decay_every)


def kl_weight(config: TrainConfig, step: int) -> float:
    """The KL term's weight at ``step``: ``min(1, step / kl_warmup)``, a linear warm-up (1 throughout without)."""
    return min(1.0, step / config.kl_warmup) if config.kl_warmup else 1.0


def make_schedule(spec: str, tau: float, steps: int) -> Any:
    """A temperature schedule from ``NAME[:key=value,...]``, starting at ``tau``.

    ``constant``; ``exponential`` (default: Jang et al.'s notebook,
    ``tau = max(0.5, tau0 * exp(-3e-5 t))`` recomputed every 1000 steps; keys
    ``rate``, ``minimum``, ``every``); ``linear`` and ``cosine`` from ``tau`` to
    ``end`` (default 0.5) over the run.
    """
    name, _, rest = spec.partition(":")
    try:
        options = {k.strip(): float(v) for k, v in (item.split("=", 1) for item in rest.split(",") if item.strip())}
    except ValueError as error:
        raise ValueError(f"cannot read --anneal {spec!r}: use NAME or NAME:key=value,key=value") from error
    if name == "constant" and not options:
        return anneal.Constant(tau)
    if name == "exponential" and set(options) <= {"rate", "minimum", "every"}:
        every = int(options.get("every", 1000))
        return anneal.Exponential(tau, options.get("rate", 3e-5), options.get("minimum", 0.5), every)
    if name in ("linear", "cosine") and set(options) <= {"end"}:
        cls = anneal.Linear if name == "linear" else anneal.Cosine
        return cls(tau, options.get("end", 0.5), steps)
    raise ValueError(
        f"unknown --anneal {spec!r}: use constant, exponential[:rate=R,minimum=M,every=N], "
        "linear[:end=E] or cosine[:end=E]"
    )


class Experiment:
    """Model, estimators and baselines of one configuration, with its objective and evaluation."""

    def __init__(self, config: TrainConfig, data: ImageData, device: torch.device) -> None:
        self.config, self.data, self.device = config, data, device
        latent = config.latent_layer()
        self.estimators = [
            estimators.get(config.estimator, **config.estimator_options)
            for _ in range(config.layers if config.model == "sbn" else 1)
        ]
        if latent.bernoulli and not getattr(self.estimators[0], "supports_bernoulli", True):
            raise ValueError(f"estimator {config.estimator!r} does not support Bernoulli latents")
        if config.model == "vae":
            self.model: nn.Module = DiscreteVAE(data.pixels, latent, config.hidden)
            inputs = [data.pixels]
        elif config.model == "sbn":
            half = data.pixels // 2
            self.model = StructuredOutputNetwork(half, data.pixels - half, latent, config.layers)
            inputs = [half] + [latent.size] * (config.layers - 1)
        else:
            raise ValueError(f"model must be 'vae' or 'sbn', got {config.model!r}")
        # NVIL-style input-dependent baselines, one per stochastic layer, only when the estimator wants one.
        needs = getattr(self.estimators[0], "needs_baseline", False)
        self.baselines = nn.ModuleList(mlp([n, 100, 1]) for n in inputs) if needs else nn.ModuleList()
        self.model.to(device)
        self.baselines.to(device)

    def parameters(self) -> list[nn.Parameter]:
        return list(self.model.parameters()) + list(self.baselines.parameters())

    def _baseline(self, layer: int, below: Tensor) -> Tensor | None:
        if not len(self.baselines):
            return None
        return self.baselines[layer](below.flatten(1)).squeeze(-1)

    def objective(self, x: Tensor, tau: float, generator: torch.Generator, kl_weight: float = 1.0) -> StepLoss:
        if isinstance(self.model, DiscreteVAE):
            return vae_objective(
                self.model, x, self.estimators[0], tau=tau, generator=generator, baseline=self._baseline,
                kl_weight=kl_weight,
            )
        half = x.shape[-1] // 2
        upper, lower = x[:, :half], x[:, half:]
        return sbn_objective(
            self.model, upper, lower, self.estimators, tau=tau, generator=generator, baseline=self._baseline
        )

    def evaluate(self, images: Tensor, samples: int, generator: torch.Generator, batch: int = 500) -> dict[str, float]:
        """Mean negative ELBO (VAE) or ``m = 1`` bound (SBN), and the ``samples``-sample bound on ``-log p``."""
        totals = torch.zeros(2, dtype=torch.float64)
        for start in range(0, len(images), batch):
            x = images[start : start + batch].to(self.device)
            if isinstance(self.model, DiscreteVAE):
                first, second = vae_bounds(self.model, x, samples, generator)
            else:
                half = x.shape[-1] // 2
                first, second = sbn_bounds(self.model, x[:, :half], x[:, half:], samples, generator)
            totals += torch.stack([first.sum(), second.sum()]).double().cpu()
        first_name = "neg_elbo" if isinstance(self.model, DiscreteVAE) else "nll_m1"
        return {first_name: float(totals[0]) / len(images), f"nll_k{samples}": float(totals[1]) / len(images)}

    def estimator_state(self) -> list[dict]:
        return [e.state_dict() for e in self.estimators]

    def load_estimator_state(self, states: list[dict]) -> None:
        for estimator, state in zip(self.estimators, states, strict=True):
            estimator.load_state_dict(state)


def _eval_generator(config: TrainConfig, device: torch.device, step: int) -> torch.Generator:
    # Evaluation draws its own noise, so it never shifts the training stream (resume stays exact).
    return torch.Generator(device).manual_seed(config.seed * 1_000_003 + 7 + step)


def _progress(config: TrainConfig, world: World, start: int) -> Any:
    from tqdm.auto import tqdm

    return tqdm(
        total=config.steps,
        initial=start,
        disable=not (config.progress and world.is_main),
        desc=f"{config.model} {config.estimator}",
        dynamic_ncols=True,
    )


@dataclass
class _Run:
    """What a checkpoint holds, and how to write and restore it."""

    exp: Experiment
    optimizer: torch.optim.Optimizer
    schedule: Any
    order: BatchOrder
    generator: torch.Generator
    world: World

    def save(self, out: Path, step: int, running: list[float]) -> None:
        """Checkpoint after ``step`` steps (a collective call: each rank's RNG and estimator state are kept)."""
        mine = {"rng": ckpt.rng_state(self.generator), "estimators": self.exp.estimator_state()}
        per_rank = gather_objects(mine, self.world)
        if not self.world.is_main:
            return
        state = {
            "step": step,
            "running_losses": list(running),
            "model": self.exp.model.state_dict(),
            "baselines": self.exp.baselines.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "per_rank": per_rank,
            "data_order": self.order.state_dict(),
        }
        ckpt.save_atomic(state, out / ckpt.CHECKPOINT)

    def restore(self, out: Path, device: torch.device) -> tuple[int, list[float]]:
        """Load ``out/checkpoint.pt``; return the step and the losses logged since the last log line."""
        state = ckpt.load(out / ckpt.CHECKPOINT, device)
        self.order.check_state_dict(state["data_order"])
        if len(state["per_rank"]) != self.world.size:
            raise ValueError(f"the checkpoint in {out} was written by {len(state['per_rank'])} process(es); "
                             f"resume it with the same number, not {self.world.size}")
        self.exp.model.load_state_dict(state["model"])
        self.exp.baselines.load_state_dict(state["baselines"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        mine = state["per_rank"][self.world.rank]
        self.exp.load_estimator_state(mine["estimators"])
        ckpt.set_rng_state(self.generator, mine["rng"])
        return int(state["step"]), list(state["running_losses"])


# Options that may change between a run and its resumption; any other difference is refused. ``device`` may
# be spelled differently ("cuda" -> "cuda:0"), but a different device type is refused by ``ckpt.set_rng_state``.
_RESUMABLE_CHANGES = {"steps", "resume", "progress", "figures", "eval_samples", "eval_every", "eval_samples_during",
                      "log_every", "checkpoint_every", "device", "out", "data_dir"}


# Options added after runs were saved, with the value those runs ran at: a config.json without one is that run.
_ADDED_LATER = {"kl_warmup": 0}


def check_same_run(out: Path, config: TrainConfig) -> None:
    """Refuse (``ValueError``) when the run saved in ``out`` differs from ``config`` in more than length,
    evaluation, logging or device options."""
    saved = _ADDED_LATER | json.loads((out / "config.json").read_text())
    now = json.loads(json.dumps(asdict(config)))
    changed = sorted(k for k in saved.keys() & now.keys() if k not in _RESUMABLE_CHANGES and saved[k] != now[k])
    if changed:
        details = ", ".join(f"{k}: {saved[k]!r} -> {now[k]!r}" for k in changed)
        raise ValueError(f"the run saved in {out} was made with other options ({details}); resume it with its "
                         "own options, or start a fresh run in another --out folder")


def train(config: TrainConfig) -> dict[str, Any]:
    """Run (or resume) one training run; return the final metrics (also in ``OUT/final.json`` on rank 0).

    ``config.backend`` picks the implementation of the sampling functions for the whole run
    (:func:`gumbel_softmax.use_backend`): ``"auto"`` runs the fused kernels on CUDA tensors.
    """
    if config.backend not in BACKENDS:
        raise ValueError(f"--backend must be one of {', '.join(BACKENDS)}, got {config.backend!r}")
    with use_backend(config.backend):
        if config.backend == "triton":  # fail before loading data, with the option to change
            try:
                kernel_for("gumbel_softmax", torch.empty(0, 2, device=check_device(config.device)))
            except RuntimeError as error:
                raise ValueError(f"--backend triton cannot run here ({error}); use --backend auto") from None
        return _train(config)


def _train(config: TrainConfig) -> dict[str, Any]:
    if config.steps < 1 or config.batch_size < 1 or config.lr <= 0 or config.eval_samples < 1:
        raise ValueError("--steps, --batch-size and --eval-samples must be >= 1 and --lr > 0")
    if not 0 < config.lr_decay <= 1 or config.lr_decay_every < 1:
        raise ValueError("--lr-decay must be in (0, 1] (1: none) and --lr-decay-every >= 1")
    if config.kl_warmup < 0 or (config.kl_warmup and config.model != "vae"):
        raise ValueError("--kl-warmup takes a number of steps >= 0 (0: none), and only for the VAE (the SBN has no KL)")
    schedule = make_schedule(config.anneal, config.tau, config.steps)
    world, device = setup(config.device)
    out = Path(config.out)
    data = load(config.dataset, config.data_dir, config.binarization, config.data_seed)
    torch.manual_seed(config.seed)  # the same initial weights on every rank
    exp = Experiment(config, data, device)
    params = exp.parameters()
    optimizer = torch.optim.Adam(params, lr=config.lr)
    generator = torch.Generator(device).manual_seed(config.seed + 1_000_003 * world.rank)
    order = BatchOrder(len(data.train), config.batch_size, config.seed)
    log = MetricsLog(out, enabled=world.is_main)
    run = _Run(exp, optimizer, schedule, order, generator, world)
    start, running = 0, []
    if config.resume and (out / ckpt.CHECKPOINT).exists():
        check_same_run(out, config)
        start, running = run.restore(out, device)
        if start > config.steps:
            raise ValueError(f"the checkpoint in {out} is at step {start}, past --steps {config.steps}; "
                             f"resume with --steps {start} or more")
        log.truncate_after(start)
    elif world.is_main:
        if config.resume:
            print(f"gumbel-softmax train: --resume found no checkpoint in {out}; starting a fresh run", file=sys.stderr)
        out.mkdir(parents=True, exist_ok=True)
        for stale in (log.jsonl, log.csv, out / ckpt.CHECKPOINT, out / "final.json"):
            stale.unlink(missing_ok=True)
        (out / "config.json").write_text(json.dumps(asdict(config) | {"world_size": world.size}, indent=2) + "\n")

    bar, clock = _progress(config, world, start), time.perf_counter()
    for step in range(start, config.steps):
        tau = schedule.value(step)
        for group in optimizer.param_groups:  # a function of the step alone, so resuming needs no state
            group["lr"] = learning_rate(config, step)
        x = data.train[world.shard(order(step))].to(device)
        if data.binarization == "dynamic":
            x = binarize(x, generator)
        result = exp.objective(x, tau, generator, kl_weight(config, step))
        optimizer.zero_grad(set_to_none=True)
        result.surrogate.mean().backward()
        average_gradients(params, world)
        optimizer.step()
        running.append(float(result.loss.mean()))
        done = step + 1
        if done % config.log_every == 0 or done == config.steps:
            loss = mean_over_ranks(sum(running) / len(running), world, device)
            log.append({"kind": "train", "step": done, "loss": loss, "tau": tau})
            bar.set_postfix(loss=f"{loss:.2f}", tau=f"{tau:.3f}")
            if done % config.log_every == 0:  # a run's end keeps its partial window: extending it stays exact
                running = []
        if config.eval_every and done % config.eval_every == 0 and done < config.steps and world.is_main:
            scores = exp.evaluate(data.valid, config.eval_samples_during, _eval_generator(config, device, done))
            log.append({"kind": "eval", "split": "valid", "step": done, **scores})
        if config.checkpoint_every and done % config.checkpoint_every == 0:
            run.save(out, done, running)
            log.write_csv()
        bar.update(1)
    bar.close()
    seconds = time.perf_counter() - clock
    final = {
        "step": config.steps,
        "estimator": config.estimator,
        "objective": objective_name(exp.estimators[0]),
        "train_seconds_this_process": seconds,
        "rank_disagreement": disagreement(params, world),
    }
    if world.is_main:
        generator_eval = _eval_generator(config, device, config.steps)
        final |= {f"test_{k}": v for k, v in exp.evaluate(data.test, config.eval_samples, generator_eval).items()}
        log.append({"kind": "eval", "split": "test", **{k: v for k, v in final.items() if k.startswith("test_")},
                    "step": config.steps})
        log.write_csv()
        write_atomic(out / "final.json", json.dumps(final, indent=2) + "\n")
        if config.figures:
            from gumbel_softmax.experiments.figures import save_figures

            save_figures(out, exp, data, log.records(), _eval_generator(config, device, -1))
    return final


def config_from_args(args: Any, model: str) -> TrainConfig:
    """A :class:`TrainConfig` from parsed CLI arguments (names as in the dataclass)."""
    values = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if hasattr(args, f.name)}
    values["hidden"] = tuple(values.get("hidden", TrainConfig.hidden))
    return TrainConfig(model=model, **{k: v for k, v in values.items() if k != "model"})


def _hidden(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"--hidden takes comma-separated sizes like 512,256, got {text!r}") from error


def add_arguments(parser: argparse.ArgumentParser, model: str) -> None:
    """The options shared by ``train vae`` and ``train sbn`` (defaults per ``model``)."""
    names = ", ".join(estimators.names())
    d = TrainConfig()
    add = parser.add_argument
    add("--estimator", default="gumbel_softmax", choices=estimators.names(), metavar="NAME",
        help=f"gradient estimator, one of: {names} (default gumbel_softmax)")
    add("--latent", choices=["categorical", "bernoulli"], default="bernoulli" if model == "sbn" else "categorical",
        help="categorical (20 x 10 by default) or Bernoulli (200) units")
    add("--variables", type=int, default=None, help="latent units per layer (default 20 categorical, 200 Bernoulli)")
    add("--classes", type=int, default=d.classes, help="classes per categorical variable (default 10)")
    if model == "vae":
        add("--hidden", type=_hidden, default=d.hidden, help="encoder hidden sizes, decoder mirrored (default 512,256)")
    else:
        add("--layers", type=int, default=d.layers, help="stochastic layers (default 2)")
    add("--dataset", choices=["digits", "mnist"], default=d.dataset, help="digits (8x8, embedded; default) or mnist")
    add("--data-dir", default=None, help="folder with mnist.pkl.gz or the MNIST IDX files")
    add("--binarization", choices=["fixed", "dynamic"], default=d.binarization,
        help="fixed (one binarization for all epochs, Jang et al.'s protocol; default) or dynamic (redrawn per batch)")
    add("--data-seed", type=int, default=d.data_seed,
        help="seed of the fixed binarization, kept apart from --seed so that every run sees the same data (default 0)")
    add("--tau", type=float, default=d.tau, help="(initial) temperature (default 1.0)")
    add("--anneal", default="constant" if model == "sbn" else d.anneal,
        help="temperature schedule: constant, exponential[:rate=R,minimum=M,every=N], linear[:end=E], cosine[:end=E] "
        "(default: " + ("constant, tau fixed as in Jang et al. 4.1)" if model == "sbn" else
                        "exponential, max(0.5, tau exp(-3e-5 t)) every 1000 steps, Jang et al.'s notebook)"))
    add("--steps", type=int, default=d.steps, help="optimizer steps (default 50000, the authors' notebook)")
    add("--batch-size", type=int, default=d.batch_size, help="global minibatch size (default 100, the notebook)")
    add("--lr", type=float, default=d.lr, help="Adam learning rate (default 1e-3)")
    add("--lr-decay", type=float, default=d.lr_decay,
        help="multiply the learning rate by this every --lr-decay-every steps (default 1: none; the notebook: 0.9)")
    add("--lr-decay-every", type=int, default=d.lr_decay_every,
        help="steps between learning-rate decays (default 1000)")
    if model == "vae":
        add("--kl-warmup", type=int, default=d.kl_warmup, metavar="STEPS",
            help="raise the KL term's weight linearly from 0 to 1 over the first STEPS steps (default 0: none); "
            "the logged loss keeps the full KL")
    add("--seed", type=int, default=d.seed, help="seed of weights, data order and noise (default 0)")
    add("--device", default=d.device, help="cpu or cuda (fused kernels are used on CUDA where they exist)")
    add("--backend", choices=BACKENDS, default=d.backend,
        help="auto (default: fused Triton kernels for CUDA tensors), torch (reference) or triton (forced)")
    add("--out", default=f"runs/{model}", help=f"output folder (default runs/{model})")
    add("--checkpoint-every", type=int, default=d.checkpoint_every, help="steps between checkpoints (0: none)")
    add("--log-every", type=int, default=d.log_every, help="steps between logged training losses (default 100)")
    add("--eval-every", type=int, default=d.eval_every, help="steps between validation evaluations (0: none)")
    add("--eval-samples", type=int, default=d.eval_samples,
        help="importance samples for the final test bound (default 1000, as in the paper)")
    add("--eval-samples-during", type=int, default=d.eval_samples_during,
        help="importance samples for the validation evaluations during training (default 10)")
    add("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    add("--no-progress", dest="progress", action="store_false", help="no progress bar")
    add("--no-figures", dest="figures", action="store_false", help="no PNG figures")


def run_command(args: argparse.Namespace, model: str) -> int:
    """Train from parsed arguments and print the final metrics."""
    try:
        final = train(config_from_args(args, model))
    except (ValueError, FileNotFoundError) as error:  # bad options or missing data: say what to do, no traceback
        print(f"gumbel-softmax train {model}: error: {error}", file=sys.stderr)
        return 2
    finally:
        teardown()
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps(final, indent=2))
    return 0

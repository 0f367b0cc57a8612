"""The training loop behind `gumbel-softmax train vae` and `gumbel-softmax train sbn`.

One step: take minibatch `step` of a fixed-seed order
(`BatchOrder`), read the temperature from
the schedule, compute the objective through the estimator (relaxed for
`est.relaxed`, the discrete negative ELBO otherwise; see
`objectives`), back-propagate, average the
gradients over ranks (torchrun), take an Adam step.

A run in `OUT` writes `config.json`, `metrics.jsonl`/`metrics.csv`,
`checkpoint.pt` (every `checkpoint_every` steps, atomically: model, optimizer,
schedule, estimator state, RNG states, data order, step), `final.json` and PNG
figures. `resume=True` continues from `OUT/checkpoint.pt`; since the data
order is a function of `(seed, step)`, the noise comes from one checkpointed
generator and evaluation draws from generators seeded by `(seed, step)`, a run
killed and resumed ends with the same numbers as an uninterrupted one. A fresh run
in a folder that holds another run's files is refused unless `overwrite=True`.

The configuration and its checks live in `gumbel_softmax.experiments.config`, the
checkpoint in `gumbel_softmax.experiments.checkpoint`, the command line in
`gumbel_softmax.experiments.cli_train`.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from gumbel_softmax import estimators
from gumbel_softmax.backend import kernel_for, use_backend
from gumbel_softmax.experiments import checkpoint as ckpt
from gumbel_softmax.experiments.config import (
    RUN_FILES,
    TrainConfig,
    check_config,
    check_out,
    check_same_run,
    kl_weight,
    learning_rate,
)
from gumbel_softmax.experiments.data import BatchOrder, ImageData, binarize, load
from gumbel_softmax.experiments.distributed import (
    average_gradients,
    check_device,
    disagreement,
    mean_over_ranks,
    setup,
)
from gumbel_softmax.experiments.figures import FIGURES
from gumbel_softmax.experiments.metrics import MetricsLog, remove_stale_temporaries, write_atomic
from gumbel_softmax.experiments.models import DiscreteVAE, StructuredOutputNetwork, mlp
from gumbel_softmax.experiments.objectives import (
    StepLoss,
    objective_name,
    sbn_bounds,
    sbn_objective,
    vae_bounds,
    vae_objective,
)
from gumbel_softmax.experiments.progress import progress_bar

# TrainConfig and its checks live in experiments.config; they are re-exported here, where users met them first.
__all__ = ["train", "Experiment", "TrainConfig", "check_same_run", "learning_rate", "kl_weight"]


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
            self.model: DiscreteVAE | StructuredOutputNetwork = DiscreteVAE(data.pixels, latent, config.hidden)
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
        """Mean negative ELBO (VAE) or `m = 1` bound (SBN), and the `samples`-sample bound on `-log p`."""
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


def train(config: TrainConfig) -> dict[str, Any]:
    """Run (or resume) one training run; return the final metrics (also in `OUT/final.json` on rank 0).

    `config.backend` picks the implementation of the sampling functions for the whole run
    (`gumbel_softmax.use_backend`): `"auto"` runs the fused kernels on CUDA tensors.
    """
    schedule = check_config(config)
    estimators.get(config.estimator, **config.estimator_options)  # an unknown name fails before the data loads
    check_out(config)  # before any work: a fresh run never replaces another one's files unasked
    with use_backend(config.backend):
        if config.backend == "triton":  # fail before loading data, with the option to change
            try:
                kernel_for("gumbel_softmax", torch.empty(0, 2, device=check_device(config.device)))
            except RuntimeError as error:
                raise ValueError(f"--backend triton cannot run here ({error}); use --backend auto") from None
        return _train(config, schedule)


def _train(config: TrainConfig, schedule: Any) -> dict[str, Any]:
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
    run = ckpt.RunState(exp, optimizer, schedule, order, generator, world)
    start, running = 0, list[float]()
    if world.is_main:  # what writes killed by SIGKILL left; no other process writes here (see check_out)
        remove_stale_temporaries(out, RUN_FILES)
    if config.resume and (out / ckpt.CHECKPOINT).exists():
        check_same_run(out, config)
        start, running = run.restore(out, device)
        ckpt.check_resume_step(out, start, config.steps)
        log.truncate_after(start)
    elif world.is_main:
        ckpt.start_fresh(out, log, asdict(config) | {"world_size": world.size}, "gumbel-softmax train", config.resume,
                         FIGURES)

    bar = progress_bar(config.progress and world.is_main, config.steps, start, f"{config.model} {config.estimator}")
    clock = time.perf_counter()
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

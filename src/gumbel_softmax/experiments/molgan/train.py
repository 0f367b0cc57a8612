"""The MolGAN training loop behind `gumbel-softmax train molgan`: WGAN-GP with an optional RL term.

One generator step (De Cao and Kipf 2018; the authors' `optimizers/gan.py` and `example.py`):

1. `critic_steps` critic updates: real graphs of the next batches, fake graphs drawn from the generator
   with the estimator (no gradient to the generator), loss `E[D(fake)] - E[D(real)] + penalty * GP`.
2. One generator update: the graph is drawn through the estimator and the per-graph loss is
   `lambda * (-D(G(z))) + (1 - lambda) * alpha * (-V(G(z)))`, with `alpha = |L_WGAN / L_RL|` held constant
   (the authors' scaling of the RL term to the WGAN term). `lambda` is 1 before `rl_start * steps`.
3. With `wgan_weight < 1`, one reward-network update: `V` regresses the reward of the real batch and of the
   generated one by squared error (the reward of an invalid molecule is 0).

All noise (z, Gumbel, the penalty's interpolation) comes from one generator that the checkpoint keeps; the
real batches are a function of `(seed, step)`; evaluations draw from generators seeded by `(seed, step)`.
A run killed and resumed from its checkpoint therefore logs the same numbers as an uninterrupted one.
Single process only.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from gumbel_softmax import anneal, estimators
from gumbel_softmax.experiments import checkpoint as ckpt
from gumbel_softmax.experiments.config import RUN_FILES, check_out, check_same_run, check_writable
from gumbel_softmax.experiments.data import BatchOrder
from gumbel_softmax.experiments.distributed import check_device
from gumbel_softmax.experiments.metrics import MetricsLog, remove_stale_temporaries, write_atomic
from gumbel_softmax.experiments.molgan import data as molecules
from gumbel_softmax.experiments.molgan.chemistry import graph_to_mol, require_rdkit
from gumbel_softmax.experiments.molgan.config import (
    RESUMABLE_CHANGES,
    REWARDS,
    MolGANConfig,
    check_molgan_config,
)
from gumbel_softmax.experiments.molgan.figures import MOLGAN_FIGURES
from gumbel_softmax.experiments.molgan.metrics import reward, score_samples
from gumbel_softmax.experiments.molgan.model import (
    Generator,
    GraphCritic,
    draw_graph,
    gradient_penalty,
    graph_estimator,
    graph_from_index,
    hard_graph,
    one_hot_graph,
    unpack,
)
from gumbel_softmax.experiments.options import config_values
from gumbel_softmax.experiments.progress import progress_bar
from gumbel_softmax.functional import sample as categorical_sample

__all__ = ["MolGAN", "train", "run"]


class MolGAN:
    """The generator, critic and (with RL) reward network of one configuration, with their optimizers."""

    def __init__(self, config: MolGANConfig, device: torch.device) -> None:
        self.config, self.device = config, device
        torch.manual_seed(config.seed)
        self.estimator = estimators.get(config.estimator)
        self.generator = Generator(config.z_dim, tuple(config.generator_hidden)).to(device)
        shape = dict(convolutions=tuple(config.convolutions), aggregate=config.aggregate,
                     hidden=tuple(config.critic_hidden))
        self.critic = GraphCritic(**shape).to(device)  # type: ignore[arg-type]
        self.rl = config.wgan_weight < 1
        self.value = GraphCritic(**shape, sigmoid=True).to(device) if self.rl else None  # type: ignore[arg-type]
        self.networks = {"generator": self.generator, "critic": self.critic}
        if self.value is not None:
            self.networks["value"] = self.value
        self.optimizers = {name: torch.optim.Adam(net.parameters(), lr=config.lr)
                           for name, net in self.networks.items()}
        self._properties = REWARDS[config.reward]
        self._real_rewards: dict[int, float] = {}

    def weight(self, step: int) -> float:
        """lambda at `step`: 1 until `rl_start * steps`, then `wgan_weight`."""
        return 1.0 if step < self.config.rl_start * self.config.steps else self.config.wgan_weight

    def _z(self, n: int, generator: torch.Generator) -> Tensor:
        return torch.randn(n, self.config.z_dim, generator=generator, device=self.device)

    def _rewards(self, graphs: tuple[Tensor, Tensor]) -> Tensor:
        nodes, edges = (t.cpu() for t in graphs)
        values = [reward(graph_to_mol(a, b), self._properties) for a, b in zip(nodes, edges)]
        return torch.tensor(values, device=self.device)

    def _real_reward(self, indices: Tensor, graphs: tuple[Tensor, Tensor]) -> Tensor:
        for i, index in enumerate(indices.tolist()):
            if index not in self._real_rewards:
                mol = graph_to_mol(graphs[0][i].cpu(), graphs[1][i].cpu())
                self._real_rewards[index] = reward(mol, self._properties)
        return torch.tensor([self._real_rewards[i] for i in indices.tolist()], device=self.device)

    def step(self, step: int, real: list[tuple[Tensor, Tensor, Tensor]], tau: float,
             generator: torch.Generator) -> dict[str, float]:
        """One generator step after `critic_steps` critic steps; `real` holds `(indices, nodes, edges)` batches."""
        config, estimator = self.config, self.estimator
        critic_loss = penalty_value = 0.0
        for _, nodes, edges in real:
            real_graph = one_hot_graph(nodes, edges)
            with torch.no_grad():
                logits = self.generator.logits(self._z(len(nodes), generator))
                drawn = estimator(logits, lambda s: s.new_zeros(len(s)), tau=tau, generator=generator).sample
            fake = unpack(drawn)
            penalty = gradient_penalty(self.critic, real_graph, fake, generator)
            loss = self.critic(*fake).mean() - self.critic(*real_graph).mean() + config.penalty * penalty
            self.optimizers["critic"].zero_grad(set_to_none=True)
            loss.backward()
            self.optimizers["critic"].step()
            critic_loss, penalty_value = loss.item(), penalty.item()

        lam = self.weight(step)
        value = self.value

        def generator_loss(nodes: Tensor, edges: Tensor) -> Tensor:
            adversarial = -self.critic(nodes, edges)
            if lam == 1.0 or value is None:
                return adversarial
            rl = -value(nodes, edges)
            alpha = (adversarial.mean() / rl.mean()).abs().detach()
            return lam * adversarial + (1 - lam) * alpha * rl

        logits = self.generator.logits(self._z(config.batch_size, generator))
        surrogate, drawn = draw_graph(logits, estimator, generator_loss, tau, generator)
        self.optimizers["generator"].zero_grad(set_to_none=True)
        surrogate.mean().backward()
        self.optimizers["generator"].step()
        record = {"loss_d": critic_loss, "gp": penalty_value, "loss_g": surrogate.mean().item(), "lambda": lam}

        if value is not None:
            indices, nodes, edges = real[-1]
            fake_index = hard_graph(drawn)
            targets_real = self._real_reward(indices, (nodes, edges))
            targets_fake = self._rewards(fake_index)
            real_graph = one_hot_graph(nodes, edges)
            loss_v = ((value(*real_graph) - targets_real).square()
                      + (value(*unpack(drawn.detach())) - targets_fake).square()).mean()
            self.optimizers["value"].zero_grad(set_to_none=True)
            loss_v.backward()
            self.optimizers["value"].step()
            record |= {"loss_v": loss_v.item(), "reward": float(targets_fake.mean())}
        return record

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator, batch: int = 1000) -> tuple[Tensor, Tensor]:
        """`n` exact graphs (index tensors on the CPU): each type drawn from its categorical, as MolGAN evaluates."""
        nodes, edges = [], []
        for start in range(0, n, batch):
            logits = self.generator.logits(self._z(min(batch, n - start), generator))
            graph = graph_from_index(categorical_sample(logits, generator=generator))
            nodes.append(graph[0].cpu())
            edges.append(graph[1].cpu())
        return torch.cat(nodes), torch.cat(edges)

    def state_dict(self) -> dict[str, Any]:
        return {"networks": {k: v.state_dict() for k, v in self.networks.items()},
                "optimizers": {k: v.state_dict() for k, v in self.optimizers.items()},
                "estimator": self.estimator.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, net in self.networks.items():
            net.load_state_dict(state["networks"][name])
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])
        self.estimator.load_state_dict(state["estimator"])


def _eval_generator(config: MolGANConfig, device: torch.device, step: int) -> torch.Generator:
    return torch.Generator(device).manual_seed(config.seed * 1_000_003 + 7 + step)


def train(config: MolGANConfig) -> dict[str, Any]:
    """Run (or resume) one MolGAN run; return the final metrics (also in `OUT/final.json`).

    Raises:
        ValueError: bad options, or a folder holding another run.
        ModuleNotFoundError: RDKit is missing (one line naming the extra).
        FileNotFoundError: no data (one line naming what to install or pass).
    """
    check_molgan_config(config)
    try:
        schedule = anneal.parse(config.anneal, config.tau, config.steps)
    except ValueError as error:
        raise ValueError(f"--anneal: {error}") from None
    graph_estimator(config.estimator)  # an unknown or unfit name fails before any work
    check_out(config, RESUMABLE_CHANGES)
    if config.cache_dir is not None:
        check_writable(Path(config.cache_dir), "--cache-dir")
    require_rdkit()
    device = check_device(config.device)
    data = molecules.load(config.data_dir, kekulize=config.kekulize, data_seed=config.data_seed,
                          limit=config.limit, cache_dir=config.cache_dir)
    known = frozenset(data.smiles)
    out = Path(config.out)
    gan = MolGAN(config, device)
    generator = torch.Generator(device).manual_seed(config.seed + 1)
    order = BatchOrder(len(data.train), config.batch_size, config.seed)
    log = MetricsLog(out)
    start, seconds_before, window = 0, 0.0, list[dict[str, float]]()  # window: the steps since the last log line
    remove_stale_temporaries(out, RUN_FILES)  # what writes killed by SIGKILL left
    if config.resume and (out / ckpt.CHECKPOINT).exists():
        check_same_run(out, config, RESUMABLE_CHANGES)
        state = ckpt.load(out / ckpt.CHECKPOINT, device)
        order.check_state_dict(state["data_order"])
        gan.load_state_dict(state["model"])
        schedule.load_state_dict(state["schedule"])
        ckpt.set_rng_state(generator, state["rng"])
        start, seconds_before, window = int(state["step"]), float(state["seconds"]), list(state["window"])
        ckpt.check_resume_step(out, start, config.steps)
        log.truncate_after(start)
        if any(r.get("final") for r in log.records()):  # the end of a shorter run: recomputed if still due
            write_atomic(log.jsonl, "".join(json.dumps(r) + "\n" for r in log.records() if not r.get("final")))
    else:
        ckpt.start_fresh(out, log, asdict(config), "gumbel-softmax train molgan", config.resume, MOLGAN_FIGURES)

    def evaluate(step: int, samples: int) -> dict[str, Any]:
        scores = score_samples(*gan.sample(samples, _eval_generator(config, device, step)), known)
        if config.figures:
            from gumbel_softmax.experiments.molgan.figures import molecule_grid

            molecule_grid(scores["smiles"], out / "molecules" / f"step{step:07d}.png")
        return {k: v for k, v in scores.items() if k != "smiles"}

    if start == 0 and config.eval_every:
        log.append({"kind": "eval", "step": 0, **evaluate(0, config.eval_samples)})
    bar = progress_bar(config.progress, config.steps, start, f"molgan {config.estimator}")
    last: dict[str, Any] | None = None
    clock = time.perf_counter()
    per_step = config.critic_steps
    for step in range(start, config.steps):
        tau = schedule.value(step)
        real = []
        for k in range(per_step):
            indices = data.train[order(step * per_step + k)]
            real.append((indices, data.nodes[indices].to(device), data.edges[indices].to(device)))
        window.append(gan.step(step, real, tau, generator))
        done = step + 1
        if done % config.log_every == 0:
            means = {k: sum(r[k] for r in window) / len(window) for k in window[0]}
            log.append({"kind": "train", "step": done, "tau": tau, **means})
            bar.set_postfix(d=f"{means['loss_d']:.2f}", g=f"{means['loss_g']:.2f}")
            window = []
        if config.eval_every and done % config.eval_every == 0:
            last = {"kind": "eval", "step": done, **evaluate(done, config.eval_samples)}
            log.append(last)
        if config.checkpoint_every and done % config.checkpoint_every == 0:
            elapsed = seconds_before + time.perf_counter() - clock
            state = {"step": done, "model": gan.state_dict(), "schedule": schedule.state_dict(),
                     "rng": ckpt.rng_state(generator), "data_order": order.state_dict(), "seconds": elapsed,
                     "window": window}
            ckpt.save_atomic(state, out / ckpt.CHECKPOINT)
            log.write_csv()
        bar.update(1)
    bar.close()
    train_seconds = seconds_before + time.perf_counter() - clock
    if last is None or last["step"] != config.steps:  # the last step was no evaluation step
        last = {"kind": "eval", "step": config.steps, **evaluate(config.steps, config.eval_samples)}
        log.append(last | {"final": True})
    log.write_csv()
    scores = {k: v for k, v in last.items() if k not in ("kind", "step")}
    final = {"step": config.steps, "estimator": config.estimator, **scores,
             "train_seconds": train_seconds, "seconds_per_step": train_seconds / config.steps,
             "molecules": len(data), "dropped": data.dropped, "data": data.source}
    write_atomic(out / "final.json", json.dumps(final, indent=2) + "\n")
    if config.figures:
        from gumbel_softmax.experiments.molgan.figures import metric_curves

        metric_curves(log.records(), out / "curves.png", f"MolGAN / {config.estimator}")
    return final


def run(args: Any) -> int:
    """`gumbel-softmax train molgan`: train from parsed options, print the final metrics; 2 with one line on
    bad options, missing RDKit or missing data."""
    values = config_values(MolGANConfig, args, tuples=("generator_hidden", "convolutions", "critic_hidden"))
    try:
        final = train(MolGANConfig(**values))
    except (ValueError, FileNotFoundError, ModuleNotFoundError) as error:
        print(f"gumbel-softmax train molgan: error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(final, indent=2))
    return 0

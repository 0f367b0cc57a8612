"""Jang et al. (2017) Figure 5a: how much faster a Gumbel-Softmax step of M2 is than a marginalized one.

With `k` classes, the unlabeled term of M2 (`gumbel_softmax.experiments.ssl`) costs `O(D + k (I + G))`
per image when the class is summed out and `O(D + I + G)` when one class is drawn (their Section 4.3;
`D` the classifier, `I` the style encoder, `G` the decoder). Jang et al. measured 2x at `k = 10` and 9.9x
at `k = 100` on a GTX Titan X, varying `k` with random labels and keeping the networks' sizes.

`measure` builds, for each `k`, two copies of the same model (same initial weights), one trained with
`--unlabeled marginalize` and one with `gumbel_softmax`, on random binary images of the data set's
size with random labels, and times full training steps (forward, backward, Adam) alternating the two:
round `r` times a step of one then a step of the other, so that a change of the machine's load during
the measurement falls on both. Steps per second are the steps over the summed time of each.
The first `warmup` steps of each are not timed.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from gumbel_softmax import estimators
from gumbel_softmax.experiments.config import check_writable
from gumbel_softmax.experiments.distributed import check_device
from gumbel_softmax.experiments.ssl import M2, MARGINALIZE, random_labels, ssl_objective

__all__ = ["SpeedRow", "measure", "table", "plot", "run", "PAPER"]

# Jang et al. 2017, Section 4.3 / Figure 5a: Gumbel-Softmax's speed-up over marginalization (GTX Titan X).
PAPER = {10: 2.0, 100: 9.9}


@dataclass
class SpeedRow:
    """One `k`: steps per second of each method and their ratio."""

    classes: int
    marginalize: float
    gumbel_softmax: float

    @property
    def speedup(self) -> float:
        return self.gumbel_softmax / self.marginalize


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed_step(runner: tuple[Any, Any, Any], batch: tuple[Tensor, Tensor, Tensor], generator: torch.Generator,
                device: torch.device) -> float:
    """Seconds of one training step (objective, backward, Adam) of `runner = (model, optimizer, method)`."""
    model, optimizer, method = runner
    labeled_x, labels, unlabeled_x = batch
    _sync(device)
    start = time.perf_counter()
    loss = ssl_objective(model, labeled_x, labels, unlabeled_x, method, alpha=1.0, tau=1.0, generator=generator)
    optimizer.zero_grad(set_to_none=True)
    loss.surrogate.backward()
    optimizer.step()
    _sync(device)
    return time.perf_counter() - start


def measure(
    ks: list[int],
    *,
    shape: tuple[int, int] = (28, 28),
    net: str = "cnn",
    batch_size: int = 100,
    labeled: int = 100,
    rounds: int = 5,
    warmup: int = 1,
    device: str = "cpu",
    seed: int = 0,
    progress: bool = True,
) -> list[SpeedRow]:
    """Steps per second of marginalization and Gumbel-Softmax for each `k` in `ks` (module docstring).

    Args:
        ks: the numbers of classes.
        shape: the image size (MNIST's 28x28 by default).
        net: `"cnn"` (the paper's networks) or `"mlp"`.
        batch_size: unlabeled images per step.
        labeled: labeled images per step.
        rounds: timed steps of each method per `k`, alternating.
        warmup: untimed steps of each method first.
        device: where to run.
        seed: seed of the weights, the images and the noise.
        progress: print one line per `k` to stderr as it is measured.

    Returns:
        one `SpeedRow` per `k`.
    """
    where = check_device(device)
    rows = []
    for k in ks:
        generator = torch.Generator(where).manual_seed(seed)
        pixels = shape[0] * shape[1]
        images = torch.rand(batch_size + labeled, pixels, generator=generator, device=where).round()
        labels = random_labels(max(labeled, k), k, seed)[:labeled].to(where)
        runners = {}
        for name in (MARGINALIZE, "gumbel_softmax"):
            torch.manual_seed(seed)
            model = M2(shape, k, net=net).to(where)
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
            method = name if name == MARGINALIZE else estimators.get(name)
            runners[name] = (model, optimizer, method)

        batch = (images[batch_size:], labels, images[:batch_size])
        for _ in range(warmup):
            for runner in runners.values():
                _timed_step(runner, batch, generator, where)
        spent = dict.fromkeys(runners, 0.0)
        for _ in range(rounds):
            for name, runner in runners.items():
                spent[name] += _timed_step(runner, batch, generator, where)
        row = SpeedRow(k, rounds / spent[MARGINALIZE], rounds / spent["gumbel_softmax"])
        rows.append(row)
        if progress:
            print(f"k = {k}: {row.marginalize:.3g} and {row.gumbel_softmax:.3g} steps/s, {row.speedup:.2f}x",
                  file=sys.stderr)
    return rows


def table(rows: list[SpeedRow]) -> str:
    """A Markdown table: `k`, steps per second of each method, the speed-up, and the paper's where it has one."""
    lines = ["| k | marginalization, steps/s | Gumbel-Softmax, steps/s | speed-up | Jang et al. (Fig. 5a) |",
             "|---:|---:|---:|---:|---:|"]
    for row in rows:
        paper = f"{PAPER[row.classes]}x" if row.classes in PAPER else ""
        lines.append(f"| {row.classes} | {row.marginalize:.3g} | {row.gumbel_softmax:.3g} | {row.speedup:.2f}x "
                     f"| {paper} |")
    return "\n".join(lines)


def plot(rows: list[SpeedRow], path: Path, title: str = "") -> Path:
    """Speed-up against `k`, ours as a line, the paper's 2x and 9.9x as marked points."""
    from gumbel_softmax.studies.report import new_figure, save_figure

    fig, axes = new_figure(1, 2, size=(11, 4))
    ax = axes[0][0]
    ks = [r.classes for r in rows]
    ax.plot(ks, [r.marginalize for r in rows], "o-", label="marginalization")
    ax.plot(ks, [r.gumbel_softmax for r in rows], "s-", label="Gumbel-Softmax")
    ax.set(xlabel="classes k", ylabel="training steps per second", yscale="log", title=title)
    ax.legend(fontsize=8)
    ax = axes[0][1]
    ax.plot(ks, [r.speedup for r in rows], "o-", label="ours")
    ax.plot(list(PAPER), list(PAPER.values()), "r*", markersize=14, label="Jang et al. 2017, Fig. 5a (Titan X)")
    for k, value in PAPER.items():
        ax.annotate(f"{value}x", (k, value), textcoords="offset points", xytext=(6, -12), color="r")
    ax.set(xlabel="classes k", ylabel="speed-up (Gumbel-Softmax / marginalization)", title="speed-up")
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def machine(device: str) -> dict[str, Any]:
    """What the numbers ran on: processor, threads, torch version and the device."""
    where = check_device(device)
    name = torch.cuda.get_device_name(where) if where.type == "cuda" else platform.processor() or platform.machine()
    return {"device": str(where), "name": name, "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "python": platform.python_version()}


def run(args: argparse.Namespace) -> int:
    """`gumbel-softmax reproduce ssl-speed`: measure, print the table, save `speed.json`, `table.md`, `speed.png`."""
    try:
        if not args.ks or min(args.ks) < 2 or args.rounds < 1 or args.warmup < 0 or args.batch_size < 1:
            raise ValueError("--ks must be numbers of classes >= 2, --rounds and --batch-size >= 1, --warmup >= 0")
        check_writable(Path(args.out))
        if args.net == "cnn" and args.image != 28:
            raise ValueError("--net cnn is built for 28x28 images; use --image 28 or --net mlp")
        started = time.strftime("%Y-%m-%d %H:%M")
        rows = measure(args.ks, shape=(args.image, args.image), net=args.net, batch_size=args.batch_size,
                       labeled=args.batch_size, rounds=args.rounds, warmup=args.warmup, device=args.device,
                       seed=args.seed, progress=args.progress)
    except ValueError as error:
        print(f"gumbel-softmax reproduce ssl-speed: error: {error}", file=sys.stderr)
        return 2
    text = table(rows)
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    where = machine(args.device)
    record = {"date": started, "machine": where, "command": " ".join(sys.argv),
              "options": {k: v for k, v in vars(args).items() if k not in ("command", "command_name")},
              "rows": [{"classes": r.classes, "marginalize_steps_per_s": r.marginalize,
                        "gumbel_softmax_steps_per_s": r.gumbel_softmax, "speedup": r.speedup} for r in rows]}
    (out / "speed.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
    (out / "table.md").write_text(text + "\n")
    if args.figures and not any(math.isnan(r.speedup) for r in rows):
        plot(rows, out / "speed.png", title=f"M2, {args.net}, batch {args.batch_size}, {where['device']}")
    return 0

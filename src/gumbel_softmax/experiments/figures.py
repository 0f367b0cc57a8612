"""PNG figures of a run: training curves, reconstructions (or predicted halves), samples from the prior."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from gumbel_softmax.studies.report import new_figure, save_figure

__all__ = ["FIGURES", "save_figures", "curves", "image_grid", "table_curves"]

# What `save_figures` writes into a run's folder (a fresh run over it removes them first).
FIGURES = ("curves.png", "reconstructions.png")


def curves(records: list[dict[str, Any]], path: Path, title: str = "") -> Path:
    """Training loss and temperature against the step; validation/test bounds as points."""
    train = [r for r in records if r["kind"] == "train"]
    evals = [r for r in records if r["kind"] == "eval"]
    fig, axes = new_figure(1, 2, size=(10, 3.6))
    ax = axes[0][0]
    ax.plot([r["step"] for r in train], [r["loss"] for r in train], label="training objective (minibatch mean)")
    for r in evals:
        for key in ("neg_elbo", "test_neg_elbo", "nll_m1", "test_nll_m1"):
            if key in r:
                ax.plot(r["step"], r[key], "o", color="C1" if r["split"] == "valid" else "C3")
    ax.plot([], [], "o", color="C1", label="validation bound")
    ax.plot([], [], "o", color="C3", label="test bound")
    ax.set(xlabel="step", ylabel="nats", title=title)
    ax.legend(fontsize=8)
    ax = axes[0][1]
    ax.plot([r["step"] for r in train], [r["tau"] for r in train])
    ax.set(xlabel="step", ylabel="temperature tau", title="temperature schedule")
    return save_figure(fig, path)


def _training_log(folder: Path) -> list[dict[str, str]]:
    """The training records of a run's `metrics.csv`."""
    with (folder / "metrics.csv").open(newline="") as handle:
        return [r for r in csv.DictReader(handle) if r["kind"] == "train"]


def table_curves(runs: dict[str, list[Path]], path: Path, title: str = "") -> Path:
    """One line per row of a reproduction table: the training objective against the step, averaged over the
    seeds whose `metrics.csv` is in `runs` (row label -> run folders). Soft Gumbel-Softmax's objective is the
    relaxed one, the others' the discrete bound: the lines show how each row trained, not a common score."""
    fig, axes = new_figure(1, 1, size=(7.5, 4.2))
    ax = axes[0][0]
    for label, folders in runs.items():
        logs = [log for log in map(_training_log, folders) if log]
        if not logs:
            continue
        length = min(len(log) for log in logs)
        steps = [int(r["step"]) for r in logs[0][:length]]
        losses = [sum(float(log[i]["loss"]) for log in logs) / len(logs) for i in range(length)]
        ax.plot(steps, losses, label=label, linewidth=1)
    ax.set(xlabel="step", ylabel="training objective, nats (minibatch mean)", title=title)
    low, high = ax.get_ylim()
    ax.set_ylim(low, min(high, low + 2.0 * (high - low) / 3.0 + 1.0))  # the first steps dwarf the differences
    ax.legend(fontsize=7, ncol=2)
    return save_figure(fig, path)


def image_grid(rows: list[tuple[str, Tensor]], shape: tuple[int, int], path: Path) -> Path:
    """Rows of images (each `[n, H*W]` in `[0, 1]`), one labelled strip per entry, 1-pixel gaps."""
    fig, axes = new_figure(len(rows), 1, size=(1.0 + 0.75 * max(len(im) for _, im in rows), 1.25 * len(rows)))
    for (label, images), (ax,) in zip(rows, axes):
        tiles = torch.nn.functional.pad(images.detach().cpu().reshape(-1, *shape), (0, 1), value=1.0)
        ax.imshow(torch.cat(list(tiles), dim=1)[:, :-1].numpy(), cmap="gray", vmin=0, vmax=1)
        ax.set_title(label, fontsize=9, loc="left")
        ax.axis("off")
    return save_figure(fig, path)


@torch.no_grad()
def save_figures(
    out: Path, exp: Any, data: Any, records: list[dict[str, Any]], generator: torch.Generator
) -> list[Path]:
    """`curves.png` and `reconstructions.png` (VAE: data, reconstructions and prior samples; SBN: predictions)."""
    from gumbel_softmax.experiments.models import DiscreteVAE

    model, n = exp.model, 12
    x = data.test[:n].to(exp.device)
    curves_png, grid_png = (out / name for name in FIGURES)
    paths = [curves(records, curves_png, f"{exp.config.model} / {exp.config.estimator}")]
    if isinstance(model, DiscreteVAE):
        latent = model.latent
        z = latent.sample(model.encode(x), generator)
        prior = latent.sample(latent.uniform_logits(n, x), generator)
        rows = [
            ("test images (binarized)", x),
            ("reconstructions: p(x | z), z ~ q(z | x)", torch.sigmoid(model.decode(z))),
            ("samples from the prior: p(x | z), z ~ uniform", torch.sigmoid(model.decode(prior))),
        ]
    else:
        half = data.pixels // 2
        h = x[:, :half]
        for index in range(len(model.maps)):
            h = model.latent.sample(model.layer_logits(index, h), generator)
        predicted = torch.cat([x[:, :half], torch.sigmoid(model.output(h.flatten(1)))], 1)
        rows = [("test images", x), ("upper half given, lower half predicted: p(lower | h)", predicted)]
    paths.append(image_grid(rows, data.shape, grid_png))
    return paths

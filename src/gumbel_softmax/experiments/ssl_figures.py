"""PNG figures of a `train ssl` run: accuracy and ELBO curves, the class-conditional grid, the confusion matrix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from gumbel_softmax.experiments.ssl import M2
from gumbel_softmax.studies.report import new_figure, save_figure

__all__ = ["SSL_FIGURES", "save_ssl_figures", "ssl_curves", "class_grid", "confusion_matrix"]

# What `save_ssl_figures` writes into a run's folder (a fresh run over it removes them first).
SSL_FIGURES = ("curves.png", "class_grid.png", "confusion.png")


def ssl_curves(records: list[dict[str, Any]], path: Path) -> Path:
    """Validation (and final test) accuracy and ELBO against the step, beside the training terms."""
    evals = [r for r in records if r["kind"] == "eval"]
    train = [r for r in records if r["kind"] == "train"]
    fig, axes = new_figure(1, 3, size=(14, 3.6))
    for ax, key, label in ((axes[0][0], "accuracy", "accuracy"), (axes[0][1], "elbo", "ELBO, nats")):
        for split, colour in (("valid", "C0"), ("test", "C3")):
            points = [r for r in evals if r["split"] == split]
            ax.plot([r["step"] for r in points], [r[key] for r in points], "o-", color=colour, label=split)
        ax.set(xlabel="step", ylabel=label)
        ax.legend(fontsize=8)
    ax = axes[0][2]
    ax.plot([r["step"] for r in train], [r["unlabeled"] for r in train], label="unlabeled U(x)")
    ax.plot([r["step"] for r in train], [r["labeled_neg_elbo"] for r in train], label="labeled -L(x, y)")
    ax.set(xlabel="step", ylabel="nats (minibatch mean)", title="training terms")
    ax.legend(fontsize=8)
    return save_figure(fig, path)


@torch.no_grad()
def class_grid(model: M2, shape: tuple[int, int], path: Path, rows: int = 8, seed: int = 0) -> Path:
    """Decoder means `p(x | y, z)`: each row one style `z ~ N(0, I)`, each column one class `y`."""
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(rows, 1, model.latent, generator=generator).to(device).expand(-1, model.classes, -1)
    y = torch.eye(model.classes, device=device).expand(rows, -1, -1)
    images = torch.sigmoid(model.decode(y, z)).cpu().reshape(rows, model.classes, *shape)
    tiles = images.permute(0, 2, 1, 3).reshape(rows * shape[0], model.classes * shape[1])
    fig, axes = new_figure(1, 1, size=(max(4.0, 0.5 * model.classes), max(3.0, 0.5 * rows)))
    ax = axes[0][0]
    ax.imshow(tiles.numpy(), cmap="gray", vmin=0, vmax=1)
    ax.set(title="rows: a style z; columns: the class y", xticks=[], yticks=[])
    return save_figure(fig, path)


def confusion_matrix(confusion: list[list[int]], path: Path) -> Path:
    """The test confusion matrix: rows the true class, columns the predicted one."""
    fig, axes = new_figure(1, 1, size=(5, 4.5))
    ax = axes[0][0]
    shown = ax.imshow(confusion, cmap="Blues")
    fig.colorbar(shown, ax=ax)
    ax.set(xlabel="predicted class", ylabel="true class", title="test confusion matrix")
    return save_figure(fig, path)


def save_ssl_figures(out: Path, model: M2, shape: tuple[int, int], records: list[dict[str, Any]],
                     confusion: list[list[int]]) -> list[Path]:
    """Write `curves.png`, `class_grid.png` and `confusion.png` into `out`."""
    curves_png, grid_png, confusion_png = (out / name for name in SSL_FIGURES)
    return [ssl_curves(records, curves_png), class_grid(model, shape, grid_png),
            confusion_matrix(confusion, confusion_png)]

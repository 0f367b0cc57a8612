"""A MolGAN run's figures: generated molecules drawn by RDKit, and the metric and loss curves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gumbel_softmax.experiments.molgan.chemistry import require_rdkit

__all__ = ["MOLGAN_FIGURES", "molecule_grid", "metric_curves"]

# What a `train molgan` run draws into its folder (a fresh run over it removes them first).
MOLGAN_FIGURES = ("curves.png", "molecules/step*.png")


def molecule_grid(smiles: list[str], path: Path, per_row: int = 6, count: int = 24) -> Path | None:
    """The first `count` distinct SMILES drawn by `Draw.MolsToGridImage` into `path` (PNG); `None` if none."""
    chem = require_rdkit()
    from rdkit.Chem import Draw

    mols = [chem.MolFromSmiles(s) for s in list(dict.fromkeys(smiles))[:count]]
    mols = [m for m in mols if m is not None]
    if not mols:
        return None
    image = Draw.MolsToGridImage(mols, molsPerRow=per_row, subImgSize=(180, 150),
                                 legends=[chem.MolToSmiles(m) for m in mols])
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(str(path))
    return path


def metric_curves(records: list[dict[str, Any]], path: Path, title: str = "") -> Path:
    """Validity, uniqueness, novelty and the normalized scores at each evaluation; critic and generator losses."""
    from gumbel_softmax.studies.report import new_figure, save_figure

    evals = [r for r in records if r["kind"] == "eval"]
    train = [r for r in records if r["kind"] == "train"]
    fig, axes = new_figure(1, 3, size=(15, 3.8))
    steps = [r["step"] for r in evals]
    ax = axes[0][0]
    for key in ("valid", "unique", "novel"):
        ax.plot(steps, [r[key] for r in evals], "o-", label=key)
    ax.set(xlabel="generator step", ylabel="percent", title=title or "sample metrics", ylim=(-2, 102))
    ax.legend(fontsize=8)
    ax = axes[0][1]
    for key in ("qed", "logp", "sa"):
        ax.plot(steps, [r[key] for r in evals], "o-", label=f"{key} (normalized)")
    ax.set(xlabel="generator step", ylabel="mean over valid molecules", title="properties", ylim=(0, 1))
    ax.legend(fontsize=8)
    ax = axes[0][2]
    ax.plot([r["step"] for r in train], [r["loss_d"] for r in train], label="critic loss (with penalty)")
    ax.plot([r["step"] for r in train], [r["loss_g"] for r in train], label="generator loss")
    ax.set(xlabel="generator step", title="losses")
    ax.legend(fontsize=8)
    return save_figure(fig, path)

"""How many latent units a trained VAE uses: per-unit KL to the prior and activity, on the test split.

A unit is active when the encoder's mean for it varies across test images, Var_x E_q[z_i | x] > 0.01
(the activity measure of Burda, Grosse, Salakhutdinov 2016, "Importance Weighted Autoencoders", Sec. 5.2).
Reads the `checkpoint.pt` of each run folder, which `--export` does not copy into docs/.

    gumbel-softmax study active-units --runs runs/mnist --model vae-bern --rows Gumbel-S,ST_Gumbel-S,DARN,SF
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import fields
from pathlib import Path

import torch

from gumbel_softmax.experiments.checkpoint import CHECKPOINT
from gumbel_softmax.experiments.checkpoint import load as load_checkpoint
from gumbel_softmax.experiments.config import TrainConfig
from gumbel_softmax.experiments.data import load
from gumbel_softmax.experiments.models import DiscreteVAE


def unit_statistics(model: DiscreteVAE, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per latent variable: mean KL(q(z_i | x) || uniform) over `x`, and Var_x of E_q[z_i | x]."""
    with torch.no_grad():
        logits = model.encode(x)
        if model.latent.bernoulli:
            p = torch.stack([1 - torch.sigmoid(logits), torch.sigmoid(logits)], -1)
        else:
            p = logits.softmax(-1)
        kl = (p * (p.clamp_min(1e-12).log() + math.log(p.shape[-1]))).sum(-1)
        return kl.mean(0), p.var(0).sum(-1) / (2 if model.latent.bernoulli else 1)


def load_run(runs: Path, model_name: str, row: str, seed: int = 0) -> tuple[DiscreteVAE, torch.Tensor]:
    """The trained VAE of `runs/<model_name>/<row>/seed<seed>` (eval mode) and its run's test images.

    Sizes, latent layer and data (set, binarization, data seed) come from the run's `config.json`.
    """
    folder = runs / model_name / row / f"seed{seed}"
    for name in ("config.json", "final.json", CHECKPOINT):
        if not (folder / name).exists():
            raise FileNotFoundError(f"{folder} has no {name}: train that row first (gumbel-softmax reproduce jang2017)")
    saved = json.loads((folder / "config.json").read_text())
    state = load_checkpoint(folder / CHECKPOINT, keys=frozenset({"model", "step"}))
    finished = json.loads((folder / "final.json").read_text()).get("step")
    if finished is not None and int(state["step"]) != int(finished):
        raise ValueError(f"{folder / CHECKPOINT} holds step {state['step']} but the run ended at step {finished}: "
                         "its final model was not saved; rerun it with a --checkpoint-every that divides --steps")
    config = TrainConfig(**{f.name: saved[f.name] for f in fields(TrainConfig) if f.name in saved})
    data = load(config.dataset, config.data_dir, config.binarization, config.data_seed)
    model = DiscreteVAE(data.pixels, config.latent_layer(), tuple(config.hidden))
    model.load_state_dict(state["model"])
    return model.eval(), data.test


def run(args: argparse.Namespace) -> int:
    """`gumbel-softmax study active-units` (options: `gumbel_softmax.studies.options.add_active_units`)."""
    print(f"| {args.model} row | units | active (Var > 0.01) | KL > 0.01 nats | total KL (nats) |")
    print("|---|---:|---:|---:|---:|")
    for row in args.rows:
        kl, activity = unit_statistics(*load_run(args.runs, args.model, row, args.seed))
        print(f"| {row} | {kl.numel()} | {int((activity > 0.01).sum())} | {int((kl > 0.01).sum())} | {kl.sum():.1f} |")
    return 0

"""How many latent units a trained VAE uses: per-unit KL to the prior and activity, on the test split.

A unit is active when the encoder's mean for it varies across test images, Var_x E_q[z_i | x] > 0.01
(the activity measure of Burda, Grosse, Salakhutdinov 2016, "Importance Weighted Autoencoders", Sec. 5.2).
Reads the ``checkpoint.pt`` of each run folder, which ``--export`` does not copy into docs/.

    python benchmarks/active_units.py --runs runs/mnist --model vae-bern --rows Gumbel-S,ST_Gumbel-S,DARN,SF
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch

from gumbel_softmax.experiments.data import load
from gumbel_softmax.experiments.models import DiscreteVAE, Latent

LATENTS = {"vae-bern": Latent("bernoulli", 200), "vae-cat": Latent("categorical", 20, 10)}


def unit_statistics(model: DiscreteVAE, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per latent variable: mean KL(q(z_i | x) || uniform) over ``x``, and Var_x of E_q[z_i | x]."""
    with torch.no_grad():
        logits = model.encode(x)
        if model.latent.bernoulli:
            p = torch.stack([1 - torch.sigmoid(logits), torch.sigmoid(logits)], -1)
        else:
            p = logits.softmax(-1)
        kl = (p * (p.clamp_min(1e-12).log() + math.log(p.shape[-1]))).sum(-1)
        return kl.mean(0), p.var(0).sum(-1) / (2 if model.latent.bernoulli else 1)


def load_vae(runs: Path, model_name: str, row: str, pixels: int) -> DiscreteVAE:
    """The trained VAE of ``runs/<model_name>/<row>/seed0/checkpoint.pt``, in eval mode."""
    state = torch.load(runs / model_name / row / "seed0" / "checkpoint.pt", map_location="cpu", weights_only=False)
    model = DiscreteVAE(pixels, LATENTS[model_name])
    model.load_state_dict(state["model"])
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=Path("runs/mnist"))
    parser.add_argument("--model", choices=sorted(LATENTS), default="vae-bern")
    parser.add_argument("--rows", default="Gumbel-S,ST_Gumbel-S,DARN,SF", help="run folders, comma-separated")
    parser.add_argument("--dataset", default="mnist")
    args = parser.parse_args()
    x = load(args.dataset, binarization="fixed", seed=0).test
    print(f"| {args.model} row | units | active (Var > 0.01) | KL > 0.01 nats | total KL (nats) |")
    print("|---|---:|---:|---:|---:|")
    for row in args.rows.split(","):
        kl, activity = unit_statistics(load_vae(args.runs, args.model, row, x.shape[1]), x)
        print(f"| {row} | {kl.numel()} | {int((activity > 0.01).sum())} | {int((kl > 0.01).sum())} | {kl.sum():.1f} |")


if __name__ == "__main__":
    main()

"""How far a VAE's relaxed training objective is from its discrete negative ELBO, on the test split.

Soft Gumbel-Softmax trains the *relaxed* objective `E_G[-log p(x | y_tau)] + KL` (the decoder sees
`y_tau = sigmoid((logit + L) / tau)` for Bernoulli units, `softmax((logits + G) / tau)` for categorical
ones), but Table 1 of Jang et al. (2017) scores the *discrete* negative ELBO, with exact samples (see
`gumbel_softmax.experiments.objectives`). The relaxed objective is not a bound on `-log p(x)`; the
difference is what a decoder trained on relaxed samples loses when it is fed exact ones. This script prints
both for trained checkpoints, at the temperature the schedule ends at (0.5 for Jang's) and at others:

    gumbel-softmax study relaxation-gap --runs runs/mnist --model vae-bern --rows Gumbel-S,ST_Gumbel-S --taus 0.5,1
"""

from __future__ import annotations

import argparse

import torch

from gumbel_softmax import estimators
from gumbel_softmax.experiments.models import DiscreteVAE
from gumbel_softmax.experiments.objectives import vae_bounds
from gumbel_softmax.studies.active_units import load_run


def relaxed_objective(model: DiscreteVAE, x: torch.Tensor, tau: float, draws: int, generator: torch.Generator) -> float:
    """Sum over `x` of the mean over `draws` relaxed samples of `-log p(x | y_tau) + KL(q || uniform)`."""
    relaxed = estimators.get("gumbel_softmax")
    with torch.no_grad():
        logits = model.encode(x)
        total = draws * model.latent.kl_to_uniform(logits)
        for _ in range(draws):
            out = relaxed(logits, lambda z: model.reconstruction_nll(x, z), tau=tau,
                          bernoulli=model.latent.bernoulli, generator=generator)  # fmt: skip
            total = total + out.loss
        return float(total.sum()) / draws


def run(args: argparse.Namespace) -> int:
    """`gumbel-softmax study relaxation-gap` (options: `gumbel_softmax.studies.options.add_relaxation_gap`)."""
    taus = args.taus
    print(f"| {args.model} row | -ELBO (exact samples) | " + " | ".join(f"relaxed, tau={t:g}" for t in taus) + " |")
    print("|---|---:|" + "---:|" * len(taus))
    for row in args.rows:
        model, x = load_run(args.runs, args.model, row, args.seed)
        generator = torch.Generator().manual_seed(0)
        batches = x.split(500)
        elbo = sum(float(vae_bounds(model, b, args.samples, generator)[0].sum()) for b in batches) / len(x)
        relaxed = [sum(relaxed_objective(model, b, t, args.draws, generator) for b in batches) / len(x) for t in taus]
        print(f"| {row} | {elbo:.2f} | " + " | ".join(f"{r:.2f}" for r in relaxed) + " |")
    return 0

"""The demo's training section: a short categorical VAE on the embedded 8x8 digits."""

from __future__ import annotations

from pathlib import Path

import torch

from gumbel_softmax.experiments.train import TrainConfig, train
from gumbel_softmax.studies.report import format_table

__all__ = ["vae_digits_section"]


def vae_digits_section(ctx) -> None:
    """Train Jang et al.'s categorical VAE (20 x 10 latents, Gumbel-Softmax) on the digits for a few thousand steps.

    2,000 steps at the default `--samples` (fewer for smaller `--samples`), narrower
    hidden layers (256, 128) than the paper's, tau annealed from 1 to 0.5 within the run.
    Prints the test bounds and saves the curves and a figure of reconstructions and prior samples.
    """
    steps = min(2000, max(100, ctx.samples // 50))
    config = TrainConfig(
        hidden=(256, 128),
        steps=steps,
        lr=3e-3,
        anneal="exponential:rate=1e-3,every=100",
        eval_every=0,
        eval_samples=100,
        checkpoint_every=0,
        seed=int(torch.randint(0, 2**31 - 1, (), generator=ctx.generator)),
        out=str(Path(ctx.out) / "vae_digits"),
        overwrite=ctx.overwrite,
    )
    print(f"Categorical VAE (20 x 10, Gumbel-Softmax) on the 8x8 digits, {steps:,} steps of batch 100:")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # this small MLP runs fastest on one thread, above all on a busy machine
    try:
        final = train(config)
    finally:
        torch.set_num_threads(threads)
    rows = [["negative ELBO", final["test_neg_elbo"]], ["-log p(x), k = 100", final["test_nll_k100"]]]
    print(format_table(["test split (300 images)", "nats"], rows, floatfmt=".2f"))
    print(f"saved {config.out}/reconstructions.png and {config.out}/curves.png\n")

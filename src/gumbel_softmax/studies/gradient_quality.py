"""`gumbel-softmax study gradient-quality`: every estimator's gradient on the MNIST-VAE against the exact one.

The measurement of Liu et al. (NeurIPS 2023, arXiv 2304.08612; `analyze_gradient` in the authors'
`mnist_vae/model/vae.py`), for the 8 x 4 model of `reproduce reinmax`, where the `8^4 = 4,096`
latent configurations of one image can be enumerated. At each checkpoint along training and for
`n` training images `x_i` (a fixed random choice), the quantity estimated is the gradient, for the
encoder's logits `theta_i` (`[4, 8]` per image), of the reconstruction term

```text
R(theta) = (1/n) sum_i E_{z ~ q(z | x_i)} [ BCE(decoder(z), x_i) ],
```

the one part of the loss that needs an estimator (the KL to the uniform prior is computed in closed
form). The exact gradient `g*` sums over all 4,096 configurations of each image
(`gumbel_softmax.estimators.exact_gradient`). Each estimator gives `D` independent estimates
`g_1 ... g_D` (the authors' `D = 1024`); with the mean `m` and the coordinate-wise standard
deviation `s` over the draws, as the authors do:

* relative bias `||m - g*|| / ||g*||` (their first number), with its Monte Carlo noise floor
  `||s|| / (sqrt(D) ||g*||)`: an unbiased estimator's relative bias is of that order;
* relative standard deviation `||s|| / ||m||` (their third number), and `||s|| / ||g*||`, the same
  spread against the exact gradient's norm (a denominator that does not move with the estimator's own
  noise; the figure's axis);
* the cosine of `m` and `g*` (their fourth).

Norms run over all `n x 4 x 8` logits. Every estimator of the registry
(`gumbel_softmax.estimators.names()`) that takes categorical variables without a caller's baseline is
measured at its default options and the configuration's temperature; stateful ones (RELAX's network,
moving-average baselines) start from their initial state. The model is trained inside the study with
`--train-estimator` at the authors' 8 x 4 settings (Adam, lr 5e-4, tau 1.3, batch 100), and measured
before training (epoch 0) and after each epoch of `--at`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor

from gumbel_softmax import estimators
from gumbel_softmax.experiments.config import check_writable
from gumbel_softmax.experiments.data import BatchOrder
from gumbel_softmax.experiments.models import DiscreteVAE
from gumbel_softmax.experiments.reinmax_options import SETTINGS
from gumbel_softmax.experiments.reinmax_vae import ReinMaxConfig, build, mnist_images, train_epoch
from gumbel_softmax.studies.report import format_table, new_figure, save_figure

__all__ = ["MAX_ESTIMATES", "Measurement", "measured_estimators", "exact_reconstruction_gradient", "estimates",
           "measure", "table", "plot", "run"]

# The most images (`--draws` x `--examples`) one estimator's batched call takes: 2^17 is the authors' 1,024
# draws on 128 images, a few GB of activations on the CPU. A larger product is refused before anything runs.
MAX_ESTIMATES = 2**17


@dataclass
class Measurement:
    """One estimator at one checkpoint (see the module docstring for the quantities)."""

    epoch: int
    estimator: str
    relative_bias: float
    noise_floor: float
    relative_std: float
    std_to_exact: float
    cosine: float
    seconds: float


def measured_estimators(selected: list[str] | None = None) -> list[str]:
    """The registry's estimators that take categorical variables and need no baseline (or those `selected`).

    Raises:
        ValueError: `selected` names one that is not in the registry or cannot be measured here.
    """
    usable = [n for n in estimators.names()
              if estimators.get(n).supports_categorical and not estimators.get(n).needs_baseline]
    unknown = [n for n in selected or [] if n not in usable]
    if unknown:
        raise ValueError(f"--estimators: {', '.join(unknown)} cannot be measured here (unknown, binary only, or "
                         f"needing a baseline); choose from {', '.join(usable)}")
    return usable if selected is None else list(selected)


def exact_reconstruction_gradient(model: DiscreteVAE, x: Tensor) -> Tensor:
    """`grad_theta R` by enumeration: `[n, V, K]`, for the images `x` `[n, pixels]` (`R` as in the module docstring).

    Each image's expectation is a sum over its `K^V` configurations (`estimators.exact_gradient`), so this
    is feasible for small latent spaces only (`K^V` up to 100,000).
    """
    with torch.no_grad():
        logits = model.encode(x)
    grads = []
    for i in range(len(x)):
        def loss(z: Tensor, image: Tensor = x[i]) -> Tensor:
            with torch.no_grad():
                return model.reconstruction_nll(image, z)

        grads.append(estimators.exact_gradient(logits[i], loss)[1])
    return torch.stack(grads) / len(x)


def estimates(model: DiscreteVAE, x: Tensor, name: str, tau: float, draws: int,
              generator: torch.Generator) -> Tensor:
    """`draws` independent estimates `[draws, n, V, K]` of `grad_theta R` by estimator `name`, in one batched call."""
    with torch.no_grad():
        logits = model.encode(x)
    batch = logits.repeat(draws, 1, 1).requires_grad_()
    images = x.repeat(draws, 1)
    est = estimators.get(name)
    out = est(batch, lambda z: model.reconstruction_nll(images, z), tau=tau, generator=generator)
    (grad,) = torch.autograd.grad(out.surrogate.sum(), batch)
    return grad.reshape((draws,) + tuple(logits.shape)) / len(x)


def measure(model: DiscreteVAE, x: Tensor, names: list[str], tau: float, draws: int, epoch: int,
            generator: torch.Generator) -> list[Measurement]:
    """Every estimator of `names` against the exact gradient at the model's current weights."""
    exact = exact_reconstruction_gradient(model, x)
    rows = []
    for name in names:
        start = time.perf_counter()
        grads = estimates(model, x, name, tau, draws, generator)
        seconds = time.perf_counter() - start
        mean, std = grads.mean(0), grads.std(0)
        norm = float(exact.norm())
        rows.append(Measurement(
            epoch, name, float((mean - exact).norm()) / norm, float(std.norm()) / (math.sqrt(draws) * norm),
            float(std.norm() / mean.norm()), float(std.norm()) / norm,
            float(torch.nn.functional.cosine_similarity(mean.flatten(), exact.flatten(), dim=0)), seconds))
    return rows


def table(rows: list[Measurement]) -> str:
    """The aligned results table: one line per (checkpoint, estimator)."""
    headers = ["epoch", "estimator", "rel. bias", "noise floor", "rel. std (/ ||mean||)", "std / ||exact||",
               "cosine", "seconds"]
    cells = [[r.epoch, r.estimator, f"{r.relative_bias:.3g}", f"{r.noise_floor:.2g}", f"{r.relative_std:.3g}",
              f"{r.std_to_exact:.3g}", f"{r.cosine:.3f}", f"{r.seconds:.1f}"] for r in rows]
    return format_table(headers, cells)


def plot(rows: list[Measurement], path: Path) -> Path:
    """Relative bias against the spread over `||exact||`, one colour per estimator, one panel per checkpoint."""
    import matplotlib

    epochs = sorted({r.epoch for r in rows})
    names = list(dict.fromkeys(r.estimator for r in rows))
    colours = matplotlib.colormaps["tab20"]
    fig, axes = new_figure(1, len(epochs), size=(4.8 * len(epochs), 4.5))
    for ax, epoch in zip(axes[0], epochs):
        for i, name in enumerate(names):
            mine = [r for r in rows if r.epoch == epoch and r.estimator == name]
            ax.scatter([r.std_to_exact for r in mine], [max(r.relative_bias, 1e-4) for r in mine],
                       color=colours(i % 20), label=name, s=28)
            for r in mine:
                ax.annotate(name, (r.std_to_exact, max(r.relative_bias, 1e-4)), fontsize=5)
        floor = [r for r in rows if r.epoch == epoch]
        ax.axhline(max(r.noise_floor for r in floor), color="k", linestyle="--", linewidth=0.7)
        ax.set(xscale="log", yscale="log", title=f"after {epoch} epoch(s) (dashed: largest noise floor)",
               xlabel="standard deviation ||s|| / ||exact||", ylabel="relative bias ||mean - exact|| / ||exact||")
    axes[0][-1].legend(fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return save_figure(fig, path)


def run(args: argparse.Namespace) -> int:
    """`gumbel-softmax study gradient-quality` (options: `gumbel_softmax.studies.options.add_gradient_quality`)."""
    try:
        check_writable(Path(args.out))
        if args.draws < 2:
            raise ValueError(f"--draws must be at least 2 (a standard deviation needs two), got {args.draws}")
        if args.draws * args.examples > MAX_ESTIMATES:
            raise ValueError(f"--draws {args.draws} x --examples {args.examples} = {args.draws * args.examples} images "
                             f"in one batch, over the {MAX_ESTIMATES} this study allows; lower one of them")
        names = measured_estimators(args.estimators)
        train_name = args.train_estimator
        if train_name not in estimators.names():
            raise ValueError(f"--train-estimator: unknown {train_name!r}; choose from {', '.join(estimators.names())}")
        images, _ = mnist_images(args.data_dir)
    except (ValueError, FileNotFoundError) as error:
        print(f"gumbel-softmax study gradient-quality: error: {error}", file=sys.stderr)
        return 2
    setting = SETTINGS["8x4"]
    config = ReinMaxConfig(estimator=train_name, classes=setting.classes, variables=setting.variables,
                           lr=setting.lr, tau=setting.tau, optimizer=setting.optimizer, seed=args.seed)
    model, optimizer, trainer = build(config)
    generator = torch.Generator().manual_seed(args.seed)
    chosen = torch.randperm(len(images), generator=torch.Generator().manual_seed(args.seed + 1))[: args.examples]
    x = images[chosen]
    order = BatchOrder(len(images), config.batch_size, config.seed)
    rows: list[Measurement] = []
    start = time.perf_counter()
    for epoch in range(max(args.at) + 1):
        if epoch in args.at:
            rows += measure(model, x, names, config.tau, args.draws, epoch, generator)
            print(f"measured after {epoch} epoch(s) ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
        if epoch < max(args.at):
            train_epoch(model, optimizer, trainer, images, order, epoch, config.tau, generator)
    text = table(rows)
    heading = (f"Gradient of the reconstruction term for the encoder's logits, 8 x 4 MNIST-VAE trained with "
               f"{train_name} (lr {config.lr:g}, tau {config.tau:g}, {config.optimizer}); {args.examples} training "
               f"images, {args.draws} draws per estimator, seed {args.seed}")
    print(heading)
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gradient_quality.md").write_text(heading + "\n\n" + text + "\n")
    (out / "gradient_quality.json").write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n")
    print(f"saved {out / 'gradient_quality.md'}")
    print(f"saved {plot(rows, out / 'gradient_quality.png')}")
    print(f"total {time.perf_counter() - start:.1f} s")
    return 0

"""`gumbel-softmax demo`: the Gumbel-max check, the temperature table, a figure, then the other sections.

Prints aligned tables and saves PNG figures under `--out`; each entry of `SECTIONS`
is one part of the tour, called in order with a shared `DemoContext`.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from gumbel_softmax.experiments.config import check_writable
from gumbel_softmax.experiments.demo import vae_digits_section
from gumbel_softmax.functional import gumbel_softmax, sample
from gumbel_softmax.studies.densities import density_section
from gumbel_softmax.studies.estimator_variance import demo_section as estimators_demo
from gumbel_softmax.studies.report import chi_square, format_table, new_figure, save_figure

PI = (0.15, 0.4, 0.45)
TEMPERATURES = (0.01, 0.05, 0.1, 1.0, 10.0)


@dataclass
class DemoContext:
    """What every section gets: where to write, how many samples, and a seeded generator."""

    out: Path
    samples: int
    generator: torch.Generator
    overwrite: bool = False


def gumbel_max_check(ctx: DemoContext) -> None:
    """Empirical Gumbel-max frequencies against pi, with standard errors and a chi-square test."""
    pi = torch.tensor(PI, dtype=torch.float64)
    n = ctx.samples
    draws = sample(pi.log().expand(n, len(PI)), generator=ctx.generator)
    counts = torch.bincount(draws, minlength=len(PI)).double()
    freq = counts / n
    stderr = (pi * (1 - pi) / n).sqrt()
    test = chi_square(counts, pi)
    rows = [
        [k, float(p), int(c), float(f), float(s), float((f - p) / s)]
        for k, (p, c, f, s) in enumerate(zip(pi, counts, freq, stderr))
    ]
    print(f"Gumbel-max trick: N = {n:,} draws of argmax(log pi + G)")
    print(format_table(["class", "pi", "count", "frequency", "std error", "z"], rows))
    print(f"chi-square = {test.statistic:.3f} on {test.df} d.o.f., p-value = {test.p_value:.3f}\n")
    ctx.frequencies = freq  # type: ignore[attr-defined]


def temperature_table(ctx: DemoContext) -> None:
    """Mean of soft samples at each temperature: near pi when cold, toward uniform when hot."""
    logits = torch.tensor(PI, dtype=torch.float64).log().expand(ctx.samples, len(PI))
    rows = []
    for tau in TEMPERATURES:
        y = gumbel_softmax(logits, tau=tau, generator=ctx.generator)
        mean = y.mean(0)
        rows.append([f"{tau:g}", *[float(m) for m in mean], float(y.max(-1).values.mean())])
    headers = ["tau", *[f"mean y[{k}]" for k in range(len(PI))], "mean max_k y_k"]
    print(f"Soft samples: mean of {ctx.samples:,} Gumbel-Softmax samples, pi = {list(PI)}")
    print(format_table(headers, rows))
    print("(cold: the mean is pi and samples are nearly one-hot; hot: samples and mean tend to uniform)\n")


def core_figure(ctx: DemoContext) -> None:
    """One PNG: pi against the empirical frequency, and soft samples at four temperatures."""
    fig, axes = new_figure(1, 5, size=(18, 3.6))
    ax = axes[0][0]
    classes = range(len(PI))
    freq = getattr(ctx, "frequencies", None)
    ax.bar([k - 0.2 for k in classes], PI, width=0.4, label="pi")
    if freq is not None:
        err = [math.sqrt(p * (1 - p) / ctx.samples) for p in PI]
        ax.bar([k + 0.2 for k in classes], freq.tolist(), width=0.4, yerr=err, label="Gumbel-max frequency")
    ax.set(title=f"Gumbel-max, N = {ctx.samples:,}", xlabel="class", ylabel="probability", xticks=list(classes))
    ax.legend(fontsize=8)
    logits = torch.tensor(PI).log().expand(12, len(PI))
    for ax, tau in zip(axes[0][1:], (0.1, 0.5, 1.0, 5.0)):
        y = gumbel_softmax(logits, tau=tau, generator=ctx.generator)
        ax.imshow(y.numpy(), vmin=0, vmax=1, cmap="viridis", aspect="auto")
        ax.set(title=f"12 soft samples, tau = {tau}", xlabel="class", ylabel="sample", xticks=list(classes))
    path = save_figure(fig, ctx.out / "gumbel_max_and_temperatures.png")
    print(f"saved {path}")


SECTIONS: list[Callable[[DemoContext], None]] = [
    gumbel_max_check,
    temperature_table,
    core_figure,
    density_section,
    estimators_demo,
    vae_digits_section,
]


def run(args: argparse.Namespace) -> int:
    """Run every section (options: `gumbel_softmax.studies.options.add_demo`)."""
    check_writable(args.out)
    ctx = DemoContext(out=args.out, samples=args.samples, generator=torch.Generator().manual_seed(args.seed),
                      overwrite=args.overwrite)
    for section in SECTIONS:
        section(ctx)
    return 0

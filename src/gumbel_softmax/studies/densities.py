"""Demo section: the Concrete density on the 2-simplex, and finite log_prob against torch.

Prints, for uniform logits over K categories, the share of each distribution's own
float32 samples on which its `log_prob` is finite (torch's
`RelaxedOneHotCategorical` / `ExpRelaxedCategorical` against our
`Concrete` / `ExpConcrete`), and saves `concrete_density.png`: for K = 3 the
log-density at four temperatures as heat maps with samples overlaid.
"""

from __future__ import annotations

import math

import torch
from torch.distributions import RelaxedOneHotCategorical
from torch.distributions.relaxed_categorical import ExpRelaxedCategorical

from gumbel_softmax.distributions.concrete import Concrete, ExpConcrete
from gumbel_softmax.studies.report import format_table, new_figure, save_figure

__all__ = ["density_section"]

TABLE_TAUS = (0.5, 0.1, 0.05, 0.01)
TABLE_SIZES = ((10, 5), (100, 20), (1000, 100))  # (K, divisor of the demo's --samples)
FIGURE_TAUS = (2.0, 1.0, 0.5, 0.2)
FIGURE_PI = (0.15, 0.4, 0.45)


def _finite_share(distribution, samples: int, generator: torch.Generator | None) -> float:
    # torch's samplers take no generator (they draw from torch's global RNG).
    value = distribution.sample((samples,), generator=generator) if generator else distribution.sample((samples,))
    return float(distribution.log_prob(value).isfinite().double().mean())


def finite_table(generator: torch.Generator, draws: int = 100_000) -> str:
    """The table of finite shares, `draws / (5, 20, 100)` samples for K = 10, 100, 1000.

    torch's samplers use torch's global RNG, seeded from `generator` inside `fork_rng`.
    """
    rows = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(torch.randint(2**31, (), generator=generator)))
        for k, divisor in TABLE_SIZES:
            samples = max(100, draws // divisor)
            logits = torch.zeros(k)
            for tau in TABLE_TAUS:
                temperature = torch.tensor(tau)
                theirs = RelaxedOneHotCategorical(temperature, logits=logits, validate_args=False)
                theirs_exp = ExpRelaxedCategorical(temperature, logits=logits, validate_args=False)
                rows.append([
                    k, str(tau), samples,
                    _finite_share(theirs, samples, None),
                    _finite_share(Concrete(tau, logits=logits), samples, generator),
                    _finite_share(theirs_exp, samples, None),
                    _finite_share(ExpConcrete(tau, logits=logits), samples, generator),
                ])
    headers = ["K", "tau", "samples", "torch RelaxedOneHot", "ours Concrete", "torch ExpRelaxed", "ours ExpConcrete"]
    return format_table(headers, rows, floatfmt=".4f")


def _simplex_grid(pixels: int) -> tuple[torch.Tensor, torch.Tensor, tuple[float, float, float, float]]:
    """Barycentric coordinates of a pixel grid over the triangle (0,0), (1,0), (1/2, sqrt(3)/2); NaN outside."""
    height = math.sqrt(3) / 2
    u = torch.linspace(0, 1, pixels, dtype=torch.float64)
    v = torch.linspace(0, height, int(pixels * height), dtype=torch.float64)
    vv, uu = torch.meshgrid(v, u, indexing="ij")
    x2 = vv / height
    x1 = uu - x2 / 2
    x0 = 1 - x1 - x2
    bary = torch.stack([x0, x1, x2], -1)
    inside = (bary > 0).all(-1)
    return bary, inside, (0.0, 1.0, 0.0, height)


def _to_plane(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return x[..., 1] + x[..., 2] / 2, x[..., 2] * math.sqrt(3) / 2


def density_figure(ctx) -> str:
    """Four heat maps of the K = 3 Concrete log-density with 400 samples each; returns the PNG path."""
    logits = torch.tensor(FIGURE_PI, dtype=torch.float64).log()
    bary, inside, extent = _simplex_grid(320)
    fig, axes = new_figure(1, len(FIGURE_TAUS), size=(4.4 * len(FIGURE_TAUS), 4.0))
    for ax, tau in zip(axes[0], FIGURE_TAUS):
        d = Concrete(torch.tensor(tau, dtype=torch.float64), logits=logits, validate_args=False)
        log_density = d.log_prob(bary.clamp_min(1e-300)).masked_fill(~inside, float("nan"))
        finite = log_density[inside]
        low, high = torch.quantile(finite, 0.02).item(), torch.quantile(finite, 0.995).item()
        image = ax.imshow(log_density.numpy(), origin="lower", extent=extent, cmap="magma", vmin=low, vmax=high)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="log density")
        px, py = _to_plane(d.sample((400,), generator=ctx.generator))
        ax.scatter(px.numpy(), py.numpy(), s=3, c="cyan", alpha=0.6, linewidths=0)
        ax.set(title=f"Concrete, K = 3, tau = {tau}", xlim=(-0.08, 1.08), ylim=(-0.09, 0.95), aspect="equal")
        ax.axis("off")
        corners = [(0, 0, "left", "top"), (1, 0, "right", "top"), (0.5, math.sqrt(3) / 2, "center", "bottom")]
        for k, ((x, y, ha, va), p) in enumerate(zip(corners, FIGURE_PI)):
            ax.annotate(f"x{k} = 1 (pi = {p})", (x, y), fontsize=8, ha=ha, va=va)
    return str(save_figure(fig, ctx.out / "concrete_density.png"))


def density_section(ctx) -> None:
    """Demo section: the finite-log_prob table against torch, then the density figure."""
    print("Concrete log-density on its own float32 samples: share of finite log_prob (uniform logits)")
    print(finite_table(ctx.generator, ctx.samples))
    print("(torch takes log of samples that underflowed to 0; ours floors sample coordinates at the smallest\n"
          " normal float and evaluates the density from log-space quantities)\n")
    print(f"saved {density_figure(ctx)}")

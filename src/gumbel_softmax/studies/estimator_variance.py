"""`gumbel-softmax study estimators`: bias and variance of every gradient estimator against the exact gradient.

Problems (the exact gradient comes from enumerating every configuration):

* `toy-bernoulli`: Tucker et al. (2017) / Grathwohl et al. (2018): `E[(b - 0.499)^2]`,
  `b ~ Bernoulli(sigmoid(l))`, at `l = 0`. The exact gradient is
  `sigmoid'(0) (1 - 2 * 0.499) = 5e-4`: a tiny signal under large noise.
* `toy-categorical`: its categorical form: one variable with 3 classes at uniform logits,
  `E[sum_k (z_k - t_k)^2]` with `t = (0.499, 0.5, 0.501)` (loss gaps of 0.002 again).
* `quadratic`: 3 categorical variables with 10 classes, `f(z) = x^T A x + c^T x` for the
  flattened one-hot `x` with a fixed random symmetric `A = (B + B^T) / 2`, `B` with
  entries N(0, 1/30) (so `A`'s off-diagonal entries are N(0, 1/60), its diagonal N(0, 1/30)),
  and `c` (N(0, 1)), at random logits (N(0, 1)); 1,000 configurations.

For each estimator, temperature (where it has one) and number of samples per estimate
(`k` for Gumbel-Rao, `n` for RLOO and the unordered set estimator, else 1; any estimator registered
without a row here gets one at its default options; ARMS and double control variates, for binary
variables only, run on `toy-bernoulli` alone, and the unordered set estimator only where the problem
has at least `n` joint configurations), many
independent estimates (`--toy-draws` on the toys, `--draws` on the quadratic) are taken in one
batched call, after a warm-up
of `--warmup` calls (`--relax-warmup` for RELAX, whose network needs more steps to learn
its control variate; Adam at `lr = 0.03`), of 64 examples each, that lets stateful
estimators (EMA, NVIL, RELAX) adapt.
Reported: cosine similarity of the mean estimate with the exact gradient ("n/a" when the
gradient has one coordinate, as on `toy-bernoulli`, where it could only be +-1), relative bias
`||mean - exact|| / ||exact||`, its Monte Carlo noise floor `sqrt(tr Cov / draws) / ||exact||`
(a relative bias of the order of the floor is indistinguishable from 0), and the variance
`tr Cov` of one estimate. NVIL's input-dependent baseline is, with no input here, a learned
scalar trained by the surrogate during the warm-up.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from gumbel_softmax.estimators.exact import exact_gradient
from gumbel_softmax.estimators.registry import get, names
from gumbel_softmax.experiments.config import check_writable
from gumbel_softmax.studies.report import format_table, new_figure, save_figure

TEMPERATURES = (0.1, 0.5, 1.0, 2.0)
TUCKER_TARGET = 0.499
RELAX_LR = 0.03
WARMUP_BATCH = 64


@dataclass
class Problem:
    """A loss over samples `[M, *logits.shape]` and the point `logits` where the gradient is taken."""

    name: str
    logits: Tensor
    f: Callable[[Tensor], Tensor]
    bernoulli: bool


def problems(seed: int) -> list[Problem]:
    """The three benchmark problems (see the module docstring), in float32 (what models train in)."""
    dtype = torch.float32
    target = torch.tensor([0.499, 0.5, 0.501], dtype=dtype)
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(30, 30, generator=g, dtype=dtype) / math.sqrt(30)
    a, c = (a + a.T) / 2, torch.randn(30, generator=g, dtype=dtype)
    logits = torch.randn(3, 10, generator=g, dtype=dtype)
    return [
        Problem("toy-bernoulli", torch.zeros(1, dtype=dtype), lambda b: ((b - TUCKER_TARGET) ** 2).sum(-1), True),
        Problem("toy-categorical", torch.zeros(1, 3, dtype=dtype), lambda z: ((z - target) ** 2).sum((-1, -2)), False),
        Problem("quadratic", logits, lambda z: ((z.flatten(1) @ a) * z.flatten(1)).sum(-1) + z.flatten(1) @ c, False),
    ]


@dataclass
class Config:
    """One row: an estimator name, its options, a temperature (None: unused) and samples per estimate."""

    name: str
    options: dict
    tau: float | None
    samples: int


def configs(selected: list[str] | None) -> Iterator[Config]:
    """Every (estimator, temperature, samples) combination of the benchmark."""
    rows = []
    for name in ("gumbel_softmax", "st_gumbel_softmax", "straight_through", "reinmax", "gst", "gst_p"):
        rows += [Config(name, {}, tau, 1) for tau in TEMPERATURES]
    for k in (1, 10, 100):
        rows += [Config("gumbel_rao", {"k": k}, tau, k) for tau in TEMPERATURES]
    for name in ("reinforce", "reinforce_ema", "nvil", "muprop", "darn"):
        rows.append(Config(name, {}, None, 1))
    rows += [Config("rloo", {"samples": n}, None, n) for n in (2, 4, 8)]
    for name in ("rebar", "relax"):
        rows += [Config(name, {"lr": RELAX_LR} if name == "relax" else {}, tau, 1) for tau in TEMPERATURES]
    rows.append(Config("disarm", {}, None, 1))
    rows += [Config("decoupled_st", {}, tau, 1) for tau in TEMPERATURES]  # tau: the backward temperature
    rows += [Config("unordered_set", {"samples": n}, None, n) for n in (2, 4, 8)]
    listed = {row.name for row in rows}  # any estimator registered since: one row at its default options
    rows += [Config(name, {}, None, 1) for name in names() if name not in listed]
    return (row for row in rows if selected is None or row.name in selected)


def estimates(problem: Problem, config: Config, draws: int, warmup: int, generator: torch.Generator) -> Tensor:
    """`draws` independent estimates `[draws, logits.numel()]` from one batched call.

    Stateful estimators first get `warmup` calls of `WARMUP_BATCH` examples (stateless ones none).
    """
    est = get(config.name, **config.options)
    level = torch.zeros((), dtype=problem.logits.dtype, requires_grad=True)  # NVIL's baseline
    tau = 1.0 if config.tau is None else config.tau

    def call(n: int) -> Tensor:
        batch = problem.logits.expand((n,) + problem.logits.shape).clone().requires_grad_()
        baseline = level.expand(n) if est.needs_baseline else None
        out = est(batch, problem.f, tau=tau, bernoulli=problem.bernoulli, generator=generator, baseline=baseline)
        out.surrogate.sum().backward()
        if level.grad is not None:
            with torch.no_grad():
                level.sub_(0.5 * level.grad / n)
            level.grad = None
        assert batch.grad is not None, "the surrogate reaches the logits"
        return batch.grad.flatten(1)

    stateful = config.name in ("reinforce_ema", "nvil", "relax")
    for _ in range(warmup if stateful else 0):
        call(WARMUP_BATCH)
    return call(draws)


def fits(name: str, problem: Problem, samples: int = 1) -> bool:
    """Whether estimator `name` takes the problem's variables (ARMS, double CV: binary ones only), and, for one
    that draws `samples` distinct joint configurations (the unordered set estimator), whether there are that many."""
    est = get(name)
    if est.max_joint is not None:
        classes = 2 if problem.bernoulli else problem.logits.shape[-1]
        variables = problem.logits.numel() // (1 if problem.bernoulli else classes)
        if classes**variables < samples:
            return False
    return est.supports_bernoulli if problem.bernoulli else est.supports_categorical


@dataclass
class Row:
    problem: str
    estimator: str
    tau: float | None
    samples: int
    cosine: float | None
    relative_bias: float
    noise_floor: float
    variance: float
    seconds: float


def measure(problem: Problem, config: Config, draws: int, warmup: int, generator: torch.Generator) -> Row:
    """Compare the estimates of one configuration with the exact gradient (cosine None for a 1-D gradient)."""
    _, exact = exact_gradient(problem.logits, problem.f, bernoulli=problem.bernoulli)
    exact = exact.flatten()
    start = time.perf_counter()
    grads = estimates(problem, config, draws, warmup, generator)
    seconds = time.perf_counter() - start
    mean = grads.mean(0)
    variance = float(((grads - mean) ** 2).sum(1).mean() * draws / (draws - 1))
    norm = float(exact.norm())
    cosine = float(torch.nn.functional.cosine_similarity(mean, exact, dim=0)) if exact.numel() > 1 else None
    return Row(
        problem.name,
        config.name,
        config.tau,
        config.samples,
        cosine,
        float((mean - exact).norm()) / norm,
        math.sqrt(variance / draws) / norm,
        variance,
        seconds,
    )


def table(rows: list[Row]) -> str:
    """The aligned results table."""
    headers = ["problem", "estimator", "tau", "samples", "cosine", "rel. bias", "noise floor", "variance", "seconds"]
    cells = [
        [r.problem, r.estimator, "-" if r.tau is None else f"{r.tau:g}", r.samples,
         "n/a" if r.cosine is None else f"{r.cosine:.3f}", f"{r.relative_bias:.3g}", f"{r.noise_floor:.3g}",
         f"{r.variance:.3g}", f"{r.seconds:.2f}"]
        for r in rows
    ]  # fmt: skip
    return format_table(headers, cells)


def plot(rows: list[Row], path: Path) -> Path:
    """Relative bias against variance, one panel per problem, one colour per estimator."""
    names = sorted({r.problem for r in rows}, key=[r.problem for r in rows].index)
    fig, axes = new_figure(1, len(names), size=(6.0 * len(names), 5.0))
    estimators = sorted({r.estimator for r in rows}, key=[r.estimator for r in rows].index)
    import matplotlib

    colours = matplotlib.colormaps["tab20"]
    for ax, name in zip(axes[0], names):
        for i, est in enumerate(estimators):
            mine = [r for r in rows if r.problem == name and r.estimator == est]
            if not mine:
                continue
            ax.scatter([r.variance for r in mine], [max(r.relative_bias, 1e-6) for r in mine],
                       color=colours(i % 20), label=est, s=[18 + 10 * math.log10(r.samples) for r in mine])  # fmt: skip
            for r in mine:
                if r.tau is not None:
                    ax.annotate(f"{r.tau:g}", (r.variance, max(r.relative_bias, 1e-6)), fontsize=6)
        mine = [r for r in rows if r.problem == name and r.variance > 0]
        if mine:  # relative bias = noise floor: points near or below this line are consistent with no bias
            scale = mine[0].noise_floor / math.sqrt(mine[0].variance)
            xs = sorted(r.variance for r in mine)
            ax.plot(xs, [scale * math.sqrt(x) for x in xs], "k--", linewidth=0.8, label="_noise floor")
        ax.set(xscale="log", yscale="log", title=f"{name} (dashed: Monte Carlo noise floor)",
               xlabel="variance (trace of covariance)", ylabel="relative bias of the mean estimate")
    axes[0][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return save_figure(fig, path)


def run_benchmark(
    draws: int = 4_000,
    toy_draws: int = 20_000,
    warmup: int = 10,
    seed: int = 0,
    selected: list[str] | None = None,
    problem_names: list[str] | None = None,
    relax_warmup: int = 60,
) -> list[Row]:
    """Measure every configuration on every problem; returns the rows."""
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for problem in problems(seed):
        if problem_names is not None and problem.name not in problem_names:
            continue
        for config in configs(selected):
            if not fits(config.name, problem, config.samples):
                continue
            n = toy_draws if problem.name.startswith("toy") else draws
            calls = relax_warmup if config.name == "relax" else warmup
            rows.append(measure(problem, config, n, calls, generator))
    return rows


def demo_section(ctx) -> None:
    """Demo: a few estimators on the 3 x 10 quadratic at tau = 0.5 (the full study: `study estimators`)."""
    chosen = [
        Config("st_gumbel_softmax", {}, 0.5, 1),
        Config("gumbel_rao", {"k": 10}, 0.5, 10),
        Config("reinmax", {}, 1.0, 1),
        Config("reinforce", {}, None, 1),
        Config("rloo", {"samples": 4}, None, 4),
        Config("muprop", {}, None, 1),
        Config("rebar", {}, 0.5, 1),
    ]
    quadratic = problems(0)[2]
    draws = max(2, min(ctx.samples, 2_000))
    rows = [measure(quadratic, config, draws, 0, ctx.generator) for config in chosen]
    print(f"Gradient estimators on a random quadratic over 3 x 10 categories, {draws:,} estimates each")
    print(table(rows))
    print("(unbiased ones sit near the noise floor; `gumbel-softmax study estimators` runs the full study)\n")


def run(args: argparse.Namespace) -> int:
    """`gumbel-softmax study estimators` (options: `gumbel_softmax.studies.options.add_estimator_variance`)."""
    check_writable(Path(args.out))  # before the measuring, not after
    if min(args.draws, args.toy_draws) < 2:
        print(f"gumbel-softmax study estimators: error: --draws and --toy-draws must be at least 2, got {args.draws} "
              f"and {args.toy_draws}", file=sys.stderr)
        return 2
    unknown = sorted(set(args.estimators or []) - set(names()))
    if unknown:
        print(f"gumbel-softmax study estimators: error: unknown estimator(s) {', '.join(unknown)}; choose from "
              f"{', '.join(names())}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    rows = run_benchmark(
        args.draws, args.toy_draws, args.warmup, args.seed, args.estimators, args.problems, args.relax_warmup
    )
    text = table(rows)
    print(
        f"Gradient estimators against the exact gradient: {args.toy_draws:,} estimates per row on the toys, "
        f"{args.draws:,} on the quadratic; seed {args.seed}"
    )
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "estimators.md").write_text(text + "\n")
    print(f"saved {args.out / 'estimators.md'}")
    print(f"saved {plot(rows, args.out / 'estimators.png')}")
    print(f"total {time.perf_counter() - start:.1f} s")
    return 0

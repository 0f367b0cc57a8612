"""Mena et al. (ICLR 2018) Section 5.1: learning to sort n uniform numbers with a Gumbel-Sinkhorn network.

Mena, Belanger, Linderman, Snoek, "Learning Latent Permutations with Gumbel-Sinkhorn Networks". Each
training sequence is `n` numbers drawn uniformly on `[0, 1]`. Each number `x_i` goes through the same
small network (1 -> `hidden` units, ReLU -> `n` outputs, as in google/gumbel_sinkhorn's sorting model),
whose outputs form row `i` of the score matrix `X`: the score of number `i` for position `j`. Training
draws `samples` Gumbel-Sinkhorn matrices `P = S((X + noise_factor G) / tau)` per sequence and minimizes
the squared error between the sorted sequence and `P^T x`, with Adam; the network never sees a
permutation, only the sorted numbers. At test time the noise is off and the hard permutation is the
best matching of `X` (`gumbel_softmax.structured.best_permutation`).

Reported, as in the paper and its code: the proportion of numbers put in a wrong position, and the
proportion of test sequences with at least one wrong position. A random permutation puts a number in
the wrong place with probability `1 - 1/n` and gets a sequence wrong with probability `1 - 1/n!`.
"""

from __future__ import annotations

import argparse
import math
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from gumbel_softmax.experiments.config import check_writable
from gumbel_softmax.experiments.distributed import check_device
from gumbel_softmax.experiments.progress import progress_bar
from gumbel_softmax.experiments.reproduce import save_table
from gumbel_softmax.structured import best_permutation, gumbel_sinkhorn

__all__ = ["SortingRow", "SortingNet", "train_and_test", "table", "check_sizes", "run", "PAPER", "MAX_ELEMENTS"]

# The paper's table of sorting results (Mena et al. 2018, Sec. 5.1) could not be confirmed from its text in
# the sources available to this project; no number is copied. Fill in {n: (prop. wrong, prop. any wrong)}
# only from the paper itself.
PAPER: dict[int, tuple[float, float]] = {}


class SortingNet(nn.Module):
    """Scores `X[b, i, j]`: number `i` of sequence `b` at position `j`, each number through the same network."""

    def __init__(self, n: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(1, hidden), nn.ReLU(), nn.Linear(hidden, n))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.unsqueeze(-1))


@dataclass
class SortingRow:
    """One sequence length: the test errors, chance, and the run's cost."""

    n: int
    prop_wrong: float
    prop_any_wrong: float
    chance_wrong: float
    seconds: float
    steps: int
    final_loss: float


def _errors(net: SortingNet, x: Tensor) -> tuple[float, float]:
    with torch.no_grad():
        position = best_permutation(net(x))  # the position given to each number
    rank = x.argsort(-1).argsort(-1)  # its true position
    wrong = position != rank
    return float(wrong.float().mean()), float(wrong.any(-1).float().mean())


def train_and_test(n: int, *, steps: int = 500, batch_size: int = 10, lr: float = 0.1, tau: float = 1.0,
                   sinkhorn_iters: int = 10, samples: int = 5, hidden: int = 32, noise_factor: float = 1.0,
                   test_size: int = 1000, seed: int = 0, device: str = "cpu", progress: bool = False) -> SortingRow:
    """Train one network for sequences of length `n` and test it on `test_size` fresh sequences (`progress`:
    a bar over the steps, with the last loss)."""
    dev = torch.device(device)
    torch.manual_seed(seed)  # the weights' initialization
    generator = torch.Generator(device=dev).manual_seed(seed)
    net = SortingNet(n, hidden).to(dev)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    start = time.perf_counter()
    loss = torch.tensor(math.nan)
    bar = progress_bar(progress, steps, 0, f"sorting n={n}")
    for step in range(steps):
        x = torch.rand(batch_size, n, device=dev, generator=generator)
        ordered = x.sort(-1).values
        scores = net(x).expand(samples, batch_size, n, n)
        soft = gumbel_sinkhorn(scores, tau, sinkhorn_iters, noise_factor=noise_factor, generator=generator)
        rebuilt = (soft.transpose(-2, -1) @ x.unsqueeze(-1)).squeeze(-1)  # P^T x: position j's number
        loss = ((rebuilt - ordered) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        bar.update()
        if step % 50 == 0 or step == steps - 1:
            bar.set_postfix(loss=f"{float(loss.detach()):.4g}")
    bar.close()
    seconds = time.perf_counter() - start
    test = torch.rand(test_size, n, device=dev, generator=generator)
    prop_wrong, prop_any = _errors(net, test)
    return SortingRow(n, prop_wrong, prop_any, 1 - 1 / n, seconds, steps, float(loss.detach()))


def _paper(n: int, which: int) -> str:
    return f"{PAPER[n][which]:.3f}" if n in PAPER else "not confirmed"


def table(rows: list[SortingRow]) -> str:
    """The Markdown table of the runs beside the paper's numbers (where confirmed)."""
    lines = ["| n | prop. wrong | paper | prop. any wrong | paper | chance (wrong) | steps | train seconds |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.n} | {r.prop_wrong:.3f} | {_paper(r.n, 0)} | {r.prop_any_wrong:.3f} | {_paper(r.n, 1)} "
                     f"| {r.chance_wrong:.3f} | {r.steps} | {r.seconds:.1f} |")
    return "\n".join(lines)


# The largest tensors a run may build, in elements: the training step's `samples x batch x n x n` scores
# through `sinkhorn_iters` iterations, and the test's `test_size x n x max(n, hidden)`. About 400 MB each in
# float32; a larger request is refused before any training rather than failing (or swapping) part way.
MAX_ELEMENTS = 10**8


def check_sizes(args: argparse.Namespace) -> None:
    """Refuse (`ValueError`, saying what to lower) sizes whose tensors would exceed `MAX_ELEMENTS`."""
    n = max(args.ns)
    train = args.samples * args.batch_size * n * n * args.sinkhorn_iters
    if train > MAX_ELEMENTS:
        raise ValueError(f"--samples {args.samples} x --batch-size {args.batch_size} x n^2 ({n}^2) x --sinkhorn-iters "
                         f"{args.sinkhorn_iters} = {train:.3g} elements, over the {MAX_ELEMENTS:.0e} this command "
                         "allows; lower one of them")
    test = args.test_size * n * max(n, args.hidden)
    if test > MAX_ELEMENTS:
        raise ValueError(f"--test-size {args.test_size} x n ({n}) x max(n, --hidden {args.hidden}) = {test:.3g} "
                         f"elements, over the {MAX_ELEMENTS:.0e} this command allows; lower one of them")


def run(args: argparse.Namespace) -> int:
    """`gumbel-softmax reproduce sorting`: one run per n, the table printed and written to --out."""
    out = Path(args.out)
    check_writable(out)
    check_device(args.device)
    check_sizes(args)
    found = [name for name in ("results.json", "table.md") if (out / name).exists()]
    if found and not args.overwrite:
        raise ValueError(f"{out} already holds results ({', '.join(found)}); write to a new --out or replace them "
                         "with --overwrite")
    rows = []
    for n in args.ns:
        row = train_and_test(n, steps=args.steps, batch_size=args.batch_size, lr=args.lr, tau=args.tau,
                             sinkhorn_iters=args.sinkhorn_iters, samples=args.samples, hidden=args.hidden,
                             noise_factor=args.noise_factor, test_size=args.test_size, seed=args.seed,
                             device=args.device, progress=args.progress)
        print(f"n={n}: prop. wrong {row.prop_wrong:.3f}, prop. any wrong {row.prop_any_wrong:.3f} "
              f"({row.seconds:.1f} s)", flush=True)
        rows.append(row)
    text = table(rows)
    print(text)
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                if k not in ("command", "command_name", "command_group", "reproduce_command")}
    record = {"settings": settings, "rows": [asdict(r) for r in rows], "machine": platform.platform(),
              "processor": platform.processor(), "torch": torch.__version__, "threads": torch.get_num_threads()}
    save_table(out, record, text)
    return 0

"""CPU speed of gumbel_softmax against torch.nn.functional.gumbel_softmax, side by side in one process.

Usage: python benchmarks/cpu_core.py [--repeats 5] [--shapes 65536x1024,1048576x10]

For each shape (float32), soft and hard, forward and forward+backward, both
implementations run alternately (so drifting machine load hits both alike) and
the median time of each is printed with the ratio torch / ours (> 1: ours is
faster). Validation is on (the default), so its cost is included.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

import gumbel_softmax
from gumbel_softmax.studies.report import format_table


def _time(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _case(impl: Callable, logits: torch.Tensor, hard: bool, backward: bool, grad: torch.Tensor) -> Callable:
    def forward() -> None:
        impl(logits, tau=0.5, hard=hard)

    def forward_backward() -> None:
        logits.grad = None
        impl(logits, tau=0.5, hard=hard).backward(grad)

    return forward_backward if backward else forward


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--shapes", default="65536x1024,1048576x10")
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    rows = []
    for spec in args.shapes.split(","):
        shape = tuple(int(s) for s in spec.split("x"))
        logits = torch.randn(shape).requires_grad_(True)
        grad = torch.randn(shape)
        for backward in (False, True):
            for hard in (False, True):
                ours = _case(gumbel_softmax.gumbel_softmax, logits, hard, backward, grad)
                theirs = _case(F.gumbel_softmax, logits, hard, backward, grad)
                ours(), theirs()  # warm-up
                t_ours, t_theirs = [], []
                for _ in range(args.repeats):
                    t_ours.append(_time(ours))
                    t_theirs.append(_time(theirs))
                mo, mt = statistics.median(t_ours), statistics.median(t_theirs)
                rows.append(
                    [spec, "hard" if hard else "soft", "fwd+bwd" if backward else "fwd", mt * 1e3, mo * 1e3, mt / mo]
                )
                print(format_table(["shape", "mode", "pass", "torch ms", "ours ms", "speed-up"], rows[-1:]), flush=True)
    print()
    print(format_table(["shape", "mode", "pass", "torch ms", "ours ms", "speed-up"], rows, floatfmt=".1f"))


if __name__ == "__main__":
    main()

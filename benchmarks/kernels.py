"""Speed of the fused Triton kernels against torch, in one table (a benchmark, not a test).

    python benchmarks/kernels.py                 # on a CUDA machine: the whole table of issue 5
    python benchmarks/kernels.py --dtypes float32 --ops soft hard   # a part of it
    python benchmarks/kernels.py --shapes 64x10 --dtypes float32 --device cpu   # smoke test of this script

Each row is printed (and flushed) as soon as it is measured, and the whole
table again at the end, so a run cut short by a time limit keeps its rows.
The whole table takes about 32 cold Inductor compiles; on a machine with a
per-command time limit, run one dtype per command (``benchmarks/gpu_check.sh``).

For every shape and dtype it measures a device-to-device copy of the logits
(the memory-speed yardstick, in the same run) and then, per operation, the
median time per call (``triton.testing.do_bench``), the effective bandwidth
counting the minimal bytes, its fraction of the copy bandwidth, and the
speedup over torch eager and over ``torch.compile``:

* ``soft`` / ``hard`` forward: against ``torch.nn.functional.gumbel_softmax``;
  minimal bytes: logits read once, output written once.
* ``soft+bwd`` / ``hard+bwd``: forward and backward; plus the incoming gradient
  and the saved soft sample read (hard: the logits, from which the kernel
  recomputes it), the gradient written (5 passes of the tensor).
* ``sample``: Gumbel-max indices against ``torch.multinomial(softmax(x), 1)``
  (the "compile" column then holds eager Gumbel-max, the reference ``sample``);
  minimal bytes: logits read once, one int64 written per row.

Ours runs with validation off (its value checks sync with the host; torch's
function has none). ``torch.compile`` gets a fresh compile per dtype and hard
flag (``dynamic=False``; the default recompile limit would otherwise silently
fall back to eager). Also printed: the peak memory of forward + backward at
(65536, 1024) float32 hard, ours and torch eager's.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

import gumbel_softmax as gs
from gumbel_softmax.studies.report import format_table

SHAPES = [(1048576, 10), (65536, 1024), (4096, 32000), (512, 128256)]
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
OPS = ["soft", "hard", "soft+bwd", "hard+bwd", "sample"]


def bench(fn: Callable[[], object], device: torch.device) -> float:
    """Median milliseconds per call."""
    if device.type == "cuda":
        import triton.testing

        return triton.testing.do_bench(fn, warmup=25, rep=100, return_mode="median")
    fn()
    times = []
    for _ in range(3):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def minimal_bytes(op: str, shape: tuple[int, int], element_size: int) -> int:
    """Bytes an ideal implementation moves: the number of passes over the tensor, plus the indices."""
    numel = shape[0] * shape[1]
    if op == "sample":
        return numel * element_size + 8 * shape[0]
    return (5 if op.endswith("+bwd") else 2) * numel * element_size


def make_call(op: str, fn: Callable, x: torch.Tensor, upstream: torch.Tensor) -> Callable[[], object]:
    """A no-argument call running ``op`` with ``fn(x, hard)`` (forward) or through its backward."""
    hard = op.startswith("hard")
    if op.endswith("+bwd"):
        xg = x.detach().requires_grad_(True)
        return lambda: torch.autograd.grad(fn(xg, hard), xg, upstream)
    return lambda: fn(x, hard)


def ours(x: torch.Tensor, hard: bool) -> torch.Tensor:
    return gs.gumbel_softmax(x, tau=1.0, hard=hard)


def torch_eager(x: torch.Tensor, hard: bool) -> torch.Tensor:
    return F.gumbel_softmax(x, tau=1.0, hard=hard)


def torch_compiled(device: torch.device) -> Callable[[torch.Tensor, bool], torch.Tensor]:
    """Fresh ``torch.compile`` of ``F.gumbel_softmax`` per hard flag (static shapes)."""
    compiled = {hard: torch.compile(lambda x, hard=hard: F.gumbel_softmax(x, tau=1.0, hard=hard), dynamic=False)
                for hard in (False, True)}  # fmt: skip
    return lambda x, hard: compiled[hard](x)


def sample_multinomial(x: torch.Tensor) -> torch.Tensor:
    return torch.multinomial(torch.softmax(x.float(), -1), 1)


def sample_reference(x: torch.Tensor) -> torch.Tensor:
    with gs.use_backend("torch"):
        return gs.sample(x)


def peak_memory_mib(fn: Callable, x: torch.Tensor) -> float:
    """Extra peak memory of forward + backward of ``fn(x, hard=True)``, MiB."""
    xg = x.detach().requires_grad_(True)
    upstream = torch.ones_like(x)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    torch.autograd.grad(fn(xg, True), xg, upstream)
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - base) / 2**20


HEADERS = ["shape", "dtype", "op", "ms", "GB/s", "% copy", "x eager", "x compile"]


def emit(rows: list[list], row: list) -> None:
    """Keep ``row`` for the final table and print it now, flushed."""
    rows.append(row)
    print("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row) + " |", flush=True)


def run(shapes: list[tuple[int, int]], dtypes: list[str], ops: list[str], device: torch.device,
        with_compile: bool) -> None:  # fmt: skip
    rows: list[list] = []
    print("| " + " | ".join(HEADERS) + " |", flush=True)
    for dtype_name in dtypes:
        dtype = DTYPES[dtype_name]
        torch._dynamo.reset()
        compiled = torch_compiled(device) if with_compile and set(ops) - {"sample"} else None
        for shape in shapes:
            x = torch.randn(shape, device=device, dtype=dtype)
            upstream = torch.randn_like(x)
            copy_ms = bench(lambda x=x: torch.empty_like(x).copy_(x), device)
            copy_gbs = 2 * x.numel() * x.element_size() / copy_ms / 1e6
            emit(rows, [f"{shape[0]}x{shape[1]}", dtype_name, "copy", copy_ms, copy_gbs, 100.0, "", ""])
            for op in ops:
                if op == "sample":
                    t_ours = bench(lambda x=x: gs.sample(x), device)
                    t_eager = bench(lambda x=x: sample_multinomial(x), device)
                    t_other = bench(lambda x=x: sample_reference(x), device)
                else:
                    t_ours = bench(make_call(op, ours, x, upstream), device)
                    t_eager = bench(make_call(op, torch_eager, x, upstream), device)
                    t_other = bench(make_call(op, compiled, x, upstream), device) if compiled else float("nan")
                gbs = minimal_bytes(op, shape, x.element_size()) / t_ours / 1e6
                emit(rows, [f"{shape[0]}x{shape[1]}", dtype_name, op, t_ours, gbs, 100 * gbs / copy_gbs,
                            t_eager / t_ours, t_other / t_ours])  # fmt: skip
            del x, upstream
    print()
    print(format_table(HEADERS, rows, floatfmt=".3f"))
    print("x eager: speedup over F.gumbel_softmax (sample: over torch.multinomial(softmax));")
    print("x compile: over torch.compile(F.gumbel_softmax) (sample: over eager Gumbel-max, gumbel_softmax.sample).")
    if device.type == "cuda" and (65536, 1024) in shapes and "float32" in dtypes and "hard+bwd" in ops:
        x = torch.randn(65536, 1024, device=device)
        print(f"peak memory, forward+backward, (65536, 1024) float32 hard: ours {peak_memory_mib(ours, x):.0f} MiB, "
              f"torch eager {peak_memory_mib(torch_eager, x):.0f} MiB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="*", default=[f"{r}x{c}" for r, c in SHAPES], help="ROWSxCOLS ...")
    parser.add_argument("--dtypes", nargs="*", default=["float32", "bfloat16"], choices=list(DTYPES))
    parser.add_argument("--ops", nargs="*", default=OPS, choices=OPS)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile baseline")
    args = parser.parse_args()
    device = torch.device(args.device)
    shapes = [tuple(int(v) for v in s.split("x")) for s in args.shapes]
    import triton

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    print(f"# {name}; {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; "
          f"torch {torch.__version__}, triton {triton.__version__}")  # fmt: skip
    torch._dynamo.config.recompile_limit = 64
    with gs.validation(False), gs.use_backend("triton"):
        run(shapes, args.dtypes, args.ops, device, with_compile=not args.no_compile)


if __name__ == "__main__":
    main()

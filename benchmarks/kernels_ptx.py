"""Compile every kernel variant for an H100 (sm_90) on a machine without a GPU, and count what matters.

    python benchmarks/kernels_ptx.py [--dtype bf16]

The interpreter checks what the kernels compute, not that they compile for a
GPU nor what code they become. Triton can compile to PTX and cubin without a
device; this prints, per variant: machine (SASS) instructions per element
(static count over the code divided by the elements a thread handles per pass;
an H100 issues 128 per cycle per SM, and at copy speed it moves about
13 bytes per cycle per SM, so a float32 forward at memory speed can afford about
80 instructions per element, a bfloat16 one about 40), and per thread: Philox multiplications
(``mul.hi``; 10 rounds x 2 per call, one call per 4 elements), approximate and
accurate logarithms, global loads (vectorized loads mean fewer), shared memory,
layout conversions left in the Triton GPU IR (each is a trip through shared
memory), registers per thread and register spills (local-memory loads and stores
in the SASS: a whole row kept in registers must not spill). Arguments are
specialized as at run time for a contiguous row-major input: ``inner == 1`` and
sizes divisible by 16.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from gumbel_softmax.kernels.noise import PHILOX_ROUNDS
from gumbel_softmax.kernels.online import _partials_kernel
from gumbel_softmax.kernels.sample_op import _sample_kernel
from gumbel_softmax.kernels.softmax_op import _backward_kernel, _forward_kernel
from gumbel_softmax.kernels.tiles import launch_settings
from gumbel_softmax.studies.report import format_table

TARGET = GPUTarget("cuda", 90, 32)
SHAPES = [(1048576, 10), (65536, 1024), (4096, 32000), (512, 128256)]


def compile_variant(fn, signature: dict[str, str], constants: dict, num_warps: int):
    """Compile ``fn``; pointers and ``n_cols`` get the divisibility-by-16 hint the runtime would give."""
    names = list(signature)
    hints = {(i,): [["tt.divisibility", 16]] for i, n in enumerate(names) if n.endswith("_ptr") or n == "n_cols"}
    source = ASTSource(fn=fn, signature={**signature, **{k: "constexpr" for k in constants}},
                       constexprs=constants, attrs=hints)  # fmt: skip
    return triton.compile(source, target=TARGET, options={"num_warps": num_warps})


def sass_listing(kernel) -> list[str]:
    """The machine instructions in the kernel's cubin (nvdisasm ships with Triton)."""
    nvdisasm = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "nvdisasm")
    with tempfile.NamedTemporaryFile(suffix=".cubin") as cubin:
        cubin.write(kernel.asm["cubin"])
        cubin.flush()
        listing = subprocess.run([nvdisasm, "-c", cubin.name], capture_output=True, text=True, check=True).stdout
    return [line.split("*/", 1)[1].strip(" ;") for line in listing.splitlines()
            if line.lstrip().startswith("/*") and "*/" in line and line.split("*/", 1)[1].strip(" ;")]  # fmt: skip


def registers(kernel) -> int:
    """Registers per thread, from the cubin's resource usage (cuobjdump ships with Triton)."""
    cuobjdump = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")
    with tempfile.NamedTemporaryFile(suffix=".cubin") as cubin:
        cubin.write(kernel.asm["cubin"])
        cubin.flush()
        usage = subprocess.run([cuobjdump, "-res-usage", cubin.name], capture_output=True, text=True, check=True)
    return int(usage.stdout.split("REG:", 1)[1].split()[0])


def counts(kernel, per_thread: int) -> list:
    ptx, ttgir = kernel.asm["ptx"], kernel.asm["ttgir"]
    sass = sass_listing(kernel)
    spills = sum(1 for op in sass if op.split()[0].split(".")[0] in ("STL", "LDL"))
    return [len(sass) / per_thread, ptx.count("mul.hi"), ptx.count("lg2.approx"), ptx.count("__nv_logf"),
            ptx.count("ld.global"), kernel.metadata.shared, ttgir.count("convert_layout"), registers(kernel), spills]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", default="fp32", choices=["fp32", "bf16", "fp16"])
    dt = parser.parse_args().dtype
    # Arguments in the kernels' order (the hints are positional); "inner" is a constant, and follows n_cols.
    common = {"n_rows": "i32", "n_cols": "i32", "n_splits": "i32"}
    partials = {"top_ptr": "*fp32", "total_ptr": "*fp32", "dot_ptr": "*fp32", "index_ptr": "*i32"}
    forward_sig = {"logits_ptr": f"*{dt}", "noise_ptr": "*fp32", "key_ptr": "*i64", "tau_ptr": "*fp32",
                   "out_ptr": f"*{dt}", **partials, "tau": "fp32", **common}  # fmt: skip
    backward_sig = {"grad_ptr": f"*{dt}", "saved_ptr": f"*{dt}", "noise_ptr": "*fp32", "key_ptr": "*i64",
                    "tau_ptr": "*fp32", "dlogits_ptr": f"*{dt}", "dtau_ptr": "*fp32", **partials, "tau": "fp32",
                    **common}  # fmt: skip
    sample_sig = {"logits_ptr": f"*{dt}", "noise_ptr": "*fp32", "key_ptr": "*i64", "out_ptr": "*i64",
                  "top_ptr": "*fp32", "index_ptr": "*i32", **common}  # fmt: skip
    partials_sig = {"values_ptr": f"*{dt}", "noise_ptr": "*fp32", "key_ptr": "*i64", "grad_ptr": f"*{dt}",
                    "tau_ptr": "*fp32", **partials, "tau": "fp32", "n_rows": "i32", "n_cols": "i32"}  # fmt: skip
    stage1 = {"PER_ROW_TAU": False, "FROM_NOISE": False, "N_ROUNDS": PHILOX_ROUNDS, "FROM_SOFT": False}
    rows = []
    for shape in SHAPES:
        s = launch_settings(*shape)
        tiling = {"inner": 1, "ROWS": s.rows_per_program, "BLOCK": s.block, "NUM_TILES": s.num_tiles,
                  "TILES_PER_SPLIT": s.tiles_per_split, "SPLITS": triton.next_power_of_2(s.splits)}  # fmt: skip
        long_rows = [
            # Stage 1 of long rows: partial statistics per run of tiles.
            (f"stage 1 {name}", _partials_kernel, partials_sig,
             {**stage1, "ARGMAX": argmax, "SUM": total, "GRAD_DOT": dot})
            for name, argmax, total, dot in [("soft", False, True, False), ("hard", True, False, False),
                                             ("backward hard", False, True, True)]
        ] if s.num_tiles > 1 else []  # fmt: skip
        variants = long_rows + [
            (f"forward {name}", _forward_kernel, forward_sig,
             {"HARD": hard, "PER_ROW_TAU": False, "FROM_NOISE": False, "N_ROUNDS": PHILOX_ROUNDS})
            for name, hard in [("soft", False), ("hard", True)]
        ] + [
            # What the noise costs: the same kernel reading stored noise, and with fewer Philox rounds.
            ("forward soft, noise read", _forward_kernel, forward_sig,
             {"HARD": False, "PER_ROW_TAU": False, "FROM_NOISE": True, "N_ROUNDS": PHILOX_ROUNDS}),
            ("forward soft, 7 rounds", _forward_kernel, forward_sig,
             {"HARD": False, "PER_ROW_TAU": False, "FROM_NOISE": False, "N_ROUNDS": 7}),
            *[(f"backward {name}", _backward_kernel, backward_sig,
               {"RECOMPUTE": hard, "PER_ROW_TAU": False, "TAU_GRAD": False, "FROM_NOISE": False,
                "N_ROUNDS": PHILOX_ROUNDS}) for name, hard in [("soft", False), ("hard", True)]],
            ("sample", _sample_kernel, sample_sig, {"FROM_NOISE": False, "N_ROUNDS": PHILOX_ROUNDS}),
        ]  # fmt: skip
        for name, fn, signature, flags in variants:
            constants = {k: v for k, v in {**tiling, **flags}.items() if k in fn.arg_names}
            kernel = compile_variant(fn, signature, constants, s.num_warps)
            per_thread = s.rows_per_program * s.block // (32 * s.num_warps)  # per tile: loops count once
            rows.append([f"{shape[0]}x{shape[1]}", name, per_thread, *counts(kernel, per_thread)])
    headers = ["shape", "kernel", "elements/thread", "SASS/element", "mul.hi", "lg2.approx", "__nv_logf",
               "ld.global", "shared B", "convert_layout", "registers", "spills"]  # fmt: skip
    print(f"# sm_90 PTX, {dt}, triton {triton.__version__} (counts are static instructions in the code)")
    print(format_table(headers, rows, floatfmt=".1f"))


if __name__ == "__main__":
    main()

"""Shared by the kernel tests: the device they run on, and skips with their reasons.

Without CUDA, tests/conftest.py turns on Triton's interpreter and the kernels
run on CPU tensors (small grids: each program instance costs milliseconds).
With CUDA, the same tests run on the GPU.
"""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("triton", reason="the kernels need Triton (the `test` extra installs it)")

HAS_CUDA = torch.cuda.is_available()
DEVICE = torch.device("cuda" if HAS_CUDA else "cpu")
requires_cuda = pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device (run benchmarks/gpu_check.sh on a GPU)")

# (atol, rtol) for kernel vs reference given the same noise. float32: the kernel works in base 2 and
# multiplies by 1/tau, a few ulps from the reference's exp((l + G) / tau); half precisions: one rounding
# of the output (2^-11 for float16, 2^-8 for bfloat16) plus the float32 differences.
TOLERANCES = {
    torch.float32: (1e-6, 1e-5),
    torch.float16: (1e-3, 2e-3),
    torch.bfloat16: (8e-3, 1.6e-2),
}


def generator(seed: int) -> torch.Generator:
    """A generator on the test device, seeded."""
    return torch.Generator(device=DEVICE).manual_seed(seed)

# The interpreter computes padded lanes (rows past the end, y = 0 under log) that the kernels mask out;
# numpy warns about their NaN/inf. Outputs themselves are checked for finiteness by the tests.
quiet_interpreter = pytest.mark.filterwarnings("ignore::RuntimeWarning:triton.runtime.interpreter")

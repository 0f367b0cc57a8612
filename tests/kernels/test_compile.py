"""The kernels compose with autograd, torch.compile(fullgraph=True), CUDA graphs; and save memory.

Value checks sync with the host (``bool(tensor)``), which a full graph cannot
contain: these run with validation off, as a compiled training step would.
"""

from __future__ import annotations

import pytest
import torch

import gumbel_softmax as gs
import gumbel_softmax.kernels  # registers the custom operators
from tests.kernels.kernel_support import DEVICE, HAS_CUDA, quiet_interpreter, requires_cuda

pytestmark = quiet_interpreter

# On CPU the interpreter runs the kernels and "aot_eager" traces them (fake tensors, autograd) without
# Inductor's C++ build; on a GPU, Inductor itself.
COMPILE_BACKEND = "inductor" if HAS_CUDA else "aot_eager"


def _forward(logits: torch.Tensor, tau: torch.Tensor) -> tuple[torch.Tensor, ...]:
    y = gs.gumbel_softmax(logits, tau=tau, hard=True)
    soft = gs.gumbel_softmax(logits, tau=tau)
    loss = (y * torch.arange(logits.shape[-1], device=logits.device)).sum() + (soft * soft).sum()
    return y, soft, gs.sample(logits.detach()), loss


def _step(forward, logits: torch.Tensor, tau: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Forward (perhaps compiled), then backward through it."""
    *outputs, loss = forward(logits, tau)
    return (*outputs, *torch.autograd.grad(loss, (logits, tau)))


def test_fullgraph_compile_matches_eager():
    """With Inductor's fallback RNG the key is drawn as in eager, so the compiled step equals the eager one."""
    torch._dynamo.reset()
    logits = torch.randn(32, 10, device=DEVICE).requires_grad_(True)
    tau = torch.full((32, 1), 0.5, device=DEVICE).requires_grad_(True)
    compiled = torch.compile(_forward, fullgraph=True, backend=COMPILE_BACKEND)
    with gs.validation(False), gs.use_backend("triton"):
        torch.manual_seed(50)
        eager = _step(_forward, logits, tau)
        torch.manual_seed(50)
        with torch._inductor.config.patch(fallback_random=True):  # Inductor's own RNG would draw another key
            traced = _step(compiled, logits, tau)
    for got, want in zip(traced, eager):
        torch.testing.assert_close(got, want)


@requires_cuda
def test_fullgraph_compile_with_inductors_own_rng():
    """Default Inductor (its own RNG draws the key, so no match with eager): valid samples, two calls differ.

    ``generator=`` cannot be passed under ``fullgraph=True`` (dynamo does not trace a ``torch.Generator``):
    seed with ``torch.manual_seed``.
    """
    torch._dynamo.reset()
    logits = torch.randn(256, 10, device="cuda").requires_grad_(True)
    tau = torch.full((256, 1), 0.5, device="cuda").requires_grad_(True)
    compiled = torch.compile(_forward, fullgraph=True)
    with gs.validation(False), gs.use_backend("triton"):
        first, second = _step(compiled, logits, tau), _step(compiled, logits, tau)
    for y, soft, index, dlogits, dtau in (first, second):
        assert torch.equal(y.sum(-1), torch.ones(256, device="cuda")) and torch.equal(y.max(-1).values, y.sum(-1))
        assert index.dtype == torch.int64 and 0 <= index.min() and index.max() < 10
        torch.testing.assert_close(soft.sum(-1), torch.ones(256, device="cuda"))
        assert all(torch.isfinite(t).all() for t in (soft, dlogits, dtau))
    assert not torch.equal(first[2], second[2]) and not torch.equal(first[1], second[1])


@requires_cuda
def test_cuda_graph_capture_and_replay():
    logits = torch.randn(1024, 100, device="cuda")
    with gs.validation(False):
        gs.sample(logits), gs.gumbel_softmax(logits, tau=0.5)  # compile and load the kernels outside capture
        torch.cuda.synchronize()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            index = gs.sample(logits)
            y = gs.gumbel_softmax(logits, tau=0.5)
        graph.replay()
        first_index, first_y = index.clone(), y.clone()
        graph.replay()
    assert not torch.equal(first_index, index)  # the captured RNG advances on each replay
    assert torch.isfinite(first_y).all() and torch.allclose(y.sum(-1), torch.ones(1024, device="cuda"))


def _peak_bytes(fn) -> int:
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    fn()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - base


@requires_cuda
def test_peak_memory_is_at_most_half_of_torch_eager():
    """Forward + backward at (65536, 1024) float32, hard: at most half of torch's extra peak memory.

    Ours holds the one-hot output and the gradient (2 x 256 MiB: the backward recomputes the soft sample from
    the key instead of saving it), and the 8-byte key.
    """
    logits = torch.randn(65536, 1024, device="cuda", requires_grad=True)
    upstream = torch.randn(65536, 1024, device="cuda")

    def run(fn):
        return lambda: torch.autograd.grad(fn(logits), logits, upstream)

    with gs.validation(False), gs.use_backend("triton"):
        ours = _peak_bytes(run(lambda x: gs.gumbel_softmax(x, hard=True)))
    theirs = _peak_bytes(run(lambda x: torch.nn.functional.gumbel_softmax(x, hard=True)))
    assert ours <= theirs / 2, f"peak {ours / 2**20:.0f} MiB vs torch eager {theirs / 2**20:.0f} MiB"
    assert ours <= 2 * logits.nbytes + 2**20, f"peak {ours / 2**20:.0f} MiB, expected 512 MiB and the key"


@requires_cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_auto_backend_uses_the_kernel_on_cuda(dtype):
    """Under "auto" a CUDA tensor runs the kernel: its draw equals the forced-triton draw, not torch's."""
    logits = torch.randn(64, 32, device="cuda", dtype=dtype)
    g = [torch.Generator(device="cuda").manual_seed(51) for _ in range(3)]
    auto = gs.sample(logits, generator=g[0])
    with gs.use_backend("triton"):
        forced = gs.sample(logits, generator=g[1])
    with gs.use_backend("torch"):
        reference = gs.sample(logits, generator=g[2])
    assert torch.equal(auto, forced) and not torch.equal(auto, reference)


def test_custom_operators_pass_opcheck():
    """torch.library.opcheck: schema, fake-tensor implementation and autograd registration agree with the op."""
    logits = torch.randn(8, 10, device=DEVICE, requires_grad=True)
    key = torch.tensor([12345], device=DEVICE)
    tau_rows = torch.rand(8, device=DEVICE).add(0.5).requires_grad_(True)
    ops = torch.ops.gumbel_softmax
    torch.library.opcheck(ops.forward, (logits, key, None, tau_rows, 1.0, 1, True))
    torch.library.opcheck(ops.forward, (logits, key, None, None, 0.5, 1, False))
    soft = torch.softmax(logits.detach(), -1)
    grad = torch.randn_like(soft)
    torch.library.opcheck(ops.backward, (grad, soft, key, None, tau_rows.detach(), 1.0, 1, False, True))
    torch.library.opcheck(ops.backward, (grad, logits.detach(), key, None, tau_rows.detach(), 1.0, 1, True, True))
    torch.library.opcheck(ops.sample, (logits.detach(), key, None, 1))

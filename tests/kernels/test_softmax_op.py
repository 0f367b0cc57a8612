"""The fused Gumbel-Softmax kernel computes the reference's function.

Given the same noise (the kernel's test-only ``noise`` hook), its forward value
and its gradients must match :func:`gumbel_softmax.gumbel_softmax_from_noise`,
the pure-PyTorch definition, over shapes that hit every dispatch path: rows
packed many per program, single-tile rows, long rows (online reduction), any
``dim``. The law of its own noise is tested in test_noise.py.
"""

from __future__ import annotations

import pytest
import scipy.special
import torch

import gumbel_softmax as gs
from gumbel_softmax.kernels.softmax_op import gumbel_softmax as kernel_gumbel_softmax
from gumbel_softmax.kernels.tiles import MAX_SINGLE_BLOCK, rows_and_inner, settings_for
from tests.kernels.kernel_support import DEVICE, TOLERANCES, generator, quiet_interpreter
from tests.stats import assert_ks

pytestmark = quiet_interpreter

# (shape, dim): packed short rows, K not a multiple of 4, K = 1, 3-d along a middle and the first dim, a wide
# single-tile row (32 warps), long rows (K > MAX_SINGLE_BLOCK: online reduction) split across programs, along
# the last and a middle dim, and long rows enough to fill the interpreter's grid unsplit.
CASES = [((37, 10), -1), ((9, 3), 1), ((4, 1), 1), ((4, 5, 6), 1), ((6, 4, 3), 0), ((3, 9000), 1),
         ((2, 20000), 1), ((2, 17000, 2), 1), ((32, 17000), 1)]  # fmt: skip


def _case(shape, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    logits = (3 * torch.randn(shape, generator=g)).to(dtype).to(DEVICE)
    noise = gs.gumbel_noise(shape, generator=g).to(DEVICE)
    return logits, noise


def _forward_and_grad(fn, logits, tau, upstream):
    x = logits.detach().requires_grad_(True)
    y = fn(x, tau)
    (grad,) = torch.autograd.grad((y.float() * upstream).sum(), x)
    return y, grad


# Long rows in float32 and bfloat16 only: float16 takes the same code path (interpreter time).
DTYPE_CASES = [(shape, dim, dtype) for dtype in (torch.float32, torch.bfloat16, torch.float16) for shape, dim in CASES
               if dtype != torch.float16 or max(shape) <= MAX_SINGLE_BLOCK]  # fmt: skip


@pytest.mark.parametrize("hard", [False, True])
@pytest.mark.parametrize(("shape", "dim", "dtype"), DTYPE_CASES)
def test_matches_reference_given_the_same_noise(shape, dim, hard, dtype):
    """For float32 the reference is evaluated in float64 (then rounded): torch's own float32 softmax along a
    middle dim of 33,000 is off by 3.5e-5 relative, the kernel by 4e-6. Half precisions: the reference
    computes in float32, as the library does."""
    logits, noise = _case(shape, dtype, 1)
    upstream = torch.randn(shape, generator=torch.Generator().manual_seed(2)).to(DEVICE)
    dim_n = dim % len(shape)
    y, grad = _forward_and_grad(lambda x, t: kernel_gumbel_softmax(x, t, hard, dim_n, None, noise=noise),
                                logits, 0.7, upstream)  # fmt: skip
    wide = torch.float64 if dtype == torch.float32 else dtype
    y_ref, grad_ref = _forward_and_grad(
        lambda x, t: gs.gumbel_softmax_from_noise(x, noise.to(wide), t, hard, dim), logits.to(wide), 0.7, upstream
    )
    y_ref, grad_ref = y_ref.to(dtype), grad_ref.to(dtype)
    atol, rtol = TOLERANCES[dtype]
    assert y.dtype == dtype and y.shape == logits.shape
    if hard:
        assert torch.equal(y, y_ref)  # exact one-hot at the same argmax
    else:
        torch.testing.assert_close(y, y_ref, atol=atol, rtol=rtol)
    torch.testing.assert_close(grad, grad_ref, atol=10 * atol, rtol=10 * rtol)


def test_cases_cover_every_dispatch_path():
    """Single tile; several tiles in one program; several tiles split across programs (a second stage)."""
    settings = [settings_for(rows_and_inner(shape, dim % len(shape))[0], shape[dim]) for shape, dim in CASES]
    assert {(s.num_tiles > 1, s.splits > 1) for s in settings} == {(False, False), (True, False), (True, True)}
    assert any(s[1] > MAX_SINGLE_BLOCK and len(s) == 3 for s, _ in CASES)


@pytest.mark.parametrize("hard", [pytest.param(False, marks=pytest.mark.slow), True])
def test_rows_of_262144(hard):
    """The longest rows the issue asks for (64 tiles), forward and backward, two rows (a small interpreter grid);
    the reference in float64, as above."""
    logits, noise = _case((2, 262144), torch.float32, 14)
    upstream = torch.randn((2, 262144), generator=torch.Generator().manual_seed(15)).to(DEVICE)
    y, grad = _forward_and_grad(lambda x, t: kernel_gumbel_softmax(x, t, hard, 1, None, noise=noise),
                                logits, 0.7, upstream)  # fmt: skip
    y_ref, grad_ref = _forward_and_grad(lambda x, t: gs.gumbel_softmax_from_noise(x, noise.double(), t, hard, 1),
                                        logits.double(), 0.7, upstream)  # fmt: skip
    y_ref, grad_ref = y_ref.float(), grad_ref.float()
    atol, rtol = TOLERANCES[torch.float32]
    assert torch.equal(y, y_ref) if hard else torch.allclose(y, y_ref, atol=atol, rtol=rtol)
    torch.testing.assert_close(grad, grad_ref, atol=10 * atol, rtol=10 * rtol)


@pytest.mark.parametrize("hard", [False, True])
@pytest.mark.parametrize(
    ("tau_shape", "shape", "dim", "dtype"),
    [((5, 1), (5, 7), 1, torch.float32), ((4, 1, 6), (4, 5, 6), 1, torch.float32), ((), (3, 9000), 1, torch.float32),
     ((2, 1), (2, 20000), 1, torch.float32), ((5, 1), (5, 7), 1, torch.bfloat16),
     ((4, 1, 6), (4, 5, 6), 1, torch.float16),
     ((3, 1), (3, 9000), 1, torch.bfloat16)],
)  # fmt: skip
def test_per_row_tau_and_its_gradient(tau_shape, shape, dim, hard, dtype):
    """float32 to 1e-5; half precisions: the output to one rounding, gradients to ten times that
    (soft: the backward reads the rounded output)."""
    logits, noise = _case(shape, dtype, 3)
    tau0 = torch.empty(tau_shape).uniform_(0.3, 2.0, generator=torch.Generator().manual_seed(4)).to(DEVICE)
    upstream = torch.randn(shape, generator=torch.Generator().manual_seed(5)).to(DEVICE)
    results = []
    for fn in (
        lambda x, t: kernel_gumbel_softmax(x, t, hard, dim, None, noise=noise),
        lambda x, t: gs.gumbel_softmax_from_noise(x, noise, t, hard, dim),
    ):
        x, tau = logits.clone().requires_grad_(True), tau0.clone().requires_grad_(True)
        y = fn(x, tau)
        results.append((y, *torch.autograd.grad((y.float() * upstream).sum(), (x, tau))))
    atol, rtol = (1e-5, 1e-4) if dtype == torch.float32 else TOLERANCES[dtype]
    for i, (got, want) in enumerate(zip(results[0], results[1])):
        scale = 1 if i == 0 else 10
        torch.testing.assert_close(got, want, atol=scale * atol, rtol=scale * rtol)


def test_tau_varying_along_dim_is_refused_before_the_kernel():
    """A temperature is one value per row; per-category temperatures never reach a kernel."""
    logits, _ = _case((4, 6), torch.float32, 6)
    with gs.use_backend("triton"), pytest.raises(ValueError, match="varies along the category axis"):
        gs.gumbel_softmax(logits, torch.linspace(0.5, 2.0, 6, device=DEVICE), dim=1)
    rows = torch.linspace(0.5, 2.0, 4, device=DEVICE).unsqueeze(1)
    _, noise = _case((4, 6), torch.float32, 6)
    y = kernel_gumbel_softmax(logits, rows, False, 1, None, noise=noise)
    torch.testing.assert_close(y, gs.gumbel_softmax_from_noise(logits, noise, rows, False, 1))


@pytest.mark.parametrize("hard", [False, True])
@pytest.mark.parametrize("shape", [(24, 10), (2, 9000), (2, 20000)])
def test_masked_categories_get_exact_zeros(shape, hard):
    logits, _ = _case(shape, torch.float32, 7)
    mask = torch.rand(shape, generator=torch.Generator().manual_seed(8)).to(DEVICE) < 0.5
    mask[:, 0] = False
    x = logits.masked_fill(mask, float("-inf")).requires_grad_(True)
    with gs.use_backend("triton"):
        y = gs.gumbel_softmax(x, tau=0.5, hard=hard, generator=generator(9))
    (grad,) = torch.autograd.grad((y * torch.randn_like(y)).sum(), x)
    assert torch.all(y[mask] == 0) and torch.all(grad[mask] == 0)
    assert torch.isfinite(y).all() and torch.isfinite(grad).all()
    torch.testing.assert_close(y.sum(-1), torch.ones(shape[0], device=DEVICE))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("hard", [False, True])
def test_tiny_tau_stays_finite(dtype, hard):
    logits, _ = _case((32, 10), dtype, 10)
    x = logits.requires_grad_(True)
    with gs.use_backend("triton"):
        y = gs.gumbel_softmax(x, tau=1e-4, hard=hard, generator=generator(11))
    (grad,) = torch.autograd.grad((y.float() * torch.randn(y.shape, device=DEVICE)).sum(), x)
    assert torch.isfinite(y).all() and torch.isfinite(grad).all()
    torch.testing.assert_close(y.float().sum(-1), torch.ones(32, device=DEVICE), atol=1e-2, rtol=0)


def test_noncontiguous_input_and_empty_input():
    logits, noise = _case((6, 8), torch.float32, 12)
    x = logits.t()  # a non-contiguous [8, 6] view; categories along dim 0
    y = kernel_gumbel_softmax(x, 1.0, False, 0, None, noise=noise.t())
    torch.testing.assert_close(y, gs.gumbel_softmax_from_noise(x, noise.t(), 1.0, False, 0))
    empty = torch.empty(0, 5, device=DEVICE)
    assert kernel_gumbel_softmax(empty, 1.0, False, 1, None).shape == (0, 5)


def test_backend_dispatch_and_reproducibility():
    logits, _ = _case((16, 10), torch.float32, 13)
    with gs.use_backend("triton"):
        a = gs.gumbel_softmax(logits, tau=0.5, generator=generator(14))
        b = gs.gumbel_softmax(logits, tau=0.5, generator=generator(14))
        g = generator(14)
        c, d = gs.gumbel_softmax(logits, generator=g), gs.gumbel_softmax(logits, generator=g)
    with gs.use_backend("torch"):
        ref = gs.gumbel_softmax(logits, tau=0.5, generator=generator(14))
    assert torch.equal(a, b)  # the same seed reproduces
    assert not torch.equal(c, d)  # the generator advances
    assert not torch.equal(a, ref)  # a different random stream than the reference: the kernel really ran


def test_float64_is_not_a_kernel_dtype():
    x = torch.zeros(2, 3, dtype=torch.float64, device=DEVICE)
    with gs.use_backend("triton"), pytest.raises(RuntimeError, match="no kernel"):
        gs.gumbel_softmax(x)


@pytest.mark.parametrize("tau", [0.5, 2.0])
def test_soft_sample_law_with_the_kernels_own_noise(tau):
    """For K = 2, ``y_0 = sigmoid((d + L) / tau)`` with ``L = G_0 - G_1`` standard logistic and ``d = l_0 - l_1``,
    so ``P(y_0 <= v) = sigmoid(tau * logit(v) - d)``. KS test of 20,000 rows (false failure <= ALPHA)."""
    n, d = 20000, 0.8
    logits = torch.tensor([[d, 0.0]], device=DEVICE).expand(n, 2)
    with gs.use_backend("triton"):
        y0 = gs.gumbel_softmax(logits, tau=tau, generator=generator(20))[:, 0].double().cpu()
    assert_ks(y0.clamp(1e-300, 1 - 1e-16), lambda v: scipy.special.expit(tau * scipy.special.logit(v) - d))


@pytest.mark.parametrize("hard", [False, True])
def test_backward_keeps_no_extra_full_size_tensor(hard):
    """What autograd saves: soft keeps its own output; hard keeps the logits (alive anyway) and the 8-byte key,
    and recomputes the soft sample in the backward, so no tensor of the logits' size is added."""
    logits = torch.randn(8, 10, device=DEVICE, requires_grad=True)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        y = kernel_gumbel_softmax(logits, 0.5, hard, 1, generator(16))
    full_size = [t for t in saved if t.numel() == logits.numel()]
    assert len(full_size) == 1
    assert full_size[0].data_ptr() == (logits if hard else y).data_ptr()
    assert sum(t.numel() for t in saved) == logits.numel() + 1  # and the key


def test_custom_operator_takes_non_contiguous_tensors():
    """Called directly, the operator copies strided inputs and returns contiguous outputs."""
    logits, noise = _case((10, 8), torch.float32, 17)
    key = torch.zeros(1, dtype=torch.int64, device=DEVICE)
    ops = torch.ops.gumbel_softmax
    for hard in (False, True):
        got = ops.forward(logits.t(), key, noise.t(), None, 0.5, 0, hard)
        assert got.is_contiguous()
        torch.testing.assert_close(got, ops.forward(logits.t().contiguous(), key, noise.t().contiguous(), None,
                                                    0.5, 0, hard))  # fmt: skip
    grad = torch.randn(10, 8, device=DEVICE)
    dl, _ = ops.backward(grad.t(), logits.t(), key, noise.t(), None, 0.5, 0, True, False)
    want, _ = ops.backward(grad.t().contiguous(), logits.t().contiguous(), key, noise.t().contiguous(), None, 0.5,
                           0, True, False)  # fmt: skip
    assert dl.is_contiguous() and torch.equal(dl, want)

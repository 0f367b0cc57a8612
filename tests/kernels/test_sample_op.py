"""Fused Gumbel-max sampling: exact categorical draws, the reference's argmax given the same noise."""

from __future__ import annotations

import pytest
import torch

import gumbel_softmax as gs
from gumbel_softmax.kernels.sample_op import sample as kernel_sample
from gumbel_softmax.kernels.softmax_op import gumbel_softmax as kernel_gumbel_softmax
from tests.kernels.kernel_support import DEVICE, generator, quiet_interpreter
from tests.stats import assert_categorical

pytestmark = quiet_interpreter


@pytest.mark.parametrize(
    ("shape", "dim", "dtype"),
    [((40, 10), 1, torch.float32), ((5, 6, 7), 0, torch.bfloat16), ((5, 6, 7), 1, torch.float16),
     ((2, 262144), 1, torch.float32)],
)  # fmt: skip
def test_argmax_of_the_same_noise(shape, dim, dtype):
    g = torch.Generator().manual_seed(30)
    logits = torch.randn(shape, generator=g).to(dtype).to(DEVICE)
    noise = gs.gumbel_noise(shape, generator=g).to(DEVICE)
    got = kernel_sample(logits, dim, None, noise=noise)
    assert got.dtype == torch.int64
    assert torch.equal(got, (logits.float() + noise).argmax(dim))


def _counts(index: torch.Tensor, k: int) -> torch.Tensor:
    return torch.bincount(index.flatten().cpu(), minlength=k)


def test_categorical_law_short_rows():
    """Chi-square of 20,000 draws against softmax(logits); the masked category is never drawn."""
    logits = torch.tensor([1.0, 0.0, -1.0, 2.0, float("-inf"), 0.5, -3.0, 0.0, 1.5, -0.5], device=DEVICE)
    with gs.use_backend("triton"):
        index = gs.sample(logits.expand(20000, 10), generator=generator(31))
    counts = _counts(index, 10)
    assert counts[4] == 0
    assert_categorical(counts, torch.softmax(logits.cpu(), 0))


def test_categorical_law_long_rows():
    """Rows of 20,000 (five tiles of the online argmax, the last one partial) with the mass on categories at
    tile edges; 500 rows (interpreter time) still expect at least 25 draws of each heavy category."""
    k, n = 20000, 500
    logits = torch.full((k,), -12.0)
    heavy = torch.tensor([0, 4095, 4096, 7000, 16383, 16384, 19999])
    logits[heavy] = torch.tensor([0.5, 0.0, 1.0, -0.5, 0.2, 0.8, 0.3])
    logits[5] = float("-inf")
    with gs.use_backend("triton"):
        index = gs.sample(logits.to(DEVICE).expand(n, k), generator=generator(32))
    counts = _counts(index, k)
    assert counts[5] == 0
    assert_categorical(counts, torch.softmax(logits, 0))


def test_hard_gumbel_softmax_picks_the_sampled_index():
    """The same key gives the same noise in both kernels, so the same category."""
    logits = torch.randn(64, 10, generator=torch.Generator().manual_seed(33)).to(DEVICE)
    with gs.use_backend("triton"):
        index = gs.sample(logits, generator=generator(34))
        one_hot = gs.gumbel_softmax(logits, hard=True, generator=generator(34))
    assert torch.equal(one_hot.argmax(-1), index)


def test_seeding():
    logits = torch.zeros(256, 10, device=DEVICE)
    with gs.use_backend("triton"):
        a, b = gs.sample(logits, generator=generator(35)), gs.sample(logits, generator=generator(35))
        g = generator(35)
        c, d = gs.sample(logits, generator=g), gs.sample(logits, generator=g)
    assert torch.equal(a, b) and torch.equal(a, c)
    assert not torch.equal(c, d)


@pytest.mark.slow
def test_categorical_law_rare_categories_large_sample():
    """Chi-square of 1,000,000 draws where two categories have probability 1.6e-5 and 1.6e-4 (about 16 and
    160 expected): they win only through the far tail of the noise (G above about 8), which an inexact
    logarithm near U = 1 would bend."""
    logits = torch.tensor([0.0, 0.5, -0.5, -9.0, -6.7, 0.2, -1.0, 1.0], device=DEVICE)
    with gs.use_backend("triton"):
        index = gs.sample(logits.expand(1_000_000, 8), generator=generator(36))
    assert_categorical(_counts(index, 8), torch.softmax(logits.cpu(), 0))


def _exact_ties(n_rows: int, k: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and noise whose sums ``fl(l + G)`` tie exactly at the row maximum in several columns per row,
    each column reaching it with a different split of ``l`` and ``G`` (so a kernel that perturbed in other
    units, e.g. ``l log2 e + G log2 e``, would break the ties by rounding, not by the first index)."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n_rows, k, generator=g)
    noise = gs.gumbel_noise((n_rows, k), generator=g) - 8.0  # the other columns stay well below the top
    top = 4.0 + torch.rand(n_rows, 1, generator=g)
    ties = torch.rand(n_rows, k, generator=g) < 0.5
    candidate = top - logits  # fl(top - l); keep the columns where fl(l + candidate) == top exactly
    ties &= (logits + candidate) == top
    noise = torch.where(ties, candidate, noise)
    assert (ties.sum(1) >= 2).all()
    return logits, noise


def test_exact_ties_go_to_the_first_index_as_in_the_reference():
    logits, noise = _exact_ties(64, 16, 37)
    want = gs.gumbel_softmax_from_noise(logits, noise, hard=True).argmax(-1)
    z = logits + noise
    assert torch.equal(want, (z == z.max(-1, keepdim=True).values).int().argmax(-1))  # the first maximum
    assert torch.equal(kernel_sample(logits.to(DEVICE), 1, None, noise=noise.to(DEVICE)).cpu(), want)
    one_hot = kernel_gumbel_softmax(logits.to(DEVICE), 0.5, True, 1, None, noise=noise.to(DEVICE))
    assert torch.equal(one_hot.argmax(-1).cpu(), want)


@pytest.mark.parametrize("k", [3, 20000])
def test_logits_near_the_float32_maximum(k):
    """Finite logits up to 3e38 give the reference's one-hot, not NaN (l log2 e would overflow there)."""
    logits = torch.zeros(2, k, device=DEVICE)
    logits[:, 0], logits[:, 2] = 3e38, -1.0
    logits[1, 1] = -3e38
    want = torch.zeros(2, k, device=DEVICE)
    want[:, 0] = 1.0
    with gs.use_backend("triton"):
        x = logits.clone().requires_grad_(True)
        for hard in (False, True):
            y = gs.gumbel_softmax(x, tau=0.5, hard=hard, generator=generator(38))
            assert torch.equal(y, want)
            (grad,) = torch.autograd.grad((y * torch.arange(k, device=DEVICE)).sum(), x)
            assert torch.isfinite(grad).all()
        assert torch.equal(gs.sample(logits, generator=generator(38)), torch.zeros(2, dtype=torch.int64, device=DEVICE))

"""Fused Gumbel-max sampling: exact categorical draws, the reference's argmax given the same noise."""

from __future__ import annotations

import pytest
import torch
from tests.kernels.kernel_support import DEVICE, generator, quiet_interpreter
from tests.stats import assert_categorical

import gumbel_softmax as gs
from gumbel_softmax.kernels.sample import sample as kernel_sample

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
    """Rows of 12,000 (three tiles of the online argmax) with the mass on categories in every tile."""
    k, n = 12000, 1000
    logits = torch.full((k,), -12.0)
    heavy = torch.tensor([0, 4095, 4096, 7000, 8191, 8192, 11999])
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

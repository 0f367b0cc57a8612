"""Random states in checkpoints: restored exactly, and refused on another device type."""

from __future__ import annotations

import pytest
import torch

from gumbel_softmax.experiments import checkpoint as ckpt


def test_rng_state_round_trip():
    generator = torch.Generator().manual_seed(3)
    state = ckpt.rng_state(generator)
    first = torch.rand(5, generator=generator)
    ckpt.set_rng_state(generator, state)
    assert torch.equal(torch.rand(5, generator=generator), first)


def test_rng_state_of_another_device_is_refused():
    state = ckpt.rng_state(torch.Generator().manual_seed(3)) | {"device": "cuda"}
    with pytest.raises(ValueError, match="resume with --device cuda"):
        ckpt.set_rng_state(torch.Generator(), state)

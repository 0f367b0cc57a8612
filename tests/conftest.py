"""Shared fixtures: a seeded generator per test, and the library's global switches restored after each test."""

from __future__ import annotations

import os

import pytest
import torch

if not torch.cuda.is_available():
    # Triton kernels then run on CPU tensors in Triton's interpreter, which reads this when they are imported.
    os.environ.setdefault("TRITON_INTERPRET", "1")

import gumbel_softmax  # after the environment is set


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(20170101)


@pytest.fixture(autouse=True)
def _restore_switches():
    validation, backend = gumbel_softmax.validation_enabled(), gumbel_softmax.get_backend()
    yield
    gumbel_softmax.set_validation(validation)
    gumbel_softmax.set_backend(backend)


@pytest.fixture
def subprocess_env() -> dict[str, str]:
    """Environment for running `python -m gumbel_softmax` in a subprocess against this checkout's src/."""
    import os
    from pathlib import Path

    src = str(Path(__file__).resolve().parents[1] / "src")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([src, env["PYTHONPATH"]]) if env.get("PYTHONPATH") else src
    return env

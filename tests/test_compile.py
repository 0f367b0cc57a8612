"""torch.compile(fullgraph=True) traces the reference path (tensor value checks are skipped while compiling)."""

from __future__ import annotations

import pytest
import torch

import gumbel_softmax as gs


@pytest.mark.parametrize("hard", [True, pytest.param(False, marks=pytest.mark.slow)])
def test_fullgraph_compile_of_the_reference(hard):
    torch._dynamo.reset()
    logits = torch.randn(32, 6, requires_grad=True)
    logits.data[:, 2] = float("-inf")
    # Dynamo cannot take a torch.Generator argument: compiled code draws from torch's global RNG.
    compiled = torch.compile(lambda x, tau: gs.gumbel_softmax(x, tau=tau, hard=hard), fullgraph=True)
    compiled(logits, 0.7)
    y = compiled(logits, 0.5)  # a second float makes tau a traced number: checks must not branch on it
    assert torch.isfinite(y).all() and (y[:, 2] == 0).all()
    torch.testing.assert_close(y.sum(-1), torch.ones(32))
    if hard:
        assert set(y.unique().tolist()) <= {0.0, 1.0}
    (y * torch.randn(32, 6)).sum().backward()
    assert torch.isfinite(logits.grad).all() and (logits.grad[:, 2] == 0).all()


@pytest.mark.parametrize("fullgraph", [False, True])
def test_a_bad_float_temperature_is_refused_inside_compile(fullgraph):
    """A non-positive or NaN float tau raises under torch.compile, also once tau has become a traced symbol.

    Without the check the compiled call returns NaN, as ``F.gumbel_softmax`` does (pytorch issue 184031).
    With ``fullgraph=True`` Dynamo wraps our ValueError in its own error, whose text carries ours.
    """
    torch._dynamo.reset()
    compiled = torch.compile(lambda x, tau: gs.gumbel_softmax(x, tau=tau), backend="eager", fullgraph=fullgraph)
    logits = torch.randn(4, 5)
    for tau in (1.0, 0.5):  # the second float makes tau a traced symbol with guards on its comparisons
        assert torch.isfinite(compiled(logits, tau)).all()
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises((ValueError, torch._dynamo.exc.Unsupported), match="tau must be finite and > 0"):
            compiled(logits, bad)
    assert torch.isfinite(compiled(logits, 0.25)).all()


def test_the_switches_are_marked_as_torch_marks_a_constant_result():
    """`_compile.read_once_when_compiled` sets the attribute `torch.compiler.assume_constant_result` sets."""
    marked = torch.compiler.assume_constant_result(lambda: 0)
    assert marked._dynamo_marked_constant is True
    from gumbel_softmax import backend, checks

    for module in (backend, checks):
        assert module._current._dynamo_marked_constant is True


@pytest.mark.parametrize("choice", ["torch", "auto"])
def test_fullgraph_compile_inside_thread_local_blocks(choice):
    """The contextvar-backed switches are read once while compiling, so full graphs trace through them."""
    torch._dynamo.reset()
    compiled = torch.compile(lambda x: gs.gumbel_softmax(x, tau=0.5, hard=True), fullgraph=True)
    with gs.validation(False), gs.use_backend(choice):
        y = compiled(torch.randn(8, 5))
    assert bool((y.sum(-1) == 1).all())


def test_importing_the_library_does_not_import_dynamo(subprocess_env):
    import subprocess
    import sys

    code = "import sys, gumbel_softmax; print('torch._dynamo' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], env=subprocess_env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

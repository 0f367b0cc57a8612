"""Backend dispatch on CPU, with a fake kernel registered, and the thread-locality of both switches."""

from __future__ import annotations

import asyncio
import threading

import pytest
import torch

import gumbel_softmax as gs
from gumbel_softmax import backend


class FakeKernel:
    """Records its calls and returns a recognizable value."""

    def __init__(self, runs_on_cpu: bool = True) -> None:
        self.calls: list[tuple] = []
        self.runs_on_cpu = runs_on_cpu

    def supports(self, tensor: torch.Tensor) -> bool:
        return self.runs_on_cpu and tensor.device.type == "cpu"

    def gumbel_softmax(self, logits, tau, hard, dim, generator):
        self.calls.append((tau, hard, dim, generator))
        return torch.full_like(logits, 7.0)

    def sample(self, logits, dim, generator):
        self.calls.append((dim, generator))
        return torch.full(logits.shape[:dim] + logits.shape[dim + 1 :], 3, dtype=torch.int64)


@pytest.fixture
def fake():
    kernel = FakeKernel()
    backend.register("gumbel_softmax", kernel.gumbel_softmax, kernel.supports)
    backend.register("sample", kernel.sample, kernel.supports)
    yield kernel
    backend.unregister("gumbel_softmax")
    backend.unregister("sample")


def test_forced_backend_runs_the_registered_kernel_with_validated_arguments(fake, generator):
    logits = torch.zeros(2, 3, 4)
    with gs.use_backend("triton"):
        y = gs.gumbel_softmax(logits, tau=0.5, hard=True, dim=1, generator=generator)
        index = gs.sample(logits, dim=-1, generator=generator)
    assert bool((y == 7).all()) and bool((index == 3).all()) and index.shape == (2, 3)
    assert fake.calls == [(0.5, True, 1, generator), (2, generator)]  # dim normalized, tau a float


def test_auto_and_torch_run_the_reference_on_cpu(fake, generator):
    logits = torch.zeros(2, 3)
    for choice in ("auto", "torch"):
        with gs.use_backend(choice):
            y = gs.gumbel_softmax(logits, generator=generator)
            gs.sample(logits, generator=generator)
        torch.testing.assert_close(y.sum(-1), torch.ones(2))
    assert fake.calls == []


def test_input_is_validated_before_any_kernel_runs(fake):
    with gs.use_backend("triton"), pytest.raises(ValueError, match="contain NaN"):
        gs.gumbel_softmax(torch.tensor([[0.0, float("nan")]]))
    assert fake.calls == []


def test_a_kernel_that_cannot_run_is_refused_when_forced_and_skipped_otherwise():
    kernel = FakeKernel(runs_on_cpu=False)
    backend.register("gumbel_softmax", kernel.gumbel_softmax, kernel.supports)
    try:
        with gs.use_backend("triton"), pytest.raises(RuntimeError, match="no kernel for 'gumbel_softmax' runs"):
            gs.gumbel_softmax(torch.zeros(2, 3))
        assert backend.kernel_for("gumbel_softmax", torch.zeros(2, 3)) is None  # auto, on CPU
    finally:
        backend.unregister("gumbel_softmax")
    assert kernel.calls == []


def test_unknown_ops_and_backends_are_refused():
    with pytest.raises(ValueError, match="op must be"):
        backend.register("softmax", lambda *a: None, lambda t: True)
    with pytest.raises(ValueError, match="backend must be one of"):
        gs.set_backend("cuda")
    with pytest.raises(ValueError, match="backend must be one of"), gs.use_backend("gpu"):
        pass
    assert gs.get_backend() == "auto"


def test_the_process_default_and_the_block_override():
    gs.set_backend("torch")
    assert gs.get_backend() == "torch"
    with gs.use_backend("triton"):
        assert gs.get_backend() == "triton"
        with gs.use_backend("auto"):
            assert gs.get_backend() == "auto"
        assert gs.get_backend() == "triton"
    assert gs.get_backend() == "torch"


def test_switches_do_not_leak_between_threads():
    """8 threads, half inside `validation(False)` and `use_backend("torch")`, half not, interleaved at barriers.

    Each thread reads its own setting at every step while the others enter and leave their blocks; a
    module-global switch would show another thread's value (or stay stuck after an interleaved exit).
    """
    threads, rounds = 8, 50
    barrier = threading.Barrier(threads)
    seen: dict[int, list[tuple[bool, str]]] = {i: [] for i in range(threads)}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            inside = i % 2 == 0
            for _ in range(rounds):
                barrier.wait()
                if inside:
                    with gs.validation(False), gs.use_backend("torch"):
                        barrier.wait()
                        seen[i].append((gs.validation_enabled(), gs.get_backend()))
                        # A checked call here must not raise: validation is off in this thread only.
                        gs.gumbel_softmax(torch.full((1, 2), float("-inf")))
                else:
                    barrier.wait()
                    seen[i].append((gs.validation_enabled(), gs.get_backend()))
                    with pytest.raises(ValueError, match="every category masked"):
                        gs.gumbel_softmax(torch.full((1, 2), float("-inf")))
        except BaseException as error:
            errors.append(error)
            barrier.abort()

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert not errors, errors
    for i, values in seen.items():
        expected = (False, "torch") if i % 2 == 0 else (True, "auto")
        assert values == [expected] * rounds, f"thread {i} saw {set(values)}"
    assert gs.validation_enabled() and gs.get_backend() == "auto"


def test_switches_are_local_to_asyncio_tasks():
    async def inside() -> tuple[bool, str]:
        with gs.validation(False), gs.use_backend("torch"):
            await asyncio.sleep(0.01)
            return gs.validation_enabled(), gs.get_backend()

    async def outside() -> tuple[bool, str]:
        await asyncio.sleep(0.005)  # runs while `inside` holds its block
        return gs.validation_enabled(), gs.get_backend()

    async def both():
        return await asyncio.gather(inside(), outside())

    assert asyncio.run(both()) == [(False, "torch"), (True, "auto")]


def test_new_threads_start_from_the_process_default():
    gs.set_validation(False)
    result = []
    with gs.validation(True):
        t = threading.Thread(target=lambda: result.append(gs.validation_enabled()))
        t.start()
        t.join()
    assert result == [False]

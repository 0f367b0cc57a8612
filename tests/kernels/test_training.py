"""`gumbel-softmax train` runs its sampling through the fused kernels when the backend says so.

On CUDA the default backend ("auto") must pick the kernels by itself; without CUDA the
run forces "triton" and the kernels run under the interpreter (tests/conftest.py), so
CI checks the same wiring on CPU. A spy around each registered kernel counts the calls.
"""

from __future__ import annotations

import math

import pytest

from gumbel_softmax import backend
from gumbel_softmax.experiments.train import TrainConfig, train
from gumbel_softmax.kernels import KERNELS
from tests.kernels.kernel_support import DEVICE, HAS_CUDA, quiet_interpreter


@pytest.fixture
def kernel_calls():
    """Register a counting wrapper around every fused kernel, so that each call is counted by op name."""
    calls = {op: 0 for op in KERNELS}
    for op, (impl, supports) in KERNELS.items():

        def counted(*args, _op=op, _impl=impl, **kwargs):
            calls[_op] += 1
            return _impl(*args, **kwargs)

        backend.register(op, counted, supports)
    yield calls
    for op in KERNELS:
        backend.unregister(op)


def _tiny_run(tmp_path, estimator: str, backend_name: str) -> dict:
    config = TrainConfig(
        model="vae", estimator=estimator, hidden=(16,), variables=4, classes=10, steps=3, batch_size=8,
        dataset="digits", device=str(DEVICE), backend=backend_name, out=str(tmp_path / backend_name),
        checkpoint_every=0, eval_every=0, eval_samples=1, progress=False, figures=False,
    )
    return train(config)


@quiet_interpreter
@pytest.mark.parametrize("estimator", ["gumbel_softmax", "st_gumbel_softmax"])
def test_training_uses_the_kernels(tmp_path, kernel_calls, estimator):
    final = _tiny_run(tmp_path, estimator, "auto" if HAS_CUDA else "triton")
    assert kernel_calls["gumbel_softmax"] >= 3, "one relaxed sample per training step"
    assert kernel_calls["sample"] >= 1, "the test bounds draw exact samples"
    assert math.isfinite(final["test_neg_elbo"]) and math.isfinite(final["test_nll_k1"])


def test_torch_backend_keeps_training_on_the_reference(tmp_path, kernel_calls):
    with backend.use_backend("triton"):  # the run's own choice must win over the global one
        final = _tiny_run(tmp_path, "gumbel_softmax", "torch")
        assert backend.get_backend() == "triton", "and the global choice is restored afterwards"
    assert kernel_calls == {op: 0 for op in kernel_calls}
    assert math.isfinite(final["test_neg_elbo"])


def test_unusable_backends_are_refused_before_training(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="--backend must be one of auto, torch, triton"):
        _tiny_run(tmp_path, "gumbel_softmax", "cuda")
    impl, _ = KERNELS["gumbel_softmax"]
    backend.register("gumbel_softmax", impl, lambda tensor: False)  # as on CPU, no interpreter
    try:
        with pytest.raises(ValueError, match=r"--backend triton cannot run here .*; use --backend auto"):
            _tiny_run(tmp_path, "gumbel_softmax", "triton")
    finally:
        backend.unregister("gumbel_softmax")
    assert not (tmp_path / "triton").exists(), "refused before anything was written"

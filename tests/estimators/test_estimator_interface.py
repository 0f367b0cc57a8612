"""The contract every estimator keeps (the training CLI relies on it)."""

from __future__ import annotations

import pytest
import torch

from gumbel_softmax import estimators
from gumbel_softmax.estimators import get, names

REQUIRED = [
    "gumbel_softmax", "st_gumbel_softmax", "straight_through", "gumbel_rao", "reinmax", "reinforce",
    "reinforce_ema", "nvil", "rloo", "muprop", "darn", "rebar", "relax",
]  # fmt: skip


def test_registry_has_every_required_name_and_fresh_instances():
    assert set(REQUIRED) <= set(names())
    for name in names():
        a, b = get(name), get(name)
        assert a is not b and a.name == name
        assert a.family in ("pathwise", "score_function")
        assert isinstance(a.relaxed, bool) and isinstance(a.supports_bernoulli, bool)
        assert a.needs_baseline == (name == "nvil")
    assert [n for n in names() if get(n).relaxed] == ["gumbel_softmax"]


def test_unknown_name_and_bad_options_are_refused():
    with pytest.raises(ValueError, match="unknown estimator 'nope'.*reinforce"):
        get("nope")
    with pytest.raises(TypeError, match="rloo"):
        get("rloo", k=3)
    with pytest.raises(ValueError, match="samples"):
        get("rloo", samples=1)


class Decoder(torch.nn.Module):
    """f(z) = sum((z * weight)^2) per example: a loss with its own parameters."""

    def __init__(self, shape):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.linspace(-1, 1, int(torch.tensor(shape).prod())).reshape(shape))

    def forward(self, z):
        return ((z * self.weight) ** 2).flatten(1).sum(1)


@pytest.mark.parametrize("name", REQUIRED)
@pytest.mark.parametrize("bernoulli", [False, True], ids=["categorical", "bernoulli"])
def test_call_contract(name, bernoulli, generator):
    """Shapes, value of the surrogate, the decoder's pathwise gradient, the baseline's training signal."""
    shape = (4, 3) if bernoulli else (4, 3, 5)
    logits = torch.randn((8,) + shape[1:], generator=generator).requires_grad_()
    decoder = Decoder(shape[1:])
    baseline = torch.zeros(8, requires_grad=True)
    est = get(name)
    out = est(logits, decoder, tau=0.5, bernoulli=bernoulli, generator=generator, baseline=baseline)
    assert out.surrogate.shape == out.loss.shape == (8,)
    assert out.sample.shape == logits.shape
    torch.testing.assert_close(out.surrogate.detach(), out.loss)
    if not est.relaxed:
        assert set(out.sample.unique().tolist()) <= {0.0, 1.0}
        if not bernoulli:
            assert bool((out.sample.sum(-1) == 1).all())
    out.surrogate.sum().backward()
    assert logits.grad is not None and bool(torch.isfinite(logits.grad).all())
    assert baseline.grad is not None
    torch.testing.assert_close(baseline.grad, -2 * (out.loss - baseline.detach()))
    if name != "rloo":  # RLOO's decoder gradient is the mean over its draws
        expected = (2 * out.sample**2 * decoder.weight.detach()).sum(0)
        torch.testing.assert_close(decoder.weight.grad, expected)


def test_nvil_needs_a_baseline():
    with pytest.raises(ValueError, match="baseline"):
        get("nvil")(torch.zeros(2, 3), lambda z: z.sum(-1))


def test_loss_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match="per-example loss"):
        get("reinforce")(torch.zeros(2, 3), lambda z: z.sum(0))


def test_bad_logits_and_tau_are_refused():
    with pytest.raises(ValueError, match="NaN"):
        get("st_gumbel_softmax")(torch.tensor([[0.0, float("nan")]]), lambda z: z.sum(-1))
    with pytest.raises(ValueError, match="tau"):
        get("rebar")(torch.zeros(2, 3), lambda z: z.sum(-1), tau=0.0)


def test_relax_refuses_a_new_problem_shape(generator):
    est = get("relax")
    est(torch.zeros(2, 3, requires_grad=True), lambda z: z.sum(-1), generator=generator)
    with pytest.raises(ValueError, match="fresh estimator"):
        est(torch.zeros(2, 4, requires_grad=True), lambda z: z.sum(-1), generator=generator)


def test_plain_functions_are_exported():
    logits = torch.randn(3, 4, requires_grad=True)
    for fn in (estimators.straight_through, estimators.reinmax):
        assert fn(logits, 0.5).shape == logits.shape
    y = estimators.gumbel_rao(logits, 0.5, 5, generator=torch.Generator().manual_seed(0))
    (y * torch.arange(4.0)).sum().backward()
    assert bool((y.sum(-1) == 1).all()) and logits.grad.abs().sum() > 0

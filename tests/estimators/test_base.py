"""The contract every estimator keeps (the training CLI relies on it)."""

from __future__ import annotations

import copy

import pytest
import torch

from gumbel_softmax import estimators
from gumbel_softmax.estimators import get, names
from gumbel_softmax.estimators.reinforce import Reinforce

REQUIRED = [
    "gumbel_softmax", "st_gumbel_softmax", "straight_through", "gumbel_rao", "reinmax", "reinforce",
    "reinforce_ema", "nvil", "rloo", "muprop", "darn", "rebar", "relax", "gst", "gst_p", "disarm",
    "arms", "double_cv", "zgr", "decoupled_st", "indecater", "unordered_set",
]  # fmt: skip
BINARY_ONLY = {"arms", "double_cv"}


def test_registry_has_every_required_name_and_fresh_instances():
    assert set(REQUIRED) <= set(names())
    for name in names():
        a, b = get(name), get(name)
        assert a is not b and a.name == name
        assert a.family in ("pathwise", "score_function")
        assert isinstance(a.relaxed, bool) and isinstance(a.supports_bernoulli, bool)
        assert a.supports_categorical == (name not in BINARY_ONLY) and a.supports_bernoulli
        assert a.needs_baseline == (name == "nvil")
    assert [n for n in names() if get(n).relaxed] == ["gumbel_softmax"]


def test_unknown_name_and_bad_options_are_refused():
    with pytest.raises(ValueError, match=r"unknown estimator 'nope'.*reinforce"):
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


class Recording(Decoder):
    """A Decoder that keeps every input it is called on."""

    def __init__(self, shape):
        super().__init__(shape)
        self.inputs = []

    def forward(self, z):
        self.inputs.append(z.detach().clone())
        return super().forward(z)


@pytest.mark.parametrize("name", REQUIRED)
@pytest.mark.parametrize("bernoulli", [False, True], ids=["categorical", "bernoulli"])
def test_call_contract(name, bernoulli, generator):
    """Shapes, value of the surrogate, the decoder's pathwise gradient, the baseline's training signal."""
    shape = (4, 3) if bernoulli else (4, 3, 5)
    logits = torch.randn((8,) + shape[1:], generator=generator).requires_grad_()
    decoder = Recording(shape[1:])
    baseline = torch.zeros(8, requires_grad=True)
    est = get(name)
    given = baseline if est.uses_baseline else None
    if not bernoulli and not est.supports_categorical:
        with pytest.raises(ValueError, match=r"binary variables only.*bernoulli=True"):
            est(logits, decoder, tau=0.5, generator=generator)
        assert decoder.inputs == []
        return
    out = est(logits, decoder, tau=0.5, bernoulli=bernoulli, generator=generator, baseline=given)
    assert out.surrogate.shape == out.loss.shape == (8,)
    assert out.sample.shape == logits.shape
    torch.testing.assert_close(out.surrogate.detach(), out.loss)
    if not est.relaxed:
        assert set(out.sample.unique().tolist()) <= {0.0, 1.0}
        if not bernoulli:
            assert bool((out.sample.sum(-1) == 1).all())
    out.surrogate.sum().backward()
    assert logits.grad is not None and bool(torch.isfinite(logits.grad).all())
    if est.uses_baseline:
        assert baseline.grad is not None
        torch.testing.assert_close(baseline.grad, -2 * (out.loss - baseline.detach()))
    else:
        assert baseline.grad is None
    if name == "unordered_set":
        # Its surrogate weights f(s) by p(s) R(S, s) over the set (Kool et al. 2020, eq. 14), so f's parameters get
        # that weighted gradient, an unbiased estimate of E[grad f] but not the plain mean over the draws below.
        return
    # The decoder's gradient is that of f at the discrete sample(s): for RLOO and DisARM the mean over their
    # draws (every call f got on a discrete input); the others call f at the sample (and maybe at relaxed points).
    samples = getattr(est, "samples", 1)
    draws = [z for z in decoder.inputs if set(z.unique().tolist()) <= {0.0, 1.0}] if samples > 1 else [out.sample]
    assert len(draws) == samples
    if samples > 1:
        assert torch.equal(draws[0], out.sample)
    expected = sum((2 * z**2 * decoder.weight.detach()).sum(0) for z in draws) / len(draws)
    torch.testing.assert_close(decoder.weight.grad, expected)


def test_nvil_needs_a_baseline():
    with pytest.raises(ValueError, match="baseline"):
        get("nvil")(torch.zeros(2, 3), lambda z: z.sum(-1))


@pytest.mark.parametrize("name", REQUIRED)
def test_baseline_contract(name):
    """The estimators that subtract a baseline take one of the loss's shape; the others refuse one."""
    est = get(name)
    logits, f = torch.zeros(2, 3, requires_grad=True), lambda z: z.sum(-1)
    kw = {"bernoulli": name in BINARY_ONLY}
    assert est.uses_baseline == (name in {"reinforce", "reinforce_ema", "nvil"})
    if est.uses_baseline:
        with pytest.raises(ValueError, match="one prediction per example"):
            est(logits, f, baseline=torch.zeros(5), **kw)
        with pytest.raises(TypeError, match="baseline must be a tensor"):
            est(logits, f, baseline=[0.0, 0.0], **kw)
    else:
        with pytest.raises(ValueError, match="does not use a baseline"):
            est(logits, f, baseline=torch.zeros(2), **kw)


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


@pytest.mark.parametrize("name", ["st_gumbel_softmax", "gumbel_rao", "reinmax", "rebar", "gst", "gst_p"])
def test_per_row_temperature_tensor(name):
    """A [B, 1] temperature tensor gives the same estimate as the equal float, categories on dim 1 or last."""
    logits = torch.randn(6, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    w = torch.arange(4.0, dtype=torch.float64)
    grads = []
    for tau in (0.7, torch.full((6, 1), 0.7, dtype=torch.float64)):
        x = logits.clone().requires_grad_()
        out = get(name)(x, lambda z: (z * w).sum(-1), tau=tau, generator=torch.Generator().manual_seed(1))
        out.surrogate.sum().backward()
        grads.append(x.grad)
    torch.testing.assert_close(grads[0], grads[1])


def test_nvil_variance_normalization_divides_by_the_running_std(generator):
    """With normalize=True the learning signal is divided by max(1, running std): smaller steps for a noisy f."""
    logits = torch.zeros(256, 3)
    plain, normalized = get("nvil"), get("nvil", normalize=True)
    grads = []
    for est in (plain, normalized):
        g = torch.Generator().manual_seed(4)
        for _ in range(5):
            x = logits.clone().requires_grad_()
            est(x, lambda z: 100 * (z * torch.tensor([1.0, -2.0, 3.0])).sum(-1), baseline=torch.zeros(256),
                generator=g).surrogate.sum().backward()  # fmt: skip
        grads.append(x.grad)
    assert bool(torch.isfinite(grads[1]).all())
    assert grads[1].abs().sum() < grads[0].abs().sum() / 10
    with pytest.raises(ValueError, match="nvil"):
        Reinforce("ema", normalize=True)


STATEFUL = {"reinforce_ema": {}, "nvil": {}, "relax": {"lr": 0.05}, "double_cv": {"lr": 0.05}}


def train_calls(est, logits, f, generator, calls=3, bernoulli=False):
    """``calls`` ordinary (gradient-enabled) calls; returns the logits' gradient of the last one."""
    for _ in range(calls):
        x = logits.clone().requires_grad_()
        kw = {"baseline": torch.full(x.shape[:1], 0.2)} if est.needs_baseline else {}
        est(x, f, tau=0.5, generator=generator, bernoulli=bernoulli, **kw).surrogate.sum().backward()
    return x.grad


def snapshot(est):
    return copy.deepcopy(est.state_dict())


@pytest.mark.parametrize("name", REQUIRED)
@pytest.mark.parametrize("mode", [torch.no_grad, torch.inference_mode], ids=["no_grad", "inference_mode"])
@pytest.mark.parametrize("bernoulli", [False, True], ids=["categorical", "bernoulli"])
def test_gradient_free_call_only_evaluates_f(name, mode, bernoulli, generator):
    """Under no_grad / inference_mode: f once at one sample, surrogate = loss, no state change."""
    if not bernoulli and name in BINARY_ONLY:
        pytest.skip("binary only: a categorical call is refused (test_call_contract)")
    shape = (6, 3) if bernoulli else (6, 3, 4)
    logits = torch.randn(shape, generator=generator)
    est = get(name, **STATEFUL.get(name, {}))
    w = torch.linspace(-1, 1, logits[0].numel()).reshape(logits.shape[1:])
    train_calls(est, logits, lambda z: (z * w).flatten(1).sum(1) ** 2, generator, calls=1, bernoulli=bernoulli)
    before = snapshot(est)
    calls = []

    def f(z):
        calls.append(z)
        return (z * w).flatten(1).sum(1) ** 2

    with mode():
        baseline = torch.zeros(6) if est.uses_baseline else None
        out = est(logits, f, tau=0.5, bernoulli=bernoulli, generator=generator, baseline=baseline)
    assert len(calls) == 1 and calls[0].shape == logits.shape
    torch.testing.assert_close(out.surrogate, f(out.sample))
    torch.testing.assert_close(out.loss, out.surrogate)
    if not est.relaxed:
        assert set(out.sample.unique().tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(est.state_dict(), before)


@pytest.mark.parametrize("name", REQUIRED)
def test_state_dict_round_trip_resumes_exactly(name):
    """A fresh estimator loaded with a trained one's state gives the same estimates from then on."""
    options = STATEFUL.get(name, {})
    binary = name in BINARY_ONLY
    logits = torch.randn((16, 12) if binary else (16, 3, 4), generator=torch.Generator().manual_seed(2))
    w = torch.linspace(-1, 1, 12).reshape(logits.shape[1:])

    def f(z):
        return (z * w).flatten(1).sum(1) ** 2

    def run(est, logits, f, generator):
        return train_calls(est, logits, f, generator, bernoulli=binary)

    trained = get(name, **options)
    run(trained, logits, f, torch.Generator().manual_seed(3))
    state = snapshot(trained)
    assert (state == {}) == (name not in STATEFUL | {"rebar": {}})
    resumed = get(name, **options)
    resumed.load_state_dict(snapshot(trained))
    torch.testing.assert_close(resumed.state_dict(), state)
    grads = [run(e, logits, f, torch.Generator().manual_seed(4)) for e in (trained, resumed)]
    torch.testing.assert_close(grads[0], grads[1], rtol=0, atol=0)
    torch.testing.assert_close(resumed.state_dict(), trained.state_dict(), rtol=0, atol=0)
    if name in STATEFUL:  # and the state matters: a fresh estimator gives other estimates
        fresh = run(get(name, **options), logits, f, torch.Generator().manual_seed(4))
        assert not torch.equal(fresh, grads[0])


def test_stateless_estimators_refuse_a_foreign_state():
    with pytest.raises(ValueError, match="no state"):
        get("reinforce").load_state_dict({"mean": {"total": 0.0, "steps": 1}})


@pytest.mark.parametrize(
    ("name", "options", "match"),
    [("gumbel_rao", {"k": 0}, "k"), ("relax", {"lr": -1.0}, "lr"), ("relax", {"hidden": 0}, "hidden"),
     ("relax", {"lr": float("nan")}, "lr"), ("arms", {"samples": 1}, "samples >= 2"),
     ("arms", {"copula": "clayton"}, "copula must be one of"), ("double_cv", {"samples": True}, "samples >= 2"),
     ("double_cv", {"alpha": float("inf")}, "alpha"), ("double_cv", {"lr": 0.0}, "lr")],
)  # fmt: skip
def test_bad_options_are_refused_at_construction(name, options, match):
    with pytest.raises(ValueError, match=match):
        get(name, **options)


def test_darn_calls_f_once_and_differentiates_that_call(generator):
    """f'(z) comes from the forward pass that gives the loss: a random f (dropout) is seen once."""
    calls = []
    mask = torch.tensor([1.0, 0.0, 2.0])

    def f(z):
        calls.append(1)
        return (z * mask).sum(-1) ** 2

    logits = torch.zeros(4, 3, requires_grad=True)
    out = get("darn")(logits, f, generator=generator)
    out.surrogate.sum().backward()
    assert len(calls) == 1
    slope = 2 * (out.sample * mask).sum(-1, keepdim=True) * mask  # f'(z) by hand
    signal = (slope * (out.sample - 1 / 3)).sum(-1, keepdim=True)
    torch.testing.assert_close(logits.grad, signal * (out.sample - 1 / 3))


def test_darn_gives_each_bernoulli_unit_its_own_signal(generator):
    """Gu et al. 2016, Eq. 6, unit by unit: d/dl_j = f'_j(b) (b_j (1 - p_j) + (1 - b_j) p_j) / 2.

    A nonlinear f of several units: the global signal f'(b)^T (b - 1/2) would add the other
    units' Taylor terms to every unit's gradient and fail this identity.
    """
    logits = torch.tensor([[-1.5, 0.2, 0.9, 2.0], [0.3, -0.7, 1.1, -2.2]], dtype=torch.float64)
    logits.requires_grad_()
    weights = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64)

    def f(b):
        return torch.exp((b * weights).sum(-1) / 4)

    out = get("darn")(logits, f, bernoulli=True, generator=generator)
    out.surrogate.sum().backward()
    b, p = out.sample, torch.sigmoid(logits.detach())
    slope = f(b).unsqueeze(-1) * weights / 4  # f'(b) by hand
    torch.testing.assert_close(logits.grad, slope * (b * (1 - p) + (1 - b) * p) / 2)


@pytest.mark.parametrize("name", ["gumbel_rao", "st_gumbel_softmax", "reinmax", "rebar"])
def test_a_tau_with_fewer_dims_than_the_logits_lines_up_from_the_right(name):
    """As in gumbel_softmax: tau [1, 4] for logits [2, 3, 4] with dim=1 is one temperature per (., ., column)."""
    logits = torch.zeros(2, 3, 4, requires_grad=True)
    out = get(name)(logits, lambda z: z.sum((1, 2)), tau=torch.full((1, 4), 0.5), dim=1,
                    generator=torch.Generator().manual_seed(0))
    out.surrogate.sum().backward()
    assert out.sample.shape == logits.shape and bool(torch.isfinite(logits.grad).all())


def test_bernoulli_logits_that_are_not_a_tensor_get_a_type_error():
    with pytest.raises(TypeError, match=r"torch\.Tensor of Bernoulli logits"):
        get("reinforce")([0.1, 0.2], lambda z: z.sum(-1), bernoulli=True)

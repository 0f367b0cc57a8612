"""Bad input gets a clear error naming what was wrong, never a silent NaN; the switch turns value checks off."""

from __future__ import annotations

import pytest
import torch

import gumbel_softmax as gs
from gumbel_softmax import DimensionError, gumbel_softmax, sample, sample_one_hot

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("tau", [0.0, -1.0, NAN, INF, -INF])
def test_bad_float_temperatures_are_refused(tau):
    with pytest.raises(ValueError, match=f"tau={tau}"):
        gumbel_softmax(torch.zeros(2, 3), tau=tau)


@pytest.mark.parametrize("bad", [0.0, -2.0, NAN, INF])
def test_bad_temperature_tensors_are_refused_with_the_value(bad):
    tau = torch.tensor([[1.0], [bad]])
    with pytest.raises(ValueError, match="1 of 2 element"):
        gumbel_softmax(torch.zeros(2, 3), tau=tau)


@pytest.mark.parametrize("tau", [True, "1.0", None])
def test_temperature_of_the_wrong_type(tau):
    with pytest.raises(TypeError, match="tau must be"):
        gumbel_softmax(torch.zeros(2, 3), tau=tau)


def test_temperature_tensor_that_does_not_broadcast():
    with pytest.raises(ValueError, match="does not broadcast"):
        gumbel_softmax(torch.zeros(2, 3), tau=torch.ones(2))
    with pytest.raises(ValueError, match="does not broadcast"):
        gumbel_softmax(torch.zeros(2, 3), tau=torch.ones(4, 2, 1))


@pytest.mark.parametrize("fn", [gumbel_softmax, sample, sample_one_hot])
def test_dim_out_of_range(fn):
    with pytest.raises(DimensionError, match="dim=2 is out of range"):
        fn(torch.zeros(2, 3), dim=2)
    with pytest.raises(IndexError):  # torch's exception type works too
        fn(torch.zeros(2, 3), dim=-3)
    with pytest.raises(ValueError, match="at least one dimension"):
        fn(torch.tensor(1.0))


@pytest.mark.parametrize("fn", [gumbel_softmax, sample, sample_one_hot])
def test_non_floating_logits(fn):
    with pytest.raises(TypeError, match="floating tensor"):
        fn(torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(TypeError, match=r"torch.Tensor"):
        fn([[0.0, 1.0]])


@pytest.mark.parametrize("fn", [gumbel_softmax, sample, sample_one_hot])
@pytest.mark.parametrize(
    "value, message",
    [(NAN, "1 of 3 row.s. contain NaN"), (INF, "1 of 3 row.s. contain \\+inf")],
)
def test_nan_and_posinf_logits(fn, value, message):
    logits = torch.zeros(3, 4)
    logits[1, 2] = value
    with pytest.raises(ValueError, match=message):
        fn(logits)


@pytest.mark.parametrize("fn", [gumbel_softmax, sample, sample_one_hot])
def test_fully_masked_rows_are_counted(fn):
    logits = torch.zeros(4, 3)
    logits[0] = -INF
    logits[2] = -INF
    with pytest.raises(ValueError, match=r"2 of 4 row.s. have every category masked"):
        fn(logits)
    with pytest.raises(ValueError, match="every category masked"):
        fn(logits.t().contiguous(), dim=0)


def test_switch_turns_value_checks_off_and_context_restores_it():
    logits = torch.zeros(2, 3)
    logits[0] = -INF
    assert gs.validation_enabled()
    with gs.validation(False):
        assert not gs.validation_enabled()
        assert torch.isnan(gumbel_softmax(logits)[0]).all()  # unchecked input, documented result
        gumbel_softmax(torch.zeros(2, 3), tau=torch.tensor([[0.0], [1.0]]))
    assert gs.validation_enabled()
    gs.set_validation(False)
    gumbel_softmax(logits)
    gs.set_validation(True)
    with pytest.raises(ValueError):
        gumbel_softmax(logits)
    # Free checks (types, dims, float temperatures) run even with validation off.
    with gs.validation(False), pytest.raises(ValueError, match="tau=0"):
        gumbel_softmax(torch.zeros(2, 3), tau=0)


def test_backend_switch_rejects_unknown_names():
    with pytest.raises(ValueError, match="backend must be one of"):
        gs.set_backend("cuda")
    with gs.use_backend("torch"):
        assert gs.get_backend() == "torch"
    assert gs.get_backend() == "auto"

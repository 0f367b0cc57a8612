"""Each schedule against its formula, the counter, and the state_dict round trip."""

import math

import numpy as np
import pytest

from gumbel_softmax.anneal import Constant, Cosine, Exponential, Lambda, Linear

STEPS = [0, 1, 2, 499, 500, 501, 999, 1000, 7777, 10**6]


def test_constant():
    assert all(Constant(0.7).value(s) == 0.7 for s in STEPS)
    assert Constant(0.7).value(np.int64(3)) == 0.7  # numpy integers are steps too


@pytest.mark.parametrize("every", [1, 500, 1000])
def test_exponential_is_jangs_formula(every):
    schedule = Exponential(tau0=2.0, rate=1e-4, minimum=0.5, every=every)
    for step in STEPS:
        t = step - step % every
        assert schedule.value(step) == pytest.approx(max(0.5, 2.0 * math.exp(-1e-4 * t)), rel=1e-12)
    assert schedule.value(every - 1) == 2.0  # constant until the first update
    assert schedule.value(10**6) == 0.5  # the floor


def test_linear_and_cosine_formulas():
    lin, cos = Linear(1.0, 0.1, 1000), Cosine(1.0, 0.1, 1000)
    for step in STEPS:
        f = min(step, 1000) / 1000
        assert lin.value(step) == pytest.approx(1.0 + (0.1 - 1.0) * f, rel=1e-12)
        assert cos.value(step) == pytest.approx(0.1 + 0.9 * (1 + math.cos(math.pi * f)) / 2, rel=1e-12)
    assert lin.value(500) == pytest.approx(0.55) and cos.value(500) == pytest.approx(0.55)
    assert Linear(0.2, 2.0, 10).value(10) == 2.0  # increasing works too


def test_lambda_calls_the_function_and_checks_it():
    assert Lambda(lambda s: 1.0 / (1 + s)).value(3) == 0.25
    with pytest.raises(ValueError, match="fn"):
        Lambda(lambda s: 0.0).value(0)


@pytest.mark.parametrize(
    "make",
    [lambda: Constant(0.3), lambda: Exponential(1.0, 3e-5, 0.5, 100), lambda: Linear(2.0, 0.5, 300),
     lambda: Cosine(2.0, 0.5, 300), lambda: Lambda(lambda s: 1.0 + math.sin(s) / 2)],
)
def test_state_dict_round_trip_continues_exactly(make):
    run = make()
    taus = [run.step() for _ in range(250)]
    assert taus[0] == run.value(0)
    state = run.state_dict()
    resumed = make()
    resumed.load_state_dict(state)
    assert resumed.state_dict() == state
    assert [resumed.step() for _ in range(200)] == [run.step() for _ in range(200)]


def test_state_dict_restores_parameters():
    saved = Exponential(3.0, 1e-3, 0.2, 7)
    saved.step()
    fresh = Exponential()
    fresh.load_state_dict(saved.state_dict())
    assert [fresh.value(s) for s in STEPS] == [saved.value(s) for s in STEPS]
    assert fresh.last_step == 0


@pytest.mark.parametrize(
    "bad, error",
    [(lambda: Constant(0.0), ValueError), (lambda: Constant(float("nan")), ValueError),
     (lambda: Exponential(rate=-1.0), ValueError), (lambda: Exponential(every=0), ValueError),
     (lambda: Linear(1.0, 0.5, 0), ValueError), (lambda: Cosine(1.0, "0.5", 3), TypeError),
     (lambda: Constant(1.0).value(-1), ValueError), (lambda: Constant(1.0).value(1.5), TypeError),
     (lambda: Lambda(3.0), TypeError),
     (lambda: Linear(1.0, 0.5, 3).load_state_dict(Constant(1.0).state_dict()), ValueError)],
)
def test_bad_arguments_raise(bad, error):
    with pytest.raises(error):
        bad()


def test_exponential_rate_may_be_zero_but_not_negative_or_a_bool():
    assert [Exponential(2.0, 0, 0.5).value(s) for s in STEPS] == [2.0] * len(STEPS)
    with pytest.raises(ValueError, match=">= 0"):
        Exponential(rate=-1.0)
    for flag in (False, True):
        with pytest.raises(TypeError, match="rate"):
            Exponential(rate=flag)


def test_parse_reads_every_schedule_spec_and_refuses_others():
    from gumbel_softmax.anneal import Constant, Cosine, Exponential, Linear, parse

    assert isinstance(parse("constant", 1.0, 100), Constant)
    exponential = parse("exponential:rate=1e-3,every=10", 2.0, 100)
    assert isinstance(exponential, Exponential) and exponential.value(9) == 2.0 and exponential.value(10) < 2.0
    assert isinstance(parse("linear:end=0.2", 1.0, 100), Linear)
    assert parse("linear:end=0.2", 1.0, 100).value(100) == pytest.approx(0.2)
    assert isinstance(parse("cosine", 1.0, 100), Cosine)
    for bad in ("sometimes", "constant:end=1", "linear:end=low", "exponential:speed=2"):
        with pytest.raises(ValueError, match="schedule"):
            parse(bad, 1.0, 100)

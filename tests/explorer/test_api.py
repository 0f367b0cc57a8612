"""The explorer's JSON endpoints as functions: their numbers, and the check of every parameter."""

from __future__ import annotations

import math

import pytest
import scipy.stats
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gumbel_softmax
from gumbel_softmax.explorer import api
from gumbel_softmax.explorer.params import BadRequest
from tests.stats import assert_categorical, assert_ks, chi_square_pvalue

LOGITS = [0.5, 1.5, 0.2, float("-inf"), 1.0]


def call(endpoint, **params):
    """An endpoint called as the server calls it: every value a one-element list of text."""
    return endpoint({k: [str(v)] for k, v in params.items()})


def text(logits):
    return ",".join("-inf" if math.isinf(v) else repr(v) for v in logits)


@pytest.mark.parametrize("tau", [0.01, 1.0, 10.0])
def test_gumbel_argmax_counts_follow_pi_at_every_temperature(tau):
    # The Gumbel-max trick is exact at any tau; one chi-square test per case, false failure <= ALPHA = 1e-7.
    out = call(api.sample, logits=text(LOGITS), tau=tau, n=40_000, seed=7)
    pi = torch.softmax(torch.tensor(LOGITS, dtype=torch.float64), -1)
    assert out["probs"] == pytest.approx(pi.tolist(), abs=1e-15)
    assert out["summary"]["counts"][3] == 0  # the masked class is never drawn
    assert sum(out["summary"]["counts"]) == 40_000
    assert_categorical(out["summary"]["counts"], pi)
    assert out["summary"]["chi_square"]["df"] == 3  # the masked class is left out


def test_normal_noise_of_the_same_variance_does_not_give_pi():
    # The contrast the page shows. With pi = (0.5, 0.3, 0.15, 0.05) the Normal-noise argmax frequencies are
    # about (0.510, 0.311, 0.148, 0.032): Pearson's statistic at n = 100,000 has noncentrality ~700, so it falls
    # below the 1e-7 critical value (35.6 on 3 d.o.f.) with probability far below 1e-6 (~13 standard deviations).
    logits = [math.log(p) for p in (0.5, 0.3, 0.15, 0.05)]
    out = call(api.sample, logits=text(logits), n=100_000, noise="normal", seed=11)
    assert chi_square_pvalue(out["summary"]["counts"], out["probs"]) < 1e-7
    same = call(api.sample, logits=text(logits), n=100_000, noise="gumbel", seed=11)
    assert_categorical(same["summary"]["counts"], same["probs"])


@pytest.mark.parametrize(
    "kind, law", [("gumbel", scipy.stats.gumbel_r()), ("normal", scipy.stats.norm(0, api.NORMAL_STD))]
)
def test_noise_laws(kind, law, generator):
    noise = api.draw_noise(kind, (20_000,), generator)
    assert noise.dtype == torch.float64
    assert_ks(noise, law.cdf)
    # Same variance pi^2/6: the contrast changes the law of the noise, not its scale.
    assert law.var() == pytest.approx(math.pi**2 / 6)


def test_samples_are_the_librarys_and_consistent():
    logits = torch.tensor(LOGITS, dtype=torch.float64)
    out = call(api.sample, logits=text(LOGITS), tau=0.3, n=200, seed=5)
    soft = torch.tensor(out["samples"]["soft"], dtype=torch.float64)
    hard = torch.tensor(out["samples"]["hard"])
    # The same seed through the library's own functions gives the same draws.
    expected_soft = gumbel_softmax.gumbel_softmax(
        logits.expand(200, 5), tau=0.3, generator=torch.Generator().manual_seed(5)
    )
    expected_hard = gumbel_softmax.sample(logits.expand(200, 5), generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(soft, expected_soft, rtol=1e-5, atol=1e-12)  # the JSON keeps 6 digits
    assert torch.equal(hard, expected_hard)
    assert torch.equal(expected_soft.argmax(-1), hard)  # the hard sample is the argmax of the soft one
    torch.testing.assert_close(soft.sum(-1), torch.ones(200, dtype=torch.float64), rtol=1e-5, atol=0)
    assert (soft[:, 3] == 0).all()
    summary = out["summary"]
    assert summary["counts"] == torch.bincount(hard, minlength=5).tolist()
    torch.testing.assert_close(
        torch.tensor(summary["mean_soft"], dtype=torch.float64), soft.mean(0), rtol=1e-5, atol=1e-9
    )
    assert summary["mean_max"] == pytest.approx(float(soft.amax(-1).mean()), rel=1e-5)
    assert call(api.sample, logits=text(LOGITS), tau=0.3, n=200, seed=5) == out  # reproducible from the seed


def test_large_n_is_summarized_across_chunks():
    n = api.CHUNK + 17
    out = call(api.sample, logits="0,0", n=n, seed=1)
    assert sum(out["summary"]["counts"]) == n
    assert len(out["samples"]["soft"]) == len(out["samples"]["hard"]) == api.SAMPLES_SHOWN
    assert sum(out["summary"]["mean_soft"]) == pytest.approx(1.0)


def hoeffding_probability(margin: float, n: int, width: float) -> float:
    """Hoeffding (1963): a mean of ``n`` independent draws in an interval of ``width`` exceeds its expectation
    by ``margin`` or more (one side) with probability at most ``exp(-2 n margin^2 / width^2)``."""
    return math.exp(-2 * n * margin**2 / width**2)


def test_mean_soft_sample_moves_toward_uniform_as_tau_grows():
    # pi = (0.7, 0.2, 0.1). The expectations used below, from 2e7 draws each (standard errors < 2e-4):
    # E[1 - max_k y_k] = 0.00318 (tau 0.01), E[max_k y_k] = 0.9968, 0.7142, 0.3820 (tau 0.01, 1, 10), and the
    # distance max_k |E[y_k] - 1/3| = 0.3668, 0.2594, 0.0361. The three runs share their noise (seed 2); the union
    # bound below does not need independence between them. Every bound is asserted, so the test states its own
    # false-failure probability: the sum of the terms below, < 1e-9.
    n = 100_000
    logits = [math.log(p) for p in (0.7, 0.2, 0.1)]
    cold, warm, hot = (
        call(api.sample, logits=text(logits), tau=t, n=n, seed=2)["summary"] for t in (0.01, 1.0, 10.0)
    )
    bounds = []
    # Cold: 1 - max_k y_k lies in [0, 2/3]; its mean exceeds 0.00318 + 0.00682 = 0.01 with probability below
    # hoeffding_probability(0.00682) = 8.1e-10 (the reason n is 100,000: at 20,000 Hoeffding only gives 0.015).
    bounds.append(hoeffding_probability(0.01 - 0.00318, n, 2 / 3))
    assert cold["mean_max"] > 0.99
    # Then the mean soft sample is within 0.01 of the argmax frequencies, with no further chance of failure: per
    # draw, |y_k - [k = argmax]| <= 1 - max_j y_j for every k, so the two means differ by at most 1 - mean_max.
    assert cold["mean_soft"] == pytest.approx(cold["frequencies"], abs=0.01)
    # Toward uniform. The distance is 1-Lipschitz in the sup norm of the mean soft sample, so it fails only if a
    # coordinate (a mean of [0, 1] values; 3 runs x 3 coordinates x 2 sides) moves by half the spare margin:
    # (0.3668 - 0.2594 - 0.05) / 2 = 0.0287 for the first inequality, (0.2594 - 0.0361 - 0.05) / 2 = 0.0866 for
    # the second, each term below exp(-160).
    bounds.append(18 * hoeffding_probability((0.3668 - 0.2594 - 0.05) / 2, n, 1.0))
    distance = [max(abs(m - 1 / 3) for m in s["mean_soft"]) for s in (cold, warm, hot)]
    assert distance[0] > distance[1] + 0.05 > distance[2] + 0.1
    # max_k y_k lies in [1/3, 1]: the smaller gap, 0.7142 - 0.3820, split in two, bounds 4 one-sided deviations.
    bounds.append(4 * hoeffding_probability((0.7142 - 0.3820) / 2, n, 2 / 3))
    assert cold["mean_max"] > warm["mean_max"] > hot["mean_max"]
    assert sum(bounds) < 1e-9


def test_seed_is_returned_and_fresh_when_absent():
    first, second = call(api.sample, logits="0,1"), call(api.sample, logits="0,1")
    assert first["seed"] != second["seed"]  # two 53-bit random seeds collide with probability 2^-53
    assert call(api.sample, logits="0,1", seed=first["seed"])["samples"] == first["samples"]


def test_info_lists_the_limits():
    out = call(api.info)
    assert out["limits"]["k"] == [2, 64] and out["limits"]["n_max"] == 100_000
    assert out["limits"]["tau"] == [0.01, 10.0]


BAD = [
    ({}, "logits"),
    ({"logits": ""}, "logits"),
    ({"logits": "0"}, "logits"),  # K = 1
    ({"logits": ",".join(["0"] * 65)}, "logits"),  # K = 65
    ({"logits": "0,nan"}, "logits"),
    ({"logits": "0,inf"}, "logits"),
    ({"logits": "0,1e400"}, "logits"),
    ({"logits": "0,1001"}, "logits"),
    ({"logits": "-inf,-inf"}, "logits"),
    ({"logits": "0,abc"}, "logits"),
    ({"logits": "0,,1"}, "logits"),
    ({"logits": "0,1", "tau": "0"}, "tau"),
    ({"logits": "0,1", "tau": "0.0099"}, "tau"),
    ({"logits": "0,1", "tau": "10.5"}, "tau"),
    ({"logits": "0,1", "tau": "nan"}, "tau"),
    ({"logits": "0,1", "tau": "inf"}, "tau"),
    ({"logits": "0,1", "tau": "-1"}, "tau"),
    ({"logits": "0,1", "tau": ""}, "tau"),
    ({"logits": "0,1", "n": "0"}, "n"),
    ({"logits": "0,1", "n": "100001"}, "n"),
    ({"logits": "0,1", "n": "1e3"}, "n"),
    ({"logits": "0,1", "n": "-5"}, "n"),
    ({"logits": "0,1", "n": "9" * 5000}, "n"),
    ({"logits": "0,1", "noise": "uniform"}, "noise"),
    ({"logits": "0,1", "seed": "-1"}, "seed"),
    ({"logits": "0,1", "seed": str(2**63)}, "seed"),
    ({"logits": "0,1", "seeed": "1"}, "seeed"),
]


@pytest.mark.parametrize("params, parameter", BAD, ids=[f"{p}-{i}" for i, (_, p) in enumerate(BAD)])
def test_bad_sample_parameters_name_the_parameter(params, parameter):
    with pytest.raises(BadRequest) as error:
        api.sample({k: [v] for k, v in params.items()})
    assert error.value.parameter == parameter
    assert error.value.message


def test_a_parameter_given_twice_is_refused():
    with pytest.raises(BadRequest, match="tau: given 2 times"):
        api.sample({"logits": ["0,1"], "tau": ["1", "2"]})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    logits=st.one_of(st.text(max_size=40), st.lists(st.floats(), min_size=0, max_size=70).map(text)),
    tau=st.one_of(st.text(max_size=10), st.floats().map(repr)),
    n=st.one_of(st.text(max_size=8), st.integers(-10, 200).map(str)),
    noise=st.sampled_from(["gumbel", "normal", "", "Gumbel", "x"]),
)
def test_any_text_is_answered_or_refused_by_name(logits, tau, n, noise):
    query = {"logits": [logits], "tau": [tau], "n": [n], "noise": [noise]}
    try:
        out = api.sample(query)
    except BadRequest as error:
        assert error.parameter in query
        return
    assert sum(out["summary"]["counts"]) == out["n"]
    assert all(math.isfinite(v) for v in out["summary"]["mean_soft"])


def test_density_grid_covers_the_simplex():
    triangles, centroids = api._simplex_triangles(12)
    assert len(triangles) == 144 and centroids.shape == (144, 3)
    # Each small triangle has area 1/(2 R^2) in (x0, x1) coordinates: together they tile the simplex (area 1/2).
    area = sum(abs((b[0] - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (b[1] - a[1])) / 2 for a, b, c in triangles)
    assert area == pytest.approx(0.5)
    assert (centroids > 0).all() and torch.allclose(centroids.sum(-1), torch.ones(144, dtype=torch.float64))


@pytest.mark.parametrize(
    "params, parameter",
    [
        ({"logits": "0,1"}, "logits"),
        ({"logits": "0,1,-inf"}, "logits"),
        ({"logits": "0,1,2", "resolution": "3"}, "resolution"),
        ({"logits": "0,1,2", "tau": "20"}, "tau"),
    ],
)
def test_bad_density_parameters(params, parameter):
    with pytest.raises(BadRequest) as error:
        api.density({k: [v] for k, v in params.items()})
    assert error.value.parameter == parameter


@pytest.mark.parametrize("tau", [0.5, 1.0, 2.0])
def test_density_matches_the_concrete_formula(tau):
    # Jang, Gu, Poole 2017, eq. 3: p(y) = Gamma(k) tau^(k-1) (sum_i pi_i / y_i^tau)^(-k) prod_i pi_i / y_i^(tau+1).
    logits = [0.3, -0.4, 1.1]
    out = call(api.density, logits=text(logits), tau=tau, resolution=20)
    pi = torch.softmax(torch.tensor(logits, dtype=torch.float64), -1)
    _, y = api._simplex_triangles(20)
    k = 3
    expected = (
        math.lgamma(k)
        + (k - 1) * math.log(tau)
        - k * torch.log((pi / y**tau).sum(-1))
        + (pi.log() - (tau + 1) * y.log()).sum(-1)
    )
    torch.testing.assert_close(torch.tensor(out["log_density"], dtype=torch.float64), expected, rtol=1e-9, atol=1e-9)

"""Bounds against exact enumeration of every latent configuration; the objective each estimator trains."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from gumbel_softmax import estimators
from gumbel_softmax.experiments.models import DiscreteVAE, Latent, StructuredOutputNetwork
from gumbel_softmax.experiments.objectives import objective_name, sbn_bounds, sbn_objective, vae_bounds, vae_objective
from tests.stats import mean_bound

SAMPLES = 20_000


def _configurations(latent: Latent) -> torch.Tensor:
    """Every latent value: ``[C, V, K]`` one-hots or ``[C, V]`` bits."""
    if latent.bernoulli:
        return torch.tensor(list(itertools.product([0.0, 1.0], repeat=latent.variables)))
    eye = torch.eye(latent.classes)
    return torch.stack([eye[list(c)] for c in itertools.product(range(latent.classes), repeat=latent.variables)])


def _check(estimate: torch.Tensor, exact: torch.Tensor, spread: torch.Tensor, bias: torch.Tensor | float = 0.0):
    # Each estimate is a mean of SAMPLES independent draws with standard deviation `spread`
    # (delta method for the log of a mean), plus a known deterministic bias bound; outside the
    # band with probability <= 1e-7 per example (tests/stats.py::mean_bound).
    band = torch.tensor([mean_bound(float(s), SAMPLES) for s in spread]) + bias
    assert ((estimate - exact).abs() <= band).all(), (estimate, exact, band)


def _log_mean_exp_check(log_w: torch.Tensor, estimate: torch.Tensor, probs: torch.Tensor) -> None:
    """Check ``estimate ~ -log E[w]`` where ``w = exp(log_w)`` has law ``probs`` over configurations (rows)."""
    mean_w = (probs * log_w.exp()).sum(0)
    cv = ((probs * (log_w.exp() - mean_w) ** 2).sum(0)).sqrt() / mean_w
    # Jensen bias of log(mean of k draws) is about cv^2 / (2k); allow twice that.
    _check(estimate, -mean_w.log(), cv, cv**2 / SAMPLES)


@pytest.mark.parametrize("latent", [Latent("categorical", 2, 3), Latent("bernoulli", 3)], ids=["2x3 cat", "3 bern"])
def test_vae_bounds_match_enumeration(latent):
    torch.manual_seed(0)
    model = DiscreteVAE(6, latent, hidden=(5,))
    x = torch.bernoulli(torch.full((4, 6), 0.5), generator=torch.Generator().manual_seed(1))
    neg_elbo, bound = vae_bounds(model, x, SAMPLES, torch.Generator().manual_seed(2), chunk=5000)
    with torch.no_grad():
        z = _configurations(latent)
        logits = model.encode(x)
        log_q = torch.stack([latent.log_prob(logits, zc.expand(len(x), *zc.shape)) for zc in z])  # [C, B]
        q = log_q.exp()
        nll = torch.stack([model.reconstruction_nll(x, zc.expand(len(x), *zc.shape)) for zc in z])  # [C, B]
        kl = (q * (log_q - latent.uniform_log_prob())).sum(0)
        assert torch.allclose(q.sum(0), torch.ones(4), atol=1e-5)
        assert torch.allclose(latent.kl_to_uniform(logits), kl, atol=1e-5), "closed-form KL"
        spread = (q * (nll - (q * nll).sum(0)) ** 2).sum(0).sqrt()
        _check(neg_elbo, (q * nll).sum(0) + kl, spread)
        _log_mean_exp_check(-nll + latent.uniform_log_prob() - log_q, bound, q)


def test_sbn_bounds_match_enumeration():
    torch.manual_seed(0)
    latent = Latent("bernoulli", 4)
    model = StructuredOutputNetwork(5, 3, latent, layers=1)
    upper = torch.bernoulli(torch.full((3, 5), 0.5), generator=torch.Generator().manual_seed(1))
    lower = torch.bernoulli(torch.full((3, 3), 0.5), generator=torch.Generator().manual_seed(3))
    m1, bound = sbn_bounds(model, upper, lower, SAMPLES, torch.Generator().manual_seed(2), chunk=5000)
    with torch.no_grad():
        h = _configurations(latent)
        logits = model.layer_logits(0, upper)
        p = torch.stack([latent.log_prob(logits, hc.expand(3, 4)) for hc in h]).exp()
        nll = torch.stack([model.output_nll(lower, hc.expand(3, 4)) for hc in h])
        spread = (p * (nll - (p * nll).sum(0)) ** 2).sum(0).sqrt()
        _check(m1, (p * nll).sum(0), spread)
        _log_mean_exp_check(-nll, bound, p)


class _Spy:
    """Wraps an estimator and keeps what it returned."""

    def __init__(self, inner):
        self.inner, self.relaxed = inner, inner.relaxed

    def __call__(self, *args, **kwargs):
        self.out = self.inner(*args, **kwargs)
        return self.out


@pytest.mark.parametrize("name", ["gumbel_softmax", "st_gumbel_softmax", "reinforce"])
def test_each_estimator_trains_its_documented_objective(name):
    torch.manual_seed(0)
    model = DiscreteVAE(6, Latent("categorical", 2, 3), hidden=(5,))
    x = torch.bernoulli(torch.full((4, 6), 0.5), generator=torch.Generator().manual_seed(1))
    spy = _Spy(estimators.get(name))
    result = vae_objective(model, x, spy, tau=0.7, generator=torch.Generator().manual_seed(2))
    z = spy.out.sample
    one_hot = bool(((z == 0) | (z == 1)).all() and (z.sum(-1) == 1).all())
    assert objective_name(spy) == ("relaxed" if spy.relaxed else "discrete")
    assert one_hot != spy.relaxed, "relaxed estimators decode relaxed samples, the others exact one-hots"
    with torch.no_grad():
        expected = model.reconstruction_nll(x, z) + model.latent.kl_to_uniform(model.encode(x))
    assert torch.allclose(result.loss, expected, atol=1e-5)
    result.surrogate.mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    assert math.isfinite(float(result.loss.mean()))


def test_kl_weight_scales_the_kl_gradient_and_leaves_the_loss_whole():
    torch.manual_seed(0)
    model = DiscreteVAE(6, Latent("bernoulli", 3), hidden=(5,))
    x = torch.bernoulli(torch.full((4, 6), 0.5), generator=torch.Generator().manual_seed(1))

    def gradients(weight):
        model.zero_grad()
        result = vae_objective(model, x, estimators.get("gumbel_softmax"), tau=0.7,
                               generator=torch.Generator().manual_seed(2), kl_weight=weight)
        result.surrogate.mean().backward()
        return result.loss, [p.grad.clone() for p in model.parameters()]

    loss_off, off = gradients(0.0)
    loss_half, half = gradients(0.5)
    model.zero_grad()
    model.latent.kl_to_uniform(model.encode(x)).mean().backward()
    kl = [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in model.parameters()]  # decoder: none
    assert torch.equal(loss_off, loss_half), "the reported loss keeps the whole KL"
    for g_off, g_half, g_kl in zip(off, half, kl, strict=True):
        assert torch.allclose(g_half - g_off, 0.5 * g_kl, atol=1e-6)
    assert any(g.abs().max() > 1e-3 for g in kl), "the check above would be empty"


class _Counting:
    """Wraps an estimator and counts its calls with gradients enabled (the ones that may update state)."""

    def __init__(self, estimator):
        self.estimator, self.calls = estimator, 0
        self.relaxed = estimator.relaxed

    def __call__(self, logits, f, **kwargs):
        self.calls += torch.is_grad_enabled()
        return self.estimator(logits, f, **kwargs)


@pytest.mark.parametrize("upper_name", ["relax", "rebar", "muprop", "st_gumbel_softmax", "gumbel_softmax"])
@pytest.mark.parametrize("lower_name", ["relax", "reinforce_ema"])
def test_sbn_lower_estimator_runs_once_per_step(upper_name, lower_name):
    # The upper layer's control variate calls its loss on relaxed / mean-field inputs; only the
    # call on the sample itself may run (and update) the lower layer's estimator.
    torch.manual_seed(0)
    model = StructuredOutputNetwork(5, 3, Latent("bernoulli", 4), layers=2)
    upper = torch.bernoulli(torch.full((6, 5), 0.5), generator=torch.Generator().manual_seed(1))
    lower = torch.bernoulli(torch.full((6, 3), 0.5), generator=torch.Generator().manual_seed(3))
    counted = _Counting(estimators.get(lower_name))
    generator = torch.Generator().manual_seed(2)
    for step in range(1, 4):
        out = sbn_objective(model, upper, lower, [estimators.get(upper_name), counted], tau=1.0, generator=generator)
        out.surrogate.mean().backward()
        assert counted.calls == step
    assert model.maps[0].weight.grad is not None and torch.isfinite(model.maps[0].weight.grad).all()


@pytest.mark.parametrize("latent", [Latent("bernoulli", 4), Latent("categorical", 2, 3)], ids=["bern", "cat"])
def test_sbn_muprop_control_variate_is_the_mean_field_network(latent):
    # MuProp's f(mu) for the upper layer: the lower layer passes its mean on, deterministically
    # (Gu et al. 2016); REBAR's control variate relaxes the lower layer with noise instead.
    torch.manual_seed(0)
    model = StructuredOutputNetwork(5, 3, latent, layers=2)
    upper = torch.bernoulli(torch.full((6, 5), 0.5), generator=torch.Generator().manual_seed(1))
    lower = torch.bernoulli(torch.full((6, 3), 0.5), generator=torch.Generator().manual_seed(3))

    def mean(logits):
        return torch.sigmoid(logits) if latent.bernoulli else torch.softmax(logits, -1)

    with torch.no_grad():
        expected = mean(model.layer_logits(1, mean(model.layer_logits(0, upper))))
    seen = []
    output_nll = model.output_nll
    model.output_nll = lambda target, h: seen.append(h.detach().clone()) or output_nll(target, h)
    for name, found in [("muprop", True), ("rebar", False)]:
        seen.clear()
        pair = [estimators.get(name), estimators.get(name)]
        sbn_objective(model, upper, lower, pair, tau=1.0, generator=torch.Generator().manual_seed(2))
        assert any(torch.allclose(h, expected) for h in seen) == found, name

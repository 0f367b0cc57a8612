"""Perturbed optimizers: the maximizer against its expectation, the Monte-Carlo Jacobian against the exact one,
and the Fenchel-Young gradient."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import scipy.integrate
import scipy.stats
import torch

from gumbel_softmax.structured import fenchel_young_loss, grid_path_argmax, perturbed_argmax, top_k_argmax
from tests.stats import mean_bound

ARGMAX = partial(top_k_argmax, k=1)


def gaussian_argmax_probabilities(theta: np.ndarray, sigma: float) -> np.ndarray:
    """P(argmax(theta + sigma Z) = i) for Gaussian Z, by quadrature: int phi(z) prod_{j != i} Phi(...) dz."""
    out = []
    for i in range(len(theta)):
        others = np.delete(theta, i)

        def density(z, i=i, others=others):
            return scipy.stats.norm.pdf(z) * np.prod(scipy.stats.norm.cdf((theta[i] + sigma * z - others) / sigma))

        out.append(scipy.integrate.quad(density, -12, 12, epsabs=1e-12)[0])
    return np.array(out)


SAMPLES = 200_000


def test_gumbel_noise_and_top1_give_the_softmax(generator):
    """The Gumbel-max trick: y*_eps = softmax(theta / sigma). Each mean of 0/1 entries has std <= 1/2, so a
    deviation beyond mean_bound(0.5, M) has probability <= 1e-7 per entry (CLT), 4e-7 for the four entries."""
    theta = torch.tensor([0.3, -1.0, 1.2, 0.0], dtype=torch.float64)
    y = perturbed_argmax(theta, ARGMAX, sigma=0.7, samples=SAMPLES, noise="gumbel", generator=generator)
    expected = torch.softmax(theta / 0.7, -1)
    assert (y - expected).abs().max() < mean_bound(0.5, SAMPLES)


def test_gaussian_maximizer_equals_its_expectation_by_enumeration(generator):
    """E[y*] = sum over the 3 structures of y P(y), P by quadrature. Same bound as above."""
    theta = np.array([0.2, 0.8, -0.5])
    y = perturbed_argmax(torch.tensor(theta), ARGMAX, sigma=0.5, samples=SAMPLES, generator=generator)
    expected = gaussian_argmax_probabilities(theta, 0.5)
    assert abs(expected.sum() - 1) < 1e-9
    assert np.abs(y.numpy() - expected).max() < mean_bound(0.5, SAMPLES)


@pytest.mark.parametrize("noise", ["normal", "gumbel"])
def test_the_jacobian_matches_finite_differences_of_the_smoothed_map(noise, generator):
    """g^T J estimated from M = 200,000 draws against central differences (h = 1e-4) of the exact y*_eps.

    Each draw of the estimate is <g, y> grad nu(Z)_j / sigma with |<g, y>| <= max|g| and E[grad nu(Z)_j^2] = 1
    for both noises (Var Z = 1; Var e^{-G} = Gamma(3) - 1 = 1), so its std is at most max|g| / sigma and a
    deviation beyond mean_bound(max|g| / sigma, M) has probability <= 1e-7 per entry (CLT); the differences
    are exact to about 1e-8."""
    sigma = 0.8
    theta = np.array([0.4, -0.3, 0.1])
    g = np.array([1.0, -0.5, 0.25])

    def smoothed(t):
        if noise == "gumbel":
            e = np.exp((t - t.max()) / sigma)
            return e / e.sum()
        return gaussian_argmax_probabilities(t, sigma)

    h = 1e-4
    jacobian = np.stack([(smoothed(theta + h * e) - smoothed(theta - h * e)) / (2 * h) for e in np.eye(3)], 1)
    x = torch.tensor(theta, requires_grad=True)
    y = perturbed_argmax(x, ARGMAX, sigma=sigma, samples=SAMPLES, noise=noise, generator=generator)
    (y * torch.tensor(g)).sum().backward()
    bound = mean_bound(np.abs(g).max() / sigma, SAMPLES)
    assert np.abs(x.grad.numpy() - g @ jacobian).max() < bound


def test_the_jacobian_is_per_structure_in_a_batch(generator):
    """A batch of independent problems: the gradient of one structure's output reaches only its own scores."""
    theta = torch.randn(3, 4, generator=generator, requires_grad=True)
    y = perturbed_argmax(theta, ARGMAX, samples=50, generator=generator)
    y[1].sum().backward()
    assert bool((theta.grad[[0, 2]] == 0).all())


def test_event_dims_2_for_grid_paths(generator):
    theta = torch.randn(2, 3, 4, generator=generator, requires_grad=True)
    y = perturbed_argmax(theta, grid_path_argmax, samples=20, event_dims=2, generator=generator)
    torch.testing.assert_close(y.sum((-2, -1)), torch.full((2,), 6.0))
    y[0].sum().backward()
    assert bool((theta.grad[1] == 0).all())


@pytest.mark.parametrize("masked", [False, True], ids=["plain", "masked"])
def test_fenchel_young_gradient_is_the_maximizer_minus_the_target(masked, generator):
    """Masked: `-inf` marks an item the solver never picks (check_logits allows it); the loss must stay finite
    (not `0 * -inf = NaN`), and the gradient there is 0."""
    theta = torch.randn(5, 6, generator=generator, dtype=torch.float64)
    target = top_k_argmax(torch.randn(5, 6, generator=generator, dtype=torch.float64), 2)
    if masked:
        theta[:, 2] = float("-inf")
        target = top_k_argmax(theta, 2)
    theta.requires_grad_()
    solver = partial(top_k_argmax, k=2)
    state = generator.get_state()
    loss = fenchel_young_loss(theta, target, solver, sigma=0.5, samples=64, generator=generator)
    loss.sum().backward()
    generator.set_state(state)
    y_star = perturbed_argmax(theta.detach(), solver, sigma=0.5, samples=64, generator=generator)
    assert loss.shape == (5,) and bool(torch.isfinite(loss).all())
    torch.testing.assert_close(theta.grad, y_star - target)


def test_fenchel_young_loss_is_smallest_at_the_target_direction(generator):
    """Convex with gradient y*_eps - y: scores far along y have a gradient near 0 and a loss below theta = 0's."""
    y = torch.tensor([0.0, 1.0, 0.0, 0.0], dtype=torch.float64)
    losses = [float(fenchel_young_loss(c * (y - 0.5), y, ARGMAX, samples=4000,
                                       generator=torch.Generator().manual_seed(1))) for c in (0.0, 2.0, 20.0)]
    assert losses[0] > losses[1] > losses[2]


def test_gradcheck_of_the_fenchel_young_loss_in_float64(generator):
    """With the noise fixed (a fresh generator per call) the loss is piecewise linear in theta: gradcheck at a
    generic point, where no perturbed argmax is near a tie."""
    theta = torch.randn(3, 5, generator=generator, dtype=torch.float64, requires_grad=True)
    target = top_k_argmax(torch.randn(3, 5, generator=generator, dtype=torch.float64), 2)

    def loss(x):
        return fenchel_young_loss(x, target, partial(top_k_argmax, k=2), samples=8,
                                  generator=torch.Generator().manual_seed(5))

    assert torch.autograd.gradcheck(loss, (theta,))


def test_no_nan_or_inf_at_a_small_sigma_in_float32(generator):
    theta = torch.randn(32, 10, generator=generator, requires_grad=True)
    y = perturbed_argmax(theta, ARGMAX, sigma=0.01, samples=16, generator=generator)
    (y * torch.randn(32, 10, generator=generator)).sum().backward()
    assert torch.isfinite(y).all() and torch.isfinite(theta.grad).all()


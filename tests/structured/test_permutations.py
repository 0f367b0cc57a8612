"""Sinkhorn, Gumbel-Sinkhorn, the best matching and NeuralSort against brute force over all n! permutations."""

from __future__ import annotations

import itertools

import pytest
import torch

from gumbel_softmax.structured import best_permutation, gumbel_sinkhorn, neural_sort, sinkhorn


def all_permutations(n: int) -> torch.Tensor:
    return torch.tensor(list(itertools.permutations(range(n))), dtype=torch.int64).reshape(-1, n)


def brute_force_best(scores: torch.Tensor) -> torch.Tensor:
    """The column of each row in the permutation of largest total score, by trying all n! of them."""
    n = scores.shape[-1]
    perms = all_permutations(n)
    totals = scores[..., torch.arange(n), perms].sum(-1)  # [..., n!]
    return perms[totals.argmax(-1)]


@pytest.mark.parametrize("solver", ["torch", "scipy"])
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6])
def test_the_best_permutation_is_the_brute_force_optimum(n, solver, generator):
    # Continuous random scores: ties have probability 0, so the optimum is unique.
    scores = torch.randn(40, n, n, generator=generator, dtype=torch.float64) * 3
    assert torch.equal(best_permutation(scores, solver=solver), brute_force_best(scores))


def test_the_torch_solver_agrees_with_scipy_at_larger_n(generator):
    scores = torch.randn(6, 30, 30, generator=generator)
    assert torch.equal(best_permutation(scores, solver="torch"), best_permutation(scores, solver="scipy"))


def test_forbidden_entries_are_avoided(generator):
    scores = torch.randn(20, 5, 5, generator=generator)
    scores[:, 0, 0] = scores[:, 1, 1] = float("-inf")  # the diagonal would often be chosen otherwise
    scores[:, :, 2] += 5
    for solver in ("torch", "scipy"):
        sigma = best_permutation(scores, solver=solver)
        assert (sigma[:, 0] != 0).all() and (sigma[:, 1] != 1).all()
        assert torch.equal(sigma, brute_force_best(scores.nan_to_num(neginf=-1e9)))


def test_best_permutation_keeps_batch_shape_and_is_a_permutation(generator):
    sigma = best_permutation(torch.randn(2, 3, 7, 7, generator=generator), solver="torch")
    assert sigma.shape == (2, 3, 7) and sigma.dtype == torch.int64
    assert torch.equal(sigma.sort(-1).values, torch.arange(7).expand(2, 3, 7))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sinkhorn_converges_to_a_doubly_stochastic_matrix(dtype, generator):
    x = torch.randn(8, 6, 6, generator=generator, dtype=dtype) * 2
    errors = []
    for n_iters in (1, 5, 200):
        p = sinkhorn(x, n_iters=n_iters)
        assert p.dtype == dtype and (p >= 0).all()
        torch.testing.assert_close(p.sum(-2), torch.ones(8, 6, dtype=dtype))  # columns: normalized last
        errors.append(float((p.sum(-1) - 1).abs().max()))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < (1e-5 if dtype == torch.float32 else 1e-12)


def test_sinkhorn_of_a_doubly_stochastic_matrix_is_itself():
    p = torch.tensor([[0.2, 0.8], [0.8, 0.2]], dtype=torch.float64)
    torch.testing.assert_close(sinkhorn(p.log(), n_iters=3), p)


def test_sinkhorn_tends_to_the_best_permutation_as_tau_goes_to_zero(generator):
    """Mena et al., Theorem 1: S(X / tau) -> M(X). Checked where the best matching beats the second best by
    at least 20 tau (a smaller gap needs a smaller tau, and more iterations, to show the limit)."""
    x = torch.randn(200, 5, 5, generator=generator, dtype=torch.float64) * 3
    perms = all_permutations(5)
    totals = x[..., torch.arange(5), perms].sum(-1).sort(-1, descending=True).values
    clear = (totals[:, 0] - totals[:, 1]) > 20 * 0.05
    assert clear.sum() > 50
    soft = sinkhorn(x[clear], tau=0.05, n_iters=1000)
    hard = torch.nn.functional.one_hot(brute_force_best(x[clear]), 5).double()
    assert (soft - hard).abs().max() < 0.01


def test_hard_gumbel_sinkhorn_is_the_matching_of_the_same_noise(generator):
    from gumbel_softmax.noise import gumbel_noise

    x = torch.randn(30, 4, 4, generator=generator)
    state = generator.get_state()
    hard = gumbel_sinkhorn(x, hard=True, generator=generator)
    generator.set_state(state)
    noise = gumbel_noise(x.shape, generator=generator)
    expected = torch.nn.functional.one_hot(brute_force_best(x + noise), 4).float()
    assert torch.equal(hard, expected)


def test_straight_through_gradient_is_the_soft_gradient(generator):
    x = torch.randn(3, 4, 4, generator=generator, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 4, 4, generator=generator, dtype=torch.float64)
    grads = []
    for hard in (False, True):
        g = torch.Generator().manual_seed(5)
        (gumbel_sinkhorn(x, tau=0.7, hard=hard, generator=g) * w).sum().backward()
        grads.append(x.grad.clone())
        x.grad = None
    torch.testing.assert_close(grads[0], grads[1])


def test_gradcheck_sinkhorn_and_gumbel_sinkhorn(generator):
    x = torch.randn(2, 4, 4, generator=generator, dtype=torch.float64, requires_grad=True)
    tau = torch.tensor([[[0.5]], [[2.0]]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, t: sinkhorn(x, t, n_iters=10), (x, tau))
    assert torch.autograd.gradcheck(
        lambda x, t: gumbel_sinkhorn(x, t, n_iters=10, generator=torch.Generator().manual_seed(1)), (x, tau)
    )


def test_no_nan_or_inf_at_tau_001_in_float32(generator):
    x = (torch.randn(16, 10, 10, generator=generator) * 10).requires_grad_()
    y = gumbel_sinkhorn(x, tau=0.01, n_iters=20, generator=generator)
    (y * torch.randn(16, 10, 10, generator=generator)).sum().backward()
    assert torch.isfinite(y).all() and torch.isfinite(x.grad).all()
    torch.testing.assert_close(y.sum(-2), torch.ones(16, 10))
    s = neural_sort((torch.randn(16, 10, generator=generator) * 10).requires_grad_(), tau=0.01)
    assert torch.isfinite(s).all()


def test_noise_factor_zero_is_sinkhorn(generator):
    x = torch.randn(2, 3, 3, generator=generator)
    torch.testing.assert_close(gumbel_sinkhorn(x, 0.5, noise_factor=0.0), sinkhorn(x, 0.5))


def test_neural_sort_rows_are_the_sorted_items_as_tau_goes_to_zero(generator):
    # Scores at least 0.5 apart: NeuralSort's logits differ by multiples of the gaps, here >= 0.5 / tau.
    s = torch.stack([torch.randperm(6, generator=generator) for _ in range(20)]).double()
    s = s + 0.5 * torch.rand(20, 6, generator=generator, dtype=torch.float64)
    p = neural_sort(s, tau=1e-2)
    order = s.argsort(-1, descending=True)
    torch.testing.assert_close(p, torch.nn.functional.one_hot(order, 6).double(), atol=1e-6, rtol=0)
    torch.testing.assert_close(neural_sort(s, tau=3.0).sum(-1), torch.ones(20, 6, dtype=torch.float64))
    assert torch.equal(neural_sort(s, tau=3.0, hard=True), torch.nn.functional.one_hot(order, 6).double())


def test_gradcheck_neural_sort(generator):
    s = torch.randn(3, 5, generator=generator, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda s: neural_sort(s, tau=0.7), (s,))


@pytest.mark.parametrize("bad", [torch.zeros(3, 4), torch.zeros(4)])
def test_non_square_scores_are_refused(bad):
    with pytest.raises(ValueError, match="square matrices"):
        sinkhorn(bad)


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_every_function_runs_on_the_device_of_its_input(device):
    """Outputs stay on the input's device; the torch solver agrees with brute force there."""
    from gumbel_softmax.structured import PlackettLuce, RelaxedPlackettLuce, relaxed_k_subset

    g = torch.Generator(device=device).manual_seed(0)
    x = torch.randn(16, 5, 5, device=device, generator=g)
    assert torch.equal(best_permutation(x, solver="torch").cpu(), brute_force_best(x.cpu()))
    assert gumbel_sinkhorn(x, 0.3, hard=True, generator=g).device == x.device
    logits = torch.randn(4, 6, device=device, generator=g)
    assert relaxed_k_subset(logits, 2, generator=g).device == x.device
    assert PlackettLuce(logits).sample((3,), generator=g).device == x.device
    assert RelaxedPlackettLuce(0.5, logits).rsample(generator=g).device == x.device
    assert neural_sort(logits).device == x.device

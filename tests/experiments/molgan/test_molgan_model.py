"""The generator's discrete graph through the estimators, the R-GCN critic, the gradient penalty."""

from __future__ import annotations

import pytest
import torch

from gumbel_softmax import estimators
from gumbel_softmax.experiments.molgan.model import (
    Generator,
    GraphCritic,
    draw_graph,
    gradient_penalty,
    hard_graph,
    one_hot_graph,
    pack,
    unpack,
)

PATHWISE = [n for n in estimators.names() if estimators.get(n).family == "pathwise"]
HARD = [n for n in estimators.names()
        if not (e := estimators.get(n)).relaxed and e.supports_categorical and not e.needs_baseline
        and e.max_joint is None]


def test_pathwise_list_is_the_expected_one():
    assert {"gumbel_softmax", "st_gumbel_softmax", "straight_through", "gumbel_rao", "reinmax"} <= set(PATHWISE)


def test_edge_logits_are_symmetric():
    node_logits, edge_logits = Generator()(torch.randn(4, 32, generator=torch.Generator().manual_seed(0)))
    assert node_logits.shape == (4, 9, 5) and edge_logits.shape == (4, 9, 9, 5)
    torch.testing.assert_close(edge_logits, edge_logits.transpose(1, 2), rtol=0, atol=0)


def test_unpack_mirrors_the_pairs_and_has_no_self_bonds():
    sample = torch.softmax(torch.randn(3, 45, 5, generator=torch.Generator().manual_seed(1)), -1)
    nodes, edges = unpack(sample)
    assert torch.equal(edges, edges.transpose(1, 2))
    assert torch.equal(edges[:, range(9), range(9)], torch.eye(5)[0].expand(3, 9, 5))
    assert torch.equal(nodes, sample[:, :9])
    index_nodes, index_edges = hard_graph(sample)
    back = pack(*one_hot_graph(index_nodes, index_edges))
    assert torch.equal(back.argmax(-1), sample.argmax(-1))


@pytest.mark.parametrize("name", HARD)
def test_hard_adjacency_is_symmetric_with_one_type_per_pair(name):
    generator = torch.Generator().manual_seed(2)
    logits = Generator().logits(torch.randn(16, 32, generator=generator))
    critic = GraphCritic()
    _, sample = draw_graph(logits, estimators.get(name), lambda n, e: -critic(n, e), 1.0, generator)
    nodes, edges = unpack(sample.detach())  # the sample the loss was evaluated at
    assert torch.equal(edges, edges.transpose(1, 2))
    for part in (nodes, edges):
        assert set(part.unique().tolist()) <= {0.0, 1.0}
        assert torch.equal(part.sum(-1), torch.ones_like(part.sum(-1)))


@pytest.mark.parametrize("name", PATHWISE + ["reinforce_ema"])
def test_gradients_reach_the_generator(name):
    generator = torch.Generator().manual_seed(3)
    torch.manual_seed(0)
    net, critic = Generator(), GraphCritic()
    logits = net.logits(torch.randn(8, 32, generator=generator))
    surrogate, _ = draw_graph(logits, estimators.get(name), lambda n, e: -critic(n, e), 0.7, generator)
    surrogate.mean().backward()
    for parameter in net.parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all()
    assert sum(float(p.grad.abs().sum()) for p in net.parameters()) > 0


def test_critic_shapes_and_reward_range():
    nodes, edges = unpack(torch.softmax(torch.randn(5, 45, 5), -1))
    assert GraphCritic()(nodes, edges).shape == (5,)
    value = GraphCritic(sigmoid=True)(nodes, edges)
    assert ((value > 0) & (value < 1)).all()


def test_critic_is_invariant_to_relabelling_the_atoms():
    generator = torch.Generator().manual_seed(4)
    nodes, edges = unpack(torch.softmax(torch.randn(2, 45, 5, generator=generator), -1))
    perm = torch.randperm(9, generator=generator)
    critic = GraphCritic()
    torch.testing.assert_close(critic(nodes, edges), critic(nodes[:, perm], edges[:, perm][:, :, perm]))


class _Linear(torch.nn.Module):
    """`D(x) = <w, x>` with `||w|| = 1` over nodes and edges together: its gradient norm is exactly 1."""

    def __init__(self) -> None:
        super().__init__()
        w = torch.randn(9 * 5 + 9 * 9 * 5, generator=torch.Generator().manual_seed(5))
        self.w = w / w.norm()

    def forward(self, nodes, edges):
        return nodes.flatten(1) @ self.w[:45] + edges.flatten(1) @ self.w[45:]


def test_gradient_penalty_is_zero_for_a_unit_gradient_critic():
    real = one_hot_graph(torch.zeros(4, 9, dtype=torch.int64), torch.zeros(4, 9, 9, dtype=torch.int64))
    fake = unpack(torch.softmax(torch.randn(4, 45, 5), -1))
    penalty = gradient_penalty(_Linear(), real, fake, torch.Generator().manual_seed(6))
    assert float(penalty) == pytest.approx(0.0, abs=1e-10)
    doubled = gradient_penalty(lambda n, e: 2 * _Linear()(n, e), real, fake, torch.Generator().manual_seed(6))
    assert float(doubled) == pytest.approx(1.0)  # (2 - 1)^2

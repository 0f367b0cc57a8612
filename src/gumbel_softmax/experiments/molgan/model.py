"""MolGAN's networks: the generator of graph logits, the discrete graph drawn through an estimator, and
the relational-GCN critic and reward network, with the WGAN-GP gradient penalty.

De Cao and Kipf, "MolGAN: An implicit generative model for small molecular graphs", ICML 2018 workshop
on Theoretical Foundations and Applications of Deep Generative Models (arXiv:1805.11973); settings read in
the authors' code, nicola-decao/MolGAN (`models/__init__.py`, `models/gan.py`, `utils/layers.py`,
`optimizers/gan.py`).

Generator (`decoder_adj`): `z ~ N(0, I)` through an MLP with tanh units, then a linear map to node logits
`[9, 5]` and edge logits `[5, 9, 9]` symmetrized as `(E + E^T) / 2`.

Discrete graph: the 9 node variables and the 36 pairs `i < j` of the upper triangle are 45 categorical
variables of 5 classes each; `pack` stacks their logits as `[B, 45, 5]`, so one call of any registry
estimator draws the whole graph, and `unpack` mirrors the pairs into a symmetric `[B, 9, 9, 5]` with
"no bond" on the diagonal. A hard sample therefore has exactly one type per atom pair, the same for
`(i, j)` and `(j, i)`.

Critic and reward network (`encoder_rgcn`, `graph_convolution_layer`, `graph_aggregation_layer`): relational
graph convolutions without normalization, `h'_i = tanh(W_0 a_i + sum_{y >= 1} sum_j A_{ijy} W_y a_j)`, where
`a = [h, x]` concatenates the previous layer (none at the first) with the node types `x` and the bond types
`y` exclude "none"; then the gated aggregation `g = tanh(sum_i sigmoid(W_s a_i) * tanh(W_t a_i))` with
`a = [h, x]`, an MLP with tanh units, and one output (the reward network's through a sigmoid).

Gradient penalty (Gulrajani et al. 2017): `10 * E[(||grad_x D(x_hat)||_2 - 1)^2]` at
`x_hat = e x_real + (1 - e) x_fake`, `e ~ U(0, 1)` per graph, with the norm over the whole graph (nodes and
edges together). The authors' code instead interpolates towards the noiseless softmax and penalizes the norm
of each node's and each pair's gradient separately; we keep the penalty of the paper's WGAN-GP.
"""

from __future__ import annotations

from itertools import pairwise

import torch
from torch import Tensor, nn

from gumbel_softmax import estimators
from gumbel_softmax.estimators import Estimator
from gumbel_softmax.experiments.molgan.chemistry import ATOMS, BONDS, MAX_ATOMS

__all__ = ["graph_estimator", "Generator", "RelationalGraphConv", "GraphCritic", "pack", "unpack", "draw_graph",
           "hard_graph", "graph_from_index", "gradient_penalty", "one_hot_graph"]

_ROWS, _COLS = torch.triu_indices(MAX_ATOMS, MAX_ATOMS, 1)
PAIRS = len(_ROWS)


def graph_estimator(name: str) -> Estimator:
    """The registry estimator `name` if it can draw MolGAN's graph, else `ValueError` saying why.

    The graph is `MAX_ATOMS` node and `PAIRS` pair variables of several types each: binary-only
    estimators, ones that need an input-dependent baseline network, and ones that enumerate the joint
    configurations of an example (more than `max_joint` here) cannot draw it.
    """
    chosen = estimators.get(name)  # an unknown name: the error lists the registry
    joint = len(BONDS) ** PAIRS * len(ATOMS) ** MAX_ATOMS
    if chosen.needs_baseline or not chosen.supports_categorical or (
            chosen.max_joint is not None and joint > chosen.max_joint):
        raise ValueError(f"--estimator {name} cannot draw MolGAN's graph (it needs an input-dependent baseline, "
                         "binary variables, or fewer joint configurations per graph); use e.g. reinforce_ema, rloo "
                         "or a pathwise estimator")
    return chosen


def _placement(device: torch.device, dtype: torch.dtype) -> Tensor:
    """`[9, 9, 36]`: 1 at `(i, j, k)` and `(j, i, k)` for the k-th pair `i < j`."""
    place = torch.zeros(MAX_ATOMS, MAX_ATOMS, PAIRS, device=device, dtype=dtype)
    k = torch.arange(PAIRS)
    place[_ROWS, _COLS, k] = 1
    place[_COLS, _ROWS, k] = 1
    return place


def pack(node_logits: Tensor, edge_logits: Tensor) -> Tensor:
    """`[B, 9 + 36, 5]`: the node logits, then the logits of the pairs `i < j` (row-major)."""
    return torch.cat([node_logits, edge_logits[:, _ROWS, _COLS]], dim=1)


def unpack(sample: Tensor) -> tuple[Tensor, Tensor]:
    """Nodes `[B, 9, 5]` and symmetric edges `[B, 9, 9, 5]` of a packed sample (one-hot or relaxed)."""
    nodes, pairs = sample[:, :MAX_ATOMS], sample[:, MAX_ATOMS:]
    edges = torch.einsum("bkc,ijk->bijc", pairs, _placement(sample.device, sample.dtype))
    diagonal = torch.zeros(MAX_ATOMS, MAX_ATOMS, len(BONDS), device=sample.device, dtype=sample.dtype)
    diagonal[range(MAX_ATOMS), range(MAX_ATOMS), 0] = 1  # no bond from an atom to itself
    return nodes, edges + diagonal


def one_hot_graph(nodes: Tensor, edges: Tensor) -> tuple[Tensor, Tensor]:
    """One-hot float tensors of index graphs `nodes[B, 9]`, `edges[B, 9, 9]`."""
    return (nn.functional.one_hot(nodes, len(ATOMS)).float(), nn.functional.one_hot(edges, len(BONDS)).float())


def hard_graph(sample: Tensor) -> tuple[Tensor, Tensor]:
    """Index graphs `nodes[B, 9]`, `edges[B, 9, 9]` of a packed sample, by its argmax (a relaxed sample's mode)."""
    return graph_from_index(sample.argmax(-1))


def graph_from_index(index: Tensor) -> tuple[Tensor, Tensor]:
    """Index graphs `nodes[B, 9]`, symmetric `edges[B, 9, 9]` of packed class indices `[B, 45]`."""
    edges = torch.zeros(len(index), MAX_ATOMS, MAX_ATOMS, dtype=torch.int64, device=index.device)
    edges[:, _ROWS, _COLS] = index[:, MAX_ATOMS:]
    edges[:, _COLS, _ROWS] = index[:, MAX_ATOMS:]
    return index[:, :MAX_ATOMS], edges


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in pairwise(sizes):
        layers += [nn.Linear(a, b), nn.Tanh()]
    return nn.Sequential(*layers)


class Generator(nn.Module):
    """`z -> (node logits [B, 9, 5], symmetric edge logits [B, 9, 9, 5])`: MolGAN's `decoder_adj`.

    Args:
        z_dim: size of the prior's sample (32 in the paper).
        hidden: the MLP's tanh layers (128, 256, 512 in the paper).
    """

    def __init__(self, z_dim: int = 32, hidden: tuple[int, ...] = (128, 256, 512)) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.body = _mlp([z_dim, *hidden])
        self.nodes = nn.Linear(hidden[-1], MAX_ATOMS * len(ATOMS))
        self.edges = nn.Linear(hidden[-1], len(BONDS) * MAX_ATOMS * MAX_ATOMS)

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor]:
        h = self.body(z)
        edges = self.edges(h).view(-1, len(BONDS), MAX_ATOMS, MAX_ATOMS)
        edges = ((edges + edges.transpose(-1, -2)) / 2).permute(0, 2, 3, 1)
        return self.nodes(h).view(-1, MAX_ATOMS, len(ATOMS)), edges

    def logits(self, z: Tensor) -> Tensor:
        """The packed logits `[B, 45, 5]` of `pack`."""
        return pack(*self(z))


def draw_graph(
    logits: Tensor, estimator: Estimator, loss: object, tau: float, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """Draw the graph of packed `logits` through `estimator` and return `(surrogate, sample)`.

    `loss(nodes, edges)` maps the unpacked graph to a per-graph loss; the surrogate's gradient is the
    estimator's, and `sample` is the packed sample the loss saw (relaxed for `gumbel_softmax`).
    """
    out = estimator(logits, lambda s: loss(*unpack(s)), tau=tau, generator=generator)  # type: ignore[operator]
    return out.surrogate, out.sample


class RelationalGraphConv(nn.Module):
    """One relational graph convolution over the bond types 1..4 (see the module docstring)."""

    def __init__(self, in_features: int, out_features: int, relations: int = len(BONDS) - 1) -> None:
        super().__init__()
        self.relations, self.out_features = relations, out_features
        self.neighbours = nn.Linear(in_features, relations * out_features)
        self.own = nn.Linear(in_features, out_features)

    def forward(self, adjacency: Tensor, annotations: Tensor) -> Tensor:
        """`adjacency[B, R, 9, 9]`, `annotations[B, 9, F]` -> `[B, 9, out]`."""
        b, n, _ = annotations.shape
        messages = self.neighbours(annotations).view(b, n, self.relations, self.out_features).transpose(1, 2)
        return torch.tanh((adjacency @ messages).sum(1) + self.own(annotations))


class GraphCritic(nn.Module):
    """MolGAN's discriminator (and, with `sigmoid=True`, its reward network): R-GCN, gated aggregation, MLP.

    Args:
        convolutions: the R-GCN layers' sizes (64, 32 in the paper).
        aggregate: size of the gated aggregation (128).
        hidden: the MLP's tanh layers after it (128).
        sigmoid: squash the output to (0, 1) (the reward network predicts a normalized reward).
    """

    def __init__(self, convolutions: tuple[int, ...] = (64, 32), aggregate: int = 128,
                 hidden: tuple[int, ...] = (128,), sigmoid: bool = False) -> None:
        super().__init__()
        types = len(ATOMS)
        sizes = [0, *convolutions]
        self.convolutions = nn.ModuleList(RelationalGraphConv(a + types, b) for a, b in pairwise(sizes))
        self.gate = nn.Linear(convolutions[-1] + types, aggregate)
        self.value = nn.Linear(convolutions[-1] + types, aggregate)
        self.mlp = _mlp([aggregate, *hidden])
        self.out = nn.Linear(hidden[-1] if hidden else aggregate, 1)
        self.sigmoid = sigmoid

    def forward(self, nodes: Tensor, edges: Tensor) -> Tensor:
        """Nodes `[B, 9, 5]` and edges `[B, 9, 9, 5]` (one-hot or relaxed) -> `[B]`."""
        adjacency = edges[..., 1:].permute(0, 3, 1, 2)
        h = nodes[..., :0]
        for layer in self.convolutions:
            h = layer(adjacency, torch.cat([h, nodes], -1))
        annotations = torch.cat([h, nodes], -1)
        graph = torch.tanh((torch.sigmoid(self.gate(annotations)) * torch.tanh(self.value(annotations))).sum(1))
        out = self.out(self.mlp(graph)).squeeze(-1)
        return torch.sigmoid(out) if self.sigmoid else out


def gradient_penalty(critic: nn.Module, real: tuple[Tensor, Tensor], fake: tuple[Tensor, Tensor],
                     generator: torch.Generator) -> Tensor:
    """`E[(||grad D(x_hat)||_2 - 1)^2]` over graphs interpolated between `real` and `fake` (detached)."""
    eps = torch.rand(len(real[0]), generator=generator, device=real[0].device, dtype=real[0].dtype)
    nodes = (eps.view(-1, 1, 1) * real[0] + (1 - eps.view(-1, 1, 1)) * fake[0].detach()).requires_grad_()
    edges = (eps.view(-1, 1, 1, 1) * real[1] + (1 - eps.view(-1, 1, 1, 1)) * fake[1].detach()).requires_grad_()
    grad_nodes, grad_edges = torch.autograd.grad(critic(nodes, edges).sum(), (nodes, edges), create_graph=True)
    norm = (grad_nodes.square().flatten(1).sum(1) + grad_edges.square().flatten(1).sum(1)).sqrt()
    return (norm - 1).square().mean()

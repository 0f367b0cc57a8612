"""Distributions for `torch.distributions` and Pyro code: Gumbel, Concrete and their relatives.

Every sampler draws its noise through `gumbel_softmax.noise` and takes an
explicit `generator`: `d.rsample(sample_shape, generator=g)`.
"""

from gumbel_softmax.distributions.binary_concrete import BinaryConcrete as BinaryConcrete
from gumbel_softmax.distributions.binary_concrete import LogitBinaryConcrete as LogitBinaryConcrete
from gumbel_softmax.distributions.concrete import Concrete as Concrete
from gumbel_softmax.distributions.concrete import ExpConcrete as ExpConcrete
from gumbel_softmax.distributions.gumbel import Gumbel as Gumbel
from gumbel_softmax.distributions.straight_through import BinaryConcreteStraightThrough as BinaryConcreteStraightThrough
from gumbel_softmax.distributions.straight_through import ConcreteStraightThrough as ConcreteStraightThrough

__all__ = [
    "BinaryConcrete",
    "BinaryConcreteStraightThrough",
    "Concrete",
    "ConcreteStraightThrough",
    "ExpConcrete",
    "Gumbel",
    "LogitBinaryConcrete",
]

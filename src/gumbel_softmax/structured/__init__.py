"""Structured relaxations: permutations, orderings and k-subsets.

One module per family, each citing its paper with the math in its docstring:
`permutations` (Sinkhorn, Gumbel-Sinkhorn, the best matching, NeuralSort), `plackett_luce`
(the Plackett-Luce distribution and its relaxation) and `subsets` (the k-subset stochastic softmax trick).
"""

from gumbel_softmax.structured.permutations import best_permutation as best_permutation
from gumbel_softmax.structured.permutations import gumbel_sinkhorn as gumbel_sinkhorn
from gumbel_softmax.structured.permutations import neural_sort as neural_sort
from gumbel_softmax.structured.permutations import sinkhorn as sinkhorn
from gumbel_softmax.structured.plackett_luce import PlackettLuce as PlackettLuce
from gumbel_softmax.structured.plackett_luce import RelaxedPlackettLuce as RelaxedPlackettLuce
from gumbel_softmax.structured.subsets import k_subset_marginals as k_subset_marginals
from gumbel_softmax.structured.subsets import relaxed_k_subset as relaxed_k_subset

__all__ = [
    "PlackettLuce",
    "RelaxedPlackettLuce",
    "best_permutation",
    "gumbel_sinkhorn",
    "k_subset_marginals",
    "neural_sort",
    "relaxed_k_subset",
    "sinkhorn",
]

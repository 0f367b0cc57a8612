"""Structured relaxations: permutations, orderings, k-subsets, and black-box solvers.

One module per family, each citing its paper with the math in its docstring:
`permutations` (Sinkhorn, Gumbel-Sinkhorn, the best matching, NeuralSort), `plackett_luce`
(the Plackett-Luce distribution and its relaxation), `subsets` (the k-subset stochastic softmax trick),
`solvers` (MAP solvers: top-k, matching, grid path), `implicit_mle` (I-MLE with sum-of-Gamma noise),
`perturbed` (perturbed optimizers and the Fenchel-Young loss) and `relaxations` (one switch between them).
"""

from gumbel_softmax.structured.implicit_mle import imle as imle
from gumbel_softmax.structured.implicit_mle import sum_of_gamma_noise as sum_of_gamma_noise
from gumbel_softmax.structured.permutations import best_permutation as best_permutation
from gumbel_softmax.structured.permutations import gumbel_sinkhorn as gumbel_sinkhorn
from gumbel_softmax.structured.permutations import neural_sort as neural_sort
from gumbel_softmax.structured.permutations import sinkhorn as sinkhorn
from gumbel_softmax.structured.perturbed import fenchel_young_loss as fenchel_young_loss
from gumbel_softmax.structured.perturbed import perturbed_argmax as perturbed_argmax
from gumbel_softmax.structured.plackett_luce import PlackettLuce as PlackettLuce
from gumbel_softmax.structured.plackett_luce import RelaxedPlackettLuce as RelaxedPlackettLuce
from gumbel_softmax.structured.relaxations import RELAXATIONS as RELAXATIONS
from gumbel_softmax.structured.relaxations import Relaxation as Relaxation
from gumbel_softmax.structured.relaxations import relaxation as relaxation
from gumbel_softmax.structured.solvers import grid_path_argmax as grid_path_argmax
from gumbel_softmax.structured.solvers import matching_argmax as matching_argmax
from gumbel_softmax.structured.solvers import top_k_argmax as top_k_argmax
from gumbel_softmax.structured.subsets import k_subset_marginals as k_subset_marginals
from gumbel_softmax.structured.subsets import relaxed_k_subset as relaxed_k_subset

__all__ = [
    "PlackettLuce",
    "RELAXATIONS",
    "Relaxation",
    "RelaxedPlackettLuce",
    "best_permutation",
    "fenchel_young_loss",
    "grid_path_argmax",
    "gumbel_sinkhorn",
    "imle",
    "k_subset_marginals",
    "matching_argmax",
    "neural_sort",
    "perturbed_argmax",
    "relaxation",
    "relaxed_k_subset",
    "sinkhorn",
    "sum_of_gamma_noise",
    "top_k_argmax",
]

"""Structured relaxations: permutations, orderings, k-subsets, spanning trees, arborescences and black-box solvers.

One module per family, each citing its paper with the math in its docstring:
`permutations` (Sinkhorn, Gumbel-Sinkhorn, the best matching, NeuralSort), `plackett_luce`
(the Plackett-Luce distribution and its relaxation), `subsets` (the k-subset stochastic softmax trick),
`spanning_trees` and `arborescences` (the stochastic softmax tricks of undirected and directed trees,
by the matrix-tree theorem), `solvers` (MAP solvers: top-k, matching, grid path), `implicit_mle`
(I-MLE with sum-of-Gamma noise), `perturbed` (perturbed optimizers and the Fenchel-Young loss) and
`relaxations` (one switch between them).
"""

from gumbel_softmax.structured.arborescences import arborescence_marginals as arborescence_marginals
from gumbel_softmax.structured.arborescences import max_arborescence as max_arborescence
from gumbel_softmax.structured.arborescences import relaxed_arborescence as relaxed_arborescence
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
from gumbel_softmax.structured.spanning_trees import max_spanning_tree as max_spanning_tree
from gumbel_softmax.structured.spanning_trees import relaxed_spanning_tree as relaxed_spanning_tree
from gumbel_softmax.structured.spanning_trees import spanning_tree_marginals as spanning_tree_marginals
from gumbel_softmax.structured.subsets import k_subset_marginals as k_subset_marginals
from gumbel_softmax.structured.subsets import relaxed_k_subset as relaxed_k_subset

__all__ = [
    "PlackettLuce",
    "RELAXATIONS",
    "Relaxation",
    "RelaxedPlackettLuce",
    "arborescence_marginals",
    "best_permutation",
    "fenchel_young_loss",
    "grid_path_argmax",
    "gumbel_sinkhorn",
    "imle",
    "k_subset_marginals",
    "matching_argmax",
    "max_arborescence",
    "max_spanning_tree",
    "neural_sort",
    "perturbed_argmax",
    "relaxation",
    "relaxed_arborescence",
    "relaxed_k_subset",
    "relaxed_spanning_tree",
    "sinkhorn",
    "spanning_tree_marginals",
    "sum_of_gamma_noise",
    "top_k_argmax",
]

"""One switch between I-MLE, perturbed optimizers and the Gumbel-Softmax relaxations.

A training loop that turns scores into a structure should not care how the structure is made
differentiable. `relaxation(name, **options)` builds a `Relaxation`: a callable
`method(scores, generator=None) -> structure` with its options fixed, so that the method is one
configuration string away:

- `"imle"`: `MAP(scores + eps)` (`imle`), with I-MLE's gradient `MAP(theta + eps) - MAP(theta' + eps)`;
  options `solver`, `lam`, `noise`, `k`, `s`, `noise_temperature`, `samples`.
- `"perturbed"`: `y*_eps(scores)`, the mean of `samples` MAP states (`perturbed_argmax`), with the
  Monte-Carlo Jacobian; options `solver`, `sigma`, `samples`, `noise`, `event_dims`.
- `"gumbel_softmax"`: a relaxed one-hot along the last axis (`gumbel_softmax.gumbel_softmax`), pathwise;
  options `tau`, `hard`.
- `"k_subset"`: relaxed k-hot marginals (`relaxed_k_subset`), pathwise; options `k`, `tau`, `hard`.
- `"gumbel_sinkhorn"`: a relaxed permutation matrix (`gumbel_sinkhorn`), pathwise; options `tau`,
  `n_iters`, `hard`, `noise_factor`.
- `"spanning_tree"`: relaxed edge marginals of a spanning tree (`relaxed_spanning_tree`; symmetric scores),
  pathwise; options `tau`, `hard`.
- `"arborescence"`: relaxed edge marginals of a directed tree (`relaxed_arborescence`), pathwise; options
  `tau`, `hard`, `root`.

The black-box methods need a `solver` for the structure (`top_k_argmax`, `matching_argmax`,
`grid_path_argmax`, or your own); the relaxations carry theirs. Options are checked when the method is
built (an unknown name or option is refused there, not at the first training step), and again by the
function at each call.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import torch
from torch import Tensor

from gumbel_softmax.functional import gumbel_softmax
from gumbel_softmax.structured.arborescences import relaxed_arborescence
from gumbel_softmax.structured.implicit_mle import imle
from gumbel_softmax.structured.permutations import gumbel_sinkhorn
from gumbel_softmax.structured.perturbed import perturbed_argmax
from gumbel_softmax.structured.spanning_trees import relaxed_spanning_tree
from gumbel_softmax.structured.subsets import relaxed_k_subset

__all__ = ["Relaxation", "relaxation", "RELAXATIONS"]

_FUNCTIONS: dict[str, Callable[..., Tensor]] = {
    "imle": imle,
    "perturbed": perturbed_argmax,
    "gumbel_softmax": gumbel_softmax,
    "k_subset": relaxed_k_subset,
    "gumbel_sinkhorn": gumbel_sinkhorn,
    "spanning_tree": relaxed_spanning_tree,
    "arborescence": relaxed_arborescence,
}
_REQUIRED: dict[str, tuple[str, ...]] = {"imle": ("solver",), "perturbed": ("solver",), "k_subset": ("k",)}
_FIXED = {"gumbel_softmax": ("eps", "dim"), "k_subset": ("dim",)}  # not a switch's business

RELAXATIONS: tuple[str, ...] = tuple(_FUNCTIONS)


def _allowed(name: str) -> list[str]:
    params = list(inspect.signature(_FUNCTIONS[name]).parameters)[1:]
    return [p for p in params if p != "generator" and p not in _FIXED.get(name, ())]


@dataclass(frozen=True)
class Relaxation:
    """A differentiable structure by name: `method(scores, generator=None)`; build it with `relaxation`.

    Attributes:
        name: one of `RELAXATIONS`.
        options: the keyword options passed to the method's function at every call.
    """

    name: str
    options: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))

    def __call__(self, scores: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """The structure for `scores` (any leading batch shape), differentiable in `scores`."""
        return _FUNCTIONS[self.name](scores, **self.options, generator=generator)


def relaxation(name: str, **options: Any) -> Relaxation:
    """Build the method `name` with its options fixed; see the module docstring for the table.

    Args:
        name: one of `RELAXATIONS`: `"imle"`, `"perturbed"`, `"gumbel_softmax"`, `"k_subset"`,
            `"gumbel_sinkhorn"`, `"spanning_tree"` or `"arborescence"`.
        **options: the keyword options of that method's function (for example `solver=` and `lam=`
            for `"imle"`, `tau=` for the relaxations).

    Returns:
        a `Relaxation`: call it as `method(scores, generator=None)`.

    Raises:
        ValueError: an unknown `name`, an option the method does not take, or a required one missing
            (`solver` for `"imle"` and `"perturbed"`, `k` for `"k_subset"`).

    Examples:
        >>> from functools import partial
        >>> from gumbel_softmax.structured import top_k_argmax
        >>> scores = torch.randn(4, 6, generator=torch.Generator().manual_seed(0))
        >>> for method in (relaxation("imle", solver=partial(top_k_argmax, k=2)),
        ...                relaxation("k_subset", k=2, tau=0.5)):
        ...     print(method.name, method(scores).sum(-1).round(decimals=4).tolist())
        imle [2.0, 2.0, 2.0, 2.0]
        k_subset [2.0, 2.0, 2.0, 2.0]
    """
    if name not in _FUNCTIONS:
        raise ValueError(f"unknown relaxation {name!r}; choose one of {', '.join(RELAXATIONS)}")
    allowed = _allowed(name)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"relaxation {name!r} takes no option {', '.join(unknown)}; its options: {', '.join(allowed)}")
    missing = [option for option in _REQUIRED.get(name, ()) if option not in options]
    if missing:
        raise ValueError(f"relaxation {name!r} needs {', '.join(missing)} (for example solver=matching_argmax)"
                         if "solver" in missing else f"relaxation {name!r} needs {', '.join(missing)}")
    return Relaxation(name, MappingProxyType(dict(options)))

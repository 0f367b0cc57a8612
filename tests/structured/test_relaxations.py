"""The switch: every method by name runs in one training loop, and its options are checked when built."""

from __future__ import annotations

from functools import partial

import pytest
import torch

from gumbel_softmax.structured import RELAXATIONS, matching_argmax, relaxation, relaxed_k_subset, top_k_argmax


def build(name: str):
    return {
        "imle": relaxation("imle", solver=partial(top_k_argmax, k=2), k=2),
        "perturbed": relaxation("perturbed", solver=partial(top_k_argmax, k=2), samples=20),
        "gumbel_softmax": relaxation("gumbel_softmax", tau=0.5),
        "k_subset": relaxation("k_subset", k=2, tau=0.5),
        "gumbel_sinkhorn": relaxation("gumbel_sinkhorn", tau=0.5),
        "spanning_tree": relaxation("spanning_tree", tau=0.5),
        "arborescence": relaxation("arborescence", tau=0.5, root=None),
    }[name]


@pytest.mark.parametrize("name", RELAXATIONS)
def test_one_loop_trains_with_every_method(name, generator):
    scores = torch.randn(4, 5, 5, generator=generator, requires_grad=True)
    method = build(name)
    given = (scores + scores.mT) / 2 if name == "spanning_tree" else scores  # undirected: symmetric scores
    out = method(given, generator=generator)
    assert out.shape == scores.shape and torch.isfinite(out).all()
    (out * torch.randn(4, 5, 5, generator=generator)).sum().backward()
    assert torch.isfinite(scores.grad).all() and bool((scores.grad != 0).any())


def test_the_method_is_the_function_with_its_options(generator):
    scores = torch.randn(3, 6, generator=generator)
    state = generator.get_state()
    a = relaxation("k_subset", k=2, tau=0.3, hard=True)(scores, generator=generator)
    generator.set_state(state)
    b = relaxed_k_subset(scores, 2, 0.3, True, generator=generator)
    assert torch.equal(a, b)


def test_bad_names_and_options_are_refused_when_built():
    with pytest.raises(ValueError, match="choose one of imle, perturbed"):
        relaxation("sparsemax")
    with pytest.raises(ValueError, match="takes no option temperature"):
        relaxation("gumbel_softmax", temperature=0.5)
    with pytest.raises(ValueError, match="needs solver"):
        relaxation("imle")
    with pytest.raises(ValueError, match="needs k"):
        relaxation("k_subset")
    assert relaxation("perturbed", solver=matching_argmax, event_dims=2).options["event_dims"] == 2

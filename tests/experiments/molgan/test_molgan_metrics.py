"""MolGAN's metrics on hand-checked cases, and the properties against RDKit's own functions."""

from __future__ import annotations

import math

import pytest
import torch

pytest.importorskip("rdkit")

from rdkit import Chem
from rdkit.Chem import QED, Crippen

from gumbel_softmax.experiments.molgan import metrics
from gumbel_softmax.experiments.molgan.chemistry import smiles_to_graph


def graphs(*smiles: str) -> tuple[torch.Tensor, torch.Tensor]:
    pairs = [smiles_to_graph(s) for s in smiles]
    return torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])


def invalid() -> tuple[torch.Tensor, torch.Tensor]:
    nodes = torch.tensor([1, 1, 1, 1, 1, 1, 0, 0, 0])
    edges = torch.zeros(9, 9, dtype=torch.int64)
    edges[0, 1:6] = edges[1:6, 0] = 1  # a carbon with five bonds
    return nodes, edges


def disconnected() -> tuple[torch.Tensor, torch.Tensor]:
    nodes, edges = smiles_to_graph("CC")
    nodes[3] = 3  # a lone oxygen beside ethane: "CC.O"
    return nodes, edges


def test_valid_unique_novel_by_hand():
    nodes, edges = graphs("CCO", "CCO", "CC#N", "OC1CC1")
    bad_nodes, bad_edges = invalid()
    two_nodes, two_edges = disconnected()
    nodes = torch.cat([nodes, bad_nodes[None], two_nodes[None]])
    edges = torch.cat([edges, bad_edges[None], two_edges[None]])
    scores = metrics.score_samples(nodes, edges, known={"CCO"})  # ethanol is in the data set
    assert scores["samples"] == 6
    assert scores["valid"] == pytest.approx(100 * 4 / 6)  # the invalid and the disconnected graph fail
    assert scores["unique"] == pytest.approx(100 * 3 / 4)  # ethanol twice
    assert scores["novel"] == pytest.approx(100 * 2 / 4)  # both ethanols are known
    assert scores["smiles"] == ["CCO", "CCO", "CC#N", "OC1CC1"]


def test_nothing_valid_scores_zero():
    nodes, edges = invalid()
    scores = metrics.score_samples(nodes[None], edges[None], known=set())
    assert (scores["valid"], scores["unique"], scores["novel"], scores["qed"]) == (0, 0, 0, 0)


@pytest.mark.parametrize("smiles", ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "OC1CC2CC12", "FC(F)(F)C#N"])
def test_properties_are_rdkits(smiles):
    mol = Chem.MolFromSmiles(smiles)
    assert metrics.qed(mol) == QED.qed(mol)
    assert metrics.logp(mol) == Crippen.MolLogP(mol)
    low, high = metrics.LOGP_RANGE
    assert metrics.normalized_logp(mol) == pytest.approx(min(1, max(0, (Crippen.MolLogP(mol) - low) / (high - low))))
    sa = metrics.sa(mol)
    assert 1 <= sa <= 10
    assert metrics.normalized_sa(mol) == pytest.approx(min(1, max(0, (sa - 5) / (1.5 - 5))))


def test_sa_by_hand_reference_values():
    # Paracetamol and ethanol are easy to make (SA near 1-2); a strained bicyclic cage with stereocentres is harder.
    easy = metrics.sa(Chem.MolFromSmiles("CC(=O)Nc1ccc(O)cc1"))
    cage = metrics.sa(Chem.MolFromSmiles("OC1C2CC3C1C23"))
    assert easy < 2.0 < cage
    assert metrics.normalized_sa(Chem.MolFromSmiles("CC(=O)Nc1ccc(O)cc1")) == 1.0  # SA <= 1.5 clips to 1


def test_invalid_molecules_score_zero_and_rewards_multiply():
    assert metrics.property_scores(None) == {"qed": 0.0, "logp": 0.0, "sa": 0.0}
    assert metrics.reward(None, ("validity",)) == 0.0
    mol = Chem.MolFromSmiles("CCO")
    product = metrics.qed(mol) * metrics.normalized_logp(mol) * metrics.normalized_sa(mol)
    assert metrics.reward(mol, ("qed", "logp", "sa")) == pytest.approx(product)
    assert metrics.reward(mol, ("validity",)) == 1.0
    assert not math.isnan(product)


def test_no_samples_is_refused():
    with pytest.raises(ValueError, match="at least one"):
        metrics.score_samples(torch.zeros(0, 9, dtype=torch.int64), torch.zeros(0, 9, 9, dtype=torch.int64), set())

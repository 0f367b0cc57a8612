"""SMILES -> padded graph -> SMILES, and the cached conversion of a data set."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("rdkit")

from gumbel_softmax.experiments.molgan import data
from gumbel_softmax.experiments.molgan.chemistry import (
    ATOMS,
    BONDS,
    canonical,
    graph_to_mol,
    graph_to_smiles,
    smiles_to_graph,
)
from tests.experiments.molgan.conftest import needs_qm9


def test_vocabularies_are_molgans():
    assert ATOMS == ("none", "C", "N", "O", "F")
    assert BONDS == ("none", "single", "double", "triple", "aromatic")


def test_formaldehyde_by_hand():
    nodes, edges = smiles_to_graph("C=O")
    assert nodes.tolist() == [1, 3] + [0] * 7
    assert edges[0, 1] == edges[1, 0] == BONDS.index("double")
    assert edges.sum() == 4  # the one bond, both ways


def test_kekule_and_aromatic_encodings_of_benzene():
    _, kekule = smiles_to_graph("c1ccccc1")
    assert sorted(kekule[kekule > 0].unique().tolist()) == [1, 2]  # alternating single and double
    _, aromatic = smiles_to_graph("c1ccccc1", kekulize=False)
    assert aromatic[aromatic > 0].unique().tolist() == [BONDS.index("aromatic")]
    assert graph_to_smiles(*smiles_to_graph("c1ccccc1")) == graph_to_smiles(*smiles_to_graph("c1ccccc1", False))


def test_pyrrole_round_trips_only_in_kekule_form():
    assert graph_to_smiles(*smiles_to_graph("c1cc[nH]c1", check=False)) == canonical("c1cc[nH]c1")
    assert smiles_to_graph("c1cc[nH]c1", kekulize=False) is None  # the [nH] hydrogen is lost


@pytest.mark.parametrize("smiles", ["CCCCCCCCCC", "CCl", "[NH3+]CC([O-])=O", "not a smiles"])
def test_what_cannot_be_encoded(smiles):
    # 10 heavy atoms; chlorine; a zwitterion (charges are not encoded); a parse error
    assert smiles_to_graph(smiles) is None


def test_a_carbon_with_five_bonds_is_no_molecule():
    nodes = torch.tensor([1, 1, 1, 1, 1, 1, 0, 0, 0])
    edges = torch.zeros(9, 9, dtype=torch.int64)
    edges[0, 1:6] = edges[1:6, 0] = 1
    assert graph_to_mol(nodes, edges) is None
    assert graph_to_mol(torch.zeros(9, dtype=torch.int64), edges * 0) is None  # no atom at all


def test_bonds_to_padding_nodes_are_dropped():
    nodes, edges = smiles_to_graph("CO")
    edges[0, 5] = edges[5, 0] = 1  # node 5 is "none"
    assert graph_to_smiles(nodes, edges) == "CO"


@needs_qm9
def test_round_trip_on_qm9_is_at_least_99_percent():
    smiles = data.read_smiles(data.qm9_files()[1])[:3000]  # a few thousand; the whole set: docs/guide/molgan.md
    same = sum(
        (graph := smiles_to_graph(s, check=False)) is not None and graph_to_smiles(*graph) == canonical(s)
        for s in smiles
    )
    assert same / len(smiles) >= 0.99, same


def test_smiles_file_conversion_is_cached_by_the_sources_hash(tmp_path, monkeypatch):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "set.smi").write_text("smiles\n" + "\n".join(["CCO", "C=O", "c1ccccc1", "CC#N", "OCC(F)F"] * 3) + "\n")
    first = data.load(folder)
    assert len(first) == 15 and first.dropped == 0
    assert list((folder / ".molgan-cache").glob("graphs-*.pt"))
    assert len(first.train) + len(first.valid) + len(first.test) == 15

    def refuse(*_, **__):
        raise AssertionError("converted again instead of reading the cache")

    monkeypatch.setattr(data, "convert", refuse)
    again = data.load(folder)
    assert torch.equal(again.nodes, first.nodes) and again.smiles == first.smiles
    (folder / "set.smi").write_text("CCO\nCCN\nCCC\nCCF\nC1CC1\nCOC\nCC=O\nNC=O\nOCCO\nFC(F)F\n")
    with pytest.raises(AssertionError, match="converted again"):
        data.load(folder)  # a changed file has another hash


def test_csv_with_a_smiles_column(tmp_path):
    (tmp_path / "set.csv").write_text("id,SMILES\n" + "".join(f"{i},{s}\n" for i, s in enumerate(["CCO", "CN"] * 6)))
    assert data.load(tmp_path, cache_dir=tmp_path / "cache").smiles[:2] in (["CCO", "CN"], ["CN", "CCO"])


def test_missing_data_says_what_to_pass(tmp_path):
    with pytest.raises(FileNotFoundError, match="no SMILES file"):
        data.load(tmp_path)

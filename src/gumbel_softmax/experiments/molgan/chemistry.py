"""Molecules as padded graphs and back: SMILES -> (node types, bond types) -> RDKit molecule.

A molecule of at most `MAX_ATOMS = 9` heavy atoms is a pair of integer tensors: `nodes[9]` with
indices into `ATOMS = ("none", "C", "N", "O", "F")` (`none` pads) and a symmetric `edges[9, 9]` with
indices into `BONDS = ("none", "single", "double", "triple", "aromatic")`, zero on the diagonal.
Hydrogens are implicit: RDKit adds them back from the valences when the graph is sanitized.

MolGAN's own encoding (nicola-decao/MolGAN, `utils/sparse_molecular_dataset.py`: the atom vocabulary is
0 plus the sorted atomic numbers of the data, C N O F for QM9; the bond vocabulary is `ZERO` plus the
sorted bond types of the data, which for RDKit-sanitized QM9 are single, double, triple and aromatic)
gives exactly these 5 + 5 types. With `kekulize=True` (our default) the aromatic rings are written
with alternating single and double bonds, so the aromatic type never occurs in the data: an aromatic
nitrogen with a hydrogen (pyrrole's `[nH]`) cannot be rebuilt from aromatic bonds without its
hydrogen count, while its Kekule form round-trips. `kekulize=False` keeps MolGAN's aromatic bonds.

Formal charges are not encoded (MolGAN's encoding has none either): the few zwitterions of QM9 do
not round-trip and `smiles_to_graph` refuses them with `check=True`.

RDKit is imported when a function runs; `require_rdkit` names the extra to install when it is missing.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = ["ATOMS", "BONDS", "MAX_ATOMS", "require_rdkit", "smiles_to_graph", "graph_to_mol", "mol_to_smiles",
           "graph_to_smiles", "canonical"]

MAX_ATOMS = 9
ATOMS = ("none", "C", "N", "O", "F")
BONDS = ("none", "single", "double", "triple", "aromatic")
_ATOMIC_NUMBERS = (0, 6, 7, 8, 9)

MISSING_RDKIT = "MolGAN needs RDKit: pip install \"gumbel-softmax[molecules]\" (or pip install rdkit)"


def require_rdkit() -> Any:
    """`rdkit.Chem`, or `ModuleNotFoundError` with one line naming the extra to install."""
    try:
        from rdkit import Chem, RDLogger
    except ModuleNotFoundError:
        raise ModuleNotFoundError(MISSING_RDKIT) from None
    RDLogger.DisableLog("rdApp.*")  # type: ignore[attr-defined]  # invalid generated graphs are expected; their warnings are noise
    return Chem


def _bond_types(chem: Any) -> tuple[Any, ...]:
    kind = chem.rdchem.BondType
    return (None, kind.SINGLE, kind.DOUBLE, kind.TRIPLE, kind.AROMATIC)


def canonical(smiles: str) -> str | None:
    """RDKit's canonical SMILES of `smiles` (no stereochemistry), or `None` when it does not parse."""
    chem = require_rdkit()
    mol = chem.MolFromSmiles(smiles)
    return None if mol is None else chem.MolToSmiles(mol, isomericSmiles=False)


def smiles_to_graph(smiles: str, kekulize: bool = True, check: bool = True) -> tuple[Tensor, Tensor] | None:
    """The padded graph `(nodes[9], edges[9, 9])` (int64) of `smiles`, or `None` when it has none.

    Args:
        smiles: a SMILES string.
        kekulize: write aromatic rings as alternating single and double bonds (see the module docstring).
        check: also return `None` when the graph does not decode to the same canonical SMILES
            (a charged atom, an isotope or a radical that the encoding cannot hold).

    Returns:
        `None` when the SMILES does not parse, has more than 9 heavy atoms, an element other than
        C, N, O, F, or (with `check`) does not round-trip.

    Example:
        >>> nodes, edges = smiles_to_graph("C=O")
        >>> nodes.tolist(), edges[0, 1].item()
        ([1, 3, 0, 0, 0, 0, 0, 0, 0], 2)
    """
    chem = require_rdkit()
    mol = chem.MolFromSmiles(smiles)
    if mol is None or mol.GetNumAtoms() > MAX_ATOMS or mol.GetNumAtoms() == 0:
        return None
    if kekulize:
        chem.Kekulize(mol, clearAromaticFlags=True)
    bond_index = {kind: i for i, kind in enumerate(_bond_types(chem)) if kind is not None}
    nodes = torch.zeros(MAX_ATOMS, dtype=torch.int64)
    edges = torch.zeros(MAX_ATOMS, MAX_ATOMS, dtype=torch.int64)
    for atom in mol.GetAtoms():
        if atom.GetAtomicNum() not in _ATOMIC_NUMBERS[1:]:
            return None
        nodes[atom.GetIdx()] = _ATOMIC_NUMBERS.index(atom.GetAtomicNum())
    for bond in mol.GetBonds():
        kind = bond_index.get(bond.GetBondType())
        if kind is None:
            return None
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        edges[i, j] = edges[j, i] = kind
    if check and graph_to_smiles(nodes, edges) != canonical(smiles):
        return None
    return nodes, edges


def graph_to_mol(nodes: Tensor, edges: Tensor) -> Any | None:
    """The sanitized RDKit molecule of one graph, or `None` when RDKit refuses it (a valence too high,
    an aromatic bond outside a ring, no atom at all).

    `none` nodes are dropped with their bonds, and a bond's type is read from the upper triangle
    `edges[i, j]`, `i < j` (the generator's edges are symmetric by construction). The molecule may have
    several fragments; `metrics.is_valid` also asks for one.
    """
    chem = require_rdkit()
    types, bonds = nodes.tolist(), edges.tolist()
    kinds = _bond_types(chem)
    mol = chem.RWMol()
    index: dict[int, int] = {}
    for i, node in enumerate(types):
        if node:
            index[i] = mol.AddAtom(chem.Atom(_ATOMIC_NUMBERS[node]))
    for i in index:
        for j in index:
            if i < j and bonds[i][j]:
                mol.AddBond(index[i], index[j], kinds[bonds[i][j]])
    if not index:
        return None
    try:
        chem.SanitizeMol(mol)
    except Exception:  # RDKit raises several types (valence, kekulization, ring aromaticity)
        return None
    return mol.GetMol()


def mol_to_smiles(mol: Any) -> str:
    """RDKit's canonical SMILES of a molecule, without stereochemistry (the graphs carry none)."""
    return require_rdkit().MolToSmiles(mol, isomericSmiles=False)


def graph_to_smiles(nodes: Tensor, edges: Tensor) -> str | None:
    """The canonical SMILES of one graph, or `None` when it is not a molecule (see `graph_to_mol`)."""
    mol = graph_to_mol(nodes, edges)
    return None if mol is None else mol_to_smiles(mol)

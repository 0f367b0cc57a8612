"""MolGAN's sample metrics: validity, uniqueness, novelty, and the normalized QED, logP and SA scores.

Definitions, as in the authors' code (nicola-decao/MolGAN, `utils/molecular_metrics.py` and
`utils/utils.py:all_scores`), over `n` generated graphs:

* validity = valid / n, in percent. A graph is valid when RDKit sanitizes it and it is one connected
  molecule. MolGAN's code adds every padding node as a dummy atom `*` and reports the looser
  `valid_lambda` (sanitizes, non-empty SMILES); its reward uses `valid_lambda_special`, which also refuses
  `*` and disconnected `.` SMILES. We drop padding nodes and use the stricter, connected definition.
* uniqueness = distinct valid SMILES / valid (`unique_total_score`), in percent.
* novelty = valid SMILES absent from the data set / valid (`novel_total_score`; the code compares with
  every molecule of the data set, all splits, and so do we), in percent.
* QED: `rdkit.Chem.QED.qed`, in [0, 1], not rescaled.
* logP: Crippen's `MolLogP`, rescaled as `clip((x + 2.12178879609) / (6.0429063424 + 2.12178879609), 0, 1)`
  (the remap bounds of `water_octanol_partition_coefficient_scores`).
* SA: Ertl and Schuffenhauer's synthetic accessibility (RDKit's `Contrib/SA_Score/sascorer.py`, 1 easy to
  10 hard), rescaled as `clip((x - 5) / (1.5 - 5), 0, 1)` (`synthetic_accessibility_score_scores`), so
  higher is easier.

A property score of an invalid graph is 0 (MolGAN's code: logP -3 and SA 10 before rescaling, both 0
after). The reported means are over the valid molecules; MolGAN's `all_scores` averages the nonzero
scores instead, which also leaves out valid molecules that score exactly 0.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from torch import Tensor

from gumbel_softmax.experiments.molgan.chemistry import graph_to_mol, mol_to_smiles, require_rdkit

__all__ = ["LOGP_RANGE", "SA_RANGE", "PROPERTIES", "is_valid", "qed", "logp", "sa", "normalized_logp",
           "normalized_sa", "property_scores", "reward", "score_samples"]

LOGP_RANGE = (-2.12178879609, 6.0429063424)
SA_RANGE = (5.0, 1.5)  # the SA score mapped to 0 and to 1
PROPERTIES = ("qed", "logp", "sa")


def _remap(x: float, low: float, high: float) -> float:
    return min(1.0, max(0.0, (x - low) / (high - low)))


def is_valid(mol: Any) -> bool:
    """A sanitized molecule (not `None`) with atoms, in one fragment."""
    return mol is not None and mol.GetNumAtoms() > 0 and "." not in mol_to_smiles(mol)


def qed(mol: Any) -> float:
    """RDKit's quantitative estimate of drug-likeness (Bickerton et al. 2012), in [0, 1]."""
    require_rdkit()
    from rdkit.Chem import QED

    return float(QED.qed(mol))


def logp(mol: Any) -> float:
    """Crippen's octanol-water partition coefficient (Wildman and Crippen 1999), RDKit's `MolLogP`."""
    require_rdkit()
    from rdkit.Chem import Crippen

    return float(Crippen.MolLogP(mol))  # type: ignore[attr-defined]


@lru_cache(maxsize=1)
def _sascorer() -> Any:
    require_rdkit()
    from rdkit.Chem import RDConfig

    path = Path(RDConfig.RDContribDir) / "SA_Score" / "sascorer.py"
    spec = importlib.util.spec_from_file_location("_molgan_sascorer", path)
    if spec is None or spec.loader is None or not path.exists():
        raise ModuleNotFoundError(f"RDKit's SA scorer is missing ({path}); reinstall rdkit")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sa(mol: Any) -> float:
    """The synthetic accessibility score (Ertl and Schuffenhauer 2009), 1 (easy) to 10 (hard)."""
    return float(_sascorer().calculateScore(mol))


def normalized_logp(mol: Any) -> float:
    """logP rescaled to [0, 1] with MolGAN's bounds; 0 for `None`."""
    return 0.0 if mol is None else _remap(logp(mol), *LOGP_RANGE)


def normalized_sa(mol: Any) -> float:
    """SA rescaled to [0, 1] with MolGAN's bounds (1: easiest); 0 for `None`."""
    return 0.0 if mol is None else _remap(sa(mol), *SA_RANGE)


def property_scores(mol: Any) -> dict[str, float]:
    """The three normalized scores of a molecule, 0 each for an invalid one."""
    if not is_valid(mol):
        return dict.fromkeys(PROPERTIES, 0.0)
    return {"qed": qed(mol), "logp": normalized_logp(mol), "sa": normalized_sa(mol)}


def reward(mol: Any, properties: Sequence[str]) -> float:
    """The product of the named normalized scores (MolGAN's `reward`), 0 for an invalid molecule.

    `properties` names any of `qed`, `logp`, `sa` and `validity` (1 for a valid molecule).
    """
    if not is_valid(mol):
        return 0.0
    scores = property_scores(mol) | {"validity": 1.0}
    return math.prod(scores[name] for name in properties)


def score_samples(nodes: Tensor, edges: Tensor, known: set[str] | frozenset[str]) -> dict[str, Any]:
    """MolGAN's metrics of generated graphs `nodes[n, 9]`, `edges[n, 9, 9]` (type indices).

    Args:
        nodes, edges: the hard samples, as indices.
        known: canonical SMILES of the data set (novelty is measured against it).

    Returns:
        `valid`, `unique`, `novel` (percent), the mean normalized `qed`, `logp`, `sa` over the valid
        molecules (0 when none is valid), `samples` (n), and `smiles`: the valid canonical SMILES in order.
    """
    n = len(nodes)
    if n == 0:
        raise ValueError("score_samples needs at least one generated graph")
    mols = [graph_to_mol(a, b) for a, b in zip(nodes, edges)]
    valid = [m for m in mols if is_valid(m)]
    smiles = [mol_to_smiles(m) for m in valid]
    totals = dict.fromkeys(PROPERTIES, 0.0)
    for mol in valid:
        for key, value in property_scores(mol).items():
            totals[key] += value
    count = len(valid)
    return {
        "samples": n,
        "valid": 100.0 * count / n,
        "unique": 100.0 * len(set(smiles)) / count if count else 0.0,
        "novel": 100.0 * sum(s not in known for s in smiles) / count if count else 0.0,
        **{key: value / count if count else 0.0 for key, value in totals.items()},
        "smiles": smiles,
    }

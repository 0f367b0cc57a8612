"""Count how many molecules of a data set survive SMILES -> graph -> SMILES: `python -m
gumbel_softmax.experiments.molgan.roundtrip [--data-dir DIR] [--aromatic]` (QM9 from qm9pack by default).

Prints the count, the share with the same canonical SMILES, and the first failures; exit 2 with one
line when RDKit or the data is missing.
"""

from __future__ import annotations

import argparse
import sys
import time

from gumbel_softmax.experiments.molgan.chemistry import canonical, graph_to_smiles, smiles_to_graph
from gumbel_softmax.experiments.molgan.data import read_smiles, source_files

__all__ = ["round_trip", "main"]


def round_trip(smiles: list[str], kekulize: bool = True) -> tuple[int, list[str]]:
    """`(same, failures)`: how many SMILES decode from their graph to the same canonical SMILES, and the others."""
    failures = []
    for text in smiles:
        graph = smiles_to_graph(text, kekulize=kekulize, check=False)
        if graph is None or graph_to_smiles(*graph) != canonical(text):
            failures.append(text)
    return len(smiles) - len(failures), failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gumbel_softmax.experiments.molgan.roundtrip")
    parser.add_argument("--data-dir", default=None, help="a folder or file of SMILES; default: QM9 from qm9pack")
    parser.add_argument("--aromatic", dest="kekulize", action="store_false", help="MolGAN's aromatic bonds")
    args = parser.parse_args(argv)
    try:
        smiles = [s for path in source_files(args.data_dir) for s in read_smiles(path)]
        clock = time.perf_counter()
        same, failures = round_trip(smiles, args.kekulize)
    except (FileNotFoundError, ModuleNotFoundError) as error:
        print(f"roundtrip: error: {error}", file=sys.stderr)
        return 2
    print(f"{same} of {len(smiles)} molecules round-trip ({100 * same / len(smiles):.3f}%), "
          f"{'Kekule' if args.kekulize else 'aromatic'} bonds, {time.perf_counter() - clock:.0f} s")
    print("first failures:", ", ".join(failures[:10]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

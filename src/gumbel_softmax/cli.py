"""The ``gumbel-softmax`` command: one entry point, subcommands in a tree.

Each leaf names a module with ``add_arguments(parser)`` and ``run(args) -> int``;
its docstring's first line is the help text. A group (``bench``, ``train``)
is a dict of leaves. The CLI is thin: leaves call library functions that tests
call too.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Union

Tree = dict[str, Union[str, "Tree"]]

COMMANDS: Tree = {
    "demo": "gumbel_softmax.demo",
    "train": {"vae": "gumbel_softmax.experiments.vae", "sbn": "gumbel_softmax.experiments.sbn"},
    "bench": {"estimators": "gumbel_softmax.estimators.bench", "reproduce": "gumbel_softmax.experiments.reproduce"},
    "explore": "gumbel_softmax.explorer.server",
}


def _add(subparsers: argparse._SubParsersAction, name: str, node: str | Tree) -> None:
    if isinstance(node, dict):
        group = subparsers.add_parser(name, help=f"{name} subcommands")
        children = group.add_subparsers(dest=f"{name}_command", metavar="SUBCOMMAND", required=True)
        for child, sub in node.items():
            _add(children, child, sub)
        return
    module = importlib.import_module(node)
    summary = (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else None
    parser = subparsers.add_parser(
        name, help=summary, description=module.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    module.add_arguments(parser)
    parser.set_defaults(run=module.run)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (importing every subcommand's module)."""
    parser = argparse.ArgumentParser(
        prog="gumbel-softmax", description="Exact Gumbel sampling and the Gumbel-Softmax relaxation for PyTorch."
    )
    from gumbel_softmax import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, node in COMMANDS.items():
        _add(subparsers, name, node)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``) and run the chosen subcommand."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())

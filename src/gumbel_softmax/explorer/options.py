"""The command-line options of `explore` (loads none of the server's code)."""

from __future__ import annotations

import argparse

from gumbel_softmax.cli import whole

__all__ = ["add_arguments"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `explore`."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind; 127.0.0.1 serves this machine only")
    parser.add_argument("--port", type=whole(0, 65535), default=8765, help="TCP port (0 picks a free one)")
    parser.add_argument("--open", action="store_true", help="open the page in the default web browser")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")

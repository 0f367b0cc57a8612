"""The interactive explorer: a local web page, and its JSON API, that show Gumbel-Softmax at work.

`gumbel-softmax explore` starts it. `server`
serves the page (`static/`: our own HTML, JavaScript and CSS, nothing loaded
from elsewhere); `api` computes every answer with
this library; `params` checks every parameter;
`guard` holds the server's limits (Host check, connections, deadlines).
"""

from __future__ import annotations

from typing import Any

__all__ = ["make_server", "serve"]


def __getattr__(name: str) -> Any:
    # The server is loaded on first use, so that the command line reads `explore`'s options without it.
    if name in __all__:
        from gumbel_softmax.explorer import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""The interactive explorer: a local web page, and its JSON API, that show Gumbel-Softmax at work.

``gumbel-softmax explore`` starts it. :mod:`~gumbel_softmax.explorer.server`
serves the page (``static/``: our own HTML, JavaScript and CSS, nothing loaded
from elsewhere); :mod:`~gumbel_softmax.explorer.api` computes every answer with
this library; :mod:`~gumbel_softmax.explorer.params` checks every parameter;
:mod:`~gumbel_softmax.explorer.guard` holds the server's limits (Host check, connections, deadlines).
"""

from gumbel_softmax.explorer.server import make_server as make_server
from gumbel_softmax.explorer.server import serve as serve

__all__ = ["make_server", "serve"]

"""A running explorer server for tests, and a tiny HTTP client that returns (status, headers, JSON or bytes)."""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
from collections.abc import Iterator
from typing import Any

from gumbel_softmax.explorer import make_server
from gumbel_softmax.explorer.guard import Limits


@contextlib.contextmanager
def running_server(limits: Limits | None = None) -> Iterator[str]:
    """Serve the explorer on a free port of 127.0.0.1 in a thread; yield its base URL; stop it after."""
    server = make_server("127.0.0.1", 0, limits=limits)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def get(
    base: str, path: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    """Send ``path`` exactly as given (no normalization); decode the body as JSON when it says it is JSON.

    The ``Host`` header is the server's ``host:port`` (as a browser sends it, even when ``path`` is an absolute
    URL) unless ``headers`` gives another; ``headers={"Host": None}`` sends none.
    """
    authority = base.removeprefix("http://")
    host, port = authority.rsplit(":", 1)
    connection = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=60)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in ({"Host": authority} | (headers or {})).items():
            if value is not None:
                connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        data = response.read()
        headers = {k.lower(): v for k, v in response.getheaders()}
    finally:
        connection.close()
    body = json.loads(data) if headers.get("content-type") == "application/json" else data
    return response.status, headers, body

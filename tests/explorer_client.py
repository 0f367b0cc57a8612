"""A running explorer server for tests, and a tiny HTTP client that returns (status, headers, JSON or bytes)."""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
from collections.abc import Iterator
from typing import Any

from gumbel_softmax.explorer import make_server


@contextlib.contextmanager
def running_server() -> Iterator[str]:
    """Serve the explorer on a free port of 127.0.0.1 in a thread; yield its base URL; stop it after."""
    server = make_server("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def get(base: str, path: str, method: str = "GET") -> tuple[int, dict[str, str], Any]:
    """Send ``path`` exactly as given (no normalization); decode the body as JSON when it says it is JSON."""
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        data = response.read()
        headers = {k.lower(): v for k, v in response.getheaders()}
    finally:
        connection.close()
    body = json.loads(data) if headers.get("content-type") == "application/json" else data
    return response.status, headers, body
